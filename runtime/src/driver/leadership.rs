//! The driver under a leader lease ([`crate::leader`]): it acts only as the leader.
//!
//! A standby keeps its view warm (it probes, watches node websockets and reads shard
//! heartbeats) but carries out nothing else: no moves, no writes, no alerts, and its core
//! tracks no players. On taking over it first reads the guild records, routes, player
//! snapshots, sessions and operator holds from the store, stands under the holds (see
//! [`super::operator_holds`]) and adopts every guild where its player is;
//! only then does it act (moving the players of nodes that died meanwhile), and it sends
//! again the alerts its view holds active, since the previous leader may have died with
//! them in its outbox (dedup keys make a repeat harmless to PagerDuty). On losing the
//! lease it stops at once and forgets the players, so a later term starts again from the
//! store.

use std::collections::BTreeMap;

use switchyard_core::PlayerAdoption;
use switchyard_core::alerts::{AlertAction, AlertNotice};
use switchyard_core::command::AuditEvent;
use switchyard_core::ids::{GuildId, NodeId, ProcessId};
use switchyard_core::time::Millis;

use super::store_writer::StreamWrite;
use super::{Completion, Driver};
use crate::leader::{Leadership, Role};
use crate::ports::http::HttpClient;
use crate::ports::store::{Store, StoreError};
use crate::store_schema::{GuildRecord, OperatorHold, PlayerSnapshot, SessionRegistration};

/// Whether the driver acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Acting {
    /// No lease: the only controller, always acting (token 0).
    Always,
    /// A standby.
    Standby,
    /// Holds the lease under `token`, reading the store before acting.
    TakingOver { token: u64 },
    /// The leader, acting under `token`.
    Leader { token: u64 },
}

/// What a controller taking over reads from the store.
#[derive(Debug)]
pub(super) struct Rebuild {
    records: BTreeMap<GuildId, GuildRecord>,
    routes: BTreeMap<GuildId, NodeId>,
    snapshots: BTreeMap<GuildId, PlayerSnapshot>,
    sessions: BTreeMap<ProcessId, BTreeMap<NodeId, SessionRegistration>>,
    operator: Option<Vec<OperatorHold>>,
}

async fn read_rebuild<S: Store>(store: S) -> Result<Rebuild, StoreError> {
    let records = store.all_guild_records().await?;
    let routes = store.all_routes().await?;
    let guilds: Vec<GuildId> = records.keys().copied().collect();
    let snapshots = store.player_snapshots(&guilds).await?;
    let sessions = store.all_sessions().await?;
    let operator = store.operator_holds().await?;
    Ok(Rebuild {
        records,
        routes,
        snapshots,
        sessions,
        operator,
    })
}

impl<H: HttpClient, S: Store> Driver<H, S> {
    /// Acts only while `leadership` holds the lease; its writes carry the lease's token.
    pub fn with_leadership(mut self, leadership: Leadership) -> Self {
        self.writer.attach_leadership(leadership.clone());
        self.writer.set_accepting(false);
        self.leadership = Some(leadership);
        self.acting = Acting::Standby;
        self.admission_from = None;
        self
    }

    /// Whether the driver carries out decisions now.
    pub(super) fn is_acting(&self) -> bool {
        matches!(self.acting, Acting::Always | Acting::Leader { .. })
    }

    /// The token stamped on what the bots act on (move announcements).
    pub(super) fn leader_token(&self) -> u64 {
        match self.acting {
            Acting::Leader { token } | Acting::TakingOver { token } => token,
            Acting::Always | Acting::Standby => 0,
        }
    }

    /// Follows the keeper's latest word on the lease.
    pub(super) fn on_leadership_changed(&mut self, role: Role) {
        match (self.acting, role) {
            (Acting::Always, _) | (Acting::Standby, Role::Standby) => {}
            (Acting::Standby, Role::Leader { token }) => self.take_over(token),
            (Acting::TakingOver { token: held } | Acting::Leader { token: held }, role) => {
                if role == (Role::Leader { token: held }) {
                    return;
                }
                self.stand_down();
                if let Role::Leader { token } = role {
                    self.take_over(token);
                }
            }
        }
    }

    fn take_over(&mut self, token: u64) {
        tracing::info!(token, "taking over: reading the shared state before acting");
        self.acting = Acting::TakingOver { token };
        self.start_rebuild(token, None);
    }

    fn start_rebuild(&self, token: u64, after: Option<std::time::Duration>) {
        let store = self.store.clone();
        let tx = self.completions_tx.clone();
        tokio::spawn(async move {
            if let Some(pause) = after {
                tokio::time::sleep(pause).await;
            }
            let rebuild = read_rebuild(store).await.map(Box::new);
            let _ = tx.send(Completion::Rebuilt { token, rebuild });
        });
    }

    /// The store's state arrived: adopt every guild where it plays, then act.
    pub(super) fn finish_rebuild(
        &mut self,
        now: Millis,
        token: u64,
        rebuild: Result<Box<Rebuild>, StoreError>,
    ) {
        if self.acting != (Acting::TakingOver { token }) {
            return; // The term ended while reading.
        }
        let rebuild = match rebuild {
            Ok(rebuild) => *rebuild,
            Err(error) => {
                tracing::warn!(%error, "cannot read the shared state to take over; retrying");
                self.start_rebuild(token, Some(self.settings.store_retry_interval));
                return;
            }
        };
        // Under the operator's holds first: adopted players then leave held nodes, and
        // none is moved or placed onto one.
        self.apply_operator_holds(now, rebuild.operator.clone());
        let adoptions = self.adoptions(now, &rebuild);
        let refused = self.core.handle_players_adopted(now, &adoptions);
        for (guild, error) in &refused {
            tracing::warn!(%guild, %error, "cannot adopt a guild from the shared state");
        }
        let unknown = rebuild
            .routes
            .keys()
            .filter(|g| !rebuild.records.contains_key(g))
            .count();
        if unknown > 0 {
            tracing::warn!(
                unknown,
                "routed guilds without a guild record are not adopted"
            );
        }
        self.snapshots = rebuild.snapshots;
        // The rebuild read no change stream position: the next poll reads them all.
        self.snapshot_feed.restart();
        self.sessions = rebuild.sessions;
        self.acting = Acting::Leader { token };
        self.admission_from =
            Some(tokio::time::Instant::now() + self.settings.node_admission_grace);
        self.writer.set_accepting(true);
        if let Some(leadership) = &self.leadership {
            leadership.set_acting(Some(token));
        }
        tracing::info!(
            token,
            adopted = adoptions.len() - refused.len(),
            "acting as the leader"
        );
        self.writer.stream(StreamWrite::Audit(self.takeover_audit(
            now,
            token,
            adoptions.len() - refused.len(),
        )));
        self.resync();
        self.alert_again(now);
    }

    /// Sends every alert the view holds active: nothing says the last leader delivered
    /// them (a standby's own notices were not sent).
    fn alert_again(&self, now: Millis) {
        let Some(alerts) = &self.alerts else {
            return;
        };
        for active in self.core.active_alerts() {
            alerts.submit(&AlertNotice {
                action: AlertAction::Trigger,
                dedup_key: active.dedup_key,
                severity: active.severity,
                subject: active.subject,
                summary: active.summary,
                since: active.since,
                at: now,
            });
        }
    }

    fn adoptions(&self, now: Millis, rebuild: &Rebuild) -> Vec<PlayerAdoption> {
        rebuild
            .records
            .values()
            .map(|record| {
                let snapshot = rebuild.snapshots.get(&record.guild);
                // The bot's snapshot says where the player lives; the route is the last
                // leader's word when the bot wrote none.
                let node = snapshot
                    .map(|s| s.node.clone())
                    .or_else(|| rebuild.routes.get(&record.guild).cloned());
                let (position_ms, position_at, playing) = match snapshot {
                    Some(s) => {
                        let (position, at) = self.position_in_core_time(now, s);
                        (position, at, !s.paused)
                    }
                    None => (0, now, true),
                };
                PlayerAdoption {
                    guild: record.guild,
                    plan: record.plan.clone(),
                    home_region: record.home_region.clone(),
                    pinned: record.pinned,
                    node,
                    displaced_from: record.displaced_from.clone(),
                    position_ms,
                    position_at,
                    playing,
                }
            })
            .collect()
    }

    /// A snapshot's position and the core instant it was true at: wall-clock stamps from
    /// before this driver started are brought forward to its start.
    fn position_in_core_time(&self, now: Millis, snapshot: &PlayerSnapshot) -> (u64, Millis) {
        let epoch = self.settings.epoch_unix_ms;
        let at_unix = snapshot.position_at_ms.min(self.unix_ms(now));
        let before_start_ms = epoch.saturating_sub(at_unix);
        let position = if snapshot.paused {
            snapshot.position_ms
        } else {
            snapshot.position_ms.saturating_add(before_start_ms)
        };
        (position, Millis(at_unix.saturating_sub(epoch)))
    }

    fn takeover_audit(&self, now: Millis, token: u64, adopted: usize) -> AuditEvent {
        let mut fields = BTreeMap::new();
        fields.insert("token".to_owned(), token.to_string());
        fields.insert("adopted".to_owned(), adopted.to_string());
        if let Some(leadership) = &self.leadership {
            fields.insert("holder".to_owned(), leadership.me().instance.clone());
        }
        AuditEvent {
            at: now,
            kind: "leader_acquired".to_owned(),
            fields,
        }
    }

    /// The lease is lost: stop acting now, and forget what a later term rereads.
    fn stand_down(&mut self) {
        tracing::warn!("standing down: no longer the leader");
        self.acting = Acting::Standby;
        self.admission_from = None;
        self.writer.set_accepting(false);
        if let Some(leadership) = &self.leadership {
            leadership.set_acting(None);
        }
        let now = self.now();
        let guilds: Vec<GuildId> = self.core.guilds().collect();
        for guild in guilds {
            self.core.handle_playback_stopped(now, guild);
        }
        // Spares register with the leader: a standby must not promote any.
        for spare in self.core.spares() {
            self.core.handle_spare_withdrawn(now, &spare);
        }
        self.snapshots.clear();
        self.snapshot_feed.restart();
        // Holds told to this term are the next leader's to keep: whatever of them was
        // not written is not written later under another token of ours.
        self.writer.forget_operator_holds();
        self.operator_published = None;
        // What forgetting caused is not carried out: the driver no longer acts.
        self.execute_commands();
    }

    /// Writes everything the shared state should hold about the players, after a
    /// takeover or a store outage (a Redis that restarted empty keeps nothing).
    pub(super) fn resync(&mut self) {
        if !self.is_acting() {
            return;
        }
        for player in self.core.players().collect::<Vec<_>>() {
            self.record_guild(player.guild);
            let node = match player.placement {
                switchyard_core::PlayerPlacement::Serving { node } => Some(node),
                switchyard_core::PlayerPlacement::Moving { from, .. } => from,
                switchyard_core::PlayerPlacement::Degraded { .. } => None,
            };
            self.writer.route(player.guild, node);
        }
        self.publish_operator_holds(true);
    }

    /// Writes (or removes) the record a later leader adopts the guild from.
    pub(super) fn record_guild(&self, guild: GuildId) {
        let record = self.core.player(guild).map(|p| GuildRecord {
            guild,
            plan: p.plan,
            home_region: p.home_region,
            pinned: p.pinned,
            displaced_from: p.displaced_from,
        });
        self.writer.guild(guild, record);
    }
}
