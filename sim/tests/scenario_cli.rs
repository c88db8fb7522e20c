//! `sim validate` and `sim list`: output and exit codes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use switchyard_sim::exit_codes::{INVALID_INPUT, SUCCESS};

const SIM: &str = env!("CARGO_BIN_EXE_sim");

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn sim(args: &[&str]) -> Output {
    Command::new(SIM).args(args).output().expect("sim runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory under the system temp dir, unique to this test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// region-outage.toml with its fault aimed at a node that does not exist.
fn broken_scenario() -> String {
    let good = fs::read_to_string(scenarios_dir().join("region-outage.toml")).expect("shipped");
    let broken = good.replace(
        "kind = \"region_outage\"\nregion = \"apac\"",
        "kind = \"node_kill\"\nnode = \"apac-9\"",
    );
    assert_ne!(
        good, broken,
        "the fault to break is still in region-outage.toml"
    );
    broken
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let files = switchyard_sim::scenario::files_in(scenarios_dir()).expect("readable");
    let args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = sim(&[&["validate"], &args[..]].concat());
    assert_eq!(
        code(&output),
        i32::from(SUCCESS),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(text(&output.stdout).lines().count(), files.len());
}

#[test]
fn validate_reports_every_error_with_its_location_and_exits_2() {
    let dir = temp_dir("validate");
    let bad = dir.join("bad.toml");
    let text_bad = broken_scenario();
    fs::write(&bad, &text_bad).expect("write");
    let good = scenarios_dir().join("node-kill.toml");
    let output = sim(&[
        "validate",
        good.to_str().expect("utf-8"),
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&output), i32::from(INVALID_INPUT));
    let stderr = text(&output.stderr);
    let line = text_bad
        .lines()
        .position(|l| l == "node = \"apac-9\"")
        .expect("present")
        + 1;
    let expected = format!(
        "{}:{line}:8: faults[0].node: unknown node \"apac-9\" (known: us-1, us-2, us-3, eu-1, eu-2, eu-3, apac-1, apac-2, apac-3)",
        bad.display()
    );
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    // The good file is still reported as fine.
    assert!(text(&output.stdout).contains("node-kill.toml: ok"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn validate_exits_2_on_a_missing_file() {
    let output = sim(&["validate", "no/such/scenario.toml"]);
    assert_eq!(code(&output), i32::from(INVALID_INPUT));
    assert!(text(&output.stderr).contains("no/such/scenario.toml: cannot read"));
}

#[test]
fn list_shows_every_shipped_scenario() {
    let output = sim(&["list", scenarios_dir().to_str().expect("utf-8")]);
    assert_eq!(
        code(&output),
        i32::from(SUCCESS),
        "{}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    let header = stdout.lines().next().expect("a header");
    for column in ["NAME", "DURATION", "FAULTS", "EXPECTATIONS", "DESCRIPTION"] {
        assert!(header.contains(column), "{header}");
    }
    let row = stdout
        .lines()
        .find(|l| l.starts_with("region-outage "))
        .expect("region-outage listed");
    for cell in ["15m", "region_outage", "rto<=30s", "avail>=99.9%"] {
        assert!(row.contains(cell), "{row}");
    }
    for name in [
        "node-kill",
        "partition",
        "latency-spike",
        "shard-stall",
        "eu-outage-pinned",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn list_marks_a_bad_file_and_exits_2() {
    let dir = temp_dir("list");
    fs::copy(
        scenarios_dir().join("node-kill.toml"),
        dir.join("node-kill.toml"),
    )
    .expect("copy");
    fs::write(dir.join("bad.toml"), broken_scenario()).expect("write");
    fs::write(dir.join("notes.txt"), "not a scenario").expect("write");
    let output = sim(&["list", dir.to_str().expect("utf-8")]);
    assert_eq!(code(&output), i32::from(INVALID_INPUT));
    let stdout = text(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("bad ") && l.contains("INVALID")),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("node-kill ")),
        "{stdout}"
    );
    assert!(!stdout.contains("notes"), "{stdout}");
    assert!(text(&output.stderr).contains("faults[0].node: unknown node \"apac-9\""));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn list_exits_2_on_a_missing_directory() {
    let output = sim(&["list", "no/such/dir"]);
    assert_eq!(code(&output), i32::from(INVALID_INPUT));
}
