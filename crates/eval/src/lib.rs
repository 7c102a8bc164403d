//! Evaluation: runs many simulations and scores them. Policy runs and their comparison table, the
//! CloudSim fidelity check against the published figures, and the prediction harness (simulated
//! days with ground-truth faults, real trace days) sit here, above the simulator, which stays a
//! simulator. `promig evaluate`'s policy comparison over seeds (with confidence intervals and
//! shards) is `compare`; the RL agent is scored with it too.

pub mod breakdown;
pub mod compare;
pub mod error;
pub mod evacuation;
pub mod fidelity;
pub mod oracle;
pub mod parallel;
pub mod prediction;
pub mod report;
pub mod run;
pub mod table;

pub use error::EvalError;
pub use run::{default_predictor, run_named, run_named_recorded};
pub use table::table;
