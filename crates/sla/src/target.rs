//! Targets: per KPI, the tender's target, which way it is met, and the
//! penalty threshold beyond which money is lost; a figure's status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::report::CATALOGUE;

/// Which way a figure meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Met at or above the target (rates).
    AtLeast,
    /// Met at or below the target (waits, losses, durations).
    AtMost,
}

/// A KPI's target (`[sla.targets.NAME]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The figure to reach.
    pub target: f64,
    /// Default: the KPI's own direction.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Between the target and this threshold the figure is
    /// `within_tolerance`; beyond it, `missed`.
    #[serde(default)]
    pub penalty: Option<f64>,
    /// Above this the figure is `missed` whatever the direction (the
    /// productive-hours cap).
    #[serde(default)]
    pub ceiling: Option<f64>,
}

impl Target {
    /// A target of `target`, in the KPI's direction, no tolerance.
    pub const fn at(target: f64) -> Target {
        Target {
            target,
            direction: None,
            penalty: None,
            ceiling: None,
        }
    }

    /// With a penalty threshold (the tolerance band's far end).
    pub const fn penalty(self, penalty: f64) -> Target {
        Target {
            penalty: Some(penalty),
            ..self
        }
    }

    /// With a cap (a figure above it is missed).
    pub const fn ceiling(self, ceiling: f64) -> Target {
        Target {
            ceiling: Some(ceiling),
            ..self
        }
    }

    /// The status of `value`, the target met the `natural` way unless the
    /// target says otherwise.
    pub fn status(&self, value: Option<f64>, natural: Direction) -> Status {
        let Some(v) = value else {
            return Status::NoData;
        };
        let meets = |limit: f64| match self.direction.unwrap_or(natural) {
            Direction::AtLeast => v >= limit,
            Direction::AtMost => v <= limit,
        };
        if self.ceiling.is_some_and(|c| v > c) {
            Status::Missed
        } else if meets(self.target) {
            Status::Met
        } else if self.penalty.is_some_and(meets) {
            Status::WithinTolerance
        } else {
            Status::Missed
        }
    }
}

/// Where a figure stands against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The target is met.
    Met,
    /// Missed, beyond any tolerance.
    Missed,
    /// Between the target and the penalty threshold (the tolerance band).
    WithinTolerance,
    /// No call to compute the figure from.
    NoData,
}

impl Status {
    /// The status's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "missed",
            Status::WithinTolerance => "within_tolerance",
            Status::NoData => "no_data",
        }
    }
}

/// The targets by KPI name: the defaults of the catalogue, each replaced
/// by an entry of `[sla.targets]` of the same name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "BTreeMap<String, Target>")]
pub struct Targets(BTreeMap<String, Target>);

impl Default for Targets {
    fn default() -> Self {
        Targets(
            CATALOGUE
                .iter()
                .filter_map(|k| k.target.map(|t| (k.name.to_string(), t)))
                .collect(),
        )
    }
}

impl TryFrom<BTreeMap<String, Target>> for Targets {
    type Error = Error;
    fn try_from(entries: BTreeMap<String, Target>) -> Result<Targets, Error> {
        let mut targets = Targets::default();
        for (name, t) in entries {
            if !CATALOGUE.iter().any(|k| k.name == name) {
                let known: Vec<&str> = CATALOGUE.iter().map(|k| k.name).collect();
                return Err(Error::UnknownKpi {
                    name,
                    known: known.join(", "),
                });
            }
            targets.0.insert(name, t);
        }
        Ok(targets)
    }
}

impl Targets {
    /// The target of a KPI (`name` or `name/detail`).
    pub fn get(&self, kpi: &str) -> Option<&Target> {
        let base = kpi.split('/').next().unwrap_or(kpi);
        self.0.get(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_direction_penalty_and_ceiling() {
        let pickup = Target::at(0.90).penalty(0.89);
        let up = Direction::AtLeast;
        assert_eq!(pickup.status(Some(0.9), up), Status::Met);
        assert_eq!(pickup.status(Some(0.8950), up), Status::WithinTolerance);
        assert_eq!(pickup.status(Some(0.89), up), Status::WithinTolerance);
        assert_eq!(pickup.status(Some(0.8899), up), Status::Missed);
        assert_eq!(pickup.status(None, up), Status::NoData);
        let dmc = Target::at(300.0).penalty(360.0);
        let down = Direction::AtMost;
        assert_eq!(dmc.status(Some(300.0), down), Status::Met);
        assert_eq!(dmc.status(Some(300.1), down), Status::WithinTolerance);
        assert_eq!(dmc.status(Some(360.1), down), Status::Missed);
        let hours = Target::at(0.95).ceiling(1.10);
        assert_eq!(hours.status(Some(1.10), up), Status::Met);
        assert_eq!(hours.status(Some(1.1001), up), Status::Missed);
        assert_eq!(hours.status(Some(0.94), up), Status::Missed);
        // A target may turn the direction round.
        let reversed = Target {
            direction: Some(Direction::AtMost),
            ..Target::at(0.5)
        };
        assert_eq!(reversed.status(Some(0.4), up), Status::Met);
    }

    #[test]
    fn targets_default_from_the_catalogue_and_reject_unknown_names() {
        let t = Targets::default();
        assert_eq!(t.get("pickup_rate"), Some(&Target::at(0.90).penalty(0.89)));
        assert_eq!(t.get("file0_delay/act-1"), Some(&Target::at(900.0)));
        assert_eq!(t.get("received"), None);
        let mut entries = BTreeMap::new();
        entries.insert("dmc".to_string(), Target::at(240.0));
        let t = Targets::try_from(entries).unwrap();
        assert_eq!(t.get("dmc"), Some(&Target::at(240.0)));
        assert_eq!(t.get("dmt"), Some(&Target::at(360.0).penalty(480.0)));
        let mut entries = BTreeMap::new();
        entries.insert("pick_up".to_string(), Target::at(0.5));
        let e = Targets::try_from(entries).unwrap_err().to_string();
        assert!(
            e.contains("\"pick_up\"") && e.contains("pickup_rate"),
            "{e}"
        );
    }
}
