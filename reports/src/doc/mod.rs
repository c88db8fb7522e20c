//! A report as a format-neutral document: the run and sweep reports are described
//! once here, and `markdown` and `html` only render them, so the two always carry
//! the same content.

pub(crate) mod run;
pub(crate) mod sweep;

/// A whole report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// The page title.
    pub title: String,
    /// Whether the run (or every seed) passed; shown as a badge.
    pub passed: bool,
    /// The sections, in reading order.
    pub sections: Vec<Section>,
}

/// A headed section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    /// Its heading.
    pub heading: String,
    /// Its content.
    pub blocks: Vec<Block>,
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// Plain text, one paragraph.
    Text(String),
    /// A shell command shown verbatim, ready to copy.
    Command(String),
    /// A table.
    Table(Table),
    /// Where the charts go; the renderer holds the chart files.
    Charts,
}

/// A table with a header row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// Column headings.
    pub headers: Vec<&'static str>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<Cell>>,
    /// Said instead of the table when there are no rows.
    pub empty: &'static str,
}

/// A table cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// Plain text.
    Text(String),
    /// Verbatim text (paths, commands, keys).
    Code(String),
    /// A pass / fail verdict.
    Verdict(bool),
}

impl Table {
    /// A table, checking every row has a cell per column.
    pub(crate) fn new(
        headers: Vec<&'static str>,
        rows: Vec<Vec<Cell>>,
        empty: &'static str,
    ) -> Table {
        for row in &rows {
            assert_eq!(
                row.len(),
                headers.len(),
                "row {row:?} does not fit {headers:?}"
            );
        }
        Table {
            headers,
            rows,
            empty,
        }
    }
}

/// Shorthand for a text cell.
pub(crate) fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

/// Shorthand for a verbatim cell.
pub(crate) fn code(value: impl Into<String>) -> Cell {
    Cell::Code(value.into())
}
