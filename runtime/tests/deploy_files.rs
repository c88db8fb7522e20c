//! The files in `deploy/` against the binary they deploy: the sample configuration
//! passes `check-config` with the secrets in the environment and holds none itself, and
//! the systemd unit and the container file start the daemon with flags it accepts,
//! hardened, and with exit-code and shutdown settings that match its behaviour.

use std::path::PathBuf;
use std::process::{Command, Output};

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(deploy(file)).unwrap_or_else(|e| panic!("deploy/{file}: {e}"))
}

fn switchyard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.args(args).env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

const SECRETS: [(&str, &str); 3] = [
    ("LAVALINK_PASSWORD", "node-secret-4821"),
    (
        "QUEUE_REDIS_URL",
        "redis://:redis-secret-9930@10.0.0.5:6379/0",
    ),
    ("SWITCHYARD_API_TOKEN", "api-secret-7713"),
];

#[test]
fn the_sample_config_passes_check_config_with_the_secrets_from_the_environment() {
    let config = deploy("switchyard.toml");
    let config = config.to_str().expect("UTF-8 path");
    let output = switchyard(&["check-config", "--config", config], &SECRETS);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (_, secret) in SECRETS {
        let secret = secret
            .rsplit(['@', ':'])
            .find(|s| s.contains("secret"))
            .unwrap_or(secret);
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
    }
    for node in ["us-1", "us-2", "eu-1", "eu-2", "apac-1", "apac-2"] {
        assert!(
            stdout.contains(&format!("name = \"{node}\"")),
            "{node}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("10.0.0.5:6379"),
        "the Redis URL comes from the environment"
    );
}

#[test]
fn the_sample_config_holds_no_secret_of_its_own() {
    let config = deploy("switchyard.toml");
    let config = config.to_str().expect("UTF-8 path");
    let output = switchyard(&["check-config", "--config", config], &SECRETS[1..]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lavalink.us-1.password"), "{stderr}");
    assert!(stderr.contains("LAVALINK_PASSWORD"), "{stderr}");
    let text = read("switchyard.toml");
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for key in ["password", "token", "routing_key", "redis_url"] {
            assert!(!line.contains(key), "a secret in the sample: {line}");
        }
    }
}

/// The `--flags` of a command line the binary must accept.
fn flags(command_line: &str) -> Vec<String> {
    command_line
        .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .filter(|word| word.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

fn assert_run_accepts(command_line: &str) {
    let help = switchyard(&["run", "--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    let flags = flags(command_line);
    assert!(flags.contains(&"--config".to_owned()), "{command_line}");
    for flag in flags {
        assert!(
            help.contains(&flag),
            "`switchyard run` has no {flag}:\n{help}"
        );
    }
}

fn unit_value<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn the_systemd_unit_is_hardened_and_matches_the_binary() {
    let unit = read("switchyard.service");
    let one = |key: &str| {
        let values = unit_value(&unit, key);
        assert_eq!(values.len(), 1, "{key}: {values:?}");
        values[0]
    };
    assert_run_accepts(one("ExecStart"));
    assert!(one("ExecStart").contains(" run "));
    assert!(one("ExecStartPre").contains(" check-config --config "));
    assert!(one("EnvironmentFile").starts_with("/etc/"));
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(one(key), value, "{key}");
    }
    // Shutdown flushes alerts for up to 5 s; systemd must wait longer than that.
    let stop_s: u64 = one("TimeoutStopSec").parse().expect("seconds");
    assert!(stop_s >= 10, "TimeoutStopSec={stop_s}");
    // A bad configuration is not retried: the code must be the one check-config exits
    // with for a bad configuration.
    let bad = switchyard(&["check-config"], &[("LAVALINK_NODES", "nonsense")]);
    assert_eq!(
        bad.status.code().map(|c| c.to_string()).as_deref(),
        Some(one("RestartPreventExitStatus"))
    );
}

#[test]
fn the_container_file_builds_in_two_stages_and_runs_unprivileged_with_a_health_check() {
    let file = read("Containerfile");
    let from: Vec<&str> = file.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(from.len(), 2, "{from:?}");
    assert!(
        from[0].contains("rust") && from[0].ends_with(" AS builder"),
        "{}",
        from[0]
    );
    assert!(
        from[1].contains("debian") && from[1].contains("slim"),
        "{}",
        from[1]
    );
    assert!(file.contains("COPY --from=builder "));
    let user = file
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "{user}"
    );
    let health = file
        .lines()
        .skip_while(|l| !l.starts_with("HEALTHCHECK"))
        .take(2)
        .collect::<String>();
    assert!(health.contains("http://127.0.0.1:8080/healthz"), "{health}");
    assert!(file.contains("SWITCHYARD_LISTEN=0.0.0.0:8080") && file.contains("EXPOSE 8080"));
    let cmd = file
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("a CMD");
    assert!(cmd.starts_with("[\"run\""), "{cmd}");
    assert_run_accepts(cmd);
}
