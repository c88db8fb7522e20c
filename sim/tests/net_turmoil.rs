//! The daemon's own Lavalink client, run over the simulation's turmoil HTTP adapter
//! against an emulated node: the path every simulated probe and move takes; and the
//! adapter's connection pool.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use switchyard_core::health::ProbeFailure;
use switchyard_runtime::lavalink::{LavalinkClient, NodeEndpoint};
use switchyard_runtime::ports::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method};
use switchyard_sim::emulator::{Emulator, EmulatorConfig, TurmoilListener};
use switchyard_sim::net::TurmoilHttpClient;

const PORT: u16 = 2333;

fn client(password: &str) -> LavalinkClient<TurmoilHttpClient> {
    let endpoint = NodeEndpoint {
        name: "eu-1".into(),
        base_url: format!("http://eu-1:{PORT}"),
        password: password.to_owned(),
    };
    LavalinkClient::new(
        TurmoilHttpClient::new(),
        endpoint,
        Duration::from_millis(500),
    )
}

/// A seeded world whose every hop takes 2 ms.
fn empty_world() -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(2))
        .max_message_latency(Duration::from_millis(2))
        .rng_seed(1)
        .build()
}

fn world() -> turmoil::Sim<'static> {
    let mut sim = empty_world();
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

/// A plain HTTP server that counts the connections it accepts.
fn counting_server(sim: &mut turmoil::Sim<'static>, accepted: Arc<AtomicUsize>) {
    sim.host("server", move || {
        let accepted = accepted.clone();
        async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 80)).await?;
            loop {
                let (stream, _) = listener.accept().await?;
                accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let answer = hyper::service::service_fn(|_| async {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"ok",
                        ))))
                    });
                    // A connection ending (the client gone, the host crashed) is moot.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), answer)
                        .await;
                });
            }
        }
    });
}

async fn get(http: &TurmoilHttpClient) -> Result<HttpResponse, HttpError> {
    http.send(HttpRequest {
        method: Method::Get,
        url: "http://server:80/".into(),
        headers: Vec::new(),
        body: Vec::new(),
        timeout: Duration::from_millis(500),
    })
    .await
}

#[test]
fn requests_reuse_a_kept_alive_connection_and_replace_one_a_restart_closed() -> turmoil::Result {
    let mut sim = empty_world();
    let accepted = Arc::new(AtomicUsize::new(0));
    counting_server(&mut sim, accepted.clone());
    // 1: three requests done, restart the server; 2: restarted, go on.
    let phase = Arc::new(AtomicUsize::new(0));
    let client_phase = phase.clone();
    sim.client("controller", async move {
        let http = TurmoilHttpClient::new();
        for _ in 0..3 {
            assert_eq!(get(&http).await?.body, b"ok");
        }
        client_phase.store(1, Ordering::SeqCst);
        while client_phase.load(Ordering::SeqCst) != 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The crash closed the server's end; once its FIN has arrived the pool drops the
        // connection and dials a new one, with no error. (A request sent on it before
        // the FIN arrives fails, as it would against a real restarted server.)
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(get(&http).await?.body, b"ok");
        Ok(())
    });
    loop {
        let finished = sim.step()?;
        if phase.load(Ordering::SeqCst) == 1 {
            assert_eq!(
                accepted.load(Ordering::SeqCst),
                1,
                "three requests, one connection"
            );
            sim.bounce("server");
            phase.store(2, Ordering::SeqCst);
        }
        if finished {
            break;
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "one connection before the restart and one after"
    );
    Ok(())
}
