//! The parsed TOML document with the source position of every key and value, so that
//! errors found long after deserialisation still point at the offending text.
//!
//! Fields are named by dotted paths with array indices (`faults[2].node`), the same
//! paths the validation errors use; the core's `ConfigError` paths map onto them too.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Where a key and its value sit in the source.
#[derive(Debug, Clone)]
struct Entry {
    /// The key's span; array elements have none.
    key: Option<Range<usize>>,
    value: Range<usize>,
}

/// A source text and the spans of everything in it.
#[derive(Debug)]
pub(crate) struct Document<'a> {
    text: &'a str,
    entries: BTreeMap<String, Entry>,
}

/// A resolved position: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl<'a> Document<'a> {
    /// Indexes a parsed document.
    pub(crate) fn new(text: &'a str, root: &Spanned<DeTable<'_>>) -> Self {
        let mut document = Document {
            text,
            entries: BTreeMap::new(),
        };
        document.index_table("", root.get_ref());
        document
    }

    /// A document with no entries, for errors found before parsing succeeded.
    pub(crate) fn unparsed(text: &'a str) -> Self {
        Document {
            text,
            entries: BTreeMap::new(),
        }
    }

    fn index_table(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let path = join(prefix, key.get_ref());
            self.entries.insert(
                path.clone(),
                Entry {
                    key: Some(key.span()),
                    value: value.span(),
                },
            );
            self.index_value(&path, value);
        }
    }

    fn index_value(&mut self, path: &str, value: &Spanned<DeValue<'_>>) {
        match value.get_ref() {
            DeValue::Table(table) => self.index_table(path, table),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    self.entries.insert(
                        item_path.clone(),
                        Entry {
                            key: None,
                            value: item.span(),
                        },
                    );
                    self.index_value(&item_path, item);
                }
            }
            _ => {}
        }
    }

    /// Whether the file spells out this field.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// The position of a field's value; a field the file leaves out (a default) points
    /// at its nearest written ancestor, and at the start of the file as a last resort.
    pub(crate) fn position_of(&self, path: &str) -> Position {
        let mut current = path;
        // Each round drops one path segment, so this ends.
        loop {
            if let Some(entry) = self.entries.get(current) {
                return self.position(entry.value.start);
            }
            match parent(current) {
                Some(up) => current = up,
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    /// The position of a field's key (for a name that is itself the mistake, like an
    /// unknown region in `{ mars = 0.5 }`); the value's position when it has no key.
    pub(crate) fn key_position_of(&self, path: &str) -> Position {
        match self.entries.get(path).and_then(|entry| entry.key.as_ref()) {
            Some(key) => self.position(key.start),
            None => self.position_of(path),
        }
    }

    /// The field whose key or value holds the byte `offset` (the innermost one), for
    /// errors that come with a span but no path.
    pub(crate) fn path_at(&self, offset: usize) -> Option<&str> {
        let contains = |span: &Range<usize>| {
            span.start <= offset && (offset < span.end || span.is_empty() && offset == span.start)
        };
        self.entries
            .iter()
            .filter_map(|(path, entry)| {
                let span = [entry.key.as_ref(), Some(&entry.value)]
                    .into_iter()
                    .flatten()
                    .find(|span| contains(span))?;
                Some((span.len(), path))
            })
            // The smallest span is the innermost; among equals (a table header is the
            // span of both a table and its array element) the longer path is deeper.
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.len().cmp(&a.1.len())))
            .map(|(_, path)| path.as_str())
    }

    /// Line and column of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    // At most three steps back: a UTF-8 character is at most four bytes.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// `prefix.key`, or `key` at the root.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The path one level up: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> none.
fn parent(path: &str) -> Option<&str> {
    if path.ends_with(']') {
        return path.rfind('[').map(|i| &path[..i]);
    }
    path.rfind('.').map(|i| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\n\n[[faults]]\nat = \"2m\"\nnode = \"eu-9\"\n\n[workload]\nplans = { free = 0.5 }\n";

    fn with_document(check: impl FnOnce(&Document<'_>)) {
        let root = DeTable::parse(TEXT).expect("valid toml");
        check(&Document::new(TEXT, &root));
    }

    #[test]
    fn positions_point_at_values() {
        with_document(|doc| {
            assert_eq!(
                doc.position_of("faults[0].node"),
                Position { line: 5, column: 8 }
            );
            assert_eq!(
                doc.position_of("workload.plans.free"),
                Position {
                    line: 8,
                    column: 18
                }
            );
            // Not written: the nearest written ancestor.
            assert_eq!(
                doc.position_of("workload.plans.growth"),
                Position { line: 8, column: 9 }
            );
            assert_eq!(
                doc.position_of("expect.rto_max"),
                Position { line: 1, column: 1 }
            );
        });
    }

    #[test]
    fn spans_map_back_to_paths() {
        with_document(|doc| {
            let offset = TEXT.find("eu-9").expect("present");
            assert_eq!(doc.path_at(offset), Some("faults[0].node"));
            let header = TEXT.find("[[faults]]").expect("present");
            assert_eq!(doc.path_at(header), Some("faults[0]"));
            assert!(doc.contains("workload.plans.free"));
            assert!(!doc.contains("workload.regions"));
        });
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a.b"), Some("a"));
        assert_eq!(parent("a"), None);
    }
}
