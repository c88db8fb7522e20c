//! JUnit XML shared by the run and sweep tests: parsed back with quick-xml's serde
//! support into structs of the test's own, independent of the writer's.

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Suites {
    #[serde(rename = "@tests")]
    pub tests: usize,
    #[serde(rename = "@failures")]
    pub failures: usize,
    pub testsuite: Vec<Suite>,
}

#[derive(Debug, Deserialize)]
pub struct Suite {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@tests")]
    pub tests: usize,
    #[serde(rename = "@failures")]
    pub failures: usize,
    #[serde(rename = "@time")]
    pub time: f64,
    pub properties: Properties,
    #[serde(default)]
    pub testcase: Vec<Case>,
}

#[derive(Debug, Deserialize)]
pub struct Properties {
    #[serde(default)]
    pub property: Vec<Property>,
}

#[derive(Debug, Deserialize)]
pub struct Property {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@value")]
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub struct Case {
    #[serde(rename = "@name")]
    pub name: String,
    #[serde(rename = "@classname")]
    pub classname: String,
    pub failure: Option<Failure>,
}

#[derive(Debug, Deserialize)]
pub struct Failure {
    #[serde(rename = "@message")]
    pub message: String,
    #[serde(rename = "@type")]
    pub kind: String,
    #[serde(rename = "$text")]
    pub text: String,
}

pub fn parse(path: &Path) -> Suites {
    let xml = std::fs::read_to_string(path).expect("junit.xml was written");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    quick_xml::de::from_str(&xml).unwrap_or_else(|e| panic!("junit.xml does not parse: {e}\n{xml}"))
}
