//! The lease keeper: acquires, renews and observes the leader lease on an interval and
//! publishes the outcome in the [`Leadership`] cell. The rules are in the module above.

use std::future::Future;

use tokio::time::{Instant, MissedTickBehavior};

use super::{LeaderSeen, LeaderSettings, Leadership, Role};
use crate::ports::store::{LeaderAcquisition, Store, StoreError};

/// Keeps one controller's side of the lease. Build with [`LeaseKeeper::new`], run with
/// [`LeaseKeeper::run`].
pub struct LeaseKeeper<S: Store> {
    store: S,
    leadership: Leadership,
    settings: LeaderSettings,
    /// The highest token seen, so a store that lost its counter cannot hand out a lower
    /// one than a leader already used.
    token_floor: u64,
    /// The last store call failed: the next successful one only observes.
    store_was_down: bool,
    /// After an outage, a standby only observes until then, so that the leader that rode
    /// the outage out takes its lease back first.
    hold_off_until: Option<Instant>,
}

impl<S: Store> LeaseKeeper<S> {
    /// A keeper for `leadership` over `store`.
    pub fn new(store: S, leadership: Leadership, settings: LeaderSettings) -> Self {
        assert!(
            settings.renew_interval < settings.ttl,
            "the lease must be renewed before it lapses"
        );
        Self {
            store,
            leadership,
            settings,
            token_floor: 0,
            store_was_down: false,
            hold_off_until: None,
        }
    }

    /// Runs until `stop` resolves (or the controller resigns), one step per interval.
    pub async fn run(mut self, stop: impl Future<Output = ()>) {
        let mut ticks = tokio::time::interval(self.settings.renew_interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => {}
            }
            if self.leadership.state().resigned {
                return;
            }
            self.step().await;
        }
    }

    /// One renewal, acquisition attempt or observation.
    pub async fn step(&mut self) {
        match self.leadership.state().role {
            Role::Leader { token } => self.renew(token).await,
            Role::Standby => self.seek().await,
        }
    }

    async fn renew(&mut self, token: u64) {
        let renewed = self
            .store
            .renew_leader(self.leadership.holder(), token, self.settings.ttl)
            .await;
        match renewed {
            Ok(true) => self.reached(),
            Ok(false) => {
                self.reached();
                tracing::warn!(token, "the leader lease was taken over; standing down");
                self.leadership.superseded(token);
                self.observe().await;
            }
            // A store nobody reaches elects nobody: keep acting, and learn at the first
            // answer whether someone took over meanwhile.
            Err(error) => self.unreachable(&error, "renewing"),
        }
    }

    async fn seek(&mut self) {
        if self.store_was_down || self.hold_off_until.is_some_and(|t| Instant::now() < t) {
            self.observe().await;
            return;
        }
        if self.store_lost_its_data().await {
            // Redis restarted empty, perhaps too briefly for this keeper to notice: the
            // leader that held the lease takes it back first, if it lives.
            tracing::info!("the store lost the lease's counter; waiting before seeking the lease");
            self.hold_off_until = Some(Instant::now() + self.settings.ttl);
            self.observe().await;
            return;
        }
        let holder = self.leadership.holder().to_owned();
        let acquired = self
            .store
            .acquire_leader(&holder, self.settings.ttl, self.token_floor)
            .await;
        match acquired {
            Ok(LeaderAcquisition::Acquired { token }) => {
                self.reached();
                self.lead(token);
            }
            // Our own acquisition whose reply was lost on the way.
            Ok(LeaderAcquisition::Held(lease)) if lease.holder == holder => {
                self.reached();
                self.lead(lease.token);
            }
            Ok(LeaderAcquisition::Held(lease)) => {
                self.reached();
                self.token_floor = self.token_floor.max(lease.token);
                let seen = LeaderSeen::from_lease(&lease);
                self.leadership.update(|s| s.leader = Some(seen));
            }
            Err(error) => self.unreachable(&error, "acquiring"),
        }
    }

    /// Whether the store's token counter fell below a token already seen: it restarted
    /// without its data. An unreachable store counts as not knowing (and is noted).
    async fn store_lost_its_data(&mut self) -> bool {
        if self.token_floor == 0 {
            return false;
        }
        match self.store.newest_leader_token().await {
            Ok(newest) => newest < self.token_floor,
            Err(error) => {
                self.unreachable(&error, "reading the token counter");
                true
            }
        }
    }

    /// Reads who leads, for the status API and the standby's hold-off.
    async fn observe(&mut self) {
        match self.store.leader().await {
            Ok(lease) => {
                if self.store_was_down {
                    self.hold_off_until = Some(Instant::now() + self.settings.ttl);
                }
                self.reached();
                if let Some(lease) = &lease {
                    self.token_floor = self.token_floor.max(lease.token);
                }
                let seen = lease.as_ref().map(LeaderSeen::from_lease);
                self.leadership.update(|s| s.leader = seen);
            }
            Err(error) => self.unreachable(&error, "reading"),
        }
    }

    fn lead(&mut self, token: u64) {
        self.token_floor = self.token_floor.max(token);
        self.hold_off_until = None;
        let me = LeaderSeen {
            holder: self.leadership.holder().to_owned(),
            id: Some(self.leadership.me().clone()),
            token,
        };
        tracing::info!(token, "acquired the leader lease");
        self.leadership.update(|s| {
            if !s.resigned {
                s.role = Role::Leader { token };
                s.last_token = s.last_token.max(token);
                s.leader = Some(me);
            }
        });
    }

    fn reached(&mut self) {
        self.store_was_down = false;
        self.leadership.update(|s| s.store_reachable = true);
    }

    fn unreachable(&mut self, error: &StoreError, doing: &'static str) {
        if !self.store_was_down {
            tracing::warn!(%error, doing, "the store does not answer the leader lease");
        }
        self.store_was_down = true;
        self.leadership.update(|s| s.store_reachable = false);
    }
}
