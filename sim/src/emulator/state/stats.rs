//! The figures of the `stats` op, `/v4/stats` and `/metrics`.
//!
//! Players are counted over every open session, as Lavalink's `StatsCollector` does;
//! `frameStats` covers only the receiving session's playing players with a full minute
//! of data, averaged per player. Memory and CPU come from a small synthetic model (the
//! emulator is not a JVM), with CPU cached for 30 s like Lavalink's.

use std::time::Duration;

use rand_core::RngCore;
use tokio::time::Instant;

use super::NodeState;
use super::session::Session;
use crate::emulator::faults::{FRAMES_PER_MINUTE, Faults};
use crate::emulator::protocol::{Cpu, FrameStats, Memory, Stats};

/// Lavalink refreshes CPU figures at most this often.
const CPU_CACHE: Duration = Duration::from_secs(30);
const MIB: u64 = 1 << 20;
/// Heap used by an idle JVM running Lavalink, and the extra per player.
const BASE_USED_BYTES: u64 = 80 * MIB;
const USED_BYTES_PER_PLAYER: u64 = 3 * MIB;
const USED_NOISE_BYTES: u64 = 16 * MIB;
const MIN_ALLOCATED_BYTES: u64 = 256 * MIB;
/// Lavalink's own CPU load when idle, and the extra per playing player.
const BASE_LAVALINK_LOAD: f64 = 0.005;
const LAVALINK_LOAD_PER_PLAYER: f64 = 0.004;
/// Load of everything else on the machine.
const OTHER_SYSTEM_LOAD: f64 = 0.02;

impl NodeState {
    pub fn stats(&mut self, now: Instant, faults: &Faults) -> Stats {
        let (players, playing_players) = self
            .sessions
            .values()
            .filter(|session| session.is_open())
            .flat_map(|session| session.players.values())
            .fold((0u32, 0u32), |(all, playing), player| {
                (all + 1, playing + u32::from(player.is_playing()))
            });
        Stats {
            players,
            playing_players,
            uptime: self.clock.uptime_ms(now),
            memory: self.memory(players),
            cpu: self.cpu(now, playing_players, faults),
        }
    }

    fn cpu(&mut self, now: Instant, playing_players: u32, faults: &Faults) -> Cpu {
        if let Some((at, cpu)) = self.cpu_cache
            && now < at + CPU_CACHE
        {
            return cpu;
        }
        let lavalink_load =
            (BASE_LAVALINK_LOAD + LAVALINK_LOAD_PER_PLAYER * f64::from(playing_players)).min(1.0);
        let system_load = faults
            .cpu_load
            .unwrap_or((lavalink_load + OTHER_SYSTEM_LOAD).min(1.0));
        let cpu = Cpu {
            cores: self.config.cpu_cores,
            system_load,
            lavalink_load: lavalink_load.min(system_load),
        };
        self.cpu_cache = Some((now, cpu));
        cpu
    }

    fn memory(&mut self, players: u32) -> Memory {
        let noise = self.stats_rng.next_u64() % USED_NOISE_BYTES;
        let reservable = self.config.memory_reservable_bytes;
        let used = BASE_USED_BYTES + USED_BYTES_PER_PLAYER * u64::from(players) + noise;
        let allocated = (used * 3 / 2)
            .next_multiple_of(64 * MIB)
            .max(MIN_ALLOCATED_BYTES)
            .min(reservable.max(used));
        Memory {
            free: allocated - used,
            used,
            allocated,
            reservable,
        }
    }
}

/// Per-player averages over the session's playing players with usable data.
pub(super) fn frame_stats(session: &Session, wall_ms: u64, faults: &Faults) -> Option<FrameStats> {
    let (count, sent, nulled) = session
        .players
        .values()
        .filter_map(|player| player.frame_sample(wall_ms, faults))
        .fold((0i64, 0i64, 0i64), |(count, sent, nulled), (s, n)| {
            (count + 1, sent + i64::from(s), nulled + i64::from(n))
        });
    if count == 0 {
        return None;
    }
    let deficit = count * i64::from(FRAMES_PER_MINUTE) - (sent + nulled);
    Some(FrameStats {
        sent: sent / count,
        nulled: nulled / count,
        deficit: deficit / count,
    })
}
