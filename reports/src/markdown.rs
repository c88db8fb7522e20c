//! Renders a [`Document`] as GitHub-flavoured Markdown. Every piece of text from the
//! run is escaped, so a scenario name or alert detail cannot break a table or turn
//! into markup.

use std::fmt::Write as _;

use crate::charts::ChartFiles;
use crate::doc::{Block, Cell, Document, Table};

/// The Markdown page; charts are linked by file name, beside `report.md`.
pub(crate) fn render(doc: &Document, charts: &[ChartFiles]) -> String {
    let mut out = String::new();
    let verdict = if doc.passed { "PASSED" } else { "FAILED" };
    // `write!` to a String cannot fail.
    let _ = write!(out, "# {}\n\n**{verdict}**\n\n", escape(&doc.title));
    for section in &doc.sections {
        let _ = write!(out, "## {}\n\n", escape(&section.heading));
        for block in &section.blocks {
            render_block(&mut out, block, charts);
        }
    }
    out
}

fn render_block(out: &mut String, block: &Block, charts: &[ChartFiles]) {
    match block {
        Block::Text(text) => {
            let _ = write!(out, "{}\n\n", escape_paragraph(text));
        }
        Block::Command(command) => {
            let fence = "`".repeat(longest_backtick_run(command).max(2) + 1);
            let _ = write!(out, "{fence}sh\n{command}\n{fence}\n\n");
        }
        Block::Table(table) => render_table(out, table),
        Block::Charts => {
            for chart in charts {
                let svg = chart.svg_file_name();
                let png = chart.png_file_name();
                let _ = write!(
                    out,
                    "![{}]({svg})\n\n[SVG]({svg}) · [PNG]({png})\n\n",
                    escape(&chart.title)
                );
            }
        }
    }
}

fn render_table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        let _ = write!(out, "{}\n\n", escape(table.empty));
        return;
    }
    let headers: Vec<String> = table.headers.iter().map(|h| escape(h)).collect();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(table.headers.len()));
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(cell).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

fn cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => escape(text),
        Cell::Code(text) => code_span(text),
        Cell::Verdict(true) => "✅ pass".to_owned(),
        Cell::Verdict(false) => "❌ **fail**".to_owned(),
    }
}

/// Backslash-escapes the punctuation that Markdown treats as markup (CommonMark lets
/// any ASCII punctuation be escaped), and folds line breaks, which would end a table
/// row.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Like [`escape`], and also defuses what would start a list or a heading
/// underline at the beginning of a paragraph.
fn escape_paragraph(text: &str) -> String {
    let escaped = escape(text);
    let digits = escaped.chars().take_while(char::is_ascii_digit).count();
    match escaped[digits..].chars().next() {
        Some('-' | '+' | '=') if digits == 0 => format!("\\{escaped}"),
        Some('.' | ')') if digits > 0 => {
            format!("{}\\{}", &escaped[..digits], &escaped[digits..])
        }
        _ => escaped,
    }
}

/// A code span fenced with more backticks than the text holds in a row. Pipes are
/// still escaped: GitHub splits table cells on them even inside code.
pub(crate) fn code_span(text: &str) -> String {
    let body = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    let fence = "`".repeat(longest_backtick_run(&body) + 1);
    // A space keeps a backtick at either end from merging with the fence.
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(escape("a|b *c* <d>\nx"), "a\\|b \\*c\\* \\<d\\> x");
        assert_eq!(escape_paragraph("- not a list"), "\\- not a list");
        assert_eq!(escape_paragraph("1. not a list"), "1\\. not a list");
        assert_eq!(escape_paragraph("10 guilds"), "10 guilds");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code_span("sim run x.toml"), "`sim run x.toml`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
        assert_eq!(code_span("a|b"), "`a\\|b`");
    }
}
