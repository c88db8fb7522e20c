//! Thins long series before drawing. An hour of 500 ms samples is 7,200 points per
//! series, several times more than the chart has pixels; drawing them all makes large
//! SVGs and slow PNGs. Each series is cut into equal buckets and each bucket keeps its
//! lowest and highest point, so a short outage still shows as a dip of full depth.

use super::{LineChart, Series, SeriesStyle};

/// A copy of `chart` with every line series thinned to at most about `max_points`
/// (shared among its segments by length), and without points that are not finite
/// (plotters would draw them at the origin).
pub(crate) fn chart(chart: &LineChart, max_points: usize) -> LineChart {
    LineChart {
        series: chart
            .series
            .iter()
            .map(|series| Series {
                segments: thin(series, max_points),
                ..series.clone()
            })
            .collect(),
        ..chart.clone()
    }
}

fn thin(series: &Series, max_points: usize) -> Vec<Vec<(f64, f64)>> {
    let finite = |segment: &Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        segment
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect()
    };
    let segments: Vec<Vec<(f64, f64)>> = series
        .segments
        .iter()
        .map(finite)
        .filter(|segment| !segment.is_empty())
        .collect();
    if series.style == SeriesStyle::Points {
        // Marks are few and each one matters.
        return segments;
    }
    let total: usize = segments.iter().map(Vec::len).sum();
    segments
        .iter()
        .map(|segment| {
            let share = (max_points * segment.len()).div_ceil(total.max(1));
            envelope(segment, share.max(2))
        })
        .collect()
}

/// Keeps the first and last point and, per bucket, the lowest and highest point in x
/// order: at most `max_points + 2` points.
pub(crate) fn envelope(points: &[(f64, f64)], max_points: usize) -> Vec<(f64, f64)> {
    assert!(max_points >= 2, "a bucket keeps two points");
    if points.len() <= max_points {
        return points.to_vec();
    }
    let buckets = max_points / 2;
    let bucket_len = points.len().div_ceil(buckets);
    let mut kept = Vec::with_capacity(max_points + 2);
    kept.push(points[0]);
    for bucket in points.chunks(bucket_len) {
        let (low, high) = extremes(bucket);
        let (first, second) = if low <= high {
            (low, high)
        } else {
            (high, low)
        };
        kept.push(bucket[first]);
        if second != first {
            kept.push(bucket[second]);
        }
    }
    kept.push(points[points.len() - 1]);
    kept.dedup();
    kept
}

/// Indices of the lowest and highest y in a non-empty bucket (first ones on ties).
fn extremes(bucket: &[(f64, f64)]) -> (usize, usize) {
    let mut low = 0;
    let mut high = 0;
    for (index, point) in bucket.iter().enumerate() {
        if point.1 < bucket[low].1 {
            low = index;
        }
        if point.1 > bucket[high].1 {
            high = index;
        }
    }
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_that_are_not_finite_are_dropped() {
        let line = LineChart {
            name: "test",
            title: String::new(),
            x_label: "",
            y_label: "",
            y_range: None,
            series: vec![Series {
                label: "latency".to_owned(),
                segments: vec![vec![
                    (0.0, 1.0),
                    (1.0, f64::NAN),
                    (2.0, f64::INFINITY),
                    (3.0, 2.0),
                ]],
                style: SeriesStyle::Line,
            }],
            windows: Vec::new(),
        };
        assert_eq!(
            chart(&line, 100).series[0].segments,
            [[(0.0, 1.0), (3.0, 2.0)]]
        );
    }

    #[test]
    fn short_series_are_kept_whole() {
        let points = vec![(0.0, 1.0), (1.0, 0.5), (2.0, 1.0)];
        assert_eq!(envelope(&points, 10), points);
    }

    #[test]
    fn a_one_sample_dip_survives_thinning() {
        let mut points: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 1.0)).collect();
        points[4_321].1 = 0.0;
        let kept = envelope(&points, 100);
        assert!(kept.len() <= 102, "kept {} points", kept.len());
        assert!(kept.contains(&(4_321.0, 0.0)), "the dip was dropped");
        assert_eq!(kept.first(), Some(&(0.0, 1.0)));
        assert_eq!(kept.last(), Some(&(9_999.0, 1.0)));
        assert!(kept.windows(2).all(|w| w[0].0 < w[1].0), "x order was lost");
    }
}
