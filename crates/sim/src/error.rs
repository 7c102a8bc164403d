//! Errors of the simulator crate.

/// What can stop a simulation from being set up.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A scenario, trace or topology file is wrong.
    #[error(transparent)]
    Model(#[from] promig_model::ModelError),
    /// A host type's power curve is unusable.
    #[error(transparent)]
    PowerCurve(#[from] promig_model::scenario::PowerCurveError),
    /// A calibration profile is unreadable or has a constant out of range (the error names its
    /// file, line and key).
    #[error(transparent)]
    Profile(#[from] promig_migrate::ProfileError),
    /// A run setting is out of range.
    #[error("{field}: {message}")]
    Config {
        /// The setting (`steps`, `interval_s`...).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The scenario cannot be simulated as described.
    #[error("{0}")]
    Setup(String),
}
