//! Errors of the evaluation crate: whatever stopped a run, with its cause kept.

/// What can stop an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A scenario, trace or topology file is wrong, or the data folder is missing.
    #[error(transparent)]
    Model(#[from] promig_model::ModelError),
    /// A simulation could not be set up.
    #[error(transparent)]
    Sim(#[from] promig_sim::SimError),
    /// A predictor could not be built or trained.
    #[error(transparent)]
    Predict(#[from] promig_predict::PredictError),
    /// A policy name or parameter is wrong.
    #[error(transparent)]
    Policy(#[from] promig_policy::PolicyError),
    /// A command-line value is wrong (the message names the flag).
    #[error("{0}")]
    Input(String),
    /// A file given to the evaluation is unreadable, malformed or does not fit the others.
    #[error("{}: {reason}", file.display())]
    File {
        /// The file.
        file: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
