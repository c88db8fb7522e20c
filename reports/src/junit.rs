//! JUnit XML for CI: a run is one test suite with a test case per expectation; a sweep
//! is one test suite with a test case per seed. A failure's message carries the
//! measured value and the command that replays the run, because that is what a person
//! reading a red CI build needs first.
//!
//! The XML is produced by serialising these structs with quick-xml, which escapes text
//! and attributes; `@` fields are attributes, `$text` is element text.

use serde::Serialize;

use crate::doc::sweep::failed_expectations;
use crate::model::{ExpectationReport, RunReport, Verdict};
use crate::sweep::{SeedResult, SweepReport};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

#[derive(Serialize)]
struct TestSuites {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@tests")]
    tests: usize,
    #[serde(rename = "@failures")]
    failures: usize,
    #[serde(rename = "@errors")]
    errors: usize,
    #[serde(rename = "@time")]
    time: String,
    testsuite: Vec<TestSuite>,
}

#[derive(Serialize)]
struct TestSuite {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@tests")]
    tests: usize,
    #[serde(rename = "@failures")]
    failures: usize,
    #[serde(rename = "@errors")]
    errors: usize,
    #[serde(rename = "@skipped")]
    skipped: usize,
    #[serde(rename = "@time")]
    time: String,
    properties: Properties,
    testcase: Vec<TestCase>,
}

#[derive(Serialize)]
struct Properties {
    property: Vec<Property>,
}

#[derive(Serialize)]
struct Property {
    #[serde(rename = "@name")]
    name: &'static str,
    #[serde(rename = "@value")]
    value: String,
}

#[derive(Serialize)]
struct TestCase {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@classname")]
    classname: String,
    #[serde(rename = "@time")]
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<Failure>,
}

#[derive(Serialize)]
struct Failure {
    /// One line: CI systems show it as the failure's headline.
    #[serde(rename = "@message")]
    message: String,
    #[serde(rename = "@type")]
    kind: &'static str,
    /// The same facts one per line, for the failure's detail view.
    #[serde(rename = "$text")]
    text: String,
}

/// JUnit's times are seconds.
fn seconds(duration_ms: u64) -> String {
    format!("{}.{:03}", duration_ms / 1000, duration_ms % 1000)
}

/// The run's JUnit XML.
pub(crate) fn run(run: &RunReport) -> Result<String, quick_xml::SeError> {
    let classname = format!("switchyard.{}", run.scenario);
    let cases: Vec<TestCase> = run
        .expectations
        .iter()
        .map(|e| TestCase {
            name: e.name.clone(),
            classname: classname.clone(),
            time: seconds(0),
            failure: (e.verdict == Verdict::Fail).then(|| expectation_failure(e, run)),
        })
        .collect();
    let suite = suite(
        format!("{} seed {}", run.scenario, run.seed),
        run.wall_ms,
        vec![
            property("seed", run.seed.to_string()),
            property("scenario_path", run.scenario_path.clone()),
            property("switchyard_version", run.versions.switchyard.clone()),
            property("replay_command", run.replay_command.clone()),
        ],
        cases,
    );
    to_xml(format!("switchyard {}", run.scenario), suite)
}

fn expectation_failure(expectation: &ExpectationReport, run: &RunReport) -> Failure {
    Failure {
        message: format!(
            "{}: measured {}, threshold {}; replay: {}",
            expectation.name, expectation.measured, expectation.threshold, run.replay_command
        ),
        kind: "expectation",
        text: format!(
            "measured: {}\nthreshold: {}\nseed: {}\nreplay: {}\n",
            expectation.measured, expectation.threshold, run.seed, run.replay_command
        ),
    }
}

/// The sweep's JUnit XML.
pub(crate) fn sweep(sweep: &SweepReport) -> Result<String, quick_xml::SeError> {
    let classname = format!("switchyard.{}.sweep", sweep.scenario);
    let cases: Vec<TestCase> = sweep
        .seeds
        .iter()
        .map(|seed| TestCase {
            name: format!("seed {}", seed.seed),
            classname: classname.clone(),
            time: seconds(seed.wall_ms),
            failure: (!seed.passed).then(|| seed_failure(seed)),
        })
        .collect();
    let wall_ms = sweep.seeds.iter().map(|s| s.wall_ms).sum();
    let suite = suite(
        format!("{} sweep", sweep.scenario),
        wall_ms,
        vec![
            property("scenario_path", sweep.scenario_path.clone()),
            property("switchyard_version", sweep.versions.switchyard.clone()),
        ],
        cases,
    );
    to_xml(format!("switchyard {} sweep", sweep.scenario), suite)
}

fn seed_failure(seed: &SeedResult) -> Failure {
    let failed = failed_expectations(seed);
    Failure {
        message: format!(
            "seed {} failed: {failed}; replay: {}",
            seed.seed, seed.replay_command
        ),
        kind: "seed",
        text: format!(
            "failed expectations: {failed}\nviolations: {}\nreplay: {}\n",
            seed.violations, seed.replay_command
        ),
    }
}

fn property(name: &'static str, value: String) -> Property {
    Property { name, value }
}

fn suite(name: String, wall_ms: u64, properties: Vec<Property>, cases: Vec<TestCase>) -> TestSuite {
    TestSuite {
        name,
        tests: cases.len(),
        failures: cases.iter().filter(|c| c.failure.is_some()).count(),
        errors: 0,
        skipped: 0,
        time: seconds(wall_ms),
        properties: Properties {
            property: properties,
        },
        testcase: cases,
    }
}

fn to_xml(name: String, suite: TestSuite) -> Result<String, quick_xml::SeError> {
    let document = TestSuites {
        name,
        tests: suite.tests,
        failures: suite.failures,
        errors: 0,
        time: suite.time.clone(),
        testsuite: vec![suite],
    };
    let mut xml = String::from(DECLARATION);
    let mut serializer = quick_xml::se::Serializer::with_root(&mut xml, Some("testsuites"))?;
    serializer.indent(' ', 2);
    document.serialize(serializer)?;
    xml.push('\n');
    Ok(xml)
}
