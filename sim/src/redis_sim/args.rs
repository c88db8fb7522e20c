//! Argument helpers shared by the command handlers, with Redis's own error texts.

use super::resp::Reply;

/// A handler's early exit: the error reply to send.
pub type Outcome = Result<Reply, Reply>;

/// `ERR wrong number of arguments for '<name>' command`.
pub fn arity(name: &str) -> Reply {
    Reply::err(format!(
        "wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

/// `ERR syntax error`.
pub fn syntax() -> Reply {
    Reply::err("syntax error")
}

/// `ERR value is not an integer or out of range`.
pub fn not_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

/// Parses a signed integer argument.
pub fn int(arg: &[u8]) -> Result<i64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(not_integer)
}

/// Parses a non-negative count argument.
pub fn count(arg: &[u8]) -> Result<usize, Reply> {
    let n = int(arg)?;
    usize::try_from(n).map_err(|_| not_integer())
}

/// Whether an argument is `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Requires exactly `n` arguments after the command name.
pub fn exactly(name: &str, args: &[Vec<u8>], n: usize) -> Result<(), Reply> {
    if args.len() == n {
        Ok(())
    } else {
        Err(arity(name))
    }
}

/// Requires at least `n` arguments after the command name.
pub fn at_least(name: &str, args: &[Vec<u8>], n: usize) -> Result<(), Reply> {
    if args.len() >= n {
        Ok(())
    } else {
        Err(arity(name))
    }
}
