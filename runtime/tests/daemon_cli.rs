//! The `switchyard` binary's configuration surface: `check-config` with the runbook's
//! environment variables, errors that name the variable or the file position, and
//! secrets that never reach the output.

use std::process::{Command, Output};

fn switchyard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.args(args).env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

const NODES: &str = "us:us-1:http://127.0.0.1:2333,eu:eu-1:http://127.0.0.1:2334";

#[test]
fn check_config_accepts_the_runbook_environment_and_redacts_secrets() {
    let output = switchyard(
        &["check-config"],
        &[
            ("LAVALINK_NODES", NODES),
            ("LAVALINK_PASSWORD", "node-secret-123"),
            (
                "QUEUE_REDIS_URL",
                "redis://:redis-secret-456@127.0.0.1:6390/2",
            ),
            (
                "LAVALINK_HEALTH_WEBHOOK",
                "http://127.0.0.1:9999/hooks/abc-secret-789",
            ),
            ("SWITCHYARD_API_TOKEN", "api-secret-000"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [
        "node-secret-123",
        "redis-secret-456",
        "abc-secret-789",
        "api-secret-000",
    ] {
        assert!(!stdout.contains(secret), "{secret} leaked:\n{stdout}");
    }
    assert!(stdout.contains("name = \"us-1\""), "{stdout}");
    assert!(stdout.contains("name = \"eu-1\""), "{stdout}");
    assert!(
        stdout.contains("127.0.0.1:6390"),
        "the Redis host stays visible: {stdout}"
    );
    assert!(stdout.contains("health-webhook"), "{stdout}");
}

#[test]
fn check_config_rejects_a_malformed_lavalink_nodes_naming_the_variable() {
    for (value, expected) in [
        ("us:us-1", "entry 1 (`us:us-1`) is not region:name:url"),
        (
            "us:us-1:http://127.0.0.1:2333,eu:eu 1:http://127.0.0.1:1",
            "entry 2",
        ),
        (
            "us:us-1:ftp://127.0.0.1:2333",
            "url expected http://host:port",
        ),
        (
            "us:us-1:http://127.0.0.1:1,us:us-1:http://127.0.0.1:2",
            "listed twice",
        ),
        (" , ", "lists no node"),
    ] {
        let output = switchyard(
            &["check-config"],
            &[("LAVALINK_NODES", value), ("LAVALINK_PASSWORD", "pw")],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains("LAVALINK_NODES"), "{value}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{value}: expected `{expected}` in {stderr}"
        );
    }
    let output = switchyard(&["check-config"], &[("LAVALINK_NODES", NODES)]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("LAVALINK_PASSWORD"));
}

/// Writes `toml` as the config file and runs `check-config` on it; returns its stderr
/// after checking it exited 2 (invalid input).
fn check_config_refuses(path: &std::path::Path, toml: &str, env: &[(&str, &str)]) -> String {
    std::fs::write(path, toml).expect("write");
    let output = switchyard(
        &[
            "check-config",
            "--config",
            path.to_str().expect("utf-8 path"),
        ],
        env,
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn check_config_points_at_the_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("switchyard-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("switchyard.toml");
    let env = [("LAVALINK_NODES", NODES), ("LAVALINK_PASSWORD", "pw")];
    let stderr = check_config_refuses(
        &path,
        "[daemon]\nlisten = \"127.0.0.1:8080\"\n\n[controller.health]\nrise = \"two\"\n",
        &[],
    );
    assert!(stderr.contains("switchyard.toml:5:8"), "{stderr}");
    let stderr = check_config_refuses(&path, "[controller.health]\nrise = 0\n", &env);
    assert!(stderr.contains("controller.health.rise"), "{stderr}");
    // A zero period would spin the poll loop: refused, naming the field.
    let stderr = check_config_refuses(&path, "[daemon]\nstore_poll_interval_ms = 0\n", &env);
    assert!(stderr.contains("daemon.store_poll_interval_ms"), "{stderr}");
    assert!(stderr.contains("at least 1 ms"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn version_is_printed() {
    let output = switchyard(&["--version"], &[]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("switchyard "));
}

#[test]
fn check_config_shows_the_leader_lease_and_names_a_bad_advertised_url() {
    let output = switchyard(
        &["check-config"],
        &[
            ("LAVALINK_NODES", NODES),
            ("LAVALINK_PASSWORD", "pw"),
            ("SWITCHYARD_INSTANCE", "switchyard-b"),
            ("SWITCHYARD_ADVERTISE_URL", "http://10.0.0.6:8080/"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("[leader]"), "{stdout}");
    assert!(stdout.contains("instance = \"switchyard-b\""), "{stdout}");
    assert!(
        stdout.contains("advertise_url = \"http://10.0.0.6:8080\""),
        "{stdout}"
    );
    assert!(stdout.contains("lease_ttl_ms = 10000"), "{stdout}");
    let output = switchyard(
        &["check-config"],
        &[
            ("LAVALINK_NODES", NODES),
            ("LAVALINK_PASSWORD", "pw"),
            ("SWITCHYARD_ADVERTISE_URL", "10.0.0.6:8080"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SWITCHYARD_ADVERTISE_URL"), "{stderr}");
}
