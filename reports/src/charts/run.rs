//! The charts of one run, described from its [`TimeSeries`]. Time is shown in seconds:
//! run milliseconds make unreadable axis labels for runs of minutes or hours.

use std::collections::BTreeMap;

use super::{LineChart, Series, SeriesStyle, Window};
use crate::model::TimeSeries;

const TIME_AXIS: &str = "run time (s)";

/// The run's charts: availability per region, served vs demanded, players per node and
/// probe latency per node, each with the fault windows shaded.
pub(crate) fn charts(series: &TimeSeries) -> Vec<LineChart> {
    // A missing sample or two is jitter; more is a hole worth showing.
    let max_gap = (series.sample_interval_ms > 0).then(|| 2.5 * seconds(series.sample_interval_ms));
    let windows: Vec<Window> = series
        .fault_windows
        .iter()
        .map(|w| Window {
            label: w.label.clone(),
            start: seconds(w.start_ms),
            end: seconds(w.end_ms),
        })
        .collect();
    let chart = |name, title: &str, y_label, y_range, series| LineChart {
        name,
        title: title.to_owned(),
        x_label: TIME_AXIS,
        y_label,
        y_range,
        series,
        windows: windows.clone(),
    };
    vec![
        chart(
            "availability_by_region",
            "Availability by home region",
            "share of demanding guilds served",
            // Headroom above 1 keeps a fully served line off the frame.
            Some(0.0..1.05),
            lines(&series.availability_by_region, |v| v, max_gap),
        ),
        chart(
            "served_vs_demanded",
            "Served vs demanded guilds",
            "guilds",
            None,
            served_demanded(&series.served_demanded, max_gap),
        ),
        chart(
            "players_per_node",
            "Players per node",
            "players",
            None,
            lines(&series.players_per_node, f64::from, max_gap),
        ),
        chart(
            "probe_latency",
            "Probe latency per node",
            "latency (ms)",
            None,
            lines(&series.probe_latency_ms_by_node, |v| v, max_gap),
        ),
    ]
}

fn seconds(t_ms: u64) -> f64 {
    t_ms as f64 / 1000.0
}

/// One line per key, labelled with the key.
fn lines<T: Copy>(
    by_key: &BTreeMap<String, Vec<(u64, T)>>,
    y: impl Fn(T) -> f64,
    max_gap: Option<f64>,
) -> Vec<Series> {
    by_key
        .iter()
        .map(|(key, points)| Series {
            label: key.clone(),
            segments: split(
                points.iter().map(|&(t_ms, v)| (seconds(t_ms), y(v))),
                max_gap,
            ),
            style: SeriesStyle::Line,
        })
        .collect()
}

fn served_demanded(points: &[(u64, u64, u64)], max_gap: Option<f64>) -> Vec<Series> {
    let line = |label: &str, pick: fn(&(u64, u64, u64)) -> u64| Series {
        label: label.to_owned(),
        segments: split(
            points.iter().map(|p| (seconds(p.0), pick(p) as f64)),
            max_gap,
        ),
        style: SeriesStyle::Line,
    };
    vec![line("demanded", |p| p.2), line("served", |p| p.1)]
}

/// Cuts a series wherever two consecutive points are more than `max_gap` apart.
pub(crate) fn split(
    points: impl Iterator<Item = (f64, f64)>,
    max_gap: Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
    for point in points {
        let joined = match (segments.last(), max_gap) {
            (Some(segment), Some(gap)) => {
                segment.last().is_some_and(|last| point.0 - last.0 <= gap)
            }
            (Some(_), None) => true,
            (None, _) => false,
        };
        if joined {
            segments
                .last_mut()
                .expect("joined implies a segment")
                .push(point);
        } else {
            segments.push(vec![point]);
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_break_where_samples_are_missing() {
        let points = [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0), (5.0, 2.0), (5.5, 2.0)];
        let segments = split(points.into_iter(), Some(1.25));
        assert_eq!(segments, [&points[..3], &points[3..]]);
        assert_eq!(split(points.into_iter(), None), [&points[..]]);
        assert!(split(std::iter::empty(), Some(1.0)).is_empty());
    }
}
