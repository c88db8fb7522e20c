//! The charts of one run, described from its [`TimeSeries`]. Time is shown in seconds:
//! run milliseconds make unreadable axis labels for runs of minutes or hours.

use std::collections::BTreeMap;

use super::{LineChart, Series, SeriesStyle, Window};
use crate::model::TimeSeries;

const TIME_AXIS: &str = "run time (s)";

/// The run's charts: availability per region, served vs demanded, players per node and
/// probe latency per node, each with the fault windows shaded.
pub(crate) fn charts(series: &TimeSeries) -> Vec<LineChart> {
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
            lines(&series.availability_by_region, |v| v),
        ),
        chart(
            "served_vs_demanded",
            "Served vs demanded guilds",
            "guilds",
            None,
            served_demanded(&series.served_demanded),
        ),
        chart(
            "players_per_node",
            "Players per node",
            "players",
            None,
            lines(&series.players_per_node, f64::from),
        ),
        chart(
            "probe_latency",
            "Probe latency per node",
            "latency (ms)",
            None,
            lines(&series.probe_latency_ms_by_node, |v| v),
        ),
    ]
}

fn seconds(t_ms: u64) -> f64 {
    t_ms as f64 / 1000.0
}

/// One line per key, labelled with the key.
fn lines<T: Copy>(by_key: &BTreeMap<String, Vec<(u64, T)>>, y: impl Fn(T) -> f64) -> Vec<Series> {
    by_key
        .iter()
        .map(|(key, points)| Series {
            label: key.clone(),
            points: points
                .iter()
                .map(|&(t_ms, v)| (seconds(t_ms), y(v)))
                .collect(),
            style: SeriesStyle::Line,
        })
        .collect()
}

fn served_demanded(points: &[(u64, u64, u64)]) -> Vec<Series> {
    let line = |label: &str, pick: fn(&(u64, u64, u64)) -> u64| Series {
        label: label.to_owned(),
        points: points
            .iter()
            .map(|p| (seconds(p.0), pick(p) as f64))
            .collect(),
        style: SeriesStyle::Line,
    };
    vec![line("demanded", |p| p.2), line("served", |p| p.1)]
}
