//! Reports: filled by the reports issue.
