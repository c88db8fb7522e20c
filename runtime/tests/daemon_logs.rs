//! `switchyard run --log-json`: every log line is one JSON object with a timestamp,
//! level and message, and secrets stay out of the logs. Without the flag the lines are
//! plain text. The daemon runs as a real process on loopback with its nodes and Redis
//! unreachable (it starts and logs all the same: Redis is soft state) and is stopped
//! with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const PASSWORD: &str = "node-secret-5150";
const TOKEN: &str = "api-secret-8086";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Runs the daemon until it has logged that it listens, stops it with SIGTERM, and
/// returns every line it wrote to stderr.
fn run_daemon(json: bool) -> Vec<String> {
    let nodes = format!(
        "eu:eu-1:http://127.0.0.1:{},eu:eu-2:http://127.0.0.1:{}",
        free_port(),
        free_port()
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.arg("run");
    if json {
        command.arg("--log-json");
    }
    let mut child = command
        .env_clear()
        .env("LAVALINK_NODES", nodes)
        .env("LAVALINK_PASSWORD", PASSWORD)
        .env("SWITCHYARD_API_TOKEN", TOKEN)
        .env(
            "QUEUE_REDIS_URL",
            format!("redis://127.0.0.1:{}/0", free_port()),
        )
        .env("SWITCHYARD_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the daemon starts");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.contains("switchyard listening"))
    {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => lines.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the daemon never said it listens: {lines:#?}");
            }
        }
    }
    // Let probes fail and the store writer notice Redis is away: more lines to check.
    std::thread::sleep(Duration::from_millis(1_500));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("the daemon exits");
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?}");
    reader.join().expect("reader thread");
    lines.extend(rx.try_iter());
    lines
}

#[test]
fn log_json_writes_one_json_object_per_line_without_secrets() {
    let lines = run_daemon(true);
    assert!(lines.len() >= 3, "{lines:#?}");
    let mut messages = Vec::new();
    for line in &lines {
        assert!(
            !line.contains(PASSWORD) && !line.contains(TOKEN),
            "a secret: {line}"
        );
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(entry["timestamp"].is_string(), "{line}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&entry["level"].as_str().unwrap_or("")),
            "{line}"
        );
        messages.push(
            entry["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let listening = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("checked"))
        .find(|e| e["fields"]["message"] == "switchyard listening")
        .expect("the listening line");
    assert_eq!(
        listening["fields"]["nodes"], 2,
        "structured fields stay fields"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("shutting down")),
        "{messages:#?}"
    );
}

#[test]
fn without_the_flag_lines_are_plain_text() {
    let lines = run_daemon(false);
    let listening = lines
        .iter()
        .find(|l| l.contains("switchyard listening"))
        .expect("the listening line");
    assert!(
        serde_json::from_str::<Value>(listening).is_err(),
        "{listening}"
    );
    assert!(listening.contains("INFO"), "{listening}");
    assert!(
        lines
            .iter()
            .all(|l| !l.contains(PASSWORD) && !l.contains(TOKEN))
    );
}
