//! `sim run` and `sim check-determinism` as CI uses them: exit codes, the summary, the
//! replay command, and the JSON result.

use std::process::{Command, Output};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/small-node-kill.toml"
);

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_scenario_that_meets_its_expectations_exits_zero_with_a_json_result() {
    let dir = temp_dir("run-pass");
    let json = dir.join("result.json");
    let output = sim(&["run", FIXTURE, "--json", json.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("scenario small-node-kill (seed 3): 3m simulated in "),
        "{stdout}"
    );
    // The speed: simulated time over wall time.
    let speed = stdout
        .split_once(" wall (")
        .and_then(|(_, rest)| rest.split_once("x real time)"))
        .and_then(|(factor, _)| factor.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no speed in the summary: {stdout}"));
    assert!(speed > 0.0, "{stdout}");
    assert!(
        stdout.contains("incident faults[0] node_kill at 1m: RTO"),
        "{stdout}"
    );
    assert!(stdout.contains("PASSED"), "{stdout}");
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("written")).expect("json");
    assert_eq!(result["passed"], true);
    assert_eq!(result["seed"], 3);
    assert!(
        result["outcome"]["availability"]
            .as_f64()
            .expect("a number")
            >= 0.99
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_unreachable_expectation_exits_one_with_the_replay_command() {
    let dir = temp_dir("run-fail");
    let path = dir.join("impossible.toml");
    let text = std::fs::read_to_string(FIXTURE)
        .expect("fixture")
        .replace("availability_min = 0.99", "availability_min = 1.0");
    std::fs::write(&path, text).expect("write");
    let output = sim(&["run", path.to_str().expect("utf-8"), "--seed", "5"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("[FAIL] availability"), "{stdout}");
    assert!(
        stdout.contains(&format!("replay with: sim run {} --seed 5", path.display())),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn invalid_input_exits_two() {
    let output = sim(&["run", "/nonexistent/scenario.toml"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn check_determinism_passes_for_the_fixture() {
    let output = sim(&["check-determinism", FIXTURE]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("deterministic: small-node-kill (seed 3)"),
        "{stdout}"
    );
}

#[test]
fn a_run_report_holds_the_run_s_figures_and_charts() {
    let dir = temp_dir("run-report");
    let json = dir.join("result.json");
    let reports = dir.join("report");
    let output = sim(&[
        "run",
        FIXTURE,
        "--json",
        json.to_str().expect("utf-8"),
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("written")).expect("json");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("summary.json")).expect("written"))
            .expect("json");
    // The report carries the same figures as the run's own result.
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["passed"], true);
    assert_eq!(
        summary["availability"]["overall"]["ratio"],
        result["outcome"]["availability"]
    );
    assert_eq!(
        summary["incidents"][0]["rto_ms"],
        result["outcome"]["incidents"][0]["rto_ms"]
    );
    assert_eq!(summary["incidents"][0]["kind"], "node_kill");
    assert!(
        summary["incidents"][0]["players_moved"]
            .as_u64()
            .expect("count")
            > 0
    );
    assert!(
        summary["incidents"][0]["detected_at_ms"]
            .as_u64()
            .expect("detected")
            >= 60_000
    );
    let served = summary["series"]["served_demanded"]
        .as_array()
        .expect("series");
    assert!(served.len() > 100, "one point per sample");
    let per_node = summary["series"]["players_per_node"]
        .as_object()
        .expect("nodes");
    assert!(per_node.len() >= 2, "{per_node:?}");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit");
    assert!(junit.contains("<testsuite"), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    for chart in [
        "availability_by_region",
        "players_per_node",
        "served_vs_demanded",
    ] {
        let svg = std::fs::read_to_string(reports.join(format!("{chart}.svg"))).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("polyline"), "{chart}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_sweep_runs_every_seed_and_sums_up() {
    let dir = temp_dir("sweep");
    let output = sim(&[
        "sweep",
        FIXTURE,
        "--seeds",
        "3..4",
        "--jobs",
        "2",
        "--report-dir",
        dir.to_str().expect("utf-8"),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 seeds, 2 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("RTO over 2 recovered incidents"),
        "{stdout}"
    );
    assert!(stderr.contains("seed     3: pass"), "{stderr}");
    assert!(stderr.contains("seed     4: pass"), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).expect("written"))
            .expect("json");
    let seeds: Vec<u64> = summary["seeds"]
        .as_array()
        .expect("seeds")
        .iter()
        .map(|s| s["seed"].as_u64().expect("seed"))
        .collect();
    assert_eq!(seeds, [3, 4]);
    assert!(sim(&["sweep", FIXTURE, "--seeds", "4..3"]).status.code() == Some(2));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn only_the_invariants_a_scenario_lists_decide_its_verdict() {
    // At a 20 % loss rate the fixture leaves players behind past the cleanup bound, so
    // with every invariant checked it fails on `single_player`.
    let loss = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/small-message-loss.toml"
    );
    let all = sim(&["run", loss]);
    let all_stdout = String::from_utf8_lossy(&all.stdout);
    assert_eq!(all.status.code(), Some(1), "{all_stdout}");
    assert!(all_stdout.contains("[FAIL] invariants:"), "{all_stdout}");
    assert!(all_stdout.contains("single_player"), "{all_stdout}");

    let dir = temp_dir("run-invariants");
    let path = dir.join("residency-only.toml");
    let text = std::fs::read_to_string(loss).expect("fixture").replace(
        "invariants = \"all\"",
        "invariants = [\"residency\", \"plan_clamp\"]",
    );
    std::fs::write(&path, text).expect("write");
    let listed = sim(&["run", path.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("[pass] invariants residency, plan_clamp: 0 violation(s),"),
        "{stdout}"
    );
    assert!(stdout.contains("of unchecked invariants"), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}
