//! Action plans, as operators know them from OpenStack Watcher: a plan is recommended, approved
//! (by the controller or an operator), executed, and ends succeeded, failed, cancelled or
//! superseded. The legal moves between states are one table, so the journal, the loop and the API
//! cannot disagree about what may follow what.

use promig_migrate::{Technique, TechniqueParams};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A plan's number, unique within one journal (SQLite's row id).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct PlanId(pub u64);

impl fmt::Display for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plan#{}", self.0)
    }
}

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanState {
    /// Proposed; waits for approval.
    Recommended,
    /// Approved; waits for a free migration slot.
    Approved,
    /// Handed to the driver; the migration runs.
    Executing,
    /// The VM runs on the destination.
    Succeeded,
    /// The migration did not happen or broke off; the VM runs on the source.
    Failed,
    /// An operator (or a shutdown before it started) cancelled it; the VM runs on the source.
    Cancelled,
    /// Overtaken by events: the VM moved, a newer plan replaced it, or it expired unapproved.
    Superseded,
}

impl PlanState {
    /// Every state, in lifecycle order (for metrics that list all of them, zeros included).
    pub const ALL: [PlanState; 7] = [
        PlanState::Recommended,
        PlanState::Approved,
        PlanState::Executing,
        PlanState::Succeeded,
        PlanState::Failed,
        PlanState::Cancelled,
        PlanState::Superseded,
    ];

    /// The lowercase name used in the journal, the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Recommended => "recommended",
            PlanState::Approved => "approved",
            PlanState::Executing => "executing",
            PlanState::Succeeded => "succeeded",
            PlanState::Failed => "failed",
            PlanState::Cancelled => "cancelled",
            PlanState::Superseded => "superseded",
        }
    }

    /// Reads [`PlanState::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<PlanState> {
        PlanState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the plan is over (nothing may follow).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled | PlanState::Superseded
        )
    }

    /// Whether `self -> next` is a legal move. An executing plan can no longer be superseded:
    /// only the migration's own end decides how it ends.
    pub fn may_become(self, next: PlanState) -> bool {
        use PlanState::*;
        matches!(
            (self, next),
            (Recommended, Approved | Cancelled | Superseded)
                | (Approved, Executing | Cancelled | Superseded | Failed)
                | (Executing, Succeeded | Failed | Cancelled)
        )
    }
}

impl fmt::Display for PlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An option the planner weighed and did not take, with why: operators trust a plan whose
/// alternatives they can see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    /// What was considered (`destination host-7` or `technique post-copy`).
    pub option: String,
    /// Why not.
    pub why: String,
}

/// Why the plan exists and what the cost model expects of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The predicted cause on the source (`hardware`, `overload`, `memory`, `response-time`,
    /// or `policy` when the policy moved the VM for its own reasons, e.g. consolidation).
    pub cause: String,
    /// Probability the source breaks the VNF's requirements within the horizon.
    pub risk: f64,
    /// Predicted time to the failure, when the predictor gives one.
    pub time_left_s: Option<f64>,
    /// The cost model's total migration time.
    pub predicted_total_s: f64,
    /// The cost model's pause of the VM.
    pub predicted_downtime_ms: f64,
    /// Whether the chosen technique meets every constraint (deadline, downtime bound); false for
    /// a best effort when nothing meets them.
    pub meets_constraints: bool,
    /// Options rejected, with why.
    pub rejected: Vec<Alternative>,
    /// How a scoring policy (the RL agent) rated this move against its other options and against
    /// waiting; absent for policies that do not score (the journal of older plans has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored: Option<ScoredChoice>,
}

/// The options a scoring policy weighed for the VM, best first, and the score of waiting: the
/// agent's side of "why this destination", next to the planner's side in `rejected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredChoice {
    /// Score of doing nothing this round.
    pub wait_score: f32,
    /// The options, the one taken first.
    pub options: Vec<ScoredDestination>,
}

/// One (destination, technique) the policy scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredDestination {
    /// Destination host.
    pub destination: String,
    /// Technique the policy had in mind.
    pub technique: String,
    /// Its score (higher is better).
    pub score: f32,
    /// Features that moved the score most (option taken and runner-up only).
    #[serde(default)]
    pub weighed_most: Vec<promig_model::FeatureEffect>,
    /// Scored above the one taken but booked by an earlier move of the round or over a limit.
    #[serde(default)]
    pub unavailable: bool,
}

impl ScoredChoice {
    /// The policy's explanation with host names instead of observation ids; `None` when a host
    /// it names is not in the snapshot (a stale explanation is not shown as a current one).
    pub fn of(
        e: &promig_model::Explanation,
        obs: &promig_model::Observation,
        host_names: &[String],
    ) -> Option<ScoredChoice> {
        let options = e
            .options
            .iter()
            .map(|o| {
                let h = obs.hosts.iter().position(|h| h.id == o.to)?;
                Some(ScoredDestination {
                    destination: host_names.get(h)?.clone(),
                    technique: o.technique.name().to_string(),
                    score: o.score,
                    weighed_most: o.weighed_most.clone(),
                    unavailable: o.unavailable,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(ScoredChoice {
            wait_score: e.wait_score,
            options,
        })
    }
}

/// What the driver measured once the migration ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Total time.
    pub total_ms: f64,
    /// Pause of the VM.
    pub downtime_ms: f64,
    /// RAM sent.
    pub transferred_kib: f64,
}

/// One action plan: move one VM from its source to a destination, how, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Identity.
    pub id: PlanId,
    /// The VM.
    pub vm: String,
    /// Where it runs.
    pub source: String,
    /// Where it goes.
    pub destination: String,
    /// Technique and parameters the planner chose.
    pub params: TechniqueParams,
    /// The technique's name (also inside `params`; here for readers of the JSON).
    pub technique: String,
    /// Why and what is expected.
    pub reason: Reason,
    /// State.
    pub state: PlanState,
    /// World time (seconds) the plan was made.
    pub created_s: f64,
    /// World time of the last state change.
    pub updated_s: f64,
    /// The last state change's explanation (who approved, why it failed...).
    pub detail: String,
    /// Filled when the migration ended.
    pub measured: Option<Measured>,
}

impl Plan {
    /// The technique of `params`.
    pub fn technique(&self) -> Technique {
        self.params.technique
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_lead_nowhere_and_names_round_trip() {
        for s in PlanState::ALL {
            assert_eq!(PlanState::parse(s.as_str()), Some(s));
            if s.is_final() {
                assert!(PlanState::ALL.iter().all(|&n| !s.may_become(n)), "{s}");
            }
        }
        assert!(PlanState::Recommended.may_become(PlanState::Approved));
        assert!(!PlanState::Recommended.may_become(PlanState::Executing));
        assert!(!PlanState::Executing.may_become(PlanState::Superseded));
        assert_eq!(PlanState::parse("done"), None);
    }
}
