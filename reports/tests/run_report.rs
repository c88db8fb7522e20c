//! The files of one run's report, checked against the run they were made from.

mod common;

use std::path::Path;

use base64::Engine as _;
use common::synthetic::{self, REPLAY, RTO_MS};
use common::{attribute_values, count_elements, decode_png, junit_xml, read, svg_texts};
use switchyard_reports::{RUN_SCHEMA, ReportError, RunReport, Written, write_run_report};

/// Ten minutes at 500 ms: long enough to be realistic, quick in a debug build.
const DURATION_MS: u64 = 3_600_000 / 6;

fn write(dir: &Path, availability_min: f64) -> (RunReport, Written) {
    // The outage starts at 600 s, so stretch the run past it.
    let run = synthetic::run(DURATION_MS + 600_000, 500, availability_min);
    let written = write_run_report(dir, &run).expect("the report is written");
    (run, written)
}

#[test]
fn summary_json_holds_the_run_and_reads_back_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let (run, written) = write(dir.path(), 0.99);
    let text = read(&written.summary_json);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["schema"], RUN_SCHEMA);
    assert_eq!(json["scenario"], "region-outage");
    assert_eq!(json["seed"], 42);
    assert_eq!(json["versions"]["switchyard"], "0.1.0");
    assert_eq!(json["replay_command"], REPLAY);
    assert_eq!(json["passed"], true);
    let incident = &json["incidents"][0];
    assert_eq!(incident["kind"], "region_outage");
    assert_eq!(incident["rto_ms"], RTO_MS);
    assert_eq!(
        incident["detected_at_ms"],
        run.incidents[0].detected_at_ms.unwrap()
    );
    let eu = &json["availability"]["by_region"]["eu-west"];
    assert_eq!(eu["served"], run.availability.by_region["eu-west"].served);
    assert_eq!(
        eu["demanded"],
        run.availability.by_region["eu-west"].demanded
    );
    assert_eq!(json["availability"]["by_plan"]["premium"]["ratio"], 1.0);
    assert_eq!(json["expectations"][0]["verdict"], "pass");
    assert_eq!(json["expectations"][2]["threshold"], "triggered");
    assert_eq!(json["alerts"][1]["action"], "resolve");
    assert_eq!(json["violations"][0]["invariant"], "no_move_onto_down_node");
    let samples = run.series.served_demanded.len();
    assert_eq!(
        json["series"]["served_demanded"].as_array().unwrap().len(),
        samples
    );
    assert_eq!(
        json["series"]["players_per_node"]
            .as_object()
            .unwrap()
            .len(),
        9,
        "every node's series is kept"
    );
    let back: RunReport = serde_json::from_str(&text).unwrap();
    // Not assert_eq!: printing two hour-long runs buries the message.
    assert!(
        back.series == run.series,
        "the time series changed on the way"
    );
    assert!(back == run, "summary.json does not read back into the run");
}

#[test]
fn junit_has_a_case_per_expectation_and_failures_say_what_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    // No run of this outage reaches five nines, so availability_min fails.
    let (run, written) = write(dir.path(), 0.99999);
    assert!(!run.passed);
    let suites = junit_xml::parse(&written.junit_xml);
    assert_eq!((suites.tests, suites.failures), (3, 1));
    let suite = &suites.testsuite[0];
    assert_eq!((suite.tests, suite.failures), (3, 1));
    assert_eq!(suite.time, 2.345, "the run's wall time in seconds");
    let replay = suite
        .properties
        .property
        .iter()
        .find(|p| p.name == "replay_command");
    assert_eq!(replay.map(|p| p.value.as_str()), Some(REPLAY));
    let names: Vec<&str> = suite.testcase.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "availability_min",
            "rto_max_ms",
            "alert region-down:eu-west"
        ]
    );
    let failure = suite.testcase[0]
        .failure
        .as_ref()
        .expect("availability_min failed");
    let measured = run.availability.overall.ratio.to_string();
    assert!(failure.message.contains(&measured), "{}", failure.message);
    assert!(failure.message.contains("0.99999"), "{}", failure.message);
    assert!(failure.message.contains(REPLAY), "{}", failure.message);
    assert!(
        failure.text.contains(&format!("measured: {measured}")),
        "{}",
        failure.text
    );
    assert!(
        failure.text.contains(&format!("replay: {REPLAY}")),
        "{}",
        failure.text
    );
    assert!(suite.testcase[1..].iter().all(|c| c.failure.is_none()));
}

#[test]
fn charts_draw_every_series_and_shade_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (run, written) = write(dir.path(), 0.99);
    let names: Vec<&str> = written.charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "availability_by_region",
            "served_vs_demanded",
            "players_per_node",
            "probe_latency"
        ]
    );
    let expected: [Vec<String>; 4] = [
        run.series.availability_by_region.keys().cloned().collect(),
        vec!["demanded".to_owned(), "served".to_owned()],
        run.series.players_per_node.keys().cloned().collect(),
        run.series
            .probe_latency_ms_by_node
            .keys()
            .cloned()
            .collect(),
    ];
    for (chart, labels) in written.charts.iter().zip(expected) {
        let svg = read(&chart.svg);
        let texts = svg_texts(&svg);
        assert!(
            texts.contains(&chart.title),
            "{}: no title in {texts:?}",
            chart.name
        );
        assert!(texts.contains(&"fault active".to_owned()), "{}", chart.name);
        assert!(
            texts.contains(&run.series.fault_windows[0].label),
            "{}",
            chart.name
        );
        for label in &labels {
            assert!(
                texts.contains(label),
                "{}: no legend entry {label}",
                chart.name
            );
        }
        // One polyline per series, plus one per legend sample.
        let lines = count_elements(&svg, "polyline");
        assert!(
            lines >= 2 * labels.len(),
            "{}: {lines} polylines",
            chart.name
        );
        let png = decode_png(&chart.png);
        assert_eq!((png.width, png.height), (1000, 480));
        let drawn = png.rgb.iter().filter(|p| **p != [255, 255, 255]).count();
        assert!(
            drawn > png.rgb.len() / 100,
            "{}: the PNG is blank",
            chart.name
        );
        // The fault shade is a pale red that only the fault window has.
        let shaded = png
            .rgb
            .iter()
            .filter(|p| p[0] > 240 && p[1] < 235 && p[1] > 200)
            .count();
        assert!(shaded > 1_000, "{}: no fault shade in the PNG", chart.name);
    }
}

#[test]
fn long_series_are_thinned_for_charts_but_keep_the_dip() {
    let dir = tempfile::tempdir().unwrap();
    let (_, written) = write(dir.path(), 0.99);
    let svg = read(&written.charts[0].svg);
    // 2,401 samples per region are thinned to about two points per pixel.
    let longest = attribute_values(&svg, "points")
        .iter()
        .map(|points| points.split_whitespace().count())
        .max()
        .unwrap();
    assert!(longest <= 2_002, "a polyline kept {longest} points");
    // Only eu-west's line falls from full availability to none and back: a span of
    // most of the plot's height (0 to 1 of 1.05), where the others are flat.
    let spans: Vec<i32> = attribute_values(&svg, "points")
        .iter()
        .filter(|points| points.split_whitespace().count() > 10)
        .map(|points| {
            let ys: Vec<i32> = points
                .split_whitespace()
                .map(|point| point.split_once(',').unwrap().1.parse().unwrap())
                .collect();
            ys.iter().max().unwrap() - ys.iter().min().unwrap()
        })
        .collect();
    assert_eq!(spans.len(), 3, "one line per region");
    let plot_height_px = 480 - 44 - 2 * 12;
    let deep = spans
        .iter()
        .filter(|&&span| span > plot_height_px * 3 / 4)
        .count();
    let flat = spans.iter().filter(|&&span| span <= 1).count();
    assert_eq!((deep, flat), (1, 2), "line heights {spans:?}");
}

#[test]
fn html_is_self_contained_escaped_and_embeds_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let (run, written) = write(dir.path(), 0.99);
    let html = read(&written.report_html);
    for attribute in ["src", "href"] {
        for value in attribute_values(&html, attribute) {
            let local = dir.path().join(value);
            assert!(
                value.starts_with("data:") || (!value.contains(':') && local.is_file()),
                "{attribute}={value} is not embedded or beside the page"
            );
        }
    }
    assert!(!html.contains("<script"), "the page runs nothing");
    assert!(!html.contains("<link"), "the page loads no stylesheet");
    // The violation detail holds markup characters; they must arrive as text.
    assert!(html.contains("guild 17 &lt;moved&gt; to eu-west-2 &amp; back | &quot;quoted&quot;"));
    assert!(!html.contains("<moved>"));
    assert!(html.contains(REPLAY));
    assert!(html.contains("8500 ms"), "the RTO is shown");
    assert!(html.contains(&format!("{:.3}%", run.availability.overall.ratio * 100.0)));
    let embedded: Vec<&str> = attribute_values(&html, "src")
        .into_iter()
        .filter_map(|v| v.strip_prefix("data:image/svg+xml;base64,"))
        .collect();
    assert_eq!(embedded.len(), written.charts.len());
    for (data, chart) in embedded.iter().zip(&written.charts) {
        let svg = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        assert_eq!(
            String::from_utf8(svg).unwrap(),
            read(&chart.svg),
            "{}",
            chart.name
        );
    }
}

#[test]
fn markdown_has_the_same_content_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let (_, written) = write(dir.path(), 0.99999);
    let md = read(&written.report_md);
    assert!(
        md.starts_with("# Switchyard run: region-outage (seed 42)"),
        "{md}"
    );
    assert!(md.contains("**FAILED**"));
    assert!(md.contains(&format!("```sh\n{REPLAY}\n```")));
    assert!(md.contains("| `availability_min` | 0.99999 |"), "{md}");
    assert!(
        md.contains("| 0 | `region_outage` | region eu-west |"),
        "{md}"
    );
    assert!(
        md.contains("guild 17 \\<moved\\> to eu-west-2 \\& back \\| \"quoted\""),
        "{md}"
    );
    for chart in &written.charts {
        let file = chart.svg.file_name().unwrap().to_str().unwrap();
        assert!(md.contains(&format!("]({file})")), "{file} is not linked");
    }
}

#[test]
fn the_same_run_writes_the_same_bytes() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    write(first.path(), 0.99);
    write(second.path(), 0.99);
    let mut names: Vec<_> = std::fs::read_dir(first.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 12, "{names:?}");
    for name in names {
        let a = std::fs::read(first.path().join(&name)).unwrap();
        let b = std::fs::read(second.path().join(&name)).unwrap();
        assert!(a == b, "{name:?} differs between two writes");
    }
}

#[test]
fn an_unwritable_directory_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "a file where the report directory should go").unwrap();
    let run = synthetic::run(60_000, 500, 0.99);
    let error = write_run_report(&blocker.join("report"), &run).unwrap_err();
    assert!(matches!(error, ReportError::CreateDir { .. }), "{error:?}");
    assert!(error.to_string().contains("not-a-dir"), "{error}");
}

#[test]
fn a_run_without_samples_still_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = synthetic::run(60_000, 500, 0.99);
    run.series = switchyard_reports::TimeSeries::default();
    run.incidents.clear();
    let written = write_run_report(dir.path(), &run).expect("empty series still draw");
    assert_eq!(written.charts.len(), 4);
    for chart in &written.charts {
        let texts = svg_texts(&read(&chart.svg));
        assert!(texts.contains(&chart.title), "{}: {texts:?}", chart.name);
        assert_eq!(decode_png(&chart.png).width, 1000);
    }
    assert!(read(&written.report_md).contains("No faults were injected."));
}

#[test]
fn a_node_that_answers_no_probes_leaves_a_gap_in_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, written) = write(dir.path(), 0.99);
    let probe = written
        .charts
        .iter()
        .find(|c| c.name == "probe_latency")
        .unwrap();
    let svg = read(&probe.svg);
    let runs = attribute_values(&svg, "points")
        .iter()
        .filter(|points| points.split_whitespace().count() > 10)
        .count();
    // Six nodes answer throughout; eu-west's three are cut in two by the outage.
    assert_eq!(runs, 6 + 3 * 2);
}
