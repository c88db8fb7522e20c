//! High availability: which of several controllers sharing one store acts.
//!
//! Every controller runs a [`LeaseKeeper`] over the store's leader lease
//! (`switchyard:leader`, with the fencing token counter `switchyard:leader:token`). The one
//! holding the lease is the **leader**: after rebuilding its view from the store it acts
//! (moves players, writes the shared state, alerts). The others are **standbys**: they
//! probe nodes and read the store so their view stays warm, and they refuse bot and
//! operator requests, naming the leader.
//!
//! The rules, in one place:
//!
//! * A leader renews every `renew_interval` (the lease lasts `ttl`). When the store
//!   answers that another controller holds the lease, or that a higher token was handed
//!   out, it stops acting at once. When the store does not answer at all it keeps acting:
//!   a store nobody reaches elects nobody, and Redis is soft state that the leader writes
//!   back when it returns. (The price, an asymmetric partition where only the leader is
//!   cut off from Redis, is bounded by the fence below: see `docs/redis-schema.md`.)
//! * A lapsed lease is taken back by its holder's next renewal if no higher token was
//!   handed out meanwhile, so a store that restarted empty keeps its leader.
//! * A standby takes a free lease at once, except right after the store was unreachable
//!   or restarted empty (its token counter fell below a token already seen): it then
//!   watches for one `ttl` first, so the leader that rode the outage out takes its lease
//!   back, and writes back what the store lost, before anyone else can.
//! * Every controller write is fenced by the token ([`crate::ports::store::LeaderFence`]):
//!   the store refuses it once another controller holds the lease or a higher token
//!   exists, and the refusal deposes the writer at once ([`Leadership::superseded`]).
//!
//! [`Leadership`] is the shared cell: the keeper writes the role, the driver writes
//! whether it acts yet, and the API and the store writer read both.

mod keeper;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use keeper::LeaseKeeper;

use crate::ports::store::LeaderFence;
use crate::store_schema::LeaderLease;

/// How long the lease lasts and how often it is renewed (or, by a standby, sought).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderSettings {
    /// The lease lapses this long after its last renewal: the longest a dead leader's
    /// lease keeps a standby waiting.
    pub ttl: Duration,
    /// Time between renewals (leader) and acquisition attempts (standby).
    pub renew_interval: Duration,
}

impl Default for LeaderSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            renew_interval: Duration::from_secs(3),
        }
    }
}

/// Who a controller is, as the lease names it. Serialised as the lease's holder string,
/// so a standby learns where the leader's API answers from the lease itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerId {
    /// The name operators know it by (host or pod name).
    pub instance: String,
    /// Where its API answers, for bots and operators a standby sends on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Its process id and start time (Unix ms): two processes that share an instance
    /// name (a quick restart) are still two holders.
    pub pid: u32,
    /// When the process started (Unix ms).
    pub started_at_ms: u64,
}

impl ControllerId {
    /// The lease's holder string: this id as JSON.
    pub fn holder(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and integers serialises")
    }

    /// Reads a holder string written by a controller; `None` for a foreign one.
    pub fn from_holder(holder: &str) -> Option<Self> {
        serde_json::from_str(holder).ok()
    }
}

/// What the keeper says this controller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Does not hold the lease.
    Standby,
    /// Holds the lease with this fencing token.
    Leader {
        /// The token.
        token: u64,
    },
}

/// Where this controller is, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not the leader: it does not act.
    Standby,
    /// It holds the lease and is rebuilding its view from the store; it acts next.
    TakingOver,
    /// The leader, acting.
    Acting,
}

/// The lease holder as last read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSeen {
    /// The holder string.
    pub holder: String,
    /// The holder string read as a controller's id, when it is one.
    pub id: Option<ControllerId>,
    /// Its token.
    pub token: u64,
}

impl LeaderSeen {
    fn from_lease(lease: &LeaderLease) -> Self {
        Self {
            holder: lease.holder.clone(),
            id: ControllerId::from_holder(&lease.holder),
            token: lease.token,
        }
    }
}

/// The shared state of one controller's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadershipState {
    /// The keeper's view.
    pub role: Role,
    /// The token the driver acts under, once it has rebuilt its view after acquiring.
    pub acting_token: Option<u64>,
    /// The highest token this controller has held (0 before its first term): its writes
    /// carry it, so those owed from a past term are refused once another leader exists.
    pub last_token: u64,
    /// The leader as last read from the store (this controller itself when it leads).
    pub leader: Option<LeaderSeen>,
    /// Whether the keeper's last store call was answered.
    pub store_reachable: bool,
    /// Set on shutdown: the keeper stops renewing and seeking the lease.
    pub resigned: bool,
}

impl LeadershipState {
    /// Standby, acting, or in between.
    pub fn phase(&self) -> Phase {
        match self.role {
            Role::Leader { token } if self.acting_token == Some(token) => Phase::Acting,
            Role::Leader { .. } => Phase::TakingOver,
            Role::Standby => Phase::Standby,
        }
    }
}

/// The cell shared by the keeper, the driver, the store writer and the API. Cheap to
/// clone.
#[derive(Clone)]
pub struct Leadership {
    me: Arc<ControllerId>,
    holder: Arc<str>,
    state: Arc<watch::Sender<LeadershipState>>,
}

impl fmt::Debug for Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("me", &self.me)
            .field("state", &*self.state.borrow())
            .finish()
    }
}

impl Leadership {
    /// A standby named `me`.
    pub fn new(me: ControllerId) -> Self {
        let state = LeadershipState {
            role: Role::Standby,
            acting_token: None,
            last_token: 0,
            leader: None,
            store_reachable: false,
            resigned: false,
        };
        Self {
            holder: me.holder().into(),
            me: Arc::new(me),
            state: Arc::new(watch::channel(state).0),
        }
    }

    /// This controller's id.
    pub fn me(&self) -> &ControllerId {
        &self.me
    }

    /// This controller's holder string.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The current state.
    pub fn state(&self) -> LeadershipState {
        self.state.borrow().clone()
    }

    /// Changes as they happen.
    pub fn subscribe(&self) -> watch::Receiver<LeadershipState> {
        self.state.subscribe()
    }

    /// The fence this controller's writes carry: its holder and its latest token.
    pub fn fence(&self) -> LeaderFence {
        LeaderFence {
            holder: self.holder.to_string(),
            token: self.state.borrow().last_token,
        }
    }

    /// The store refused a write under `token`: if that is the term in force, it is
    /// over, and the driver stops acting at once.
    pub fn superseded(&self, token: u64) {
        self.state.send_if_modified(|state| {
            let current = state.role == Role::Leader { token };
            if current {
                tracing::warn!(
                    token,
                    "a write was refused: another controller leads; standing down"
                );
                state.role = Role::Standby;
                state.leader = None;
            }
            current
        });
    }

    /// The driver acts under `token` (`None`: it stopped acting).
    pub fn set_acting(&self, token: Option<u64>) {
        self.state.send_if_modified(|state| {
            let changed = state.acting_token != token;
            state.acting_token = token;
            changed
        });
    }

    /// Shutdown: stop acting now and stop renewing. Answers the token of the term that
    /// was in force, for the caller to release the lease once its writes are flushed.
    pub fn resign(&self) -> Option<u64> {
        let mut held = None;
        self.state.send_modify(|state| {
            if let Role::Leader { token } = state.role {
                held = Some(token);
            }
            state.role = Role::Standby;
            state.resigned = true;
        });
        held
    }

    fn update(&self, change: impl FnOnce(&mut LeadershipState)) {
        self.state.send_if_modified(|state| {
            let before = state.clone();
            change(state);
            *state != before
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> ControllerId {
        ControllerId {
            instance: "ctl-a".into(),
            api_url: Some("http://127.0.0.1:8080".into()),
            pid: 7,
            started_at_ms: 1,
        }
    }

    #[test]
    fn the_holder_string_names_the_api() {
        let holder = me().holder();
        assert_eq!(ControllerId::from_holder(&holder), Some(me()));
        assert_eq!(ControllerId::from_holder("some-other-checker"), None);
    }

    #[test]
    fn phases_follow_role_and_acting_token() {
        let cell = Leadership::new(me());
        assert_eq!(cell.state().phase(), Phase::Standby);
        cell.update(|s| {
            s.role = Role::Leader { token: 4 };
            s.last_token = 4;
        });
        assert_eq!(cell.state().phase(), Phase::TakingOver);
        cell.set_acting(Some(4));
        assert_eq!(cell.state().phase(), Phase::Acting);
        assert_eq!(cell.fence().token, 4);
        cell.superseded(3);
        assert_eq!(
            cell.state().phase(),
            Phase::Acting,
            "an older term's refusal"
        );
        cell.superseded(4);
        assert_eq!(cell.state().phase(), Phase::Standby);
        assert_eq!(cell.fence().token, 4, "owed writes keep their term's token");
    }

    #[test]
    fn resigning_stands_down_and_names_the_term() {
        let cell = Leadership::new(me());
        cell.update(|s| s.role = Role::Leader { token: 9 });
        assert_eq!(cell.resign(), Some(9));
        assert!(cell.state().resigned);
        assert_eq!(cell.state().role, Role::Standby);
    }
}
