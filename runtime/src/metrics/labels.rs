//! Label sets and the fixed names of enum-valued labels.
//!
//! Names are spelled out here rather than borrowed from serde, so a renamed variant
//! cannot silently rename a series that dashboards and alert rules query.

use prometheus_client::encoding::EncodeLabelSet;
use switchyard_core::health::NodeStatus;
use switchyard_core::history::{FailoverOutcome, FailoverTrigger};
use switchyard_core::ids::{NodeId, RegionId};

/// One node's series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct NodeLabels {
    pub(super) node: String,
    pub(super) region: String,
}

impl NodeLabels {
    pub(super) fn new(node: &NodeId, region: &RegionId) -> Self {
        Self {
            node: node.as_str().to_owned(),
            region: region.as_str().to_owned(),
        }
    }
}

/// One kind of finished incident.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct FailoverLabels {
    pub(super) trigger: &'static str,
    pub(super) outcome: &'static str,
}

pub(super) fn trigger_name(trigger: &FailoverTrigger) -> &'static str {
    match trigger {
        FailoverTrigger::NodeDown { .. } => "node_down",
        FailoverTrigger::Drain { .. } => "drain",
        FailoverTrigger::RegionEvacuation { .. } => "region_evacuation",
        FailoverTrigger::Restoration { .. } => "restoration",
        FailoverTrigger::Rollback { .. } => "rollback",
        FailoverTrigger::Policy => "policy",
        FailoverTrigger::Recovery => "recovery",
    }
}

pub(super) fn outcome_name(outcome: FailoverOutcome) -> &'static str {
    match outcome {
        FailoverOutcome::InProgress => "in_progress",
        FailoverOutcome::Completed => "completed",
        FailoverOutcome::Partial => "partial",
        FailoverOutcome::Frozen => "frozen",
    }
}

/// Every status, in the order the state-set gauge lists them.
pub(super) const NODE_STATUSES: [NodeStatus; 5] = [
    NodeStatus::Unknown,
    NodeStatus::Up,
    NodeStatus::Degraded,
    NodeStatus::Suspect,
    NodeStatus::Down,
];

pub(super) fn status_name(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Unknown => "unknown",
        NodeStatus::Up => "up",
        NodeStatus::Degraded => "degraded",
        NodeStatus::Suspect => "suspect",
        NodeStatus::Down => "down",
    }
}
