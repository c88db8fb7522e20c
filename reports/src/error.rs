//! Why writing a report failed, always with the file it was writing.

use std::io;
use std::path::{Path, PathBuf};

/// A report could not be written. Every variant names the file (or directory) at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The report directory could not be created.
    #[error("cannot create report directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The summary could not be serialised to JSON.
    #[error("cannot serialise {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The JUnit XML could not be serialised.
    #[error("cannot serialise {path}: {source}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// Why.
        source: quick_xml::SeError,
    },
    /// plotters could not draw a chart.
    #[error("cannot draw chart {path}: {message}")]
    Chart {
        /// The chart file.
        path: PathBuf,
        /// plotters' error, as text (its error type is generic over the backend).
        message: String,
    },
    /// A chart's pixels could not be encoded as PNG.
    #[error("cannot encode {path}: {source}")]
    Png {
        /// The file.
        path: PathBuf,
        /// Why.
        source: png::EncodingError,
    },
}

/// Creates `dir` (and its parents) unless it exists.
pub(crate) fn create_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `bytes` to `path`, replacing what was there.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    std::fs::write(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}
