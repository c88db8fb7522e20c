//! The floor under every scenario's speed: a turmoil world of idle hosts, stepped the
//! way `sim run` steps its world, with no traffic and no work.
//!
//! turmoil advances every host's runtime on every tick and visits every link of its full
//! mesh (one per pair of hosts) on every tick, whether or not anything is sent, so this
//! measures what a scenario's host count and tick cost before any of its own work.
//!
//! `cargo run --release -p switchyard-sim --example idle_world -- HOSTS TICK_MS SECONDS`
//! (defaults: 19 hosts, the region-outage world's count; 10 ms; 900 s). Prints the
//! simulated seconds per wall second and the cost of one step.

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let hosts: usize = args.next().map_or(Ok(19), |a| a.parse())?;
    let tick_ms: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(900), |a| a.parse())?;
    let simulated = Duration::from_secs(seconds);

    let mut sim = turmoil::Builder::new()
        .tick_duration(Duration::from_millis(tick_ms))
        .simulation_duration(simulated + Duration::from_secs(1))
        .build();
    for host in 0..hosts {
        sim.host(format!("host-{host}"), || async {
            std::future::pending::<turmoil::Result>().await
        });
    }

    let started = Instant::now();
    let mut steps = 0u64;
    while sim.elapsed() < simulated {
        sim.step()?;
        steps += 1;
    }
    let wall = started.elapsed();
    let links = hosts * hosts.saturating_sub(1) / 2;
    println!(
        "{hosts} idle hosts ({links} links), {tick_ms} ms tick, {seconds} s simulated: \
         {:.2} s wall, {:.0}x real time, {:.1} µs per step ({steps} steps)",
        wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / steps as f64,
    );
    Ok(())
}
