//! A strict parser of the OpenMetrics text exposition, for tests that scrape `/metrics`.
//!
//! Strict on purpose: a sample before its `# TYPE`, a sample name that its family's
//! type does not allow (a counter's must end in `_total`), a family described twice,
//! a malformed label or value, or a missing `# EOF` is an error, so a test that parses
//! a scrape also checks that Prometheus could ingest it.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name, e.g. `switchyard_probes_total`.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// One metric family: its descriptor and samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Family {
    /// The family name, e.g. `switchyard_probes` for a counter.
    pub name: String,
    /// `counter`, `gauge`, `histogram`, `info`, ...
    pub kind: String,
    /// The `# HELP` text.
    pub help: String,
    /// The `# UNIT`, when given.
    pub unit: Option<String>,
    /// Its samples, in order.
    pub samples: Vec<Sample>,
}

/// A parsed scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
}

/// Suffixes a sample name may add to its family's name, by family type.
fn allowed_suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_sum", "_count", "_created"],
        "info" => &["_info"],
        _ => &[""],
    }
}

impl Exposition {
    /// The family named `name`.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.get(name)
    }

    /// Every sample.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.values().flat_map(|f| f.samples.iter())
    }

    /// The series names present, as Prometheus stores them.
    pub fn series_names(&self) -> BTreeSet<String> {
        self.samples().map(|s| s.name.clone()).collect()
    }

    /// Samples named `name` whose labels include every pair of `labels`.
    pub fn matching(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample named `name` with `labels` (among others); `None`
    /// when there is none, and a panic when several match (the test asked vaguely).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.matching(name, labels);
        assert!(
            found.len() <= 1,
            "{name} {labels:?} matches {} samples",
            found.len()
        );
        found.first().map(|s| s.value)
    }
}

/// Parses a whole exposition.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exposition = Exposition::default();
    let mut current: Option<String> = None;
    let mut saw_eof = false;
    for (index, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}: {line:?}", index + 1);
        if saw_eof {
            return Err(at("content after # EOF".into()));
        }
        if line == "# EOF" {
            saw_eof = true;
        } else if let Some(rest) = line.strip_prefix("# ") {
            let (keyword, rest) = rest
                .split_once(' ')
                .ok_or_else(|| at("bad comment".into()))?;
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            check_name(name).map_err(at)?;
            let family = match keyword {
                "HELP" | "TYPE" | "UNIT" => {
                    if current.as_deref() != Some(name) {
                        if exposition.families.contains_key(name) {
                            return Err(at(format!("family {name} described twice")));
                        }
                        current = Some(name.to_owned());
                    }
                    exposition
                        .families
                        .entry(name.to_owned())
                        .or_insert_with(|| Family {
                            name: name.to_owned(),
                            ..Family::default()
                        })
                }
                other => return Err(at(format!("unknown descriptor {other}"))),
            };
            match keyword {
                "HELP" => family.help = value.to_owned(),
                "TYPE" => family.kind = value.to_owned(),
                _ => {
                    if !name.ends_with(&format!("_{value}")) {
                        return Err(at("a family's name must end in its unit".into()));
                    }
                    family.unit = Some(value.to_owned());
                }
            }
        } else {
            let sample = parse_sample(line).map_err(at)?;
            let family_name = current
                .as_deref()
                .ok_or_else(|| at("sample before any # TYPE".into()))?;
            let family = exposition
                .families
                .get_mut(family_name)
                .expect("current names a family");
            let suffix = sample
                .name
                .strip_prefix(family_name)
                .ok_or_else(|| at(format!("sample outside family {family_name}")))?;
            if !allowed_suffixes(&family.kind).contains(&suffix) {
                return Err(at(format!(
                    "a {} sample cannot end in {suffix:?}",
                    family.kind
                )));
            }
            family.samples.push(sample);
        }
    }
    if !saw_eof {
        return Err("no # EOF at the end".into());
    }
    Ok(exposition)
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| "no value".to_owned())?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let mut fields = rest
        .strip_prefix(' ')
        .ok_or_else(|| "no space before the value".to_owned())?
        .split(' ');
    let value_text = fields.next().unwrap_or_default();
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        text => text.parse().map_err(|_| format!("bad value {text:?}"))?,
    };
    if fields.count() > 1 {
        return Err("trailing fields after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` and returns the labels and what follows the brace.
fn parse_labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(after) = text.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after_key) = text
            .split_once("=\"")
            .ok_or_else(|| "a label without =\"".to_owned())?;
        check_name(key)?;
        let mut value = String::new();
        let mut chars = after_key.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("bad escape in a label value".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} given twice"));
        }
        text = &after_key[end + 1..];
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP app_probes Probes.\n# TYPE app_probes counter\n\
app_probes_total{node=\"a\",region=\"e\\\"u\"} 3\n\
# HELP app_wait_seconds Wait.\n# TYPE app_wait_seconds histogram\n# UNIT app_wait_seconds seconds\n\
app_wait_seconds_sum 0.5\napp_wait_seconds_count 2\napp_wait_seconds_bucket{le=\"+Inf\"} 2\n\
# HELP app_build Build.\n# TYPE app_build info\napp_build_info{version=\"1.0\"} 1\n# EOF\n";

    #[test]
    fn parses_families_types_units_labels_and_values() {
        let parsed = parse(GOOD).expect("valid");
        let probes = parsed.family("app_probes").expect("family");
        assert_eq!(
            (probes.kind.as_str(), probes.help.as_str()),
            ("counter", "Probes.")
        );
        assert_eq!(
            parsed.value("app_probes_total", &[("region", "e\"u")]),
            Some(3.0)
        );
        let wait = parsed.family("app_wait_seconds").expect("family");
        assert_eq!(wait.unit.as_deref(), Some("seconds"));
        assert_eq!(
            parsed.value("app_wait_seconds_bucket", &[("le", "+Inf")]),
            Some(2.0)
        );
        assert!(parsed.series_names().contains("app_build_info"));
    }

    #[test]
    fn rejects_what_prometheus_would_not_ingest() {
        for (bad, why) in [
            (GOOD.replace("# EOF\n", ""), "no # EOF"),
            (
                GOOD.replace("app_probes_total{", "app_probes{"),
                "cannot end in \"\"",
            ),
            (
                GOOD.replace(
                    "# UNIT app_wait_seconds seconds",
                    "# UNIT app_wait_seconds bytes",
                ),
                "end in its unit",
            ),
            ("app_x 1\n# EOF\n".to_owned(), "before any # TYPE"),
            (GOOD.replace("region=\"e", "region=e"), "without =\""),
            (GOOD.replace("} 3", "} three"), "bad value"),
            (format!("{GOOD}# TYPE app_probes counter\n"), "after # EOF"),
            (
                GOOD.replace("# HELP app_build Build.", "# HELP app_probes Again."),
                "described twice",
            ),
        ] {
            let error = parse(&bad).expect_err(why);
            assert!(error.contains(why), "{why}: {error}");
        }
    }
}
