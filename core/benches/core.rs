//! Speed of the core's two hot decisions: placing a new player among 100 nodes, and
//! planning the failover of a region holding 100,000 players.
//!
//! Run: `cargo bench -p switchyard-core --bench core`

mod fixtures;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use switchyard_core::PlaybackRequest;
use switchyard_core::ids::{GuildId, PlanId, RegionId};
use switchyard_core::time::Millis;

fn placement(c: &mut Criterion) {
    // 5 regions x 20 nodes holding 100,000 players.
    let mut controller = fixtures::controller(5, 20, 1_000_000);
    let (plan, region) = (PlanId::new("all"), RegionId::new("r2"));
    let request = |guild: u64| PlaybackRequest {
        guild: GuildId(guild),
        plan: plan.clone(),
        region: Some(region.clone()),
        residency: None,
    };
    for guild in 0..100_000 {
        controller
            .handle_playback_requested(Millis(200), &request(guild))
            .expect("valid");
    }
    while controller.poll_command().is_some() {}
    let probe = request(u64::MAX);
    c.bench_function("placement decision among 100 nodes", |b| {
        b.iter(|| {
            controller
                .preview_placement(std::hint::black_box(&probe))
                .expect("valid")
        })
    });
    // The full input: place a new guild, drain its command, then stop it again.
    let mut guild = 1_000_000u64;
    c.bench_function(
        "place and stop a player among 100 nodes (100k tracked)",
        |b| {
            b.iter(|| {
                guild += 1;
                controller
                    .handle_playback_requested(Millis(200), &request(guild))
                    .expect("valid");
                while let Some(command) = controller.poll_command() {
                    std::hint::black_box(command);
                }
                controller.handle_playback_stopped(Millis(200), GuildId(guild));
            })
        },
    );
}

fn region_failover(c: &mut Criterion) {
    // Region r0 holds 100,000 players on 10 nodes; r1 and r2 have room for all of them.
    let mut controller = fixtures::controller(3, 10, 20_000);
    for guild in 0..100_000u64 {
        let request = PlaybackRequest {
            guild: GuildId(guild),
            plan: "all".into(),
            region: Some("r0".into()),
            residency: None,
        };
        controller
            .handle_playback_requested(Millis(200), &request)
            .expect("valid");
    }
    while controller.poll_command().is_some() {}
    let mut group = c.benchmark_group("failover");
    group.sample_size(20);
    group.bench_function("plan a region failover of 100k players", |b| {
        b.iter_batched(
            || controller.clone(),
            |mut controller| {
                controller
                    .fail_over_region(Millis(300), &"r0".into())
                    .expect("known region");
                let mut commands = 0usize;
                while controller.poll_command().is_some() {
                    commands += 1;
                }
                std::hint::black_box(commands);
                controller
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, placement, region_failover);
criterion_main!(benches);
