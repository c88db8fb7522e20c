//! The data commands `RedisStore` sends: strings, hashes, keys, `SCAN` and streams.
//!
//! Each handler takes the arguments after the command name and works on one database.
//! Replies and error texts follow Redis 7 closely enough for redis-rs to read them the
//! same way.

use std::ops::Bound;

use tokio::time::{Duration, Instant};

use super::args::{self, Outcome, arity, at_least, exactly, is, syntax};
use super::glob;
use super::keyspace::{Keyspace, WrongType};
use super::resp::Reply;
use super::stream::{EntryId, Fields};

impl From<WrongType> for Reply {
    fn from(_: WrongType) -> Reply {
        Reply::wrong_type()
    }
}

/// Runs a data command, or `None` if `name` is not one.
pub fn run(
    ks: &mut Keyspace,
    now: Instant,
    now_ms: u64,
    name: &str,
    a: &[Vec<u8>],
) -> Option<Reply> {
    let outcome = match name {
        "GET" => get(ks, a),
        "SET" => set(ks, now, a),
        "MGET" => mget(ks, a),
        "DEL" => del(ks, a),
        "EXISTS" => exists(ks, a),
        "TYPE" => type_of(ks, a),
        "PTTL" => exactly(name, a, 1).map(|()| Reply::Int(ks.pttl_ms(&a[0], now))),
        "PEXPIRE" => pexpire(ks, now, a),
        "INCR" => exactly(name, a, 1).and_then(|()| incr(ks, &a[0])),
        "HSET" => hset(ks, a),
        "HGET" => hget(ks, a),
        "HDEL" => hdel(ks, a),
        "HGETALL" => hgetall(ks, a),
        "HLEN" => hlen(ks, a),
        "SCAN" => scan(ks, a),
        "XADD" => xadd(ks, now_ms, a),
        "XRANGE" => xrange(ks, a, false),
        "XREVRANGE" => xrange(ks, a, true),
        "XLEN" => xlen(ks, a),
        _ => return None,
    };
    Some(outcome.unwrap_or_else(|error| error))
}

fn get(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    exactly("GET", a, 1)?;
    Ok(ks
        .get_string(&a[0])?
        .map_or(Reply::Nil, |v| Reply::Bulk(v.to_vec())))
}

/// `SET key value [NX|XX] [EX s|PX ms]`.
pub fn set(ks: &mut Keyspace, now: Instant, a: &[Vec<u8>]) -> Outcome {
    at_least("SET", a, 2)?;
    let (mut nx, mut xx, mut ttl_ms) = (false, false, None);
    let mut options = a[2..].iter();
    while let Some(option) = options.next() {
        if is(option, "NX") && !xx {
            nx = true;
        } else if is(option, "XX") && !nx {
            xx = true;
        } else if (is(option, "PX") || is(option, "EX")) && ttl_ms.is_none() {
            let amount = args::int(options.next().ok_or_else(syntax)?)?;
            if amount <= 0 {
                return Err(Reply::err("invalid expire time in 'set' command"));
            }
            let scale = if is(option, "EX") { 1000 } else { 1 };
            let ms = amount
                .checked_mul(scale)
                .ok_or_else(|| Reply::err("invalid expire time in 'set' command"))?;
            ttl_ms = Some(ms.unsigned_abs());
        } else {
            return Err(syntax());
        }
    }
    let exists = ks.get(&a[0]).is_some();
    if (nx && exists) || (xx && !exists) {
        return Ok(Reply::Nil);
    }
    let ttl = ttl_ms.map(|ms| (now, Duration::from_millis(ms)));
    ks.set_string(&a[0], a[1].clone(), ttl);
    Ok(Reply::ok())
}

fn mget(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    at_least("MGET", a, 1)?;
    // MGET answers nil for a key of another type rather than failing.
    Ok(Reply::Array(
        a.iter()
            .map(|key| match ks.get_string(key) {
                Ok(Some(v)) => Reply::Bulk(v.to_vec()),
                _ => Reply::Nil,
            })
            .collect(),
    ))
}

fn del(ks: &mut Keyspace, a: &[Vec<u8>]) -> Outcome {
    at_least("DEL", a, 1)?;
    let removed = a.iter().filter(|key| ks.remove(key)).count();
    Ok(Reply::Int(count_i64(removed)))
}

fn exists(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    at_least("EXISTS", a, 1)?;
    let found = a.iter().filter(|key| ks.get(key).is_some()).count();
    Ok(Reply::Int(count_i64(found)))
}

fn type_of(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    exactly("TYPE", a, 1)?;
    let name = ks.get(&a[0]).map_or("none", |v| v.type_name());
    Ok(Reply::Simple(name.to_owned()))
}

/// `PEXPIRE key ms`: 1 if the key exists.
pub fn pexpire(ks: &mut Keyspace, now: Instant, a: &[Vec<u8>]) -> Outcome {
    exactly("PEXPIRE", a, 2)?;
    let ms = args::int(&a[1])?;
    Ok(Reply::Int(i64::from(ks.expire(&a[0], now, ms))))
}

/// `INCR key`, keeping the key's TTL.
pub fn incr(ks: &mut Keyspace, key: &[u8]) -> Outcome {
    let current = match ks.get_string(key)? {
        None => 0,
        Some(bytes) => args::int(bytes)?,
    };
    let next = current
        .checked_add(1)
        .ok_or_else(|| Reply::err("increment or decrement would overflow"))?;
    ks.overwrite_string(key, next.to_string().into_bytes());
    Ok(Reply::Int(next))
}

/// `HSET key field value [field value ...]`: the number of new fields.
pub fn hset(ks: &mut Keyspace, a: &[Vec<u8>]) -> Outcome {
    if a.len() < 3 || a.len() % 2 == 0 {
        return Err(arity("HSET"));
    }
    let hash = ks.hash_mut(&a[0])?;
    let added = a[1..]
        .chunks_exact(2)
        .filter(|pair| hash.insert(pair[0].clone(), pair[1].clone()).is_none())
        .count();
    Ok(Reply::Int(count_i64(added)))
}

/// `HGET key field`.
pub fn hget(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    exactly("HGET", a, 2)?;
    Ok(ks
        .get_hash(&a[0])?
        .and_then(|h| h.get(&a[1]))
        .map_or(Reply::Nil, |v| Reply::Bulk(v.clone())))
}

fn hdel(ks: &mut Keyspace, a: &[Vec<u8>]) -> Outcome {
    at_least("HDEL", a, 2)?;
    if ks.get_hash(&a[0])?.is_none() {
        return Ok(Reply::Int(0));
    }
    let hash = ks.hash_mut(&a[0])?;
    let removed = a[1..].iter().filter(|f| hash.remove(*f).is_some()).count();
    ks.remove_if_empty(&a[0]);
    Ok(Reply::Int(count_i64(removed)))
}

fn hgetall(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    exactly("HGETALL", a, 1)?;
    let pairs = ks.get_hash(&a[0])?.map_or_else(Vec::new, |h| {
        h.iter()
            .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
            .collect()
    });
    Ok(Reply::Map(pairs))
}

fn hlen(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    exactly("HLEN", a, 1)?;
    let len = ks.get_hash(&a[0])?.map_or(0, |h| h.len());
    Ok(Reply::Int(count_i64(len)))
}

/// `SCAN cursor [MATCH pattern] [COUNT n]`. Every match comes back in one round with
/// cursor 0: `COUNT` is only a hint in Redis, and one round trivially keeps SCAN's
/// promise that keys present throughout are returned.
fn scan(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    at_least("SCAN", a, 1)?;
    std::str::from_utf8(&a[0])
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("invalid cursor"))?;
    let mut pattern: &[u8] = b"*";
    let mut options = a[1..].iter();
    while let Some(option) = options.next() {
        let value = options.next().ok_or_else(syntax)?;
        if is(option, "MATCH") {
            pattern = value;
        } else if is(option, "COUNT") {
            if args::count(value)? == 0 {
                return Err(syntax());
            }
        } else {
            return Err(syntax());
        }
    }
    let keys = ks
        .keys_with_prefix(glob::literal_prefix(pattern))
        .filter(|key| glob::matches(pattern, key))
        .map(|key| Reply::Bulk(key.to_vec()))
        .collect();
    Ok(Reply::Array(vec![Reply::text("0"), Reply::Array(keys)]))
}

/// `XADD key [NOMKSTREAM] [MAXLEN [=|~] n] * field value [field value ...]`.
fn xadd(ks: &mut Keyspace, now_ms: u64, a: &[Vec<u8>]) -> Outcome {
    at_least("XADD", a, 4)?;
    let mut at = 1;
    let mut no_create = false;
    let mut len_max = None;
    loop {
        let Some(option) = a.get(at) else {
            return Err(arity("XADD"));
        };
        if is(option, "NOMKSTREAM") {
            no_create = true;
            at += 1;
        } else if is(option, "MAXLEN") {
            at += 1;
            if a.get(at).is_some_and(|op| op == b"~" || op == b"=") {
                at += 1;
            }
            len_max = Some(args::count(a.get(at).ok_or_else(syntax)?)?);
            at += 1;
        } else {
            break;
        }
    }
    if a[at] != b"*" {
        return Err(Reply::err(
            "switchyard redis_sim: only automatic stream ids (*) are emulated",
        ));
    }
    let pairs = &a[at + 1..];
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(arity("XADD"));
    }
    if no_create && ks.get(&a[0]).is_none() {
        return Ok(Reply::Nil);
    }
    let stream = ks.stream_mut(&a[0])?;
    let fields: Fields = pairs
        .chunks_exact(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let id = stream
        .add(now_ms, fields)
        .ok_or_else(|| Reply::err("The stream has exhausted the last possible ID"))?;
    if let Some(len_max) = len_max {
        stream.trim(len_max);
    }
    Ok(Reply::text(id.to_string()))
}

/// `XRANGE key start end [COUNT n]` and `XREVRANGE key end start [COUNT n]`.
fn xrange(ks: &Keyspace, a: &[Vec<u8>], reverse: bool) -> Outcome {
    let name = if reverse { "XREVRANGE" } else { "XRANGE" };
    if a.len() != 3 && a.len() != 5 {
        return Err(arity(name));
    }
    let (low, high) = if reverse {
        (&a[2], &a[1])
    } else {
        (&a[1], &a[2])
    };
    let start = bound(low, true)?;
    let end = bound(high, false)?;
    let count = match a.get(3) {
        Some(option) if is(option, "COUNT") => args::count(&a[4])?,
        Some(_) => return Err(syntax()),
        None => usize::MAX,
    };
    let Some(stream) = ks.get_stream(&a[0])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let entries = stream
        .range(start, end, reverse, count)
        .into_iter()
        .map(|(id, fields)| entry_reply(id, fields))
        .collect();
    Ok(Reply::Array(entries))
}

fn bound(arg: &[u8], is_start: bool) -> Result<Bound<EntryId>, Reply> {
    let invalid = || Reply::err("Invalid stream ID specified as stream command argument");
    match arg {
        b"-" => Ok(Bound::Included(EntryId::MIN)),
        b"+" => Ok(Bound::Included(EntryId::MAX)),
        [b'(', rest @ ..] => {
            let seq = if is_start { 0 } else { u64::MAX };
            EntryId::parse(rest, seq)
                .map(Bound::Excluded)
                .ok_or_else(invalid)
        }
        _ => {
            let seq = if is_start { 0 } else { u64::MAX };
            EntryId::parse(arg, seq)
                .map(Bound::Included)
                .ok_or_else(invalid)
        }
    }
}

fn entry_reply(id: EntryId, fields: &Fields) -> Reply {
    let flat = fields
        .iter()
        .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
        .collect();
    Reply::Array(vec![Reply::text(id.to_string()), Reply::Array(flat)])
}

fn xlen(ks: &Keyspace, a: &[Vec<u8>]) -> Outcome {
    exactly("XLEN", a, 1)?;
    let len = ks.get_stream(&a[0])?.map_or(0, |s| s.len());
    Ok(Reply::Int(count_i64(len)))
}

fn count_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn call(ks: &mut Keyspace, now: Instant, parts: &[&str]) -> Reply {
        let a = args(&parts[1..]);
        run(ks, now, 1, parts[0], &a).expect("a data command")
    }

    #[test]
    fn set_nx_only_sets_once_and_px_expires() {
        let now = Instant::now();
        let mut ks = Keyspace::default();
        assert_eq!(
            call(&mut ks, now, &["SET", "k", "a", "NX", "PX", "50"]),
            Reply::ok()
        );
        assert_eq!(call(&mut ks, now, &["SET", "k", "b", "NX"]), Reply::Nil);
        assert_eq!(call(&mut ks, now, &["GET", "k"]), Reply::text("a"));
        assert_eq!(call(&mut ks, now, &["PTTL", "k"]), Reply::Int(50));
        ks.purge_expired(now + Duration::from_millis(50));
        assert_eq!(call(&mut ks, now, &["GET", "k"]), Reply::Nil);
    }

    #[test]
    fn wrong_types_are_refused() {
        let now = Instant::now();
        let mut ks = Keyspace::default();
        call(&mut ks, now, &["HSET", "h", "f", "v"]);
        assert_eq!(call(&mut ks, now, &["GET", "h"]), Reply::wrong_type());
        assert_eq!(
            call(&mut ks, now, &["MGET", "h"]),
            Reply::Array(vec![Reply::Nil])
        );
    }

    #[test]
    fn hdel_of_the_last_field_removes_the_key() {
        let now = Instant::now();
        let mut ks = Keyspace::default();
        call(&mut ks, now, &["HSET", "h", "f", "v", "g", "w"]);
        assert_eq!(
            call(&mut ks, now, &["HDEL", "h", "f", "g", "x"]),
            Reply::Int(2)
        );
        assert_eq!(call(&mut ks, now, &["EXISTS", "h"]), Reply::Int(0));
    }

    #[test]
    fn xadd_caps_the_stream() {
        let now = Instant::now();
        let mut ks = Keyspace::default();
        for _ in 0..5 {
            call(
                &mut ks,
                now,
                &["XADD", "s", "MAXLEN", "~", "3", "*", "f", "v"],
            );
        }
        assert_eq!(call(&mut ks, now, &["XLEN", "s"]), Reply::Int(3));
        assert!(matches!(
            call(&mut ks, now, &["XADD", "s", "1-1", "f", "v"]),
            Reply::Error(_)
        ));
    }
}
