//! The chart of a sweep: the RTO distribution across seeds as an hdrhistogram
//! percentile curve, with the reported percentiles marked.

use super::{LineChart, Series, SeriesStyle};
use crate::sweep::RtoStats;

/// The RTO percentile curve with p50, p90, p99 and max marked.
pub(crate) fn rto_distribution(rto: &RtoStats) -> LineChart {
    let curve = rto
        .curve
        .iter()
        .map(|&(percentile, rto_ms)| (percentile, rto_ms as f64))
        .collect();
    let marks = [
        (50.0, rto.p50_ms),
        (90.0, rto.p90_ms),
        (99.0, rto.p99_ms),
        (100.0, rto.max_ms),
    ]
    .into_iter()
    .filter_map(|(percentile, rto_ms)| Some((percentile, rto_ms? as f64)))
    .collect();
    LineChart {
        name: "rto_distribution",
        title: format!(
            "RTO across seeds ({} recovered incidents, {} unrecovered)",
            rto.recovered_incidents, rto.unrecovered_incidents
        ),
        x_label: "percentile",
        y_label: "RTO (ms)",
        y_range: None,
        series: vec![
            Series {
                label: "RTO by percentile".to_owned(),
                segments: vec![curve],
                style: SeriesStyle::Line,
            },
            Series {
                label: "p50, p90, p99, max".to_owned(),
                segments: vec![marks],
                style: SeriesStyle::Points,
            },
        ],
        windows: Vec::new(),
    }
}
