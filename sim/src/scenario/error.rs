//! Errors in scenario files, each naming the file, line, column and field.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::document::{Document, Position};

/// One problem in a scenario file, located at the offending value.
///
/// Displays as `scenarios/x.toml:14:9: faults[2].node: unknown node "eu-9" (known: ...)`,
/// the `file:line:column:` form editors and CI annotators understand.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ScenarioError {
    /// The file, as it was named on the command line.
    pub path: PathBuf,
    /// 1-based line of the offending value.
    pub line: usize,
    /// 1-based column (in characters) of the offending value.
    pub column: usize,
    /// Dotted path of the field (`faults[2].node`); empty for a syntax error that no
    /// field encloses.
    pub field: String,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one scenario file, in file order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// The problems, in the order they appear in the file.
    pub fn iter(&self) -> impl Iterator<Item = &ScenarioError> {
        self.0.iter()
    }
}

impl fmt::Display for ScenarioErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Why a scenario file could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error(transparent)]
    Invalid(#[from] ScenarioErrors),
}

/// Collects problems during validation so one run reports all of them.
pub(crate) struct Problems<'a> {
    path: PathBuf,
    document: &'a Document<'a>,
    found: Vec<ScenarioError>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(path: PathBuf, document: &'a Document<'a>) -> Self {
        Problems {
            path,
            document,
            found: Vec::new(),
        }
    }

    /// Records a problem with the value at `field`.
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let position = self.document.position_of(&field);
        self.push(field, position, message.into());
    }

    /// Records a problem with the key of `field` (the name is wrong, not the value).
    pub(crate) fn add_at_key(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let position = self.document.key_position_of(&field);
        self.push(field, position, message.into());
    }

    fn push(&mut self, field: String, position: Position, message: String) {
        self.found.push(ScenarioError {
            path: self.path.clone(),
            line: position.line,
            column: position.column,
            field,
            message,
        });
    }

    /// The document the problems are located in.
    pub(crate) fn document(&self) -> &Document<'a> {
        self.document
    }

    /// How many problems so far; lets a stage skip checks that would only repeat an
    /// earlier failure.
    pub(crate) fn count(&self) -> usize {
        self.found.len()
    }

    /// `Ok(value)` when nothing was found, or every problem in file order.
    pub(crate) fn finish<T>(mut self, value: T) -> Result<T, ScenarioErrors> {
        if self.found.is_empty() {
            return Ok(value);
        }
        // Stable: problems on the same line keep the order they were found in.
        self.found.sort_by_key(|e| (e.line, e.column));
        Err(ScenarioErrors(self.found))
    }
}
