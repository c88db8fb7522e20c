//! The emulator as a turmoil host, talked to by turmoil clients: proves the generic
//! listener path and checks every time-based behaviour exactly, in virtual time.

mod emulator_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use emulator_support::{Reply, Ws, request_on, voice, ws_on};
use hyper::Method;
use serde_json::{Value, json};
use switchyard_sim::emulator::{
    Emulator, EmulatorConfig, EmulatorControl, Faults, TestTrackOptions, TurmoilListener,
    test_track_identifier,
};
use tokio::time::Instant;
use turmoil::net::TcpStream;

const PORT: u16 = 2333;
type Outcome = Result<(), Box<dyn std::error::Error>>;

/// A simulation with one emulated node called `node` and exact 1 ms links.
fn world(config: EmulatorConfig) -> (turmoil::Sim<'static>, EmulatorControl) {
    let sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(600))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .rng_seed(7)
        .build();
    let (emulator, control) = Emulator::new(config).expect("valid config");
    let mut sim = sim;
    sim.host("node", move || {
        let emulator = emulator.clone();
        async move {
            let listener = TurmoilListener::bind(("0.0.0.0", PORT)).await?;
            emulator.serve(listener).await?;
            Ok(())
        }
    });
    (sim, control)
}

async fn call(method: Method, path: &str, body: Option<Value>) -> Reply {
    let io = TcpStream::connect(("node", PORT))
        .await
        .expect("the node accepts");
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    request_on(
        io,
        method,
        path,
        &[("Authorization", "youshallnotpass")],
        body,
    )
    .await
    .expect("the node speaks HTTP")
}

async fn get(path: &str) -> Value {
    call(Method::GET, path, None).await.json()
}

async fn patch(path: &str, body: Value) -> Value {
    let reply = call(Method::PATCH, path, Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn socket(extra: &[(&str, &str)]) -> Ws<TcpStream> {
    let io = TcpStream::connect(("node", PORT))
        .await
        .expect("the node accepts");
    ws_on(io, "node:2333", extra)
        .await
        .expect("the handshake succeeds")
}

/// Opens a session; returns the socket (after `ready` and `stats`) and the id.
async fn session() -> (Ws<TcpStream>, String) {
    let mut ws = socket(&[]).await;
    let ready = ws.expect_op("ready").await;
    ws.expect_op("stats").await;
    (
        ws,
        ready["sessionId"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn load(identifier: &str) -> String {
    let path = format!(
        "/v4/loadtracks?identifier={}",
        emulator_support::urlencode(identifier)
    );
    get(&path).await["data"]["encoded"]
        .as_str()
        .expect("a track")
        .to_owned()
}

fn track(length_ms: u64) -> String {
    test_track_identifier(
        "t",
        TestTrackOptions {
            length_ms: Some(length_ms),
            ..TestTrackOptions::default()
        },
    )
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[test]
fn the_emulator_serves_rest_and_websocket_over_turmoil() -> Outcome {
    let (mut sim, _) = world(EmulatorConfig::default());
    sim.client("bot", async {
        let version = call(Method::GET, "/version", None).await;
        assert_eq!(version.text(), "4.2.2");
        assert_eq!(version.header("lavalink-api-version"), Some("4"));
        let mut ws = socket(&[]).await;
        assert_eq!(ws.expect_op("ready").await["resumed"], false);
        ws.expect_op("stats").await;
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn the_position_follows_virtual_time_exactly() -> Outcome {
    let (mut sim, control) = world(EmulatorConfig::default());
    sim.client("bot", async move {
        let (_ws, id) = session().await;
        let path = format!("/v4/sessions/{id}/players/1");
        let encoded = load("dQw4w9WgXcQ").await;
        let started = patch(
            &path,
            json!({"voice": voice(), "track": {"encoded": encoded}}),
        )
        .await;
        assert_eq!(started["state"]["position"], 0);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let position = get(&path).await["state"]["position"].as_i64().unwrap_or(0);
        assert!((10_000..=10_010).contains(&position), "position {position}");

        // The oracle's view, read from this host, uses the node's clock.
        let truth = control.snapshot();
        let (_, player) = truth.players().next().expect("one player");
        assert!(player.audible);
        assert!((10_000..=10_010).contains(&(player.position_ms as i64)));

        patch(&path, json!({"paused": true})).await;
        let held = get(&path).await["state"]["position"].clone();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(get(&path).await["state"]["position"], held);
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn player_updates_every_five_seconds_and_stats_every_minute() -> Outcome {
    let (mut sim, _) = world(EmulatorConfig::default());
    sim.client("bot", async {
        let opened = Instant::now();
        let (mut ws, id) = session().await;
        let encoded = load("dQw4w9WgXcQ").await;
        patch(
            &format!("/v4/sessions/{id}/players/1"),
            json!({"voice": voice(), "track": {"encoded": encoded}}),
        )
        .await;
        let mut updates = Vec::new();
        let mut stats = vec![0];
        while opened.elapsed() < Duration::from_secs(125) {
            let message = ws.next_json().await.expect("open");
            let at = ms(opened.elapsed());
            match message["op"].as_str() {
                Some("playerUpdate") => updates.push((at, message["state"]["position"].as_i64())),
                Some("stats") => stats.push(at),
                _ => {}
            }
        }
        // Stats at connect and then every 60 s after it.
        assert_eq!(stats.len(), 3, "{stats:?}");
        for (index, at) in stats.iter().enumerate() {
            let expected = 60_000 * index as i64;
            assert!(
                (expected..=expected + 10).contains(at),
                "stats at {at}, expected {expected}"
            );
        }
        // One update at the voice handshake, one at the start, then one every 5 s.
        let periodic: Vec<i64> = updates
            .windows(2)
            .skip(1)
            .map(|w| w[1].0 - w[0].0)
            .collect();
        assert!(periodic.len() >= 20, "{updates:?}");
        assert!(
            periodic.iter().all(|gap| (4_990..=5_010).contains(gap)),
            "{periodic:?}"
        );
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn a_track_finishes_at_its_length_and_updates_stop() -> Outcome {
    let (mut sim, _) = world(EmulatorConfig::default());
    sim.client("bot", async {
        let (mut ws, id) = session().await;
        let encoded = load(&track(30_000)).await;
        let path = format!("/v4/sessions/{id}/players/1");
        patch(&path, json!({"voice": voice()})).await;
        let started = Instant::now();
        patch(&path, json!({"track": {"encoded": encoded}})).await;
        let end = ws.until(|m| m["type"] == "TrackEndEvent").await;
        let elapsed = ms(started.elapsed());
        assert!(
            (30_000..=30_010).contains(&elapsed),
            "ended after {elapsed} ms"
        );
        assert_eq!(end["reason"], "finished");
        assert_eq!(end["track"]["info"]["position"], 30_000);
        // Nothing but stats afterwards: the update task stops with the track.
        let quiet =
            tokio::time::timeout(Duration::from_secs(20), ws.until(|m| m["op"] != "stats")).await;
        assert!(quiet.is_err(), "no playerUpdate after the end");
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn failing_stuck_and_voiceless_tracks_report_their_events_on_time() -> Outcome {
    let (mut sim, _) = world(EmulatorConfig::default());
    sim.client("bot", async {
        let (mut ws, id) = session().await;
        let options = |fail_at_ms, stuck_at_ms| TestTrackOptions {
            length_ms: Some(300_000),
            fail_at_ms,
            stuck_at_ms,
            ..TestTrackOptions::default()
        };
        let failing = load(&test_track_identifier(
            "failing",
            options(Some(5_000), None),
        ))
        .await;
        let stuck = load(&test_track_identifier("stuck", options(None, Some(2_000)))).await;
        let plain = load(&track(300_000)).await;
        for guild in [1, 2] {
            patch(
                &format!("/v4/sessions/{id}/players/{guild}"),
                json!({"voice": voice()}),
            )
            .await;
        }
        let started = Instant::now();
        for (guild, encoded) in [(1, &failing), (2, &stuck), (3, &plain)] {
            patch(
                &format!("/v4/sessions/{id}/players/{guild}"),
                json!({"track": {"encoded": encoded}}),
            )
            .await;
        }
        let mut events = Vec::new();
        while events.len() < 4 {
            let message = ws
                .until(|m| m["op"] == "event" && m["type"] != "TrackStartEvent")
                .await;
            events.push((ms(started.elapsed()), message));
        }
        let (at, exception) = &events[0];
        assert!((5_000..=5_010).contains(at), "exception at {at}");
        assert_eq!(exception["type"], "TrackExceptionEvent");
        assert_eq!(exception["guildId"], "1");
        emulator_support::assert_shape(
            &exception["exception"],
            &[
                ("message", emulator_support::Kind::NullableStr),
                ("severity", emulator_support::Kind::Str),
                ("cause", emulator_support::Kind::Str),
                ("causeStackTrace", emulator_support::Kind::Str),
            ],
        );
        let (_, ended) = &events[1];
        assert_eq!(
            (&ended["type"], &ended["reason"]),
            (&json!("TrackEndEvent"), &json!("finished"))
        );
        let (at, stuck_event) = &events[2];
        assert!((12_000..=12_010).contains(at), "stuck reported at {at}");
        assert_eq!(stuck_event["type"], "TrackStuckEvent");
        assert_eq!(stuck_event["thresholdMs"], 10_000);
        assert_eq!(stuck_event["track"]["info"]["position"], 2_000);
        let (at, cleaned) = &events[3];
        assert!((60_000..=60_010).contains(at), "cleanup at {at}");
        assert_eq!(
            (&cleaned["guildId"], &cleaned["reason"]),
            (&json!("3"), &json!("cleanup"))
        );
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn resume_works_within_the_timeout_and_not_after_it() -> Outcome {
    let (mut sim, _) = world(EmulatorConfig::default());
    sim.client("bot", async {
        let (ws, id) = session().await;
        let reply = patch(&format!("/v4/sessions/{id}"), json!({"resuming": true})).await;
        assert_eq!(
            reply,
            json!({"resuming": true, "timeout": 60}),
            "60 s by default"
        );
        let reply = patch(&format!("/v4/sessions/{id}"), json!({"timeout": 90})).await;
        assert_eq!(reply, json!({"resuming": true, "timeout": 90}));
        patch(
            &format!("/v4/sessions/{id}/players/1"),
            json!({"volume": 1}),
        )
        .await;
        ws.close().await;

        // 89 s away: the stats due 60 s after connect is queued, not lost.
        tokio::time::sleep(Duration::from_secs(89)).await;
        let mut back = socket(&[("Session-Id", &id)]).await;
        let ready = back.expect_op("ready").await;
        assert_eq!(
            ready,
            json!({"op": "ready", "resumed": true, "sessionId": id})
        );
        back.expect_op("stats").await;
        let update = back.expect_op("playerUpdate").await;
        assert_eq!(update["guildId"], "1");
        back.close().await;

        tokio::time::sleep(Duration::from_secs(91)).await;
        let mut late = socket(&[("Session-Id", &id)]).await;
        let fresh = late.expect_op("ready").await;
        assert_eq!(fresh["resumed"], false);
        assert_ne!(fresh["sessionId"], id.as_str());
        let gone = call(Method::GET, &format!("/v4/sessions/{id}/players"), None).await;
        assert_eq!(gone.status, 404);
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn frame_stats_are_per_player_averages_once_a_full_minute_is_known() -> Outcome {
    let config = EmulatorConfig {
        faults: Faults {
            frame_deficit: 300,
            frame_nulled: 100,
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    let (mut sim, _) = world(config);
    sim.client("bot", async {
        let (mut ws, id) = session().await;
        let encoded = load("dQw4w9WgXcQ").await;
        for guild in [1, 2] {
            patch(
                &format!("/v4/sessions/{id}/players/{guild}"),
                json!({"voice": voice(), "track": {"encoded": encoded}}),
            )
            .await;
        }
        let first = ws.until(|m| m["op"] == "stats").await;
        assert!(first["frameStats"].is_null(), "less than a minute of data");
        let later = ws
            .until(|m| m["op"] == "stats" && !m["frameStats"].is_null())
            .await;
        assert_eq!(
            later["frameStats"],
            json!({"sent": 2600, "nulled": 100, "deficit": 300})
        );
        assert_eq!(later["playingPlayers"], 2);
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn cpu_figures_are_cached_for_thirty_seconds() -> Outcome {
    let (mut sim, control) = world(EmulatorConfig::default());
    sim.client("bot", async move {
        let before = get("/v4/stats").await["cpu"]["systemLoad"].clone();
        control.set_cpu_load(Some(0.8)).expect("valid load");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(get("/v4/stats").await["cpu"]["systemLoad"], before);
        tokio::time::sleep(Duration::from_secs(21)).await;
        assert_eq!(get("/v4/stats").await["cpu"]["systemLoad"], 0.8);
        Ok(())
    });
    sim.run()?;
    Ok(())
}

#[test]
fn a_crashed_node_restarts_empty_with_its_fault_knobs() -> Outcome {
    let (mut sim, control) = world(EmulatorConfig::default());
    let session_id = Rc::new(RefCell::new(String::new()));
    let seen = Rc::clone(&session_id);
    sim.client("bot", async move {
        let (ws, id) = session().await;
        *seen.borrow_mut() = id;
        // Keep the socket until the node dies under it.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(ws);
        Ok(())
    });
    for _ in 0..2000 {
        sim.step()?;
    }
    let before = control.snapshot();
    assert_eq!(before.sessions.len(), 1);
    assert_eq!(before.sessions[0].session_id, *session_id.borrow());
    control.set_cpu_load(Some(0.7)).expect("valid load");

    sim.crash("node");
    assert!(!control.is_serving());
    sim.bounce("node");
    for _ in 0..100 {
        sim.step()?;
    }
    let after = control.snapshot();
    assert!(after.serving);
    assert!(after.sessions.is_empty(), "a restart loses every session");
    assert!(after.uptime_ms < before.uptime_ms);
    assert_eq!(
        after.faults.cpu_load,
        Some(0.7),
        "knobs live in the control handle"
    );
    Ok(())
}

/// Runs a scripted conversation and returns everything the node said, in order.
fn transcript(seed: u64) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let config = EmulatorConfig {
        seed,
        faults: Faults {
            jitter_ms: 200,
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    let (mut sim, _) = world(config);
    let lines = Rc::new(RefCell::new(Vec::new()));
    let out = Rc::clone(&lines);
    sim.client("bot", async move {
        let mut ws = socket(&[]).await;
        let ready = ws.expect_op("ready").await;
        let id = ready["sessionId"].as_str().unwrap_or_default().to_owned();
        out.borrow_mut().push(ready.to_string());
        let encoded = load("https://youtu.be/determinist").await;
        let short = load(&track(12_000)).await;
        let path = format!("/v4/sessions/{id}/players/1");
        for body in [
            json!({"voice": voice(), "track": {"encoded": encoded}}),
            json!({"position": 1000}),
            json!({"track": {"encoded": short}}),
        ] {
            let reply = call(Method::PATCH, &path, Some(body)).await;
            out.borrow_mut().push(reply.text());
        }
        let stats = call(Method::GET, "/v4/stats", None).await.text();
        out.borrow_mut().push(stats);
        let until = Instant::now() + Duration::from_secs(70);
        while let Ok(Some(message)) = tokio::time::timeout_at(until, ws.next_json()).await {
            out.borrow_mut().push(message.to_string());
        }
        Ok(())
    });
    sim.run()?;
    let lines = lines.borrow().clone();
    Ok(lines)
}

#[test]
fn the_same_seed_gives_the_same_bytes() -> Outcome {
    let first = transcript(42)?;
    let second = transcript(42)?;
    assert!(first.len() > 10, "{first:?}");
    assert_eq!(first, second);
    let other = transcript(43)?;
    assert_ne!(first[0], other[0], "another seed, another session id");
    Ok(())
}
