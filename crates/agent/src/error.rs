//! What can go wrong in the agent crate, named by where.

/// Errors of the environment and the scored policies.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The simulator refused its set-up.
    #[error("simulator: {0}")]
    Sim(#[from] promig_sim::SimError),
    /// The predictor could not be built.
    #[error("predictor: {0}")]
    Predict(#[from] promig_predict::PredictError),
    /// `step` was called before `reset` or after the episode ended.
    #[error("the environment has no episode running: call reset first")]
    NotReset,
    /// The run has no decision point at all (fewer than two steps).
    #[error("the run has no decision point (steps < 2)")]
    NoDecisionPoint,
    /// A chosen candidate does not exist or is masked, given the picks before it.
    #[error("pick {position} (candidate {index}) is not selectable: {reason}")]
    BadPick {
        /// Position in the list of picks.
        position: usize,
        /// Candidate index given.
        index: usize,
        /// Why, in words.
        reason: String,
    },
    /// The learner's tensor arithmetic failed (shapes, a non-finite weight).
    #[error("learner: {0}")]
    Learner(String),
    /// Registering a policy under a name already taken.
    #[error("registry: {0}")]
    Policy(#[from] promig_policy::PolicyError),
}
