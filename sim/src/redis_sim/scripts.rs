//! Scripting without Lua: `EVAL`, `EVALSHA` and `SCRIPT` for exactly the scripts the
//! `RedisStore` adapter sends, each run as a native Rust equivalent.
//!
//! A script is recognised by its body (`EVAL`, `SCRIPT LOAD`) or its SHA1 (`EVALSHA`),
//! both taken from `switchyard_runtime::adapters::ScriptKind`, so the sim follows the
//! adapter's scripts by construction; each native version below mirrors its Lua
//! line for line (see the argument layouts on `ScriptKind`). Any other script is
//! refused with an error naming it. Like Redis, the server forgets loaded scripts when
//! it restarts, so `EVALSHA` then answers `NOSCRIPT` and redis-rs reloads the script.

use std::collections::{BTreeMap, BTreeSet};

use switchyard_runtime::adapters::ScriptKind;
use tokio::time::Instant;

use super::args::{self, Outcome, at_least, is};
use super::commands;
use super::keyspace::Keyspace;
use super::resp::Reply;

/// Known scripts by SHA1, and which ones this server instance has loaded.
#[derive(Debug)]
pub struct Scripts {
    by_sha: BTreeMap<String, ScriptKind>,
    loaded: BTreeSet<String>,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            by_sha: ScriptKind::ALL.iter().map(|k| (k.sha1_hex(), *k)).collect(),
            loaded: BTreeSet::new(),
        }
    }
}

impl Scripts {
    fn by_body(body: &[u8]) -> Result<ScriptKind, Reply> {
        ScriptKind::ALL
            .into_iter()
            .find(|k| k.body().as_bytes() == body)
            .ok_or_else(|| {
                let first_line = body
                    .split(|b| *b == b'\n')
                    .find(|line| !line.is_empty())
                    .unwrap_or_default();
                Reply::err(format!(
                    "switchyard redis_sim runs no Lua: this script is not one of the \
                     RedisStore adapter's (it begins `{}`)",
                    String::from_utf8_lossy(first_line)
                ))
            })
    }

    /// `SCRIPT LOAD | EXISTS | FLUSH`.
    pub fn script_command(&mut self, a: &[Vec<u8>]) -> Outcome {
        at_least("SCRIPT", a, 1)?;
        if is(&a[0], "LOAD") {
            args::exactly("SCRIPT|LOAD", &a[1..], 1)?;
            let kind = Self::by_body(&a[1])?;
            let sha = kind.sha1_hex();
            self.loaded.insert(sha.clone());
            Ok(Reply::text(sha))
        } else if is(&a[0], "EXISTS") {
            at_least("SCRIPT|EXISTS", &a[1..], 1)?;
            Ok(Reply::Array(
                a[1..]
                    .iter()
                    .map(|sha| {
                        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                        Reply::Int(i64::from(self.loaded.contains(&sha)))
                    })
                    .collect(),
            ))
        } else if is(&a[0], "FLUSH") {
            self.loaded.clear();
            Ok(Reply::ok())
        } else {
            Err(Reply::err(format!(
                "unknown subcommand '{}'. Try SCRIPT HELP.",
                String::from_utf8_lossy(&a[0])
            )))
        }
    }

    /// `EVAL body numkeys ...` (by body) or `EVALSHA sha numkeys ...` (by hash).
    pub fn eval(
        &mut self,
        ks: &mut Keyspace,
        now: Instant,
        now_ms: u64,
        by_sha: bool,
        a: &[Vec<u8>],
    ) -> Outcome {
        at_least(if by_sha { "EVALSHA" } else { "EVAL" }, a, 2)?;
        let kind = if by_sha {
            let sha = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
            match self.by_sha.get(&sha) {
                Some(kind) if self.loaded.contains(&sha) => *kind,
                _ => {
                    return Err(Reply::Error(
                        "NOSCRIPT No matching script. Please use EVAL.".to_owned(),
                    ));
                }
            }
        } else {
            let kind = Self::by_body(&a[0])?;
            // Redis caches every script it evaluates.
            self.loaded.insert(kind.sha1_hex());
            kind
        };
        let key_count = args::int(&a[1])?;
        let key_count = usize::try_from(key_count)
            .map_err(|_| Reply::err("Number of keys can't be negative"))?;
        let rest = &a[2..];
        if key_count > rest.len() {
            return Err(Reply::err(
                "Number of keys can't be greater than number of args",
            ));
        }
        let (keys, argv) = rest.split_at(key_count);
        run(kind, ks, now, now_ms, keys, argv)
    }
}

/// Runs a script's native equivalent.
fn run(
    kind: ScriptKind,
    ks: &mut Keyspace,
    now: Instant,
    now_ms: u64,
    keys: &[Vec<u8>],
    argv: &[Vec<u8>],
) -> Outcome {
    let (keys_len, argv_len) = match kind {
        ScriptKind::GrantShard => (1, 4),
        // The change stream is optional: a third key and two more arguments.
        ScriptKind::FencedWrite if keys.len() == 3 => (3, 8),
        ScriptKind::FencedWrite => (2, 6),
        ScriptKind::LeaderAcquire | ScriptKind::LeaderRenew => (2, 3),
        ScriptKind::LeaderRelease => (2, 2),
        ScriptKind::LeaderRead => (2, 0),
        // The fenced command's own arguments follow the first three.
        ScriptKind::LeaderFenced => (3, argv.len().max(3)),
    };
    if keys.len() != keys_len || argv.len() != argv_len {
        return Err(script_error(
            kind,
            &format!(
                "expects {keys_len} keys and {argv_len} arguments, got {} and {}",
                keys.len(),
                argv.len()
            ),
        ));
    }
    match kind {
        ScriptKind::GrantShard => grant_shard(ks, keys, argv),
        ScriptKind::FencedWrite => fenced_write(ks, now, now_ms, keys, argv),
        ScriptKind::LeaderAcquire => leader_acquire(ks, now, keys, argv),
        ScriptKind::LeaderRenew => leader_renew(ks, now, keys, argv),
        ScriptKind::LeaderRelease => leader_check_then(ks, keys, argv, |ks| {
            Ok(Reply::Int(i64::from(ks.remove(&keys[0]))))
        }),
        ScriptKind::LeaderRead => leader_read(ks, now, keys),
        ScriptKind::LeaderFenced => leader_fenced(ks, now, now_ms, keys, argv),
    }
}

/// An error as Redis reports a failing script.
fn script_error(kind: ScriptKind, message: &str) -> Reply {
    Reply::err(format!(
        "Error running script {} (switchyard redis_sim): {message}",
        kind.name()
    ))
}

/// A stored lease's epoch and owner, as the scripts read them with `cjson.decode`.
struct StoredLease {
    epoch: u64,
    owner: Option<String>,
}

fn stored_lease(kind: ScriptKind, stored: &[u8]) -> Result<StoredLease, Reply> {
    let json: serde_json::Value = serde_json::from_slice(stored)
        .map_err(|e| script_error(kind, &format!("cjson.decode: {e}")))?;
    let epoch = json
        .get("epoch")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| script_error(kind, "the stored lease has no numeric epoch"))?;
    let owner = json
        .get("owner")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    Ok(StoredLease { epoch, owner })
}

/// `tonumber(ARGV[i])` for the unsigned integers the adapter sends.
fn number(kind: ScriptKind, arg: &[u8]) -> Result<u64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| script_error(kind, "attempt to compare a non-number"))
}

fn owned_by(lease: &StoredLease, owner: &[u8]) -> bool {
    lease.owner.as_deref().map(str::as_bytes) == Some(owner)
}

fn hget(ks: &Keyspace, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    Ok(ks.get_hash(key)?.and_then(|h| h.get(field)).cloned())
}

fn grant_shard(ks: &mut Keyspace, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Outcome {
    let kind = ScriptKind::GrantShard;
    if let Some(stored) = hget(ks, &keys[0], &argv[0])? {
        let lease = stored_lease(kind, &stored)?;
        let epoch = number(kind, &argv[2])?;
        if epoch <= lease.epoch {
            let code = if epoch == lease.epoch && owned_by(&lease, &argv[1]) {
                1
            } else {
                0
            };
            return Ok(Reply::Array(vec![Reply::Int(code), Reply::Bulk(stored)]));
        }
    }
    commands::hset(ks, &[keys[0].clone(), argv[0].clone(), argv[3].clone()])?;
    Ok(Reply::Array(vec![
        Reply::Int(2),
        Reply::Bulk(argv[3].clone()),
    ]))
}

fn fenced_write(
    ks: &mut Keyspace,
    now: Instant,
    now_ms: u64,
    keys: &[Vec<u8>],
    argv: &[Vec<u8>],
) -> Outcome {
    let kind = ScriptKind::FencedWrite;
    if let Some(stored) = hget(ks, &keys[0], &argv[0])? {
        let lease = stored_lease(kind, &stored)?;
        let epoch = number(kind, &argv[2])?;
        if epoch < lease.epoch || (epoch == lease.epoch && !owned_by(&lease, &argv[1])) {
            return Ok(Reply::Array(vec![Reply::Int(0), Reply::Bulk(stored)]));
        }
    }
    let target = keys[1].clone();
    let op = argv[3].as_slice();
    match op {
        b"hset" => commands::hset(ks, &[target, argv[4].clone(), argv[5].clone()])?,
        b"set" => commands::set(
            ks,
            now,
            &[target, argv[5].clone(), b"PX".to_vec(), argv[4].clone()],
        )?,
        b"del" => Reply::Int(i64::from(ks.remove(&target))),
        _ => {
            return Err(Reply::err(format!(
                "unknown fenced write op {}",
                String::from_utf8_lossy(op)
            )));
        }
    };
    if let [_, _, stream] = keys {
        let xadd = [
            stream.clone(),
            b"MAXLEN".to_vec(),
            b"~".to_vec(),
            argv[6].clone(),
            b"*".to_vec(),
            b"guild".to_vec(),
            argv[7].clone(),
        ];
        if let Some(Reply::Error(error)) = commands::run(ks, now, now_ms, "XADD", &xadd) {
            return Err(script_error(ScriptKind::FencedWrite, &error));
        }
    }
    Ok(Reply::Array(vec![Reply::Int(1)]))
}

/// The token counter as `tonumber(GET counter or '0')`.
fn token_of(ks: &Keyspace, kind: ScriptKind, key: &[u8]) -> Result<u64, Reply> {
    match ks.get_string(key)? {
        None => Ok(0),
        Some(bytes) => number(kind, bytes),
    }
}

fn leader_acquire(ks: &mut Keyspace, now: Instant, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Outcome {
    let kind = ScriptKind::LeaderAcquire;
    if let Some(holder) = ks.get_string(&keys[0])?.map(<[u8]>::to_vec) {
        let token = token_of(ks, kind, &keys[1])?;
        return Ok(Reply::Array(vec![
            Reply::Int(0),
            Reply::Bulk(holder),
            Reply::Int(to_i64(token)),
            Reply::Int(ks.pttl_ms(&keys[0], now)),
        ]));
    }
    let floor = number(kind, &argv[2])?;
    if token_of(ks, kind, &keys[1])? < floor {
        ks.set_string(&keys[1], argv[2].clone(), None);
    }
    let token = commands::incr(ks, &keys[1])?;
    commands::set(
        ks,
        now,
        &[
            keys[0].clone(),
            argv[0].clone(),
            b"PX".to_vec(),
            argv[1].clone(),
        ],
    )?;
    let ttl_ms = number(kind, &argv[1])?;
    Ok(Reply::Array(vec![
        Reply::Int(1),
        Reply::Bulk(argv[0].clone()),
        token,
        Reply::Int(to_i64(ttl_ms)),
    ]))
}

/// Extends the lease for its holder, or takes a lapsed one back when no higher token was
/// handed out since.
fn leader_renew(ks: &mut Keyspace, now: Instant, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> Outcome {
    let kind = ScriptKind::LeaderRenew;
    let holder = ks.get_string(&keys[0])?.map(<[u8]>::to_vec);
    let newest = token_of(ks, kind, &keys[1])?;
    let token = number(kind, &argv[1])?;
    let mine = holder.as_deref() == Some(argv[0].as_slice());
    if mine && newest == token {
        return commands::pexpire(ks, now, &[keys[0].clone(), argv[2].clone()]);
    }
    if holder.is_none() && newest <= token {
        ks.set_string(&keys[1], argv[1].clone(), None);
        commands::set(
            ks,
            now,
            &[
                keys[0].clone(),
                argv[0].clone(),
                b"PX".to_vec(),
                argv[2].clone(),
            ],
        )?;
        return Ok(Reply::Int(1));
    }
    Ok(Reply::Int(0))
}

/// A controller write, made only while the writer's token is the newest and nobody else
/// holds the lease.
fn leader_fenced(
    ks: &mut Keyspace,
    now: Instant,
    now_ms: u64,
    keys: &[Vec<u8>],
    argv: &[Vec<u8>],
) -> Outcome {
    let kind = ScriptKind::LeaderFenced;
    let holder = ks.get_string(&keys[0])?.map(<[u8]>::to_vec);
    let newest = token_of(ks, kind, &keys[1])?;
    let held_by_other = holder.as_deref().is_some_and(|h| h != argv[0].as_slice());
    if newest > number(kind, &argv[1])? || held_by_other {
        return Ok(Reply::Array(vec![
            Reply::Int(0),
            Reply::Bulk(holder.unwrap_or_default()),
            Reply::Int(to_i64(newest)),
        ]));
    }
    let op = String::from_utf8_lossy(&argv[2]).into_owned();
    if op == "GRANT" {
        if argv.len() != 7 {
            return Err(script_error(kind, "GRANT takes shard, owner, epoch, lease"));
        }
        let Reply::Array(granted) = grant_shard(ks, &keys[2..], &argv[3..])? else {
            return Err(script_error(kind, "grant_shard answers an array"));
        };
        return Ok(Reply::Array(
            std::iter::once(Reply::Int(1)).chain(granted).collect(),
        ));
    }
    if !matches!(op.as_str(), "SET" | "HSET" | "HDEL" | "DEL" | "XADD") {
        return Err(Reply::err(format!("leader_fenced: op not allowed: {op}")));
    }
    let mut command = vec![keys[2].clone()];
    command.extend_from_slice(&argv[3..]);
    match commands::run(ks, now, now_ms, &op, &command) {
        Some(Reply::Error(error)) => Err(script_error(kind, &error)),
        Some(Reply::Simple(status)) => Ok(Reply::Array(vec![Reply::Int(1), Reply::text(status)])),
        Some(reply) => Ok(Reply::Array(vec![Reply::Int(1), reply])),
        None => Err(script_error(kind, &format!("unknown command {op}"))),
    }
}

/// Release: act only if `GET leader == holder and GET counter == token`.
fn leader_check_then(
    ks: &mut Keyspace,
    keys: &[Vec<u8>],
    argv: &[Vec<u8>],
    act: impl FnOnce(&mut Keyspace) -> Outcome,
) -> Outcome {
    let holds = ks.get_string(&keys[0])? == Some(argv[0].as_slice())
        && ks.get_string(&keys[1])? == Some(argv[1].as_slice());
    if holds { act(ks) } else { Ok(Reply::Int(0)) }
}

fn leader_read(ks: &Keyspace, now: Instant, keys: &[Vec<u8>]) -> Outcome {
    let Some(holder) = ks.get_string(&keys[0])? else {
        // Lua `false` becomes a nil reply.
        return Ok(Reply::Nil);
    };
    let token = token_of(ks, ScriptKind::LeaderRead, &keys[1])?;
    Ok(Reply::Array(vec![
        Reply::Bulk(holder.to_vec()),
        Reply::Int(to_i64(token)),
        Reply::Int(ks.pttl_ms(&keys[0], now)),
    ]))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
