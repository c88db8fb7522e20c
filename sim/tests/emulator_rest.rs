//! Conformance of the emulator's REST API with Lavalink v4 (`docs/api/rest.md`):
//! status codes, headers, field names and types, error bodies.

mod emulator_support;

use emulator_support::{
    Kind, Node, PASSWORD, assert_error_body, assert_shape, assert_track_shape, urlencode, voice,
};
use hyper::Method;
use serde_json::{Value, json};
use switchyard_sim::emulator::{Emulator, EmulatorConfig, TestTrackOptions, test_track_identifier};

/// The example track from Lavalink's REST docs.
const DOCS_TRACK: &str = "QAAAjQIAJVJpY2sgQXN0bGV5IC0gTmV2ZXIgR29ubmEgR2l2ZSBZb3UgVXAADlJpY2tBc3RsZXlWRVZPAAAAAAADPCAAC2RRdzR3OVdnWGNRAAEAK2h0dHBzOi8vd3d3LnlvdXR1YmUuY29tL3dhdGNoP3Y9ZFF3NHc5V2dYY1EAB3lvdXR1YmUAAAAAAAAAAA==";

#[tokio::test]
async fn version_is_plain_text_and_every_response_has_the_api_version_header() {
    let node = Node::default().await;
    let reply = node.get("/version").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "4.2.2");
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/plain")
    );
    assert_eq!(reply.header("lavalink-api-version"), Some("4"));

    for path in [
        "/v4/info",
        "/v4/stats",
        "/v4/sessions/nope/players",
        "/nowhere",
    ] {
        let reply = node.get(path).await;
        assert_eq!(reply.header("lavalink-api-version"), Some("4"), "{path}");
    }
    let unauthorized = node.raw(Method::GET, "/v4/info", &[], Vec::new()).await;
    assert_eq!(unauthorized.header("lavalink-api-version"), Some("4"));
}

#[tokio::test]
async fn every_route_needs_authorization_401_without_403_wrong() {
    let node = Node::default().await;
    let routes = [
        (Method::GET, "/version"),
        (Method::GET, "/v4/info"),
        (Method::GET, "/v4/stats"),
        (Method::GET, "/v4/loadtracks?identifier=x"),
        (Method::GET, "/v4/decodetrack?encodedTrack=x"),
        (Method::POST, "/v4/decodetracks"),
        (Method::PATCH, "/v4/sessions/abc"),
        (Method::GET, "/v4/sessions/abc/players"),
        (Method::GET, "/v4/sessions/abc/players/1"),
        (Method::PATCH, "/v4/sessions/abc/players/1"),
        (Method::DELETE, "/v4/sessions/abc/players/1"),
        (Method::GET, "/metrics"),
    ];
    for (method, path) in routes {
        let missing = node.raw(method.clone(), path, &[], Vec::new()).await;
        assert_eq!(missing.status, 401, "{method} {path} without Authorization");
        assert!(missing.body.is_empty(), "401 has no body");
        let wrong = node
            .raw(
                method.clone(),
                path,
                &[("Authorization", "nope")],
                Vec::new(),
            )
            .await;
        assert_eq!(wrong.status, 403, "{method} {path} with a wrong password");
        assert!(wrong.body.is_empty(), "403 has no body");
    }
}

#[tokio::test]
async fn info_has_the_documented_fields() {
    let node = Node::default().await;
    let reply = node.get("/v4/info").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let info = reply.json();
    assert_shape(
        &info,
        &[
            ("version", Kind::Object),
            ("buildTime", Kind::Int),
            ("git", Kind::Object),
            ("jvm", Kind::Str),
            ("lavaplayer", Kind::Str),
            ("sourceManagers", Kind::Array),
            ("filters", Kind::Array),
            ("plugins", Kind::Array),
        ],
    );
    assert_shape(
        &info["version"],
        &[
            ("semver", Kind::Str),
            ("major", Kind::Int),
            ("minor", Kind::Int),
            ("patch", Kind::Int),
            ("preRelease", Kind::NullableStr),
            ("build", Kind::NullableStr),
        ],
    );
    assert_eq!(info["version"]["major"], 4);
    assert_shape(
        &info["git"],
        &[
            ("branch", Kind::Str),
            ("commit", Kind::Str),
            ("commitTime", Kind::Int),
        ],
    );
    for plugin in info["plugins"].as_array().expect("plugins is an array") {
        assert_shape(plugin, &[("name", Kind::Str), ("version", Kind::Str)]);
    }
}

#[tokio::test]
async fn stats_have_no_frame_stats_and_count_every_sessions_players() {
    let node = Node::default().await;
    let (_first, first) = node.session().await;
    let (_second, second) = node.session().await;
    let track = node.encoded("dQw4w9WgXcQ").await;
    for (session, guild) in [(&first, 1), (&second, 2), (&second, 3)] {
        let reply = node
            .patch(
                &format!("/v4/sessions/{session}/players/{guild}"),
                json!({"track": {"encoded": track}}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    node.patch(
        &format!("/v4/sessions/{second}/players/3"),
        json!({"paused": true}),
    )
    .await;

    let stats = node.get("/v4/stats").await.json();
    assert_shape(
        &stats,
        &[
            ("players", Kind::Int),
            ("playingPlayers", Kind::Int),
            ("uptime", Kind::Int),
            ("memory", Kind::Object),
            ("cpu", Kind::Object),
        ],
    );
    assert_eq!(stats["players"], 3);
    assert_eq!(stats["playingPlayers"], 2);
    assert_shape(
        &stats["memory"],
        &[
            ("free", Kind::Int),
            ("used", Kind::Int),
            ("allocated", Kind::Int),
            ("reservable", Kind::Int),
        ],
    );
    assert_shape(
        &stats["cpu"],
        &[
            ("cores", Kind::Int),
            ("systemLoad", Kind::Float),
            ("lavalinkLoad", Kind::Float),
        ],
    );
    let memory = &stats["memory"];
    assert_eq!(
        memory["free"].as_u64().unwrap_or(0) + memory["used"].as_u64().unwrap_or(0),
        memory["allocated"].as_u64().unwrap_or(1)
    );
}

#[tokio::test]
async fn loadtracks_returns_each_load_type_with_documented_shapes() {
    let node = Node::default().await;
    let load = |identifier: &str| {
        let path = format!("/v4/loadtracks?identifier={}", urlencode(identifier));
        let node = &node;
        async move {
            let reply = node.get(&path).await;
            assert_eq!(reply.status, 200, "loadtracks is always 200");
            reply.json()
        }
    };

    let track = load("https://www.youtube.com/watch?v=dQw4w9WgXcQ").await;
    assert_shape(&track, &[("loadType", Kind::Str), ("data", Kind::Object)]);
    assert_eq!(track["loadType"], "track");
    assert_track_shape(&track["data"]);
    assert_eq!(track["data"]["info"]["identifier"], "dQw4w9WgXcQ");
    assert_eq!(track["data"]["info"]["sourceName"], "youtube");
    assert_eq!(
        load("dQw4w9WgXcQ").await,
        track,
        "the same identifier, the same track"
    );

    let playlist = load("https://www.youtube.com/playlist?list=PLx").await;
    assert_eq!(playlist["loadType"], "playlist");
    assert_shape(
        &playlist["data"],
        &[
            ("info", Kind::Object),
            ("pluginInfo", Kind::Object),
            ("tracks", Kind::Array),
        ],
    );
    assert_shape(
        &playlist["data"]["info"],
        &[("name", Kind::Str), ("selectedTrack", Kind::Int)],
    );
    assert_eq!(playlist["data"]["info"]["selectedTrack"], -1);

    let search = load("ytsearch:never gonna give you up").await;
    assert_eq!(search["loadType"], "search");
    let results = search["data"].as_array().expect("search data is an array");
    assert_eq!(results.len(), 5);
    results.iter().for_each(assert_track_shape);

    assert_eq!(
        load("nothing here").await,
        json!({"loadType": "empty", "data": {}})
    );

    let error = load("https://example.org/stream.mp3").await;
    assert_eq!(error["loadType"], "error");
    assert_shape(
        &error["data"],
        &[
            ("message", Kind::NullableStr),
            ("severity", Kind::Str),
            ("cause", Kind::Str),
            ("causeStackTrace", Kind::Str),
        ],
    );
    assert!(
        ["common", "suspicious", "fault"]
            .contains(&error["data"]["severity"].as_str().unwrap_or(""))
    );

    let missing = node.get("/v4/loadtracks").await;
    assert_error_body(
        &missing,
        400,
        "Required request parameter 'identifier' for method parameter type String is not present",
        "/v4/loadtracks",
    );
}

#[tokio::test]
async fn decodetrack_reads_real_lavaplayer_encodings() {
    let node = Node::default().await;
    let reply = node
        .get(&format!(
            "/v4/decodetrack?encodedTrack={}",
            urlencode(DOCS_TRACK)
        ))
        .await;
    assert_eq!(reply.status, 200);
    let track = reply.json();
    assert_track_shape(&track);
    assert_eq!(
        track["encoded"], DOCS_TRACK,
        "the caller's string comes back"
    );
    assert_eq!(
        track["info"]["title"],
        "Rick Astley - Never Gonna Give You Up"
    );
    assert_eq!(track["info"]["length"], 212_000);

    // Tracks the emulator loads decode to the same info, including test tracks.
    let identifier = test_track_identifier(
        "short",
        TestTrackOptions {
            length_ms: Some(1234),
            ..TestTrackOptions::default()
        },
    );
    let loaded = node.encoded(&identifier).await;
    let many = node
        .call(
            Method::POST,
            "/v4/decodetracks",
            Some(json!([loaded, DOCS_TRACK])),
        )
        .await;
    assert_eq!(many.status, 200);
    let tracks = many.json();
    assert_eq!(tracks[0]["info"]["length"], 1234);
    assert_eq!(tracks[0]["info"]["sourceName"], "http");
    assert_eq!(tracks[1]["info"]["identifier"], "dQw4w9WgXcQ");

    let empty = node
        .call(Method::POST, "/v4/decodetracks", Some(json!([])))
        .await;
    assert_error_body(
        &empty,
        400,
        "No tracks to decode provided",
        "/v4/decodetracks",
    );
    let missing = node.get("/v4/decodetrack").await;
    assert_error_body(
        &missing,
        400,
        "No track to decode provided",
        "/v4/decodetrack",
    );
    let garbage = node.get("/v4/decodetrack?encodedTrack=%21%21%21").await;
    assert_eq!(garbage.status, 500);
}

#[tokio::test]
async fn player_lifecycle_has_documented_shapes_and_status_codes() {
    let node = Node::default().await;
    let (_ws, session) = node.session().await;
    let players = node.get(&format!("/v4/sessions/{session}/players")).await;
    assert_eq!(players.status, 200);
    assert_eq!(players.json(), json!([]));

    let track = node.encoded("dQw4w9WgXcQ").await;
    let path = format!("/v4/sessions/{session}/players/817327181659111454");
    let reply = node
        .patch(
            &path,
            json!({"track": {"encoded": track}, "voice": voice(), "volume": 80}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let player = reply.json();
    assert_player_shape(&player);
    assert_eq!(player["guildId"], "817327181659111454");
    assert_eq!(player["volume"], 80);
    assert_eq!(player["paused"], false);
    assert_eq!(player["state"]["connected"], true);
    assert_eq!(player["voice"], voice());
    assert_eq!(player["filters"], json!({}));

    let fetched = node.get(&path).await;
    assert_eq!(fetched.status, 200);
    assert_player_shape(&fetched.json());
    let listed = node
        .get(&format!("/v4/sessions/{session}/players"))
        .await
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    let deleted = node.call(Method::DELETE, &path, None).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    assert_error_body(&node.get(&path).await, 404, "Player not found", &path);
    // Deleting what is not there is still 204, as in Lavalink.
    assert_eq!(node.call(Method::DELETE, &path, None).await.status, 204);
}

fn assert_player_shape(player: &Value) {
    assert_shape(
        player,
        &[
            ("guildId", Kind::Str),
            ("track", Kind::NullableObject),
            ("volume", Kind::Int),
            ("paused", Kind::Bool),
            ("state", Kind::Object),
            ("voice", Kind::Object),
            ("filters", Kind::Object),
        ],
    );
    assert_shape(
        &player["state"],
        &[
            ("time", Kind::Int),
            ("position", Kind::Int),
            ("connected", Kind::Bool),
            ("ping", Kind::Int),
        ],
    );
    if !player["track"].is_null() {
        assert_track_shape(&player["track"]);
    }
}

#[tokio::test]
async fn unknown_sessions_get_404_session_not_found_and_trace_on_request() {
    let node = Node::default().await;
    let base = "/v4/sessions/xtaug914v9k5032f";
    let checks = [
        (Method::GET, format!("{base}/players"), None),
        (Method::GET, format!("{base}/players/1"), None),
        (Method::PATCH, format!("{base}/players/1"), Some(json!({}))),
        (Method::DELETE, format!("{base}/players/1"), None),
        (
            Method::PATCH,
            base.to_owned(),
            Some(json!({"resuming": true})),
        ),
    ];
    for (method, path, body) in checks {
        let reply = node.call(method, &path, body).await;
        assert_error_body(&reply, 404, "Session not found", &path);
        assert!(reply.json().get("trace").is_none(), "no trace unless asked");
        assert_eq!(reply.json()["error"], "Not Found");
    }
    let traced = node.get(&format!("{base}/players?trace=true")).await;
    assert_eq!(traced.status, 404);
    assert!(traced.json()["trace"].is_string());
}

#[tokio::test]
async fn player_patch_validations_use_lavalinks_messages_and_create_nothing() {
    let node = Node::default().await;
    let (_ws, session) = node.session().await;
    let path = format!("/v4/sessions/{session}/players/42");
    let cases = [
        (
            json!({"track": {"identifier": "x"}, "encodedTrack": "y"}),
            "Cannot specify both track and encodedTrack/identifier",
        ),
        (
            json!({"track": {"identifier": "x", "encoded": "y"}}),
            "Cannot specify both encodedTrack and identifier",
        ),
        (
            json!({"voice": {"token": "t", "endpoint": "e", "sessionId": "s"}}),
            "token, endpoint, sessionId and channelId must be provided in voice state",
        ),
        (
            json!({"voice": {"token": "", "endpoint": "e", "sessionId": "s", "channelId": "1"}}),
            "token, endpoint, sessionId and channelId must be provided in voice state",
        ),
        (json!({"endTime": 0}), "End time must be greater than 0"),
    ];
    for (body, message) in cases {
        let reply = node.patch(&path, body.clone()).await;
        assert_error_body(&reply, 400, message, &path);
    }
    assert_eq!(
        node.get(&path).await.status,
        404,
        "validation errors create no player"
    );

    let playlist = node
        .patch(&path, json!({"track": {"identifier": "ytsearch:anything"}}))
        .await;
    assert_error_body(
        &playlist,
        400,
        "Cannot play a playlist or search result",
        &path,
    );
    let nothing = node
        .patch(&path, json!({"track": {"identifier": "no such thing"}}))
        .await;
    assert_error_body(&nothing, 400, "No matches found for identifier", &path);
    let failed = node
        .patch(
            &path,
            json!({"track": {"identifier": "https://example.org/a.mp3"}}),
        )
        .await;
    assert_error_body(&failed, 500, "Connecting to the URL failed.", &path);
}

#[tokio::test]
async fn track_changes_follow_no_replace_stop_pause_and_user_data() {
    let node = Node::default().await;
    let (_ws, session) = node.session().await;
    let path = format!("/v4/sessions/{session}/players/7");
    let first = node.encoded("dQw4w9WgXcQ").await;
    let second = node.encoded("https://youtu.be/aaaaaaaaaaa").await;

    let player = node
        .patch(
            &path,
            json!({"track": {"encoded": first, "userData": {"requester": "u1"}}, "paused": true}),
        )
        .await
        .json();
    assert_eq!(player["paused"], true);
    assert_eq!(player["track"]["userData"], json!({"requester": "u1"}));

    let kept = node
        .call(
            Method::PATCH,
            &format!("{path}?noReplace=true"),
            Some(json!({"track": {"encoded": second}})),
        )
        .await
        .json();
    assert_eq!(
        kept["track"]["info"]["identifier"], "dQw4w9WgXcQ",
        "noReplace keeps it"
    );

    let replaced = node
        .patch(&path, json!({"encodedTrack": second}))
        .await
        .json();
    assert_eq!(replaced["track"]["info"]["identifier"], "aaaaaaaaaaa");
    assert_eq!(
        replaced["paused"], false,
        "a new track unpauses unless told"
    );
    assert_eq!(replaced["track"]["userData"], json!({}));

    let stopped = node
        .patch(&path, json!({"track": {"encoded": null}}))
        .await
        .json();
    assert!(stopped["track"].is_null());
}

#[tokio::test]
async fn volume_is_clamped_filters_echoed_and_session_settings_echoed() {
    let node = Node::default().await;
    let (_ws, session) = node.session().await;
    let path = format!("/v4/sessions/{session}/players/9");
    let filters = json!({
        "volume": 1.0,
        "equalizer": [{"band": 0, "gain": 0.2}],
        "timescale": {"speed": 1.0, "pitch": 1.0, "rate": 1.0},
        "pluginFilters": {"myPlugin": {"myPluginKey": "myPluginValue"}}
    });
    let player = node
        .patch(&path, json!({"volume": 5000, "filters": filters}))
        .await
        .json();
    assert_eq!(player["volume"], 1000);
    assert_eq!(player["filters"], filters);

    let session_path = format!("/v4/sessions/{session}");
    let reply = node
        .patch(&session_path, json!({"resuming": true, "timeout": 90}))
        .await;
    assert_eq!(reply.status, 200);
    assert_shape(
        &reply.json(),
        &[("resuming", Kind::Bool), ("timeout", Kind::Int)],
    );
    assert_eq!(reply.json(), json!({"resuming": true, "timeout": 90}));
    let partial = node.patch(&session_path, json!({"resuming": false})).await;
    assert_eq!(partial.json(), json!({"resuming": false, "timeout": 90}));
}

#[tokio::test]
async fn metrics_are_unauthenticated_when_enabled_and_absent_by_default() {
    let off = Node::default().await;
    let reply = off.get("/metrics").await;
    assert_eq!(reply.status, 404);

    let on = Node::start(EmulatorConfig {
        metrics_enabled: true,
        ..EmulatorConfig::default()
    })
    .await;
    let reply = on.raw(Method::GET, "/metrics", &[], Vec::new()).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/plain")
    );
    let text = reply.text();
    for gauge in [
        "lavalink_players_total",
        "lavalink_playing_players_total",
        "lavalink_uptime_milliseconds",
        "lavalink_memory_free_bytes",
        "lavalink_memory_used_bytes",
        "lavalink_memory_allocated_bytes",
        "lavalink_memory_reservable_bytes",
        "lavalink_cpu_cores",
        "lavalink_cpu_system_load_percentage",
        "lavalink_cpu_lavalink_load_percentage",
    ] {
        assert!(
            text.contains(&format!("# TYPE {gauge} gauge\n{gauge} ")),
            "{gauge}"
        );
    }
    // The API routes stay protected.
    let protected = on.raw(Method::GET, "/v4/stats", &[], Vec::new()).await;
    assert_eq!(protected.status, 401);
    let with_password = on
        .raw(
            Method::GET,
            "/metrics",
            &[("Authorization", PASSWORD)],
            Vec::new(),
        )
        .await;
    assert_eq!(with_password.status, 200);
}

#[tokio::test]
async fn one_emulator_serves_one_listener_at_a_time() {
    let (emulator, control) = Emulator::new(EmulatorConfig::default()).expect("valid config");
    let first = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let second = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let serving = emulator.clone();
    let task = tokio::spawn(async move { serving.serve(first).await });
    for _ in 0..100 {
        if control.is_serving() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let error = emulator.serve(second).await.expect_err("already serving");
    assert!(error.to_string().contains("already serving"));
    control.shutdown();
    assert!(matches!(task.await, Ok(Ok(()))));
}
