//! Exit codes of the `sim` binary, one meaning each, so CI can tell a failed
//! expectation from a bad scenario file or a crash.

use std::process::ExitCode;

/// Everything ran and every expectation held.
pub const SUCCESS: u8 = 0;
/// The run completed but an expectation did not hold.
pub const EXPECTATION_FAILED: u8 = 1;
/// Bad arguments or input files (clap's own usage errors also exit with 2).
pub const INVALID_INPUT: u8 = 2;
/// The tool itself failed (I/O, a runtime that would not start, a server error).
pub const INTERNAL_ERROR: u8 = 3;

/// Converts one of the constants above into an [`ExitCode`].
pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}
