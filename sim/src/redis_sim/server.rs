//! The server: shared state, the per-connection loop, and the connection-level commands
//! redis-rs sends on connect (`HELLO`, `CLIENT SETINFO`, `SELECT`, `AUTH`, `PING`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::args::{self, Outcome, arity, is};
use super::commands;
use super::keyspace::Keyspace;
use super::resp::{FrameError, Reply, parse_request};
use super::scripts::Scripts;

/// Databases `SELECT` accepts (Redis's default `databases 16`).
const DATABASES: i64 = 16;
/// Bytes read per `read` call.
const READ_CHUNK: usize = 16 * 1024;

/// Everything a server instance holds; lost when the instance is dropped.
#[derive(Debug)]
struct State {
    dbs: BTreeMap<i64, Keyspace>,
    scripts: Scripts,
    /// Zero of the stream id clock: ids are milliseconds since the server started, on
    /// `tokio::time`, so they are deterministic under turmoil.
    started_at: Instant,
    next_client_id: i64,
}

/// A simulated Redis server. Clones share one keyspace; a new [`RedisSim`] is an empty
/// server, as a real `redis-server --save '' --appendonly no` is after a restart.
#[derive(Debug, Clone)]
pub struct RedisSim {
    state: Arc<Mutex<State>>,
}

impl Default for RedisSim {
    fn default() -> Self {
        Self::new()
    }
}

/// Per-connection settings.
#[derive(Debug)]
struct Session {
    id: i64,
    protocol: u8,
    db: i64,
}

/// What a command asks of the connection.
struct Executed {
    reply: Reply,
    close: bool,
}

impl RedisSim {
    /// An empty server; its stream id clock starts now.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                dbs: BTreeMap::new(),
                scripts: Scripts::default(),
                started_at: Instant::now(),
                next_client_id: 1,
            })),
        }
    }

    /// Live keys in database `db` (for tests and the simulation's oracle).
    pub fn key_count(&self, db: i64) -> usize {
        let mut state = self.lock();
        let now = Instant::now();
        state.dbs.get_mut(&db).map_or(0, |ks| {
            ks.purge_expired(now);
            ks.len()
        })
    }

    /// Serves connections from `listener` until this future is dropped, which closes
    /// every connection at once: that is how a test or a crashed turmoil host kills the
    /// server.
    pub async fn serve<L: Listener>(self, mut listener: L) {
        let mut connections = JoinSet::new();
        loop {
            let (io, _peer) = listener.accept().await;
            // Reap finished connections so the set stays as large as the live ones.
            while connections.try_join_next().is_some() {}
            connections.spawn(self.clone().handle_connection(io));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic inside a command is a bug already reported; the state is still
        // consistent per command, so keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handle_connection<S>(self, mut io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut session = {
            let mut state = self.lock();
            state.next_client_id += 1;
            Session {
                id: state.next_client_id - 1,
                protocol: 2,
                db: 0,
            }
        };
        let mut input = Vec::with_capacity(READ_CHUNK);
        let mut output = Vec::new();
        loop {
            let (used, close) = self.answer_buffered(&mut session, &input, &mut output);
            input.drain(..used);
            if !output.is_empty() {
                if io.write_all(&output).await.is_err() {
                    return;
                }
                output.clear();
            }
            if close {
                let _ = io.shutdown().await;
                return;
            }
            match io.read_buf(&mut input).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Answers every complete request in `input`; returns the bytes used and whether to
    /// close the connection.
    fn answer_buffered(
        &self,
        session: &mut Session,
        input: &[u8],
        output: &mut Vec<u8>,
    ) -> (usize, bool) {
        let mut used = 0;
        loop {
            match parse_request(&input[used..]) {
                Ok(None) => return (used, false),
                Ok(Some((args, len))) => {
                    used += len;
                    if args.is_empty() {
                        continue;
                    }
                    let executed = self.execute(session, &args);
                    executed.reply.encode(session.protocol, output);
                    if executed.close {
                        return (used, true);
                    }
                }
                Err(error @ (FrameError::Protocol(_) | FrameError::TooLong)) => {
                    Reply::err(error.to_string()).encode(session.protocol, output);
                    return (used, true);
                }
            }
        }
    }

    fn execute(&self, session: &mut Session, argv: &[Vec<u8>]) -> Executed {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
        let a = &argv[1..];
        let reply = |reply: Outcome| Executed {
            reply: reply.unwrap_or_else(|error| error),
            close: false,
        };
        match name.as_str() {
            "PING" => return reply(ping(a)),
            "HELLO" => return reply(hello(session, a)),
            "CLIENT" => return reply(client(session, a)),
            "SELECT" => return reply(select(session, a)),
            // No ACLs in the simulation: any credentials are accepted.
            "AUTH" => return reply(Ok(Reply::ok())),
            "QUIT" => {
                return Executed {
                    reply: Reply::ok(),
                    close: true,
                };
            }
            _ => {}
        }
        let now = Instant::now();
        let mut state = self.lock();
        let now_ms =
            u64::try_from(now.duration_since(state.started_at).as_millis()).unwrap_or(u64::MAX);
        let State { dbs, scripts, .. } = &mut *state;
        let ks = dbs.entry(session.db).or_default();
        // Time stands still within a command (and a script), as in Redis.
        ks.purge_expired(now);
        let outcome = match name.as_str() {
            "EVAL" => scripts.eval(ks, now, now_ms, false, a),
            "EVALSHA" => scripts.eval(ks, now, now_ms, true, a),
            "SCRIPT" => scripts.script_command(a),
            _ => match commands::run(ks, now, now_ms, &name, a) {
                Some(reply) => Ok(reply),
                None => Err(unknown_command(&name, a)),
            },
        };
        reply(outcome)
    }
}

fn unknown_command(name: &str, a: &[Vec<u8>]) -> Reply {
    let shown: Vec<String> = a
        .iter()
        .take(3)
        .map(|arg| format!("'{}'", String::from_utf8_lossy(arg)))
        .collect();
    Reply::err(format!(
        "unknown command '{name}', with args beginning with: {} (switchyard redis_sim \
         implements only what RedisStore sends)",
        shown.join(" ")
    ))
}

fn ping(a: &[Vec<u8>]) -> Outcome {
    match a {
        [] => Ok(Reply::Simple("PONG".to_owned())),
        [message] => Ok(Reply::Bulk(message.clone())),
        _ => Err(arity("PING")),
    }
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`; the reply is already in the new
/// protocol.
fn hello(session: &mut Session, a: &[Vec<u8>]) -> Outcome {
    if let Some(version) = a.first() {
        match args::int(version) {
            Ok(2) => session.protocol = 2,
            Ok(3) => session.protocol = 3,
            Ok(_) => {
                return Err(Reply::Error(
                    "NOPROTO unsupported protocol version".to_owned(),
                ));
            }
            Err(_) => {
                return Err(Reply::err(
                    "Protocol version is not an integer or out of range",
                ));
            }
        }
        let mut options = a[1..].iter();
        while let Some(option) = options.next() {
            let taken = if is(option, "AUTH") {
                2
            } else if is(option, "SETNAME") {
                1
            } else {
                0
            };
            if taken == 0 || options.by_ref().take(taken).count() != taken {
                return Err(args::syntax());
            }
        }
    }
    let field = |name: &str, value: Reply| (Reply::text(name), value);
    Ok(Reply::Map(vec![
        field("server", Reply::text("redis")),
        field("version", Reply::text("7.0.15")),
        field("proto", Reply::Int(i64::from(session.protocol))),
        field("id", Reply::Int(session.id)),
        field("mode", Reply::text("standalone")),
        field("role", Reply::text("master")),
        field("modules", Reply::Array(Vec::new())),
    ]))
}

/// `CLIENT SETINFO | SETNAME | ID`.
fn client(session: &Session, a: &[Vec<u8>]) -> Outcome {
    let Some(sub) = a.first() else {
        return Err(arity("CLIENT"));
    };
    if is(sub, "SETINFO") {
        args::exactly("CLIENT|SETINFO", &a[1..], 2)?;
        Ok(Reply::ok())
    } else if is(sub, "SETNAME") {
        args::exactly("CLIENT|SETNAME", &a[1..], 1)?;
        Ok(Reply::ok())
    } else if is(sub, "ID") {
        Ok(Reply::Int(session.id))
    } else {
        Err(Reply::err(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(sub)
        )))
    }
}

fn select(session: &mut Session, a: &[Vec<u8>]) -> Outcome {
    args::exactly("SELECT", a, 1)?;
    let db = args::int(&a[0])?;
    if !(0..DATABASES).contains(&db) {
        return Err(Reply::err("DB index is out of range"));
    }
    session.db = db;
    Ok(Reply::ok())
}
