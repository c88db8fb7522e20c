//! Shard supervision: heartbeats, stall detection, hot-spare promotion and fencing.
//!
//! Every shard has one owner and a fencing epoch that only grows. A shard silent for
//! `stall_after_ms` is handed to a registered hot spare under `epoch + 1` (audited as
//! `shard_failover`); a process that later speaks for the shard with an older epoch is
//! fenced. When more than `fail_open_fraction` of the owned shards go silent together the
//! controller more likely lost its own view than every shard died, so promotions freeze.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::alerts::{AlertBook, AlertSubject, Severity};
use crate::command::{AuditEvent, Command, ShardPromotion};
use crate::config::ShardConfig;
use crate::ids::{ProcessId, RegionId, ShardId};
use crate::time::Millis;

/// A heartbeat from a process that believes it owns a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeartbeat {
    /// The shard.
    pub shard: ShardId,
    /// The process speaking for it.
    pub process: ProcessId,
    /// The fencing epoch it holds.
    pub epoch: u64,
}

/// A shard's ownership as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardView {
    /// The shard.
    pub shard: ShardId,
    /// Its owner, once one has spoken.
    pub owner: Option<ProcessId>,
    /// Its current fencing epoch.
    pub epoch: u64,
    /// When its owner last spoke (or was promoted).
    pub last_heartbeat: Option<Millis>,
    /// Whether it is silent with no spare to take it.
    pub awaiting_spare: bool,
}

#[derive(Debug, Clone, Default)]
struct ShardEntry {
    owner: Option<ProcessId>,
    epoch: u64,
    last_heartbeat: Option<Millis>,
    /// Past its stall deadline (promoted, frozen or awaiting a spare).
    silent: bool,
    awaiting_spare: bool,
}

/// The shard table and the pool of hot spares.
#[derive(Debug, Clone)]
pub(crate) struct ShardSupervisor {
    shards: Vec<ShardEntry>,
    spares: BTreeMap<ProcessId, Option<RegionId>>,
    process_regions: BTreeMap<ProcessId, RegionId>,
    frozen: bool,
}

/// Where the supervisor's decisions go.
pub(crate) struct ShardOutputs<'a> {
    pub(crate) commands: &'a mut VecDeque<Command>,
    pub(crate) alerts: &'a mut AlertBook,
}

impl ShardSupervisor {
    pub(crate) fn new(shard_count: u32) -> Self {
        Self {
            shards: vec![ShardEntry::default(); shard_count as usize],
            spares: BTreeMap::new(),
            process_regions: BTreeMap::new(),
            frozen: false,
        }
    }

    pub(crate) fn shard_count(&self) -> u32 {
        u32::try_from(self.shards.len()).expect("built from a u32 count")
    }

    pub(crate) fn views(&self) -> impl Iterator<Item = ShardView> + '_ {
        self.shards.iter().enumerate().map(|(i, e)| ShardView {
            shard: ShardId(u32::try_from(i).expect("index below a u32 count")),
            owner: e.owner.clone(),
            epoch: e.epoch,
            last_heartbeat: e.last_heartbeat,
            awaiting_spare: e.awaiting_spare,
        })
    }

    pub(crate) fn spares(&self) -> impl Iterator<Item = &ProcessId> {
        self.spares.keys()
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Returns `false` when the shard number is out of range.
    pub(crate) fn handle_heartbeat(
        &mut self,
        now: Millis,
        heartbeat: &ShardHeartbeat,
        config: &ShardConfig,
        out: &mut ShardOutputs<'_>,
    ) -> bool {
        let known = self.record_heartbeat(now, heartbeat, out);
        if known && self.frozen {
            // A shard speaking again may end a freeze.
            self.evaluate(now, config, out);
        }
        known
    }

    fn record_heartbeat(
        &mut self,
        now: Millis,
        heartbeat: &ShardHeartbeat,
        out: &mut ShardOutputs<'_>,
    ) -> bool {
        let Some(entry) = self.shards.get_mut(heartbeat.shard.0 as usize) else {
            return false;
        };
        let shard = heartbeat.shard;
        let is_owner = entry.owner.as_ref() == Some(&heartbeat.process);
        if heartbeat.epoch > entry.epoch
            || (entry.owner.is_none() && heartbeat.epoch == entry.epoch)
        {
            // A newer epoch than ours was granted (by a previous controller leader, or
            // this is the first owner we hear of): adopt it; epochs only grow.
            let previous = entry.owner.replace(heartbeat.process.clone());
            entry.epoch = heartbeat.epoch;
            entry.last_heartbeat = Some(now);
            entry.silent = false;
            entry.awaiting_spare = false;
            out.commands.push_back(Command::Audit(
                AuditEvent::new(now, "shard_owner_adopted")
                    .with("shard", shard)
                    .with("process", &heartbeat.process)
                    .with("epoch", heartbeat.epoch),
            ));
            if let Some(previous) = previous.filter(|p| *p != heartbeat.process) {
                Self::fence(now, shard, previous, entry.epoch, out);
            }
            self.spares.remove(&heartbeat.process);
            out.alerts.clear(&AlertSubject::ShardWithoutSpare { shard });
        } else if is_owner && heartbeat.epoch == entry.epoch {
            entry.last_heartbeat = Some(now);
            entry.silent = false;
            if entry.awaiting_spare {
                entry.awaiting_spare = false;
                out.alerts.clear(&AlertSubject::ShardWithoutSpare { shard });
            }
        } else {
            let epoch = entry.epoch;
            Self::fence(now, shard, heartbeat.process.clone(), epoch, out);
        }
        true
    }

    fn fence(
        now: Millis,
        shard: ShardId,
        process: ProcessId,
        epoch: u64,
        out: &mut ShardOutputs<'_>,
    ) {
        out.commands.push_back(Command::Audit(
            AuditEvent::new(now, "shard_owner_fenced")
                .with("shard", shard)
                .with("process", &process)
                .with("epoch", epoch),
        ));
        out.commands.push_back(Command::FenceShardOwner {
            shard,
            process,
            epoch,
        });
    }

    pub(crate) fn handle_spare_registered(
        &mut self,
        now: Millis,
        process: ProcessId,
        region: Option<RegionId>,
        config: &ShardConfig,
        out: &mut ShardOutputs<'_>,
    ) {
        if let Some(region) = &region {
            self.process_regions.insert(process.clone(), region.clone());
        }
        self.spares.insert(process, region);
        // A spare may be exactly what a silent shard was waiting for.
        self.evaluate(now, config, out);
    }

    pub(crate) fn handle_spare_withdrawn(&mut self, process: &ProcessId) {
        self.spares.remove(process);
    }

    pub(crate) fn poll_timeout(&self, config: &ShardConfig) -> Option<Millis> {
        self.shards
            .iter()
            .filter(|e| e.owner.is_some() && !e.silent)
            .filter_map(|e| e.last_heartbeat)
            .map(|t| t.plus_ms(config.stall_after_ms))
            .min()
    }

    pub(crate) fn handle_timeout(
        &mut self,
        now: Millis,
        config: &ShardConfig,
        out: &mut ShardOutputs<'_>,
    ) {
        for entry in &mut self.shards {
            let overdue = entry
                .last_heartbeat
                .is_some_and(|t| now.ms_since(t) >= config.stall_after_ms);
            if entry.owner.is_some() && overdue {
                entry.silent = true;
            }
        }
        self.evaluate(now, config, out);
    }

    /// Freezes when too many shards are silent at once; otherwise promotes spares for the
    /// silent ones.
    fn evaluate(&mut self, now: Millis, config: &ShardConfig, out: &mut ShardOutputs<'_>) {
        let owned = self.shards.iter().filter(|e| e.owner.is_some()).count();
        let silent: Vec<usize> = (0..self.shards.len())
            .filter(|i| self.shards[*i].silent)
            .collect();
        let frozen = owned > 1 && silent.len() as f64 > config.fail_open_fraction * owned as f64;
        self.set_frozen(now, frozen, silent.len(), owned, out);
        if frozen {
            return;
        }
        for index in silent {
            if !self.shards[index].awaiting_spare || !self.spares.is_empty() {
                self.promote(now, index, out);
            }
        }
    }

    fn set_frozen(
        &mut self,
        now: Millis,
        frozen: bool,
        silent: usize,
        owned: usize,
        out: &mut ShardOutputs<'_>,
    ) {
        if frozen == self.frozen {
            return;
        }
        self.frozen = frozen;
        let subject = AlertSubject::ShardPromotionsFrozen;
        if frozen {
            out.alerts.fire(
                now,
                subject,
                Severity::Critical,
                format!(
                    "{silent} of {owned} shards went silent at once; the controller may be cut off, so shard promotions are frozen"
                ),
            );
        } else {
            out.alerts.clear(&subject);
        }
        out.commands.push_back(Command::Audit(
            AuditEvent::new(
                now,
                if frozen {
                    "shard_promotions_frozen"
                } else {
                    "shard_promotions_resumed"
                },
            )
            .with("silent", silent)
            .with("owned", owned),
        ));
    }

    fn pick_spare(&self, owner: Option<&ProcessId>) -> Option<ProcessId> {
        let owner_region = owner.and_then(|o| self.process_regions.get(o));
        let same_region = self
            .spares
            .iter()
            .find(|(_, region)| owner_region.is_some() && region.as_ref() == owner_region);
        same_region
            .or_else(|| self.spares.iter().next())
            .map(|(process, _)| process.clone())
    }

    fn promote(&mut self, now: Millis, index: usize, out: &mut ShardOutputs<'_>) {
        let shard = ShardId(u32::try_from(index).expect("index below a u32 count"));
        let entry = &self.shards[index];
        let Some(spare) = self.pick_spare(entry.owner.as_ref()) else {
            let entry = &mut self.shards[index];
            if !entry.awaiting_spare {
                entry.awaiting_spare = true;
                out.alerts.fire(
                    now,
                    AlertSubject::ShardWithoutSpare { shard },
                    Severity::Critical,
                    format!("shard {shard} stalled and no hot spare is registered"),
                );
            }
            return;
        };
        self.spares.remove(&spare);
        let entry = &mut self.shards[index];
        let silent_ms = entry.last_heartbeat.map_or(0, |t| now.ms_since(t));
        let previous_owner = entry.owner.replace(spare.clone());
        entry.epoch += 1;
        // The spare gets a full stall period to start heartbeating under its epoch.
        entry.last_heartbeat = Some(now);
        entry.silent = false;
        entry.awaiting_spare = false;
        out.alerts.clear(&AlertSubject::ShardWithoutSpare { shard });
        let mut audit = AuditEvent::new(now, "shard_failover")
            .with("shard", shard)
            .with("to", &spare)
            .with("epoch", entry.epoch)
            .with("silent_ms", silent_ms);
        if let Some(previous) = &previous_owner {
            audit = audit.with("from", previous);
        }
        out.commands.push_back(Command::Audit(audit));
        out.commands
            .push_back(Command::PromoteShard(ShardPromotion {
                shard,
                process: spare,
                epoch: entry.epoch,
                previous_owner,
            }));
    }
}
