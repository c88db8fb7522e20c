//! A realistic synthetic run: a region outage in a three-region, nine-node fleet,
//! sampled like the simulator samples. Shared by the tests and the example.

use std::collections::BTreeMap;

use switchyard_reports::{
    AlertReport, AvailabilityReport, ExpectationReport, FaultWindow, IncidentReport, Measure,
    Ratio, RunReport, TimeSeries, Verdict, Versions, ViolationReport,
};

pub const REGIONS: [&str; 3] = ["ap-south", "eu-west", "us-east"];
pub const GUILDS_PER_REGION: u64 = 100;
/// The outage hits eu-west from here...
pub const OUTAGE_START_MS: u64 = 600_000;
/// ...until here.
pub const OUTAGE_END_MS: u64 = 900_000;
/// eu-west's guilds are all served again this long after the outage starts.
pub const RTO_MS: u64 = 8_500;
pub const REPLAY: &str = "sim run scenarios/region-outage.toml --seed 42";

pub fn nodes() -> Vec<(String, &'static str)> {
    REGIONS
        .iter()
        .flat_map(|region| (1..=3).map(move |n| (format!("{region}-{n}"), *region)))
        .collect()
}

/// eu-west guilds served at `t_ms`: all, none right after the outage starts, then
/// back linearly until `RTO_MS`.
fn eu_served(t_ms: u64) -> u64 {
    if (OUTAGE_START_MS..OUTAGE_START_MS + RTO_MS).contains(&t_ms) {
        GUILDS_PER_REGION * (t_ms - OUTAGE_START_MS) / RTO_MS
    } else {
        GUILDS_PER_REGION
    }
}

pub fn series(duration_ms: u64, sample_interval_ms: u64) -> TimeSeries {
    let times: Vec<u64> = (0..=duration_ms / sample_interval_ms)
        .map(|i| i * sample_interval_ms)
        .collect();
    let mut availability_by_region = BTreeMap::new();
    for region in REGIONS {
        let points = times
            .iter()
            .map(|&t| {
                let served = if region == "eu-west" {
                    eu_served(t)
                } else {
                    GUILDS_PER_REGION
                };
                (t, served as f64 / GUILDS_PER_REGION as f64)
            })
            .collect();
        availability_by_region.insert(region.to_owned(), points);
    }
    let demanded = GUILDS_PER_REGION * REGIONS.len() as u64;
    let served_demanded = times
        .iter()
        .map(|&t| (t, demanded - GUILDS_PER_REGION + eu_served(t), demanded))
        .collect();
    let mut players_per_node = BTreeMap::new();
    let mut probe_latency_ms_by_node = BTreeMap::new();
    for (index, (node, region)) in nodes().into_iter().enumerate() {
        let down = |t: u64| region == "eu-west" && (OUTAGE_START_MS..OUTAGE_END_MS).contains(&t);
        let players = times
            .iter()
            .map(|&t| {
                let base = (GUILDS_PER_REGION / 3) as u32;
                // eu-west's players move to the six other nodes and stay there.
                let moved = if t >= OUTAGE_START_MS + RTO_MS {
                    100 / 6
                } else {
                    0
                };
                let players = if region == "eu-west" {
                    if t >= OUTAGE_START_MS { 0 } else { base }
                } else {
                    base + moved
                };
                (t, players)
            })
            .collect();
        // A down node answers no probe: no point at that time.
        let latency = times
            .iter()
            .filter(|&&t| !down(t))
            .map(|&t| (t, 20.0 + 5.0 * ((t as f64 / 7_000.0) + index as f64).sin()))
            .collect();
        players_per_node.insert(node.clone(), players);
        probe_latency_ms_by_node.insert(node, latency);
    }
    TimeSeries {
        sample_interval_ms,
        fault_windows: vec![FaultWindow {
            label: "#0 region_outage eu-west".to_owned(),
            start_ms: OUTAGE_START_MS,
            end_ms: OUTAGE_END_MS,
        }],
        availability_by_region,
        served_demanded,
        players_per_node,
        probe_latency_ms_by_node,
    }
}

/// A whole run; `availability_min` decides whether it passes.
pub fn run(duration_ms: u64, sample_interval_ms: u64, availability_min: f64) -> RunReport {
    let samples = duration_ms / sample_interval_ms + 1;
    let demanded = samples * GUILDS_PER_REGION;
    let eu_missed = RTO_MS / sample_interval_ms * GUILDS_PER_REGION / 2;
    let by_region: BTreeMap<String, Ratio> = REGIONS
        .iter()
        .map(|&region| {
            let missed = if region == "eu-west" { eu_missed } else { 0 };
            (
                region.to_owned(),
                Ratio::from_counts(demanded - missed, demanded),
            )
        })
        .collect();
    let overall = Ratio::from_counts(3 * demanded - eu_missed, 3 * demanded);
    let mut by_plan = BTreeMap::new();
    by_plan.insert(
        "free".to_owned(),
        Ratio::from_counts(2 * demanded - eu_missed, 2 * demanded),
    );
    by_plan.insert("premium".to_owned(), Ratio::from_counts(demanded, demanded));
    let verdict = |ok: bool| if ok { Verdict::Pass } else { Verdict::Fail };
    let passed = overall.ratio >= availability_min;
    RunReport {
        scenario: "region-outage".to_owned(),
        scenario_path: "scenarios/region-outage.toml".to_owned(),
        description: "eu-west goes dark for five minutes; its guilds move to the other regions"
            .to_owned(),
        seed: 42,
        versions: Versions {
            switchyard: "0.1.0".to_owned(),
        },
        duration_ms,
        wall_ms: 2_345,
        guilds: 3 * GUILDS_PER_REGION,
        replay_command: REPLAY.to_owned(),
        incidents: vec![IncidentReport {
            fault: 0,
            kind: "region_outage".to_owned(),
            target: "region eu-west".to_owned(),
            at_ms: OUTAGE_START_MS,
            detected_at_ms: Some(OUTAGE_START_MS + 3_000),
            first_recovery_ms: Some(OUTAGE_START_MS + 3_500),
            last_recovery_ms: Some(OUTAGE_START_MS + RTO_MS),
            rto_ms: Some(RTO_MS),
            players_moved: GUILDS_PER_REGION,
        }],
        availability: AvailabilityReport {
            overall,
            by_region,
            by_plan,
        },
        violations: vec![ViolationReport {
            at_ms: OUTAGE_START_MS + 1_000,
            invariant: "no_move_onto_down_node".to_owned(),
            detail: "guild 17 <moved> to eu-west-2 & back | \"quoted\"".to_owned(),
        }],
        alerts: vec![
            AlertReport {
                at_ms: OUTAGE_START_MS + 3_100,
                key: "region-down:eu-west".to_owned(),
                action: "trigger".to_owned(),
                severity: "critical".to_owned(),
            },
            AlertReport {
                at_ms: OUTAGE_END_MS + 2_000,
                key: "region-down:eu-west".to_owned(),
                action: "resolve".to_owned(),
                severity: "critical".to_owned(),
            },
        ],
        expectations: vec![
            ExpectationReport {
                name: "availability_min".to_owned(),
                threshold: Measure::Number(availability_min),
                measured: Measure::Number(overall.ratio),
                verdict: verdict(passed),
            },
            ExpectationReport {
                name: "rto_max_ms".to_owned(),
                threshold: Measure::Number(15_000.0),
                measured: Measure::Number(RTO_MS as f64),
                verdict: Verdict::Pass,
            },
            ExpectationReport {
                name: "alert region-down:eu-west".to_owned(),
                threshold: Measure::Text("triggered".to_owned()),
                measured: Measure::Text("triggered at 603.100 s".to_owned()),
                verdict: Verdict::Pass,
            },
        ],
        passed,
        series: series(duration_ms, sample_interval_ms),
    }
}
