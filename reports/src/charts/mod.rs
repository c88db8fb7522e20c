//! Charts drawn with plotters, each rendered twice from one description: as SVG (for
//! the HTML page and for people who zoom) and as PNG (for places that show images only).
//!
//! A chart is first described as a [`LineChart`] (plain data, easy to test), then
//! [`draw`] renders that description on any plotters backend.

mod downsample;
mod draw;
mod encode;
mod font;
pub(crate) mod run;
pub(crate) mod sweep;

use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

use crate::error::{ReportError, write_file};

/// Chart size in pixels: wide enough for an hour's run at a readable resolution.
const WIDTH_PX: u32 = 1000;
const HEIGHT_PX: u32 = 480;

/// Points kept per series: about two per horizontal pixel of the plot, so
/// downsampling hides nothing a person could see.
const MAX_POINTS_PER_SERIES: usize = 2 * WIDTH_PX as usize;

/// What to draw: lines (or points) over a shared x axis, with shaded x windows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineChart {
    /// File stem, e.g. `availability_by_region` for `availability_by_region.svg`.
    pub name: &'static str,
    /// Caption.
    pub title: String,
    /// X axis description.
    pub x_label: &'static str,
    /// Y axis description.
    pub y_label: &'static str,
    /// Fixed y range; `None` fits the data (from 0).
    pub y_range: Option<Range<f64>>,
    /// The series, one colour and legend entry each.
    pub series: Vec<Series>,
    /// X ranges shaded behind the series (fault windows).
    pub windows: Vec<Window>,
}

/// One labelled series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// Legend text.
    pub label: String,
    /// Runs of `(x, y)` points in x order; a line joins the points of a run, never
    /// two runs, so a gap in the data (a node that answered no probe) stays visible.
    pub segments: Vec<Vec<(f64, f64)>>,
    /// How the points are drawn.
    pub style: SeriesStyle,
}

impl Series {
    /// Every point of every run.
    pub(crate) fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.segments.iter().flatten().copied()
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeriesStyle {
    /// Joined by a line.
    Line,
    /// Separate marks.
    Points,
}

/// A shaded x range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window {
    /// Printed at the window's top left.
    pub label: String,
    /// Start, in x units.
    pub start: f64,
    /// End, in x units.
    pub end: f64,
}

/// A chart written to disk, with its SVG kept for embedding in the HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFiles {
    /// File stem, e.g. `availability_by_region`.
    pub name: String,
    /// The chart's caption.
    pub title: String,
    /// The SVG file.
    pub svg: PathBuf,
    /// The PNG file.
    pub png: PathBuf,
    /// The SVG document itself.
    pub svg_text: String,
}

impl ChartFiles {
    /// The SVG's file name, for links relative to the report.
    pub fn svg_file_name(&self) -> String {
        file_name(&self.svg)
    }

    /// The PNG's file name, for links relative to the report.
    pub fn png_file_name(&self) -> String {
        file_name(&self.png)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("chart paths are built by joining a file name")
        .to_string_lossy()
        .into_owned()
}

/// Renders `chart` as SVG and PNG into `dir`.
pub(crate) fn write(dir: &Path, chart: &LineChart) -> Result<ChartFiles, ReportError> {
    font::register();
    let chart = downsample::chart(chart, MAX_POINTS_PER_SERIES);
    let svg_path = dir.join(format!("{}.svg", chart.name));
    let png_path = dir.join(format!("{}.png", chart.name));
    let svg_text = render_svg(&chart).map_err(|message| ReportError::Chart {
        path: svg_path.clone(),
        message,
    })?;
    let pixels = render_rgb(&chart).map_err(|message| ReportError::Chart {
        path: png_path.clone(),
        message,
    })?;
    let png_bytes =
        encode::encode_rgb(&pixels, WIDTH_PX, HEIGHT_PX).map_err(|source| ReportError::Png {
            path: png_path.clone(),
            source,
        })?;
    write_file(&svg_path, svg_text.as_bytes())?;
    write_file(&png_path, &png_bytes)?;
    Ok(ChartFiles {
        name: chart.name.to_owned(),
        title: chart.title.clone(),
        svg: svg_path,
        png: png_path,
        svg_text,
    })
}

fn render_svg(chart: &LineChart) -> Result<String, String> {
    let mut svg = String::new();
    {
        // The backend writes into `svg` when it is dropped at the end of this block.
        let area = SVGBackend::with_string(&mut svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        draw::draw(&area, chart)?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn render_rgb(chart: &LineChart) -> Result<Vec<u8>, String> {
    let mut pixels = vec![0u8; WIDTH_PX as usize * HEIGHT_PX as usize * 3];
    {
        let area =
            BitMapBackend::with_buffer(&mut pixels, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        draw::draw(&area, chart)?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(pixels)
}
