//! What a bot process is told at start: who it is, which nodes exist, where the
//! controller answers, which shards it owns or whether it stands by as a hot spare, and
//! how often it does each periodic chore.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use switchyard_core::ids::{NodeId, ProcessId, RegionId, ShardId};
use thiserror::Error;

/// One Lavalink node the bot holds a session on.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// The node's name, as the controller's topology spells it.
    pub name: NodeId,
    /// Host to dial (REST and websocket).
    pub host: String,
    /// Port to dial.
    pub port: u16,
    /// The node's password (sent only in the `Authorization` header).
    pub password: String,
}

impl NodeConfig {
    /// A node at `host:port`.
    pub fn new(
        name: impl Into<NodeId>,
        host: impl Into<String>,
        port: u16,
        password: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            port,
            password: password.into(),
        }
    }

    /// The REST base URL (`http://host:port`).
    pub fn base_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A process that stands by to take over silent shards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpareConfig {
    /// The region it prefers to serve, if any (the controller promotes same-region
    /// spares first).
    pub region: Option<RegionId>,
}

/// How often the bot does each periodic chore, and how long it waits for answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotTiming {
    /// Failed player creations, due placement requests and deletions of left-behind
    /// players are retried this often.
    pub retry_interval: Duration,
    /// Every snapshot is rewritten this often even when nothing changed (a change is
    /// written at once): it keeps snapshots well inside `snapshot_ttl` and bounds how
    /// long a position drift the bot did not notice can last.
    pub snapshot_refresh_interval: Duration,
    /// A snapshot lapses this long after its last write; longer than any outage the
    /// controller must bridge from it (a lost player's snapshot is kept alive too).
    pub snapshot_ttl: Duration,
    /// Each owned shard heartbeats this often.
    pub heartbeat_interval: Duration,
    /// The bot stops acting for a shard when no heartbeat for it has been accepted for
    /// this long (counted from when the last accepted one was sent), and acts again only
    /// once one is. It must stay below the controller's `[controller.shards]
    /// stall_after_ms` with room for clock drift and the store's latency, so that a bot
    /// cut off from the store has stopped before a spare is promoted: see
    /// [`shard_lease_below`]. Longer than `heartbeat_interval`.
    pub shard_lease: Duration,
    /// `switchyard:moves` is read this often.
    pub moves_poll_interval: Duration,
    /// A spare reads the shard leases this often.
    pub lease_poll_interval: Duration,
    /// A spare that owns nothing re-registers this often, so a restarted or newly
    /// elected controller learns of it.
    pub spare_register_interval: Duration,
    /// A guild the controller answered "degraded" asks again this often.
    pub placement_retry_interval: Duration,
    /// First pause before reconnecting a node's websocket; doubles up to the maximum.
    pub reconnect_min: Duration,
    /// Longest pause between reconnection attempts.
    pub reconnect_max: Duration,
    /// How long the websocket handshake plus the `ready` message may take.
    pub ready_timeout: Duration,
    /// Timeout of one Lavalink REST call (a voice PATCH blocks for the handshake).
    pub lavalink_timeout: Duration,
    /// Timeout of one call to the controller's API.
    pub controller_timeout: Duration,
}

impl Default for BotTiming {
    fn default() -> Self {
        Self {
            retry_interval: Duration::from_secs(2),
            snapshot_refresh_interval: Duration::from_secs(30),
            snapshot_ttl: Duration::from_secs(120),
            heartbeat_interval: Duration::from_secs(2),
            // Two thirds of the controller's default `stall_after_ms` (15 s).
            shard_lease: Duration::from_secs(10),
            moves_poll_interval: Duration::from_millis(500),
            lease_poll_interval: Duration::from_secs(1),
            spare_register_interval: Duration::from_secs(10),
            placement_retry_interval: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(10),
            lavalink_timeout: Duration::from_secs(5),
            controller_timeout: Duration::from_secs(2),
        }
    }
}

/// Everything a bot process needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotConfig {
    /// The process's id (`switchyard:sessions:<process>`, lease owner names).
    pub process: ProcessId,
    /// The bot's Discord user id (`User-Id`).
    pub user_id: u64,
    /// Every Lavalink node; the bot opens a session on each.
    pub nodes: Vec<NodeConfig>,
    /// Base URL of the controller's HTTP API (`http://controller:8080`); with several
    /// controllers sharing the store, all their URLs, comma-separated (the bot asks the
    /// one that acts and follows a standby's `Switchyard-Leader` header).
    pub controller_url: String,
    /// Discord's shard count: guild -> shard is `(guild >> 22) % shard_count`.
    pub shard_count: u32,
    /// Shards this process owns at start.
    pub shards: Vec<ShardId>,
    /// The epoch an owner claims for a shard with no lease yet. A lease naming this
    /// process with a higher epoch (it adopted the shard before a restart) is taken up
    /// from the first refused heartbeat.
    pub initial_epoch: u64,
    /// Present when the process stands by as a hot spare.
    pub spare: Option<SpareConfig>,
    /// Wall-clock Unix milliseconds when the process starts. Positions and heartbeats
    /// are stamped with this plus tokio's elapsed time: production passes the system
    /// clock read once, the simulation its fixed epoch, so runs stay byte-identical.
    pub epoch_unix_ms: u64,
    /// Intervals and timeouts.
    pub timing: BotTiming,
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `shard_count` is zero.
    #[error("shard_count must be positive")]
    NoShards,
    /// An owned shard is not below `shard_count`.
    #[error("shard {shard} is out of range for shard_count {shard_count}")]
    ShardOutOfRange {
        /// The shard.
        shard: ShardId,
        /// The count.
        shard_count: u32,
    },
    /// No node was given.
    #[error("at least one node is required")]
    NoNodes,
    /// Two nodes share a name.
    #[error("node {0} is listed twice")]
    DuplicateNode(NodeId),
    /// A controller URL is not `http://` or `https://`.
    #[error("controller_url must list http:// or https:// URLs, got {0:?}")]
    ControllerUrl(String),
    /// An interval or timeout is zero.
    #[error("timing.{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// The reconnect backoff's bounds are reversed.
    #[error("timing.reconnect_min must not exceed timing.reconnect_max")]
    Backoff,
    /// The shard lease would run out between two heartbeats.
    #[error("timing.shard_lease must be longer than timing.heartbeat_interval")]
    ShardLease,
}

/// A shard lease safe against a controller that promotes a spare after `stall_after`
/// without heartbeats: three quarters of it. The quarter left over covers what makes
/// the controller's count start later or run faster than the bot's (clock drift
/// between hosts, the store's and the controller's polling latency, the bot's loop
/// noticing the deadline late), since the bot counts from when it sent its last
/// accepted heartbeat and the controller from when it read it. When heartbeats are so
/// sparse that three quarters would not outlast one interval, the lease is halfway
/// between `heartbeat_interval` and `stall_after` instead: one late heartbeat must not
/// stop a healthy shard.
pub fn shard_lease_below(stall_after: Duration, heartbeat_interval: Duration) -> Duration {
    let three_quarters = stall_after - stall_after / 4;
    let halfway = heartbeat_interval + stall_after.saturating_sub(heartbeat_interval) / 2;
    three_quarters.max(halfway)
}

impl BotConfig {
    /// A configuration with default timing, owning nothing and no spare role.
    pub fn new(
        process: impl Into<ProcessId>,
        user_id: u64,
        nodes: Vec<NodeConfig>,
        controller_url: impl Into<String>,
        shard_count: u32,
    ) -> Self {
        Self {
            process: process.into(),
            user_id,
            nodes,
            controller_url: controller_url.into(),
            shard_count,
            shards: Vec::new(),
            initial_epoch: 0,
            spare: None,
            epoch_unix_ms: 0,
            timing: BotTiming::default(),
        }
    }

    /// Checks what the bot relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.shard_count == 0 {
            return Err(ConfigError::NoShards);
        }
        if let Some(&shard) = self.shards.iter().find(|s| s.0 >= self.shard_count) {
            return Err(ConfigError::ShardOutOfRange {
                shard,
                shard_count: self.shard_count,
            });
        }
        if self.nodes.is_empty() {
            return Err(ConfigError::NoNodes);
        }
        let mut names = BTreeSet::new();
        for node in &self.nodes {
            if !names.insert(&node.name) {
                return Err(ConfigError::DuplicateNode(node.name.clone()));
            }
        }
        let urls = super::placement::controller_urls(&self.controller_url);
        let valid = |url: &String| url.starts_with("http://") || url.starts_with("https://");
        if urls.is_empty() || !urls.iter().all(valid) {
            return Err(ConfigError::ControllerUrl(self.controller_url.clone()));
        }
        self.timing.validate()
    }
}

impl BotTiming {
    fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("retry_interval", self.retry_interval),
            ("snapshot_refresh_interval", self.snapshot_refresh_interval),
            ("snapshot_ttl", self.snapshot_ttl),
            ("heartbeat_interval", self.heartbeat_interval),
            ("shard_lease", self.shard_lease),
            ("moves_poll_interval", self.moves_poll_interval),
            ("lease_poll_interval", self.lease_poll_interval),
            ("spare_register_interval", self.spare_register_interval),
            ("placement_retry_interval", self.placement_retry_interval),
            ("reconnect_min", self.reconnect_min),
            ("reconnect_max", self.reconnect_max),
            ("ready_timeout", self.ready_timeout),
            ("lavalink_timeout", self.lavalink_timeout),
            ("controller_timeout", self.controller_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        if self.reconnect_min > self.reconnect_max {
            return Err(ConfigError::Backoff);
        }
        if self.shard_lease <= self.heartbeat_interval {
            return Err(ConfigError::ShardLease);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BotConfig {
        BotConfig::new(
            "bot-0",
            1,
            vec![NodeConfig::new("eu-1", "127.0.0.1", 2333, "pw")],
            "http://127.0.0.1:8080",
            4,
        )
    }

    #[test]
    fn a_plain_config_is_valid() {
        assert_eq!(config().validate(), Ok(()));
    }

    #[test]
    fn rejects_what_cannot_run() {
        let mut out_of_range = config();
        out_of_range.shards = vec![ShardId(4)];
        assert!(matches!(
            out_of_range.validate(),
            Err(ConfigError::ShardOutOfRange { .. })
        ));
        let mut twice = config();
        twice.nodes.push(twice.nodes[0].clone());
        assert!(matches!(
            twice.validate(),
            Err(ConfigError::DuplicateNode(_))
        ));
        let mut url = config();
        url.controller_url = "controller:8080".into();
        assert!(matches!(url.validate(), Err(ConfigError::ControllerUrl(_))));
        let mut zero = config();
        zero.timing.heartbeat_interval = Duration::ZERO;
        assert_eq!(
            zero.validate(),
            Err(ConfigError::ZeroDuration("heartbeat_interval"))
        );
    }

    #[test]
    fn a_shard_lease_must_outlast_a_heartbeat_interval() {
        let mut short = config();
        short.timing.shard_lease = short.timing.heartbeat_interval;
        assert_eq!(short.validate(), Err(ConfigError::ShardLease));
        short.timing.shard_lease += Duration::from_millis(1);
        assert_eq!(short.validate(), Ok(()));
    }

    #[test]
    fn the_safe_lease_stays_below_the_stall_threshold() {
        let secs = Duration::from_secs;
        assert_eq!(shard_lease_below(secs(40), secs(2)), secs(30));
        assert_eq!(
            shard_lease_below(secs(5), secs(1)),
            Duration::from_millis(3_750)
        );
        // Sparse heartbeats: halfway between the interval and the threshold.
        assert_eq!(
            shard_lease_below(secs(5), secs(4)),
            Duration::from_millis(4_500)
        );
        for (stall_s, heartbeat_s) in [(15, 2), (10, 9), (2, 1), (60, 5)] {
            let lease = shard_lease_below(secs(stall_s), secs(heartbeat_s));
            assert!(
                lease > secs(heartbeat_s) && lease < secs(stall_s),
                "{lease:?}"
            );
        }
    }

    #[test]
    fn debug_never_prints_the_password() {
        let text = format!("{:?}", config());
        assert!(!text.contains("\"pw\""), "{text}");
    }
}
