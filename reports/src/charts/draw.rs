//! Renders a [`LineChart`] on any plotters backend, so the SVG and the PNG of a chart
//! come from the same code and cannot drift apart.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::FAMILY;
use super::{LineChart, SeriesStyle};

/// Room right of the plot for the legend, so it never hides a line.
const LEGEND_WIDTH_PX: u32 = 200;

/// Fault windows: a light red that every series colour stays readable on.
const WINDOW_SHADE: RGBAColor = RGBAColor(220, 40, 40, 0.12);
const WINDOW_TEXT: RGBColor = RGBColor(170, 30, 30);

/// Stacked window labels step down by this much, so close windows stay legible.
const WINDOW_LABEL_STEP_PX: i32 = 14;
const WINDOW_LABEL_ROWS: i32 = 3;

/// Line colours, chosen to stay apart from each other and from the red fault shade;
/// they repeat past the tenth series.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
];

/// Legend rows: sample width and line height.
const LEGEND_SAMPLE_PX: i32 = 22;
const LEGEND_ROW_PX: i32 = 18;
/// The first legend row lines up with the top of the plot, below the caption.
const LEGEND_TOP_PX: i32 = 48;

/// The colour of the series at `index`.
fn color(index: usize) -> RGBColor {
    COLORS[index % COLORS.len()]
}

/// Draws `chart` filling `area`: the plot on the left, its legend on the right.
pub(crate) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LineChart,
) -> Result<(), String> {
    area.fill(&WHITE).map_err(text)?;
    let (width_px, _) = area.dim_in_pixel();
    let (plot_area, legend_area) =
        area.split_horizontally(width_px.saturating_sub(LEGEND_WIDTH_PX));
    let (x_range, y_range) = bounds(chart);
    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(&chart.title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_range.clone())
        .map_err(text)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&|x| tick(*x))
        .y_label_formatter(&|y| tick(*y))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(text)?;
    draw_windows(&mut ctx, chart, &y_range)?;
    draw_series(&mut ctx, chart)?;
    draw_legend(&legend_area, chart)
}

/// Tick labels: whole numbers without a decimal point, others with two decimals.
fn tick(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

type Ctx<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn draw_windows<DB: DrawingBackend>(
    ctx: &mut Ctx<'_, DB>,
    chart: &LineChart,
    y_range: &Range<f64>,
) -> Result<(), String> {
    for (index, window) in chart.windows.iter().enumerate() {
        let corners = [(window.start, y_range.start), (window.end, y_range.end)];
        ctx.draw_series(std::iter::once(Rectangle::new(
            corners,
            WINDOW_SHADE.filled(),
        )))
        .map_err(text)?;
        let row = index as i32 % WINDOW_LABEL_ROWS;
        let label = EmptyElement::at((window.start, y_range.end))
            + Text::new(
                window.label.clone(),
                (4, 4 + row * WINDOW_LABEL_STEP_PX),
                (FAMILY, 12).into_font().color(&WINDOW_TEXT),
            );
        ctx.draw_series(std::iter::once(label)).map_err(text)?;
    }
    Ok(())
}

fn draw_series<DB: DrawingBackend>(ctx: &mut Ctx<'_, DB>, chart: &LineChart) -> Result<(), String> {
    for (index, series) in chart.series.iter().enumerate() {
        let color = color(index);
        match series.style {
            SeriesStyle::Line => {
                for segment in &series.segments {
                    let line = LineSeries::new(segment.iter().copied(), color.stroke_width(2));
                    ctx.draw_series(line).map_err(text)?;
                }
            }
            SeriesStyle::Points => {
                let marks = series.points().map(|p| Circle::new(p, 4, color.filled()));
                ctx.draw_series(marks).map_err(text)?;
            }
        }
    }
    Ok(())
}

/// What a legend row shows before its label.
enum Sample {
    Shade,
    Line(RGBColor),
    Mark(RGBColor),
}

/// The legend beside the plot (plotters' own legend sits inside the plot, where it
/// hides lines): one row for the fault shade, then one per series.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LineChart,
) -> Result<(), String> {
    let shade = (!chart.windows.is_empty()).then_some((Sample::Shade, "fault active"));
    let series = chart.series.iter().enumerate().map(|(index, series)| {
        let sample = match series.style {
            SeriesStyle::Line => Sample::Line(color(index)),
            SeriesStyle::Points => Sample::Mark(color(index)),
        };
        (sample, series.label.as_str())
    });
    let font = (FAMILY, 13).into_font().color(&BLACK);
    let (left, right) = (8, 8 + LEGEND_SAMPLE_PX);
    for (row, (sample, label)) in shade.into_iter().chain(series).enumerate() {
        let y = LEGEND_TOP_PX + row as i32 * LEGEND_ROW_PX;
        match sample {
            Sample::Shade => area.draw(&Rectangle::new(
                [(left, y - 6), (right, y + 6)],
                WINDOW_SHADE.filled(),
            )),
            Sample::Line(color) => area.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                color.stroke_width(3),
            )),
            Sample::Mark(color) => {
                area.draw(&Circle::new(((left + right) / 2, y), 4, color.filled()))
            }
        }
        .map_err(text)?;
        area.draw_text(label, &font, (right + 6, y - 7))
            .map_err(text)?;
    }
    Ok(())
}

/// The x range spans every point and window; the y range is the chart's own or fits
/// the points from 0 with headroom. Empty or flat data still gets a non-empty range,
/// which plotters needs to lay out the axes.
fn bounds(chart: &LineChart) -> (Range<f64>, Range<f64>) {
    let xs = chart
        .series
        .iter()
        .flat_map(|s| s.points().map(|p| p.0))
        .chain(chart.windows.iter().flat_map(|w| [w.start, w.end]));
    let x_range = span(xs).unwrap_or(0.0..1.0);
    let y_range = chart.y_range.clone().unwrap_or_else(|| {
        let y_max = chart
            .series
            .iter()
            .flat_map(|s| s.points().map(|p| p.1))
            .fold(0.0_f64, f64::max);
        0.0..if y_max > 0.0 { y_max * 1.1 } else { 1.0 }
    });
    (x_range, y_range)
}

fn span(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    let (low, high) = values.fold(None, |acc: Option<(f64, f64)>, v| match acc {
        None => Some((v, v)),
        Some((low, high)) => Some((low.min(v), high.max(v))),
    })?;
    Some(if high > low {
        low..high
    } else {
        low..low + 1.0
    })
}

fn text<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> String {
    error.to_string()
}
