//! The daemon's own Lavalink client, run over the simulation's turmoil HTTP adapter
//! against an emulated node: the path every simulated probe and move takes.

use std::time::Duration;

use switchyard_core::health::ProbeFailure;
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_sim::emulator::{Emulator, EmulatorConfig, TurmoilListener};
use switchyard_sim::net::TurmoilHttpClient;

const PORT: u16 = 2333;

fn client(password: &str) -> LavalinkClient<TurmoilHttpClient> {
    let endpoint = NodeEndpoint {
        name: "eu-1".into(),
        base_url: format!("http://eu-1:{PORT}"),
        password: password.to_owned(),
    };
    LavalinkClient::new(TurmoilHttpClient, endpoint, Duration::from_millis(500))
}

fn world() -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(2))
        .max_message_latency(Duration::from_millis(2))
        .rng_seed(1)
        .build();
    let config = EmulatorConfig {
        name: "eu-1".into(),
        ..EmulatorConfig::default()
    };
    let (emulator, _control) = Emulator::new(config).expect("valid emulator config");
    sim.host("eu-1", move || {
        let emulator = emulator.clone();
        async move {
            emulator
                .serve(TurmoilListener::bind(("0.0.0.0", PORT)).await?)
                .await?;
            Ok(())
        }
    });
    sim
}

#[test]
fn probes_an_emulated_node_through_simulated_http() -> turmoil::Result {
    let mut sim = world();
    sim.client("controller", async {
        let report = client(&EmulatorConfig::default().password).probe().await?;
        assert!(report.version.starts_with('4'), "{}", report.version);
        // Two 2 ms hops each way for the connection and the exchange.
        assert!(
            report.latency_ms >= 4 && report.latency_ms < 50,
            "{}",
            report.latency_ms
        );
        assert_eq!(report.stats.players, 0);
        let wrong = client("not-the-password").probe().await.unwrap_err();
        assert_eq!(wrong.as_probe_failure(), ProbeFailure::HttpStatus(403));
        Ok(())
    });
    sim.run()
}

#[test]
fn a_crashed_node_fails_the_probe_instead_of_hanging() -> turmoil::Result {
    let mut sim = world();
    sim.client("controller", async {
        let password = EmulatorConfig::default().password;
        client(&password).probe().await?;
        turmoil::hold("controller", "eu-1");
        let failure = client(&password).probe().await.unwrap_err();
        assert_eq!(failure.as_probe_failure(), ProbeFailure::Timeout);
        turmoil::release("controller", "eu-1");
        Ok(())
    });
    sim.run()
}
