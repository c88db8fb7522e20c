//! How numbers read in the Markdown and HTML reports (the JSON keeps raw values).

/// Run milliseconds as seconds with millisecond precision: `12.345 s`.
pub(crate) fn seconds(t_ms: u64) -> String {
    format!("{}.{:03} s", t_ms / 1000, t_ms % 1000)
}

/// A time that may not have happened.
pub(crate) fn seconds_or(t_ms: Option<u64>, never: &str) -> String {
    t_ms.map_or_else(|| never.to_owned(), seconds)
}

/// A duration in milliseconds: `8450 ms`.
pub(crate) fn millis(duration_ms: u64) -> String {
    format!("{duration_ms} ms")
}

/// A duration that may not have ended.
pub(crate) fn millis_or(duration_ms: Option<u64>, never: &str) -> String {
    duration_ms.map_or_else(|| never.to_owned(), millis)
}

/// A ratio as a percentage with three decimals, enough to tell 99.999% from 100%.
pub(crate) fn percent(ratio: f64) -> String {
    format!("{:.3}%", ratio * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_as_people_expect() {
        assert_eq!(seconds(12_345), "12.345 s");
        assert_eq!(seconds(7), "0.007 s");
        assert_eq!(seconds_or(None, "never"), "never");
        assert_eq!(millis_or(Some(8_450), "never"), "8450 ms");
        assert_eq!(percent(0.999_87), "99.987%");
        assert_eq!(percent(1.0), "100.000%");
    }
}
