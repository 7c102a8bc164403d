//! The decide stage, learned: an RL environment over the simulator and the pieces any learner
//! needs (candidate moves with fixed-length features, a mask of infeasible ones, a reward), plus
//! [`ScoredPolicy`], which turns any per-candidate [`Scorer`] into a `Policy` the simulator runs.

#![deny(missing_docs)]
pub mod env;
pub mod error;
pub mod features;
pub mod mask;
pub mod policy;
pub mod reward;

pub use env::{Env, EnvConfig, State, StepOutcome};
pub use error::AgentError;
pub use features::{Candidate, CandidateConfig, Candidates, FEATURES, Move, Pricer};
pub use mask::{Infeasible, MaskConfig, Round};
pub use policy::{AgentConfig, LinearScorer, ScoredPolicy, Scorer, choose, register};
pub use reward::RewardWeights;
