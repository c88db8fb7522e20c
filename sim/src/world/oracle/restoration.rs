//! Restoration never exceeds its step, checked from the controller's commands against
//! the scenario's own `[controller.restoration]` settings rather than the controller's
//! arithmetic: the oracle counts the returns (`MovePlayer` with reason `restoration`)
//! to each node itself, numbers the steps itself, and takes from the controller's
//! `restoration_step` audit events only when a step happened and how many players were
//! displaced from the node (the total the shares apply to).

use std::collections::BTreeMap;

use switchyard_core::command::{AuditEvent, Command, MoveReason};
use switchyard_core::config::RestorationConfig;
use switchyard_core::ids::{GuildId, NodeId};

use crate::scenario::format_ms;

/// One node's restoration, from its first step until the next one begins or it is
/// rolled back.
#[derive(Debug)]
struct Run {
    /// Players displaced from the node when the run began.
    total: u64,
    /// Steps seen so far in this run.
    steps: usize,
    /// When the latest step happened, in run milliseconds.
    last_step_ms: u64,
    /// Returns to the node ordered so far in this run.
    returned: u64,
    /// Whether the controller rolled the run back (no return may follow).
    rolled_back: bool,
    /// The step already reported as exceeded, so one step is reported once.
    exceeded_step: Option<usize>,
}

/// Follows every node's restoration through the controller's commands.
#[derive(Debug)]
pub struct RestorationCheck {
    config: RestorationConfig,
    runs: BTreeMap<NodeId, Run>,
}

/// Players a step may have returned in all: `ceil(share * total)`, at most `total`.
fn quota(share: f64, total: u64) -> u64 {
    ((share * total as f64).ceil() as u64).min(total)
}

fn field(event: &AuditEvent, key: &str) -> Option<u64> {
    event.fields.get(key).and_then(|v| v.parse().ok())
}

impl RestorationCheck {
    /// Checks against the scenario's restoration settings.
    pub fn new(config: &RestorationConfig) -> Self {
        Self {
            config: config.clone(),
            runs: BTreeMap::new(),
        }
    }

    /// Reads one command; each broken rule is a `(when, what)` for `violations`.
    pub fn observe(&mut self, at_ms: u64, command: &Command, violations: &mut Vec<(u64, String)>) {
        match command {
            Command::Audit(event) if event.kind == "restoration_step" => {
                if let Some(detail) = self.step(at_ms, event) {
                    violations.push((at_ms, detail));
                }
            }
            Command::Audit(event) if event.kind == "restoration_rolled_back" => {
                let node = event.fields.get("node").map(NodeId::new);
                if let Some(run) = node.and_then(|node| self.runs.get_mut(&node)) {
                    run.rolled_back = true;
                }
            }
            Command::MovePlayer(order) if order.reason == MoveReason::Restoration => {
                if let Some(detail) = self.returned(order.guild, &order.to) {
                    violations.push((at_ms, detail));
                }
            }
            _ => {}
        }
    }

    /// A `restoration_step` audit event: a new run at step 1, else the next step of the
    /// node's run, no sooner than the dwell time after the previous one.
    fn step(&mut self, at_ms: u64, event: &AuditEvent) -> Option<String> {
        let node = NodeId::new(event.fields.get("node")?);
        let (said, total) = (field(event, "step")?, field(event, "total")?);
        if !self.config.enabled {
            return Some(format!(
                "{node} had restoration step {said}, restoration is off"
            ));
        }
        if said == 1 {
            let run = Run {
                total,
                steps: 1,
                last_step_ms: at_ms,
                returned: 0,
                rolled_back: false,
                exceeded_step: None,
            };
            self.runs.insert(node, run);
            return None;
        }
        let Some(run) = self.runs.get_mut(&node).filter(|run| !run.rolled_back) else {
            return Some(format!(
                "{node} had restoration step {said} without a step 1"
            ));
        };
        run.steps += 1;
        let gap_ms = at_ms - run.last_step_ms;
        run.last_step_ms = at_ms;
        let step = run.steps;
        if said != step as u64 {
            Some(format!(
                "{node} had restoration step {step}, audited as step {said}"
            ))
        } else if step > self.config.steps.len() {
            Some(format!(
                "{node} had restoration step {step} of {} configured",
                self.config.steps.len()
            ))
        } else if gap_ms < self.config.dwell_ms {
            Some(format!(
                "{node} had restoration step {step} {} after step {}, dwell {}",
                format_ms(gap_ms),
                step - 1,
                format_ms(self.config.dwell_ms)
            ))
        } else {
            None
        }
    }

    /// A return to `node`: within the share of the node's latest step.
    fn returned(&mut self, guild: GuildId, node: &NodeId) -> Option<String> {
        let Some(run) = self.runs.get_mut(node).filter(|run| !run.rolled_back) else {
            return Some(format!(
                "guild {guild} returned to {node} outside any restoration step"
            ));
        };
        run.returned += 1;
        let step = run.steps.min(self.config.steps.len());
        let share = self.config.steps.get(step.checked_sub(1)?).copied()?;
        let allowed = quota(share, run.total);
        if run.returned <= allowed || run.exceeded_step == Some(step) {
            return None;
        }
        run.exceeded_step = Some(step);
        Some(format!(
            "restoration step {step} of {node} returned {} of {} displaced players, its share {share} allows {allowed}",
            run.returned, run.total
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use switchyard_core::command::{AuditEvent, Command, MoveOrder, MoveReason};
    use switchyard_core::config::RestorationConfig;
    use switchyard_core::ids::{GuildId, IncidentId, MoveId, NodeId};
    use switchyard_core::time::Millis;

    use super::RestorationCheck;

    fn config() -> RestorationConfig {
        RestorationConfig {
            enabled: true,
            hold_ms: 20_000,
            steps: vec![0.1, 0.5, 1.0],
            dwell_ms: 5_000,
        }
    }

    fn step(node: &str, step: u64, total: u64) -> Command {
        let fields = BTreeMap::from([
            ("node".to_owned(), node.to_owned()),
            ("step".to_owned(), step.to_string()),
            ("total".to_owned(), total.to_string()),
        ]);
        Command::Audit(AuditEvent {
            at: Millis(0),
            kind: "restoration_step".to_owned(),
            fields,
        })
    }

    fn back_to(node: &str, guild: u64) -> Command {
        Command::MovePlayer(MoveOrder {
            id: MoveId(guild),
            guild: GuildId(guild),
            from: Some(NodeId::new("eu-2")),
            delete_from: true,
            to: NodeId::new(node),
            position_ms: 0,
            reason: MoveReason::Restoration,
            incident: IncidentId(1),
        })
    }

    /// Feeds `(at_ms, command)` pairs; returns what was reported.
    fn run(check: &mut RestorationCheck, commands: &[(u64, Command)]) -> Vec<(u64, String)> {
        let mut violations = Vec::new();
        for (at_ms, command) in commands {
            check.observe(*at_ms, command, &mut violations);
        }
        violations
    }

    #[test]
    fn returns_within_each_share_and_steps_a_dwell_apart_are_clean() {
        let mut check = RestorationCheck::new(&config());
        // 20 displaced: 2 at 10 %, 10 by 50 %, all 20 at the last step.
        let mut commands = vec![(1_000, step("eu-1", 1, 20))];
        commands.extend((0..2).map(|g| (1_000, back_to("eu-1", g))));
        commands.push((6_000, step("eu-1", 2, 20)));
        commands.extend((2..10).map(|g| (6_000, back_to("eu-1", g))));
        commands.push((11_000, step("eu-1", 3, 20)));
        commands.extend((10..20).map(|g| (11_000, back_to("eu-1", g))));
        // A later run (the node failed and recovered again) starts over.
        commands.push((90_000, step("eu-1", 1, 5)));
        commands.push((90_000, back_to("eu-1", 30)));
        assert_eq!(run(&mut check, &commands), []);
    }

    #[test]
    fn a_step_returning_more_than_its_share_is_caught_once() {
        let mut check = RestorationCheck::new(&config());
        let mut commands = vec![(1_000, step("eu-1", 1, 20))];
        commands.extend((0..20).map(|g| (1_000, back_to("eu-1", g))));
        let violations = run(&mut check, &commands);
        assert_eq!(violations.len(), 1, "{violations:?}");
        let (at_ms, detail) = &violations[0];
        assert_eq!(*at_ms, 1_000);
        assert!(
            detail.contains("step 1 of eu-1 returned 3 of 20") && detail.contains("allows 2"),
            "{detail}"
        );
    }

    #[test]
    fn a_step_sooner_than_the_dwell_is_caught() {
        let mut check = RestorationCheck::new(&config());
        let commands = [(1_000, step("eu-1", 1, 20)), (3_000, step("eu-1", 2, 20))];
        let violations = run(&mut check, &commands);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0]
                .1
                .contains("eu-1 had restoration step 2 2s after step 1"),
            "{violations:?}"
        );
    }

    #[test]
    fn returns_outside_a_run_or_after_a_rollback_are_caught() {
        let mut check = RestorationCheck::new(&config());
        let rolled_back = Command::Audit(AuditEvent {
            at: Millis(0),
            kind: "restoration_rolled_back".to_owned(),
            fields: BTreeMap::from([("node".to_owned(), "eu-1".to_owned())]),
        });
        let commands = [
            (1_000, back_to("eu-3", 1)),
            (2_000, step("eu-1", 1, 20)),
            (3_000, rolled_back),
            (4_000, back_to("eu-1", 2)),
            (9_000, step("eu-1", 2, 20)),
        ];
        let details: Vec<String> = run(&mut check, &commands)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        assert_eq!(
            details,
            [
                "guild 1 returned to eu-3 outside any restoration step",
                "guild 2 returned to eu-1 outside any restoration step",
                "eu-1 had restoration step 2 without a step 1",
            ]
        );
    }
}
