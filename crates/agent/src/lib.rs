//! The decide stage, learned: an RL environment over the simulator and the pieces any learner
//! needs (candidate moves with fixed-length features, a mask of infeasible ones, a reward), plus
//! [`ScoredPolicy`], which turns any per-candidate [`Scorer`] into a `Policy` the simulator runs.

#![deny(missing_docs)]
pub mod env;
pub mod error;
pub mod features;
pub mod mask;
pub mod net;
pub mod policy;
pub mod reward;
pub mod train;

pub use env::{Env, EnvConfig, State, StepOutcome};
pub use error::AgentError;
pub use features::{Candidate, CandidateConfig, Candidates, FEATURES, FeatureGroup, Move, Pricer};
pub use mask::{Infeasible, MaskConfig, Round};
pub use net::{COMMITTED_MODEL, MlpWeights, NetError};
pub use policy::{
    AgentConfig, ChoiceRule, LinearScorer, ScoredPolicy, Scorer, choose, choose_probable, register,
};
pub use reward::RewardWeights;
pub use train::{
    Checkpoint, EpisodeStats, TrainConfig, Trained, episode_reward, episode_seed, selection_seeds,
    train, train_with,
};
