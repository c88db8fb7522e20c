//! A sweep's ranking, RTO percentiles and files.

mod common;

use common::{count_elements, decode_png, junit_xml, read, svg_texts, synthetic};
use switchyard_reports::{
    ExpectationReport, Measure, SWEEP_SCHEMA, SeedResult, SweepReport, Verdict, Versions,
    write_sweep_report,
};

fn replay(seed: u64) -> String {
    format!("sim run scenarios/region-outage.toml --seed {seed}")
}

fn seed(seed: u64, passed: bool, availability: f64, rtos: &[Option<u64>]) -> SeedResult {
    SeedResult {
        seed,
        passed,
        availability,
        incident_rto_ms: rtos.to_vec(),
        violations: 0,
        expectations: vec![ExpectationReport {
            name: "availability_min".to_owned(),
            threshold: Measure::Number(0.99),
            measured: Measure::Number(availability),
            verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        }],
        replay_command: replay(seed),
        wall_ms: 1_000 + seed,
    }
}

fn sweep(seeds: Vec<SeedResult>) -> SweepReport {
    SweepReport {
        scenario: "region-outage".to_owned(),
        scenario_path: "scenarios/region-outage.toml".to_owned(),
        description: "eu-west goes dark".to_owned(),
        versions: Versions {
            switchyard: "0.1.0".to_owned(),
        },
        seeds,
    }
}

/// Six seeds whose ranking exercises every tie-break.
fn ranked() -> SweepReport {
    sweep(vec![
        seed(1, true, 0.999, &[Some(5_000)]),
        seed(2, false, 0.98, &[Some(9_000)]),
        seed(3, false, 0.95, &[Some(4_000)]),
        seed(4, true, 0.999, &[Some(7_000)]),
        seed(5, true, 0.999, &[Some(1_000), None]),
        seed(6, false, 0.98, &[Some(12_000)]),
    ])
}

#[test]
fn seeds_rank_by_failure_then_availability_then_recovery() {
    let report = ranked();
    let order: Vec<u64> = report.worst_first().iter().map(|s| s.seed).collect();
    // Failed first (3 has the lowest availability; 6 and 2 tie and 6 took longer),
    // then passed (5 never recovered one incident, 4 took longer than 1).
    assert_eq!(order, [3, 6, 2, 5, 4, 1]);
    let summary = report.summarize();
    assert_eq!(summary.worst_first_seeds, order);
    assert_eq!(
        (
            summary.seeds_total,
            summary.seeds_passed,
            summary.seeds_failed
        ),
        (6, 3, 3)
    );
    assert_eq!(summary.rto.recovered_incidents, 6);
    assert_eq!(summary.rto.unrecovered_incidents, 1);
}

#[test]
fn percentiles_are_exact_for_small_rtos() {
    // 1..=200 ms: every value is its own histogram bucket.
    let seeds = (1..=200)
        .map(|ms| seed(ms, true, 1.0, &[Some(ms)]))
        .collect();
    let rto = sweep(seeds).summarize().rto;
    assert_eq!(
        (rto.p50_ms, rto.p90_ms, rto.p99_ms, rto.max_ms),
        (Some(100), Some(180), Some(198), Some(200))
    );
    assert_eq!(rto.curve.last().map(|p| p.1), Some(200));
    assert!(
        rto.curve
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
    );
}

#[test]
fn percentiles_of_large_rtos_are_within_a_tenth_of_a_percent() {
    // 10 s .. 100 s in 1 s steps: p50 is 55 s, p90 91 s, p99 100 s (the 90.09th of 91).
    let seeds = (10..=100u64)
        .map(|s| seed(s, true, 1.0, &[Some(s * 1_000 + 7)]))
        .collect();
    let rto = sweep(seeds).summarize().rto;
    let near = |got: Option<u64>, want: u64| {
        let got = got.expect("recovered incidents exist");
        assert!(got <= want, "{got} is above the sample {want}");
        assert!(
            (want - got) as f64 <= want as f64 * 0.001,
            "{got} is far from {want}"
        );
    };
    near(rto.p50_ms, 55_007);
    near(rto.p90_ms, 91_007);
    near(rto.p99_ms, 100_007);
    assert_eq!(rto.max_ms, Some(100_007), "max is exact");
    assert!(rto.p99_ms <= rto.max_ms, "a percentile above the max");
}

#[test]
fn a_sweep_without_recoveries_has_no_percentiles() {
    let rto = sweep(vec![seed(1, false, 0.5, &[None])]).summarize().rto;
    assert_eq!((rto.p50_ms, rto.max_ms), (None, None));
    assert_eq!(rto.unrecovered_incidents, 1);
    assert!(rto.curve.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let written = write_sweep_report(dir.path(), &sweep(vec![seed(1, false, 0.5, &[None])]));
    assert!(
        written.is_ok(),
        "an empty distribution still draws: {written:?}"
    );
}

#[test]
fn sweep_files_carry_the_ranking_percentiles_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let report = ranked();
    let written = write_sweep_report(dir.path(), &report).unwrap();

    let json: serde_json::Value = serde_json::from_str(&read(&written.summary_json)).unwrap();
    assert_eq!(json["schema"], SWEEP_SCHEMA);
    assert_eq!(json["seeds"].as_array().unwrap().len(), 6);
    assert_eq!(json["seeds"][1]["replay_command"], replay(2));
    assert_eq!(
        json["summary"]["worst_first_seeds"],
        serde_json::json!([3, 6, 2, 5, 4, 1])
    );
    assert_eq!(json["summary"]["seeds_failed"], 3);
    assert_eq!(json["summary"]["rto"]["max_ms"], 12_000);
    assert_eq!(json["summary"]["rto"]["unrecovered_incidents"], 1);

    let suites = junit_xml::parse(&written.junit_xml);
    assert_eq!((suites.tests, suites.failures), (6, 3));
    let cases = &suites.testsuite[0].testcase;
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["seed 1", "seed 2", "seed 3", "seed 4", "seed 5", "seed 6"]
    );
    for case in cases {
        let seed: u64 = case.name["seed ".len()..].parse().unwrap();
        let passed = report.seeds.iter().find(|s| s.seed == seed).unwrap().passed;
        match &case.failure {
            None => assert!(passed, "seed {seed} failed without a failure"),
            Some(failure) => {
                assert!(!passed, "seed {seed} passed with a failure");
                assert!(
                    failure.message.contains(&replay(seed)),
                    "{}",
                    failure.message
                );
                assert!(failure.text.contains(&replay(seed)), "{}", failure.text);
                let measured = if seed == 3 {
                    "measured 0.95"
                } else {
                    "measured 0.98"
                };
                assert!(failure.message.contains(measured), "{}", failure.message);
            }
        }
    }

    // Worst first in both reports, each with its replay command.
    for page in [read(&written.report_md), read(&written.report_html)] {
        let at: Vec<usize> = [3, 6, 2, 5, 4, 1]
            .iter()
            .map(|&s| page.find(&replay(s)).expect("every seed's replay is shown"))
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "seeds out of order: {at:?}"
        );
        assert!(page.contains("12000 ms"), "max RTO is shown");
    }

    let chart = &written.charts[0];
    assert_eq!(chart.name, "rto_distribution");
    let svg = read(&chart.svg);
    let texts = svg_texts(&svg);
    assert!(texts.contains(&"RTO by percentile".to_owned()), "{texts:?}");
    assert!(
        texts.contains(&"p50, p90, p99, max".to_owned()),
        "{texts:?}"
    );
    // Four percentile marks plus the legend's sample mark.
    assert_eq!(count_elements(&svg, "circle"), 5);
    let png = decode_png(&chart.png);
    assert_eq!((png.width, png.height), (1000, 480));
    assert!(png.rgb.iter().any(|p| *p != [255, 255, 255]));
}

#[test]
fn a_sweep_built_from_runs_keeps_each_seed() {
    let runs: Vec<_> = [7u64, 8]
        .iter()
        .map(|&s| {
            let mut run = synthetic::run(120_000, 1_000, 0.99);
            run.seed = s;
            run.replay_command = replay(s);
            run
        })
        .collect();
    let report = SweepReport::from_runs(&runs).expect("two runs");
    assert_eq!(report.scenario, "region-outage");
    assert_eq!(report.seeds.len(), 2);
    let first = &report.seeds[0];
    assert_eq!(first.seed, 7);
    assert_eq!(first.replay_command, replay(7));
    assert_eq!(first.availability, runs[0].availability.overall.ratio);
    assert_eq!(first.incident_rto_ms, [Some(synthetic::RTO_MS)]);
    assert_eq!(first.violations, 1);
    assert_eq!(first.expectations, runs[0].expectations);
    assert!(SweepReport::from_runs(&[]).is_none());
}
