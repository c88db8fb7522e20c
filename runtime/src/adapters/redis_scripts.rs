//! The Lua scripts behind the store's atomic compare-and-set operations.
//!
//! Each script's argument layout and reply shape are part of a contract with the
//! simulated Redis in `switchyard-sim`, which recognises every script here by its SHA1
//! and runs a native equivalent: change a script and its emulation together (the store
//! contract tests, run against both a real `redis-server` and the simulation, catch a
//! mismatch).
//!
//! Scripts decode the lease JSON with `cjson` (built into Redis) and compare epochs as
//! Lua numbers, exact below 2^53; the adapter refuses larger epochs and tokens.

/// The largest epoch or token the scripts compare exactly (Lua numbers are doubles).
pub const EXACT_NUMBER_MAX: u64 = 1 << 53;

/// One of the adapter's scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScriptKind {
    /// Grants a shard lease only to a higher epoch.
    ///
    /// KEYS: `[shards hash]`. ARGV: `[shard, owner, epoch, lease json]`.
    /// Reply: `[code, lease json]` with code 2 granted (the new lease), 1 the same owner
    /// already holds the same epoch, 0 rejected (the standing lease).
    GrantShard,
    /// A bot's write, applied only if the bot is not fenced for the shard.
    ///
    /// KEYS: `[shards hash, target key, change stream?]`. ARGV: `[shard, owner, epoch,
    /// op, arg, value, stream length cap?, guild?]` where op is `hset` (HSET target arg
    /// value), `set` (SET target value PX arg) or `del` (DEL target). With the optional
    /// third key, a write that lands also appends `guild <guild>` to that stream (capped
    /// at about the given length), in the same atomic step: a reader following the
    /// stream misses no write. Fenced when a lease is stored and its epoch is higher, or
    /// equal with another owner. Reply: `[1]` written, `[0, lease json]` fenced.
    FencedWrite,
    /// Takes the leader lease with a fresh fencing token if nobody holds it.
    ///
    /// KEYS: `[leader, token counter]`. ARGV: `[holder, ttl ms, token floor]`.
    /// Reply: `[1, holder, token, ttl ms]` acquired, `[0, holder, token, pttl]` held;
    /// tokens are integers (Lua numbers, exact below 2^53; `tostring` would print
    /// large ones in exponent notation).
    LeaderAcquire,
    /// Extends the leader lease if the caller still holds it with its token, or takes it
    /// back (restoring the counter to the caller's token) when nobody holds it and no
    /// higher token was handed out: after a lapse or a store that lost its data, nobody
    /// else can have acted in between.
    ///
    /// KEYS: `[leader, token counter]`. ARGV: `[holder, token, ttl ms]`. Reply: 1 or 0.
    LeaderRenew,
    /// Deletes the leader lease if the caller still holds it with its token.
    ///
    /// KEYS: `[leader, token counter]`. ARGV: `[holder, token]`. Reply: 1 or 0.
    LeaderRelease,
    /// Reads the leader lease atomically.
    ///
    /// KEYS: `[leader, token counter]`. Reply: nil, or `[holder, token, pttl]` (integer
    /// token).
    LeaderRead,
    /// A controller write made only while the writer's token is the newest and no other
    /// controller holds the lease (a lapsed lease nobody took admits it).
    ///
    /// KEYS: `[leader, token counter, target]`. ARGV: `[holder, token, op, args...]`
    /// where op is one of `SET`, `HSET`, `HDEL`, `DEL`, `XADD` (run as
    /// `op target args...`) or `GRANT` (args `shard, owner, epoch, lease json`, the
    /// [`ScriptKind::GrantShard`] logic on the target hash). Reply: `[0, holder or '',
    /// newest token]` refused; `[1, reply]` written (`SET`'s status as the string `OK`);
    /// for `GRANT`, `[1, code, lease json]` with `GrantShard`'s codes.
    LeaderFenced,
}

impl ScriptKind {
    /// Every script, in a fixed order.
    pub const ALL: [ScriptKind; 7] = [
        ScriptKind::GrantShard,
        ScriptKind::FencedWrite,
        ScriptKind::LeaderAcquire,
        ScriptKind::LeaderRenew,
        ScriptKind::LeaderRelease,
        ScriptKind::LeaderRead,
        ScriptKind::LeaderFenced,
    ];

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ScriptKind::GrantShard => "grant_shard",
            ScriptKind::FencedWrite => "fenced_write",
            ScriptKind::LeaderAcquire => "leader_acquire",
            ScriptKind::LeaderRenew => "leader_renew",
            ScriptKind::LeaderRelease => "leader_release",
            ScriptKind::LeaderRead => "leader_read",
            ScriptKind::LeaderFenced => "leader_fenced",
        }
    }

    /// The Lua source.
    pub fn body(self) -> &'static str {
        match self {
            ScriptKind::GrantShard => GRANT_SHARD,
            ScriptKind::FencedWrite => FENCED_WRITE,
            ScriptKind::LeaderAcquire => LEADER_ACQUIRE,
            ScriptKind::LeaderRenew => LEADER_RENEW,
            ScriptKind::LeaderRelease => LEADER_RELEASE,
            ScriptKind::LeaderRead => LEADER_READ,
            ScriptKind::LeaderFenced => LEADER_FENCED,
        }
    }

    /// The SHA1 Redis knows the script by (lower-case hex), as `EVALSHA` sends it.
    pub fn sha1_hex(self) -> String {
        redis::Script::new(self.body()).get_hash().to_owned()
    }

    /// A prepared redis-rs script (it hashes the body once).
    pub fn script(self) -> redis::Script {
        redis::Script::new(self.body())
    }
}

const GRANT_SHARD: &str = r#"
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local lease = cjson.decode(stored)
  local epoch = tonumber(ARGV[3])
  local held = tonumber(lease['epoch'])
  if epoch <= held then
    if epoch == held and lease['owner'] == ARGV[2] then
      return {1, stored}
    end
    return {0, stored}
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return {2, ARGV[4]}
"#;

const FENCED_WRITE: &str = r#"
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local lease = cjson.decode(stored)
  local epoch = tonumber(ARGV[3])
  local held = tonumber(lease['epoch'])
  if epoch < held or (epoch == held and lease['owner'] ~= ARGV[2]) then
    return {0, stored}
  end
end
if ARGV[4] == 'hset' then
  redis.call('HSET', KEYS[2], ARGV[5], ARGV[6])
elseif ARGV[4] == 'set' then
  redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[5])
elseif ARGV[4] == 'del' then
  redis.call('DEL', KEYS[2])
else
  return redis.error_reply('unknown fenced write op ' .. ARGV[4])
end
if KEYS[3] then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'guild', ARGV[8])
end
return {1}
"#;

const LEADER_ACQUIRE: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder then
  return {0, holder, tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('PTTL', KEYS[1])}
end
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1], token, tonumber(ARGV[2])}
"#;

const LEADER_RENEW: &str = r#"
local holder = redis.call('GET', KEYS[1])
local newest = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = tonumber(ARGV[2])
if holder == ARGV[1] and newest == token then
  return redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if not holder and newest <= token then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
"#;

const LEADER_RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

const LEADER_READ: &str = r#"
local holder = redis.call('GET', KEYS[1])
if not holder then
  return false
end
return {holder, tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('PTTL', KEYS[1])}
"#;

const LEADER_FENCED: &str = r#"
local holder = redis.call('GET', KEYS[1])
local newest = tonumber(redis.call('GET', KEYS[2]) or '0')
if newest > tonumber(ARGV[2]) or (holder and holder ~= ARGV[1]) then
  return {0, holder or '', newest}
end
local op = ARGV[3]
if op == 'GRANT' then
  local stored = redis.call('HGET', KEYS[3], ARGV[4])
  if stored then
    local lease = cjson.decode(stored)
    local epoch = tonumber(ARGV[6])
    local held = tonumber(lease['epoch'])
    if epoch <= held then
      if epoch == held and lease['owner'] == ARGV[5] then
        return {1, 1, stored}
      end
      return {1, 0, stored}
    end
  end
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[7])
  return {1, 2, ARGV[7]}
end
if op ~= 'SET' and op ~= 'HSET' and op ~= 'HDEL' and op ~= 'DEL' and op ~= 'XADD' then
  return redis.error_reply('leader_fenced: op not allowed: ' .. op)
end
local reply = redis.call(op, KEYS[3], unpack(ARGV, 4))
if type(reply) == 'table' and reply['ok'] then
  reply = reply['ok']
end
return {1, reply}
"#;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_script_has_a_distinct_sha1() {
        let hashes: BTreeSet<String> = ScriptKind::ALL.iter().map(|s| s.sha1_hex()).collect();
        assert_eq!(hashes.len(), ScriptKind::ALL.len());
        for hash in hashes {
            assert_eq!(hash.len(), 40);
        }
    }
}
