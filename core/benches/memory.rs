//! Memory per tracked player, measured with a counting allocator.
//!
//! Run: `cargo bench -p switchyard-core --bench memory`

mod fixtures;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use switchyard_core::PlaybackRequest;
use switchyard_core::ids::GuildId;
use switchyard_core::time::Millis;

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PLAYERS: u64 = 100_000;
const TARGET_BYTES_PER_PLAYER: f64 = 512.0;

fn main() {
    let mut controller = fixtures::controller(3, 10, 20_000);
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    for guild in 0..PLAYERS {
        let request = PlaybackRequest {
            guild: GuildId(guild),
            plan: "all".into(),
            region: None,
            residency: None,
        };
        controller
            .handle_playback_requested(Millis(200), &request)
            .expect("valid");
        while controller.poll_command().is_some() {}
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    let per_player = (after - before) as f64 / PLAYERS as f64;
    println!(
        "memory per tracked player: {per_player:.0} bytes over {PLAYERS} players (target <= {TARGET_BYTES_PER_PLAYER:.0})"
    );
    assert_eq!(controller.player_count() as u64, PLAYERS);
}
