//! The model of Discord voice the oracle relies on.
//!
//! Discord carries audio from a node only while the node is running and can reach
//! Discord's voice servers (the `discord` host). A bot has one voice connection per guild:
//! when a second node connects with the guild's voice session, the newest connection
//! wins and Discord closes the older one (close code 4006, session no longer valid), which
//! the older node reports to its client as a `WebSocketClosedEvent`. A player left behind
//! on another node is therefore silent, but it still exists and must be cleaned up.

use std::collections::BTreeMap;

use switchyard_core::ids::{GuildId, NodeId};

use crate::emulator::NodeSnapshot;

/// Discord's close code for a voice session that another connection replaced.
pub const SUPERSEDED_CLOSE_CODE: u16 = 4006;
/// Its reason text.
pub const SUPERSEDED_REASON: &str = "Session is no longer valid.";

/// The voice connections Discord drops because a newer one exists for the same guild:
/// `(node, guild)` for every connected player but the most recently connected one
/// (ties go to the node whose name sorts first, so the choice is deterministic).
pub fn superseded_connections(
    snapshots: &BTreeMap<NodeId, NodeSnapshot>,
) -> Vec<(NodeId, GuildId)> {
    let mut connections: BTreeMap<GuildId, Vec<(u64, &NodeId)>> = BTreeMap::new();
    for (node, snapshot) in snapshots {
        for (_, player) in snapshot.players() {
            if let Some(at_ms) = player.voice_connected_at_ms {
                connections
                    .entry(GuildId(player.guild_id))
                    .or_default()
                    .push((at_ms, node));
            }
        }
    }
    let mut superseded = Vec::new();
    for (guild, mut found) in connections {
        if found.len() < 2 {
            continue;
        }
        // Newest first; among equals the first name wins.
        found.sort_by(|(a_at, a_node), (b_at, b_node)| b_at.cmp(a_at).then(a_node.cmp(b_node)));
        superseded.extend(
            found
                .into_iter()
                .skip(1)
                .map(|(_, node)| (node.clone(), guild)),
        );
    }
    superseded
}
