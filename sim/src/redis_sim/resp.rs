//! RESP framing: requests in (arrays of bulk strings, or inline commands), replies out in
//! RESP2 or RESP3 as the connection negotiated with `HELLO`.

/// Largest request accepted, so a broken client cannot make the server buffer forever.
pub const REQUEST_LEN_MAX: usize = 16 * 1024 * 1024;
/// Most arguments in one request.
const ARGS_LEN_MAX: usize = 1024 * 1024;

/// A reply, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`; the text includes its code (`ERR`, `WRONGTYPE`, `NOSCRIPT`).
    Error(String),
    /// `:n`.
    Int(i64),
    /// A bulk string.
    Bulk(Vec<u8>),
    /// Absent value (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// An array.
    Array(Vec<Reply>),
    /// A map (a flat array in RESP2).
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".to_owned())
    }

    /// An `ERR` error.
    pub fn err(message: impl AsRef<str>) -> Reply {
        Reply::Error(format!("ERR {}", message.as_ref()))
    }

    /// A bulk string from text.
    pub fn text(text: impl AsRef<str>) -> Reply {
        Reply::Bulk(text.as_ref().as_bytes().to_vec())
    }

    /// The `WRONGTYPE` error.
    pub fn wrong_type() -> Reply {
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".to_owned())
    }

    /// Appends the encoding of `self` for `protocol` (2 or 3) to `out`.
    pub fn encode(&self, protocol: u8, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => push_line(out, b'+', s.as_bytes()),
            Reply::Error(e) => push_line(out, b'-', e.replace(['\r', '\n'], " ").as_bytes()),
            Reply::Int(n) => push_line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(bytes) => {
                push_line(out, b'$', bytes.len().to_string().as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Nil if protocol >= 3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                push_line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Map(pairs) => {
                if protocol >= 3 {
                    push_line(out, b'%', pairs.len().to_string().as_bytes());
                } else {
                    push_line(out, b'*', (pairs.len() * 2).to_string().as_bytes());
                }
                for (key, value) in pairs {
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
        }
    }
}

fn push_line(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Why a request could not be framed; the connection is closed after replying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not RESP.
    #[error("Protocol error: {0}")]
    Protocol(String),
    /// The request is larger than [`REQUEST_LEN_MAX`].
    #[error("Protocol error: request longer than {REQUEST_LEN_MAX} bytes")]
    TooLong,
}

/// A parsed request's arguments (command name first) and the bytes it took.
pub type Parsed = (Vec<Vec<u8>>, usize);

/// Parses one request from the front of `buf`. `Ok(None)` means more bytes are needed;
/// `Ok(Some((args, used)))` returns the arguments and how many bytes they took.
pub fn parse_request(buf: &[u8]) -> Result<Option<Parsed>, FrameError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return parse_inline(buf);
    }
    let Some((count, mut at)) = read_header(buf, 0, b'*')? else {
        return Ok(None);
    };
    if count > ARGS_LEN_MAX {
        return Err(FrameError::Protocol(format!(
            "invalid multibulk length {count}"
        )));
    }
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let Some((len, start)) = read_header(buf, at, b'$')? else {
            return Ok(None);
        };
        if len > REQUEST_LEN_MAX {
            return Err(FrameError::TooLong);
        }
        let end = start + len;
        if buf.len() < end + 2 {
            return check_len(buf);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(FrameError::Protocol(
                "bulk string not terminated".to_owned(),
            ));
        }
        args.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some((args, at)))
}

/// Reads `<tag><decimal>\r\n` at `at`, returning the number and where the next part
/// starts.
fn read_header(buf: &[u8], at: usize, tag: u8) -> Result<Option<(usize, usize)>, FrameError> {
    let Some(&found) = buf.get(at) else {
        return Ok(None);
    };
    if found != tag {
        return Err(FrameError::Protocol(format!(
            "expected '{}', got '{}'",
            tag as char,
            found.escape_ascii()
        )));
    }
    let Some(line_len) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
        return check_len(buf);
    };
    let digits = &buf[at + 1..at + line_len];
    let number = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .ok_or_else(|| {
            FrameError::Protocol(format!("invalid length '{}'", digits.escape_ascii()))
        })?;
    Ok(Some((number, at + line_len + 2)))
}

/// An inline command (`PING\r\n`), as redis-cli or a person with netcat sends it.
fn parse_inline(buf: &[u8]) -> Result<Option<Parsed>, FrameError> {
    let Some(end) = buf.iter().position(|b| *b == b'\n') else {
        return check_len(buf);
    };
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = line
        .split(|b| *b == b' ')
        .filter(|part| !part.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    Ok(Some((args, end + 1)))
}

fn check_len<T>(buf: &[u8]) -> Result<Option<T>, FrameError> {
    if buf.len() > REQUEST_LEN_MAX {
        Err(FrameError::TooLong)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arrays_in_pieces() {
        let request = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        for cut in 0..20 {
            assert_eq!(parse_request(&request[..cut]), Ok(None), "cut at {cut}");
        }
        let (args, used) = parse_request(request)
            .expect("well formed")
            .expect("complete");
        assert_eq!(args, vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(used, 20);
        let (args, _) = parse_request(&request[used..])
            .expect("well formed")
            .expect("complete");
        assert_eq!(args, vec![b"PING".to_vec()]);
    }

    #[test]
    fn parses_inline_commands() {
        let (args, used) = parse_request(b"PING  hello\r\n")
            .expect("well formed")
            .expect("complete");
        assert_eq!(args, vec![b"PING".to_vec(), b"hello".to_vec()]);
        assert_eq!(used, 13);
    }

    #[test]
    fn rejects_garbage_lengths() {
        assert!(parse_request(b"*x\r\n").is_err());
        assert!(parse_request(b"*1\r\n$3\r\nGETxx").is_err());
    }

    #[test]
    fn encodes_per_protocol() {
        let reply = Reply::Map(vec![(Reply::text("a"), Reply::Nil)]);
        let mut two = Vec::new();
        reply.encode(2, &mut two);
        assert_eq!(two, b"*2\r\n$1\r\na\r\n$-1\r\n");
        let mut three = Vec::new();
        reply.encode(3, &mut three);
        assert_eq!(three, b"%1\r\n$1\r\na\r\n_\r\n");
    }
}
