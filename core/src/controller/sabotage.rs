//! Deliberately broken policies, for tests of the simulation's oracle only.
//!
//! Each variant makes one decision of the controller wrong, so a test can show that the
//! oracle, which reads the simulated world and never the controller's opinion, catches
//! that kind of mistake. Nothing reads them from a configuration or scenario file: only
//! Rust code calling [`Controller::sabotage`] turns one on, and an unsabotaged
//! controller never consults more than an `Option` that is `None`.

use super::Controller;

/// One deliberately wrong decision. Test-only: never set it in production.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Sabotage {
    /// Placement ignores a guild's residency pin (the pinned region is only a request).
    IgnoreResidency,
    /// Placement honours a requested region even when the guild's plan does not allow it.
    IgnorePlanClamp,
    /// Placement prefers a node the controller itself holds down.
    PlaceOnDownNodes,
    /// No player is ever moved off a failed, drained or evacuated node.
    NeverFailOver,
    /// Restoration returns every displaced player at its first step.
    RushRestoration,
    /// Moves never ask the shell to delete the player left on the old node.
    KeepLeftBehindPlayers,
    /// A shard counts as stalled after a quarter of `stall_after_ms`, so a spare takes
    /// over a shard whose owner is merely slow to be heard.
    HastyShardFailover,
}

/// How much sooner [`Sabotage::HastyShardFailover`] declares a shard stalled.
const HASTY_STALL_DIVISOR: u64 = 4;

impl Controller {
    /// Turns on a broken policy. Test-only, for the oracle's tests; one per controller.
    #[doc(hidden)]
    pub fn sabotage(&mut self, sabotage: Sabotage) {
        assert!(self.sabotage.is_none(), "a controller takes one sabotage");
        if sabotage == Sabotage::HastyShardFailover {
            // The stall threshold is a setting, so the broken policy is a broken setting.
            self.config.shards.stall_after_ms /= HASTY_STALL_DIVISOR;
        }
        self.sabotage = Some(sabotage);
    }

    /// Whether `sabotage` is on.
    pub(super) fn sabotaged(&self, sabotage: Sabotage) -> bool {
        self.sabotage == Some(sabotage)
    }
}
