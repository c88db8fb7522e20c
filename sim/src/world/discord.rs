//! The model of Discord voice the oracle relies on.
//!
//! Discord carries audio from a node only while the node is running and can reach
//! Discord's voice servers (`"discord"` in a scenario's partitions; not a simulated host,
//! since nothing is sent to it). A bot has one voice connection per guild:
//! when a second node connects with the guild's voice session, the newest connection
//! wins and Discord closes the older one (close code 4006, session no longer valid), which
//! the older node reports to its client as a `WebSocketClosedEvent`. A player left behind
//! on another node is therefore silent, but it still exists and must be cleaned up.

use std::cmp::Reverse;

use switchyard_core::ids::{GuildId, NodeId};

use crate::emulator::PlayerTruth;

/// Discord's close code for a voice session that another connection replaced.
pub const SUPERSEDED_CLOSE_CODE: u16 = 4006;
/// Its reason text.
pub const SUPERSEDED_REASON: &str = "Session is no longer valid.";

/// The voice connections Discord drops because a newer one exists for the same guild:
/// `(node, guild)` for every connected player but the most recently connected one
/// (ties go to the node whose name sorts first, so the choice is deterministic), by
/// guild. `players` are the running nodes' players.
pub fn superseded_connections(players: &[(&NodeId, PlayerTruth)]) -> Vec<(NodeId, GuildId)> {
    let mut connections: Vec<(GuildId, Reverse<u64>, &NodeId)> = players
        .iter()
        .filter_map(|(node, player)| {
            let at_ms = player.voice_connected_at_ms?;
            Some((GuildId(player.guild_id), Reverse(at_ms), *node))
        })
        .collect();
    // By guild, then newest first, then by name: in each guild all but the first lose.
    // Stable, because the sort finds the runs of a list already ordered by guild, as the
    // world's is, and merely checks them.
    connections.sort();
    connections
        .chunk_by(|a, b| a.0 == b.0)
        .flat_map(|found| &found[1..])
        .map(|(guild, _, node)| ((*node).clone(), *guild))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(guild_id: u64, at_ms: Option<u64>) -> PlayerTruth {
        PlayerTruth {
            guild_id,
            has_track: true,
            audible: at_ms.is_some(),
            voice_connected: at_ms.is_some(),
            voice_connected_at_ms: at_ms,
        }
    }

    #[test]
    fn the_newest_connection_of_a_guild_wins_and_ties_go_to_the_first_name() {
        let (us1, us2, eu1) = (
            NodeId::new("us-1"),
            NodeId::new("us-2"),
            NodeId::new("eu-1"),
        );
        let players = [
            (&us1, connected(7, Some(100))),
            (&us1, connected(8, Some(500))),
            (&us1, connected(9, None)),
            (&us2, connected(7, Some(300))),
            (&us2, connected(8, Some(500))),
            (&us2, connected(9, Some(50))),
            (&eu1, connected(7, Some(200))),
        ];
        let superseded = superseded_connections(&players);
        assert_eq!(
            superseded,
            [
                (eu1.clone(), GuildId(7)),
                (us1.clone(), GuildId(7)),
                (us2.clone(), GuildId(8)),
            ]
        );
    }
}
