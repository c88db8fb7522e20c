//! Regions, nodes and plans as configured, and their validated, indexed form.
//!
//! Regions and plans are fixed for a controller's lifetime; nodes can also join and leave
//! at run time (see [`crate::Controller::add_node`]). Higher `priority` is preferred.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::ids::{NodeId, PlanId, RegionId};

/// The deployment as an operator describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Regions, each holding some nodes.
    pub regions: Vec<RegionSpec>,
    /// Lavalink nodes.
    pub nodes: Vec<NodeSpec>,
    /// Plans (tiers) and the regions each may use.
    #[serde(default)]
    pub plans: Vec<PlanSpec>,
    /// Number of Discord gateway shards the bot runs.
    #[serde(default = "one")]
    pub shard_count: u32,
}

fn one() -> u32 {
    1
}

/// A region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    /// Unique name.
    pub name: RegionId,
    /// Failover preference: a failed region's players go to higher-priority regions first.
    #[serde(default)]
    pub priority: i32,
}

/// A Lavalink node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique name.
    pub name: NodeId,
    /// The region it serves.
    pub region: RegionId,
    /// Within a region, players go to the highest-priority nodes that have room.
    #[serde(default)]
    pub priority: i32,
    /// Relative share of load among nodes of equal priority.
    #[serde(default = "one")]
    pub weight: u32,
    /// Players it can hold.
    pub capacity: u32,
    /// Starts in maintenance: probed, but given no players and raising no alerts.
    #[serde(default)]
    pub maintenance: bool,
}

/// A plan (tier) and where its guilds may play.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Unique name.
    pub name: PlanId,
    /// Regions its guilds may use.
    pub regions: Vec<RegionId>,
    /// Where a guild goes when it asks for no region or a region its plan lacks;
    /// defaults to the highest-priority allowed region.
    #[serde(default)]
    pub default_region: Option<RegionId>,
}

/// Index of a region in the controller's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RegionIdx(pub(crate) u16);

/// Index of a plan in the controller's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PlanIdx(pub(crate) u16);

/// Index of a node in the controller's table; stable for the controller's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NodeIdx(pub(crate) u32);

#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub(crate) id: RegionId,
    pub(crate) priority: i32,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) id: PlanId,
    /// Allowed regions, the default first, then by priority (highest first) and name.
    pub(crate) allowed: Vec<RegionIdx>,
}

impl Plan {
    pub(crate) fn default_region(&self) -> RegionIdx {
        self.allowed[0]
    }

    pub(crate) fn allows(&self, region: RegionIdx) -> bool {
        self.allowed.contains(&region)
    }
}

/// Regions and plans, validated and indexed.
#[derive(Debug, Clone)]
pub(crate) struct StaticTopology {
    pub(crate) regions: Vec<Region>,
    pub(crate) region_index: BTreeMap<RegionId, RegionIdx>,
    pub(crate) plans: Vec<Plan>,
    pub(crate) plan_index: BTreeMap<PlanId, PlanIdx>,
    pub(crate) shard_count: u32,
}

/// A plan used when the topology names none: every region allowed.
pub const DEFAULT_PLAN: &str = "default";

impl StaticTopology {
    pub(crate) fn compile(spec: &TopologySpec) -> Result<Self, ConfigError> {
        if spec.regions.is_empty() {
            return Err(ConfigError::new(
                "regions",
                "at least one region is required",
            ));
        }
        if spec.regions.len() > usize::from(u16::MAX) || spec.plans.len() > usize::from(u16::MAX) {
            return Err(ConfigError::new("regions", "too many regions or plans"));
        }
        if spec.shard_count == 0 {
            return Err(ConfigError::new("shard_count", "must be greater than zero"));
        }
        let mut regions = Vec::new();
        let mut region_index = BTreeMap::new();
        for (i, region) in spec.regions.iter().enumerate() {
            check_name(&format!("regions[{i}].name"), region.name.as_str())?;
            let idx = RegionIdx(u16::try_from(i).expect("bounded by the length check above"));
            if region_index.insert(region.name.clone(), idx).is_some() {
                return Err(ConfigError::new(
                    format!("regions[{i}].name"),
                    format!("region `{}` is declared twice", region.name),
                ));
            }
            regions.push(Region {
                id: region.name.clone(),
                priority: region.priority,
            });
        }
        let mut topology = StaticTopology {
            regions,
            region_index,
            plans: Vec::new(),
            plan_index: BTreeMap::new(),
            shard_count: spec.shard_count,
        };
        let default_plan;
        let plans = if spec.plans.is_empty() {
            default_plan = [PlanSpec {
                name: PlanId::new(DEFAULT_PLAN),
                regions: spec.regions.iter().map(|r| r.name.clone()).collect(),
                default_region: None,
            }];
            &default_plan[..]
        } else {
            &spec.plans[..]
        };
        for (i, plan) in plans.iter().enumerate() {
            topology.add_plan(i, plan)?;
        }
        Ok(topology)
    }

    fn add_plan(&mut self, i: usize, plan: &PlanSpec) -> Result<(), ConfigError> {
        check_name(&format!("plans[{i}].name"), plan.name.as_str())?;
        if plan.regions.is_empty() {
            return Err(ConfigError::new(
                format!("plans[{i}].regions"),
                "a plan must allow at least one region",
            ));
        }
        let mut allowed = Vec::new();
        for (j, region) in plan.regions.iter().enumerate() {
            let idx = self.region(region).ok_or_else(|| {
                ConfigError::new(
                    format!("plans[{i}].regions[{j}]"),
                    format!("unknown region `{region}`"),
                )
            })?;
            if !allowed.contains(&idx) {
                allowed.push(idx);
            }
        }
        self.sort_by_preference(&mut allowed);
        if let Some(default) = &plan.default_region {
            let idx = self
                .region(default)
                .filter(|idx| allowed.contains(idx))
                .ok_or_else(|| {
                    ConfigError::new(
                        format!("plans[{i}].default_region"),
                        format!("`{default}` is not one of the plan's regions"),
                    )
                })?;
            allowed.retain(|r| *r != idx);
            allowed.insert(0, idx);
        }
        let idx = PlanIdx(u16::try_from(self.plans.len()).expect("bounded by the length check"));
        if self.plan_index.insert(plan.name.clone(), idx).is_some() {
            return Err(ConfigError::new(
                format!("plans[{i}].name"),
                format!("plan `{}` is declared twice", plan.name),
            ));
        }
        self.plans.push(Plan {
            id: plan.name.clone(),
            allowed,
        });
        Ok(())
    }

    /// Orders regions by failover preference: priority (highest first), then name.
    pub(crate) fn sort_by_preference(&self, regions: &mut [RegionIdx]) {
        regions.sort_by(|a, b| {
            let (ra, rb) = (
                &self.regions[usize::from(a.0)],
                &self.regions[usize::from(b.0)],
            );
            rb.priority
                .cmp(&ra.priority)
                .then_with(|| ra.id.cmp(&rb.id))
        });
    }

    pub(crate) fn region(&self, id: &RegionId) -> Option<RegionIdx> {
        self.region_index.get(id).copied()
    }

    pub(crate) fn region_id(&self, idx: RegionIdx) -> &RegionId {
        &self.regions[usize::from(idx.0)].id
    }

    pub(crate) fn plan(&self, id: &PlanId) -> Option<PlanIdx> {
        self.plan_index.get(id).copied()
    }

    pub(crate) fn plan_entry(&self, idx: PlanIdx) -> &Plan {
        &self.plans[usize::from(idx.0)]
    }
}

/// Validates a node spec against the regions; `field` prefixes the error path.
pub(crate) fn check_node_spec(
    field: &str,
    spec: &NodeSpec,
    topology: &StaticTopology,
) -> Result<RegionIdx, ConfigError> {
    check_name(&format!("{field}.name"), spec.name.as_str())?;
    if spec.capacity == 0 {
        return Err(ConfigError::new(
            format!("{field}.capacity"),
            "must be greater than zero",
        ));
    }
    if spec.weight == 0 {
        return Err(ConfigError::new(
            format!("{field}.weight"),
            "must be greater than zero",
        ));
    }
    topology.region(&spec.region).ok_or_else(|| {
        ConfigError::new(
            format!("{field}.region"),
            format!("unknown region `{}`", spec.region),
        )
    })
}

fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(ConfigError::new(
            field,
            format!("`{name}` must be 1-64 characters of letters, digits, `-`, `_` or `.`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TopologySpec {
        toml::from_str(
            r#"
            shard_count = 4
            [[regions]]
            name = "us"
            priority = 10
            [[regions]]
            name = "eu"
            priority = 8
            [[regions]]
            name = "apac"
            priority = 6
            [[nodes]]
            name = "us-1"
            region = "us"
            capacity = 100
            [[plans]]
            name = "growth"
            regions = ["apac", "eu", "us"]
            [[plans]]
            name = "eu-only"
            regions = ["eu", "us"]
            default_region = "us"
            "#,
        )
        .expect("valid topology")
    }

    #[test]
    fn plan_regions_are_ordered_default_first_then_priority() {
        let topology = StaticTopology::compile(&spec()).expect("compiles");
        let growth = topology.plan_entry(topology.plan(&"growth".into()).unwrap());
        let names: Vec<_> = growth
            .allowed
            .iter()
            .map(|r| topology.region_id(*r).as_str())
            .collect();
        assert_eq!(names, ["us", "eu", "apac"]);
        let eu_only = topology.plan_entry(topology.plan(&"eu-only".into()).unwrap());
        assert_eq!(topology.region_id(eu_only.default_region()).as_str(), "us");
    }

    #[test]
    fn without_plans_a_default_plan_allows_every_region() {
        let mut spec = spec();
        spec.plans.clear();
        let topology = StaticTopology::compile(&spec).expect("compiles");
        let plan = topology.plan_entry(topology.plan(&DEFAULT_PLAN.into()).unwrap());
        assert_eq!(plan.allowed.len(), 3);
    }

    #[test]
    fn errors_name_the_field() {
        let mut bad = spec();
        bad.plans[1].regions.push("mars".into());
        let error = StaticTopology::compile(&bad).unwrap_err();
        assert_eq!(error.field, "plans[1].regions[2]");
        let mut bad = spec();
        bad.regions[1].name = "us".into();
        assert_eq!(
            StaticTopology::compile(&bad).unwrap_err().field,
            "regions[1].name"
        );
        let mut bad = spec();
        bad.plans[1].default_region = Some("apac".into());
        assert_eq!(
            StaticTopology::compile(&bad).unwrap_err().field,
            "plans[1].default_region"
        );
        let topology = StaticTopology::compile(&spec()).unwrap();
        let mut node = spec().nodes[0].clone();
        node.capacity = 0;
        assert_eq!(
            check_node_spec("nodes[0]", &node, &topology)
                .unwrap_err()
                .field,
            "nodes[0].capacity"
        );
        node.capacity = 1;
        node.name = "bad name".into();
        assert_eq!(
            check_node_spec("nodes[0]", &node, &topology)
                .unwrap_err()
                .field,
            "nodes[0].name"
        );
    }
}
