//! The prediction stage: from the stream of observations, estimate for every host the probability
//! that it fails or breaks a VNF's requirements within a horizon, and the time left. Policies see
//! the result in `Observation::risks`, whether the observations come from the simulator or, later,
//! from live telemetry through the controller.

pub mod evaluation;
pub mod features;
pub mod forecast;
pub mod forest;
pub mod hardware;
pub mod nab;
pub mod predictor;
pub mod prepare;
pub mod selection;

pub use hardware::HardwareModel;
pub use predictor::{Predictor, RiskPredictor};

/// What can go wrong in the predict stage.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// Training failed (too little data, a single class...).
    #[error("training failed: {0}")]
    Training(String),
    /// The learning library refused the data or failed to fit.
    #[error("{what} failed")]
    Learner {
        /// What was being done (building the matrix, fitting the forest...).
        what: &'static str,
        /// The library's error.
        #[source]
        source: smartcore::error::Failed,
    },
    /// A data or model file could not be read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file does not parse.
    #[error("{path}: not valid JSON")]
    Json {
        /// The file.
        path: String,
        /// Where and why.
        #[source]
        source: serde_json::Error,
    },
    /// A model file could not be read.
    #[error("{path}: {message}")]
    ModelFile {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
}
