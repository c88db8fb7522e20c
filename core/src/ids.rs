//! Names of the things the core reasons about.
//!
//! Names that operators type (nodes, regions, plans, bot processes) are cheap-to-clone
//! shared strings, so commands can carry them without copying; Discord ids are integers.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a name.
            pub fn new(name: impl AsRef<str>) -> Self {
                Self(Arc::from(name.as_ref()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self::new(name)
            }
        }
    };
}

name_type!(
    /// A Lavalink node's name, unique in the topology (`us-1`).
    NodeId
);
name_type!(
    /// A region's name (`us`, `eu`, `apac`).
    RegionId
);
name_type!(
    /// A plan (tier) name (`free`, `growth`, `enterprise`).
    PlanId
);
name_type!(
    /// A bot process that owns shards or stands by as a hot spare.
    ProcessId
);

/// A Discord guild (server) id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GuildId(pub u64);

impl GuildId {
    /// The gateway shard this guild belongs to: Discord's `(guild_id >> 22) % num_shards`.
    pub fn shard(self, shard_count: u32) -> ShardId {
        assert!(shard_count > 0, "shard count is validated to be positive");
        let shard = (self.0 >> 22) % u64::from(shard_count);
        // The remainder is below `shard_count`, itself a u32.
        ShardId(u32::try_from(shard).expect("remainder of a u32 modulus fits in u32"))
    }
}

impl fmt::Display for GuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Discord gateway shard number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShardId(pub u32);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Identifies one player move the core ordered, so its outcome can be reported back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MoveId(pub u64);

/// Identifies one failover incident in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guild_shard_follows_discord_formula() {
        // 41771983423143937 is the example snowflake from Discord's docs.
        let guild = GuildId(41_771_983_423_143_937);
        assert_eq!(guild.shard(1), ShardId(0));
        assert_eq!(
            guild.shard(16),
            ShardId(((41_771_983_423_143_937u64 >> 22) % 16) as u32)
        );
    }

    #[test]
    fn names_print_plainly() {
        assert_eq!(NodeId::new("us-1").to_string(), "us-1");
        assert_eq!(format!("{:?}", RegionId::new("eu")), "\"eu\"");
    }
}
