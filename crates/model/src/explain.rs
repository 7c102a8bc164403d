//! Why a learned policy moved a VM: the options it scored for that VM, best first, each with the
//! features that weighed most in its score. Kept in the run's report (`promig simulate --json`)
//! so `promig explain REPORT.json VM` can answer an operator's "why this host, why now" after
//! the fact; a network's score alone answers neither.

use crate::{HostId, Technique, VmId};
use serde::{Deserialize, Serialize};

/// One move a policy made, with what it was weighed against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Simulated time of the decision.
    pub time_s: f64,
    /// The VM moved.
    pub vm: VmId,
    /// Where it ran.
    pub from: HostId,
    /// Score of waiting (doing nothing this interval) at that decision.
    pub wait_score: f32,
    /// The options scored for this VM, best first; the first is the one taken.
    pub options: Vec<ScoredOption>,
}

/// One (destination, technique) option for a VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredOption {
    /// Destination host.
    pub to: HostId,
    /// Migration technique.
    pub technique: Technique,
    /// The policy's score (higher is better).
    pub score: f32,
    /// The features that moved the score most, largest effect first.
    pub weighed_most: Vec<FeatureEffect>,
    /// Scored above the option taken, so it could not be chosen when the move was made: an
    /// earlier move of the same interval had booked its destination, or it was over a limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unavailable: bool,
}

/// A feature's part in a score: the score minus the score with that feature set to zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEffect {
    /// The feature's name.
    pub feature: String,
    /// Its (normalised) value.
    pub value: f32,
    /// How much it added to the score (negative: how much it took away).
    pub effect: f32,
}
