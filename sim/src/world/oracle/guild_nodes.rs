//! Which nodes hold something for each guild, in one sample.

use switchyard_core::ids::{GuildId, NodeId};

/// `(guild, node)` pairs sorted by guild, each guild's nodes in the order they were
/// found. The world builds two of these every sample, for every player of every node: one
/// sorted list costs a single allocation, where a map of per-guild vectors cost one per
/// guild.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuildNodes(Vec<(GuildId, NodeId)>);

impl GuildNodes {
    /// From pairs in any order; a guild's nodes keep the order they had among the pairs.
    pub fn new(mut pairs: Vec<(GuildId, NodeId)>) -> Self {
        // Stable, so that a guild's nodes keep their order.
        pairs.sort_by_key(|(guild, _)| *guild);
        Self(pairs)
    }

    /// The nodes of `guild`, in the order they were found (empty when none).
    pub fn of(&self, guild: GuildId) -> impl Iterator<Item = &NodeId> + Clone {
        let start = self.0.partition_point(|(g, _)| *g < guild);
        self.0[start..]
            .iter()
            .take_while(move |(g, _)| *g == guild)
            .map(|(_, node)| node)
    }

    /// How many nodes `guild` has (counting a node twice if it was found twice).
    pub fn count(&self, guild: GuildId) -> usize {
        self.of(guild).count()
    }

    /// Every `(guild, node)` pair, by guild.
    pub fn iter(&self) -> impl Iterator<Item = (GuildId, &NodeId)> {
        self.0.iter().map(|(guild, node)| (*guild, node))
    }

    /// A reader for looking up guilds in increasing order, as the oracle does for every
    /// guild of every sample: each lookup walks on from the previous one, rather than
    /// searching the whole list again.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            pairs: &self.0,
            next: 0,
        }
    }
}

/// Looks up guilds in one pass over a [`GuildNodes`] (see [`GuildNodes::reader`]).
pub struct Reader<'a> {
    pairs: &'a [(GuildId, NodeId)],
    /// Where the previous lookup's guild ended.
    next: usize,
}

impl<'a> Reader<'a> {
    /// The nodes of `guild`, as [`GuildNodes::of`]. A guild below the previous one is
    /// searched for from the start, so any order gives the right answer.
    pub fn of(&mut self, guild: GuildId) -> impl Iterator<Item = &'a NodeId> + Clone + use<'a> {
        let behind = self
            .next
            .checked_sub(1)
            .is_some_and(|last| self.pairs[last].0 >= guild);
        let start = if behind {
            self.pairs.partition_point(|(g, _)| *g < guild)
        } else {
            let skipped = self.pairs[self.next..].iter();
            self.next + skipped.take_while(|(g, _)| *g < guild).count()
        };
        let found = self.pairs[start..]
            .iter()
            .take_while(|(g, _)| *g == guild)
            .count();
        self.next = start + found;
        self.pairs[start..self.next].iter().map(|(_, node)| node)
    }
}

impl FromIterator<(GuildId, NodeId)> for GuildNodes {
    fn from_iter<I: IntoIterator<Item = (GuildId, NodeId)>>(pairs: I) -> Self {
        Self::new(pairs.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guilds_nodes_keep_their_order_and_other_guilds_are_apart() {
        let nodes: GuildNodes = [(2, "us-2"), (1, "eu-1"), (2, "us-1"), (3, "apac-1")]
            .into_iter()
            .map(|(guild, node)| (GuildId(guild), NodeId::new(node)))
            .collect();
        let of = |guild| {
            nodes
                .of(GuildId(guild))
                .map(NodeId::as_str)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(2), ["us-2", "us-1"]);
        assert_eq!(of(1), ["eu-1"]);
        assert_eq!(of(4), Vec::<&str>::new());
        assert_eq!(nodes.count(GuildId(2)), 2);
        assert_eq!(nodes.count(GuildId(0)), 0);
        let guilds: Vec<u64> = nodes.iter().map(|(guild, _)| guild.0).collect();
        assert_eq!(guilds, [1, 2, 2, 3]);
    }

    #[test]
    fn a_reader_finds_what_of_finds_in_any_order() {
        let nodes: GuildNodes = [(2, "us-2"), (5, "eu-1"), (2, "us-1"), (7, "apac-1")]
            .into_iter()
            .map(|(guild, node)| (GuildId(guild), NodeId::new(node)))
            .collect();
        let mut reader = nodes.reader();
        for guild in [0, 1, 2, 3, 5, 5, 2, 7, 8, 6, 0, 7] {
            let read: Vec<&NodeId> = reader.of(GuildId(guild)).collect();
            let found: Vec<&NodeId> = nodes.of(GuildId(guild)).collect();
            assert_eq!(read, found, "guild {guild}");
        }
    }
}
