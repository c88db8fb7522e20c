//! Redis's glob patterns for `SCAN MATCH`: `*`, `?`, `[abc]`, `[^a-z]` and `\` escapes.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // Classic backtracking over the last `*`: linear in practice, and bounded by
    // pattern length times text length in the worst case.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
            continue;
        }
        if p < pattern.len() {
            if let Some(width) = match_one(&pattern[p..], text[t]) {
                p += width;
                t += 1;
                continue;
            }
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// Matches one text byte against the pattern's first element; `Some(width)` of the
/// element on a match.
fn match_one(pattern: &[u8], byte: u8) -> Option<usize> {
    match pattern[0] {
        b'?' => Some(1),
        b'\\' if pattern.len() > 1 => (pattern[1] == byte).then_some(2),
        b'[' => match_class(pattern, byte),
        literal => (literal == byte).then_some(1),
    }
}

fn match_class(pattern: &[u8], byte: u8) -> Option<usize> {
    let mut i = 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut found = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            found |= pattern[i + 1] == byte;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (low, high) = (
                pattern[i].min(pattern[i + 2]),
                pattern[i].max(pattern[i + 2]),
            );
            found |= (low..=high).contains(&byte);
            i += 3;
        } else {
            found |= pattern[i] == byte;
            i += 1;
        }
    }
    // An unterminated class runs to the end of the pattern, as in Redis.
    let width = (i + 1).min(pattern.len());
    (found != negate).then_some(width)
}

/// The literal prefix of a pattern (up to its first special character), used to seek.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    &pattern[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches(b"lavalink:health:*", b"lavalink:health:us-1"));
        assert!(matches(b"lavalink:health:*", b"lavalink:health:"));
        assert!(!matches(b"lavalink:health:*", b"lavalink:healt"));
        assert!(matches(b"a*b*c", b"axxbyyc"));
        assert!(!matches(b"a*b*c", b"axxbyy"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"*", b""));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-c]llo", b"hbllo"));
        assert!(matches(b"a\\*", b"a*"));
        assert!(!matches(b"a\\*", b"ab"));
    }

    #[test]
    fn prefixes_stop_at_the_first_special() {
        assert_eq!(
            literal_prefix(b"switchyard:sessions:*"),
            b"switchyard:sessions:"
        );
        assert_eq!(literal_prefix(b"a?b"), b"a");
        assert_eq!(literal_prefix(b"plain"), b"plain");
    }
}
