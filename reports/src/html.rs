//! Renders a [`Document`] as one self-contained HTML page: styles inline, charts
//! embedded as SVG data URIs, no scripts and nothing fetched, so the file can be
//! opened offline or attached to a CI run on its own.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quick_xml::escape::escape;

use crate::charts::ChartFiles;
use crate::doc::{Block, Cell, Document, Table};

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}\
table{border-collapse:collapse;margin:0 0 1rem}\
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}\
code,pre{font-family:ui-monospace,monospace;background:#f6f6f6}\
pre{padding:.6rem;overflow-x:auto;white-space:pre-wrap}\
.pass{color:#176f2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}\
.badge{font-size:.6em;padding:.1em .5em;border-radius:.3em;vertical-align:middle;color:#fff}\
.badge.pass{background:#176f2c}.badge.fail{background:#b00020}\
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}";

/// The HTML page.
pub(crate) fn render(doc: &Document, charts: &[ChartFiles]) -> String {
    let mut out = String::new();
    let title = escape(&doc.title);
    let (class, verdict) = if doc.passed {
        ("pass", "PASSED")
    } else {
        ("fail", "FAILED")
    };
    // `write!` to a String cannot fail.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title} <span class=\"badge {class}\">{verdict}</span></h1>\n"
    );
    for section in &doc.sections {
        let _ = writeln!(out, "<section>\n<h2>{}</h2>", escape(&section.heading));
        for block in &section.blocks {
            render_block(&mut out, block, charts);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn render_block(out: &mut String, block: &Block, charts: &[ChartFiles]) {
    match block {
        Block::Text(text) => {
            let _ = writeln!(out, "<p>{}</p>", escape(text));
        }
        Block::Command(command) => {
            let _ = writeln!(out, "<pre><code>{}</code></pre>", escape(command));
        }
        Block::Table(table) => render_table(out, table),
        Block::Charts => {
            for chart in charts {
                render_chart(out, chart);
            }
        }
    }
}

fn render_table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(table.empty));
        return;
    }
    out.push_str("<table>\n<thead><tr>");
    for header in &table.headers {
        let _ = write!(out, "<th>{}</th>", escape(*header));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", render_cell(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn render_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => escape(text).into_owned(),
        Cell::Code(text) => format!("<code>{}</code>", escape(text)),
        Cell::Verdict(true) => "<span class=\"pass\">pass</span>".to_owned(),
        Cell::Verdict(false) => "<span class=\"fail\">fail</span>".to_owned(),
    }
}

/// The chart inline as a base64 SVG data URI (an `<img>` never runs anything inside
/// the SVG), with links to the files beside the page.
fn render_chart(out: &mut String, chart: &ChartFiles) {
    let data = STANDARD.encode(chart.svg_text.as_bytes());
    let title = escape(&chart.title);
    let svg = escape(chart.svg_file_name()).into_owned();
    let png = escape(chart.png_file_name()).into_owned();
    let _ = writeln!(
        out,
        "<figure>\n<img alt=\"{title}\" src=\"data:image/svg+xml;base64,{data}\">\n\
         <figcaption>{title} (<a href=\"{svg}\">SVG</a>, <a href=\"{png}\">PNG</a>)</figcaption>\n\
         </figure>"
    );
}
