//! Hardware-failure prediction from precursors (corrected memory errors, temperature drift):
//! logistic regression on standardised features, trained on the simulator's labelled faults.
//! smartcore fits it; scoring is a dot product kept here so the saved model is a small JSON file.

use crate::PredictError;
use crate::features::HARDWARE_FEATURES;
use promig_model::stats::sigmoid;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

const N: usize = HARDWARE_FEATURES.len();

/// A trained classifier: P(crash within `horizon_s`) from the hardware features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardwareModel {
    /// Horizon the labels were built with.
    pub horizon_s: f64,
    /// Feature names (for operators reading the file).
    pub features: Vec<String>,
    /// Per-feature mean used for standardisation.
    pub mean: Vec<f64>,
    /// Per-feature standard deviation used for standardisation.
    pub sd: Vec<f64>,
    /// Coefficients on standardised features.
    pub weights: Vec<f64>,
    /// Intercept.
    pub bias: f64,
    /// Samples and positives it was trained on.
    pub trained_on: (usize, usize),
}

/// The model shipped with promig (trained by `promig predict train`, see the README).
pub const BUILTIN_JSON: &str = include_str!("../models/hardware.json");

impl HardwareModel {
    /// The shipped model.
    pub fn builtin() -> Result<Self, PredictError> {
        Self::from_json(BUILTIN_JSON, "<built-in hardware model>")
    }

    /// Parses a model file.
    pub fn from_json(text: &str, path: &str) -> Result<Self, PredictError> {
        let m: HardwareModel = serde_json::from_str(text).map_err(|e| PredictError::ModelFile {
            path: path.into(),
            message: e.to_string(),
        })?;
        if m.mean.len() != N || m.sd.len() != N || m.weights.len() != N {
            return Err(PredictError::ModelFile {
                path: path.into(),
                message: format!("expected {N} features, found {}", m.weights.len()),
            });
        }
        Ok(m)
    }

    /// Probability of a crash within the horizon.
    pub fn probability(&self, x: &[f64; N]) -> f64 {
        let z: f64 = x
            .iter()
            .zip(&self.weights)
            .zip(self.mean.iter().zip(&self.sd))
            .map(|((xi, w), (m, sd))| w * (xi - m) / sd)
            .sum();
        sigmoid(self.bias + z)
    }

    /// Fits the classifier on labelled samples.
    pub fn train(samples: &[([f64; N], bool)], horizon_s: f64) -> Result<Self, PredictError> {
        let positives = samples.iter().filter(|s| s.1).count();
        if positives == 0 || positives == samples.len() {
            return Err(PredictError::Training(format!(
                "need both classes, got {positives} positives of {}",
                samples.len()
            )));
        }
        let n = samples.len() as f64;
        let mut mean = vec![0.0; N];
        for (x, _) in samples {
            for i in 0..N {
                mean[i] += x[i] / n;
            }
        }
        let mut sd = vec![0.0; N];
        for (x, _) in samples {
            for i in 0..N {
                sd[i] += (x[i] - mean[i]).powi(2) / n;
            }
        }
        for v in &mut sd {
            *v = v.sqrt().max(1e-6);
        }
        let rows: Vec<Vec<f64>> = samples
            .iter()
            .map(|(x, _)| (0..N).map(|i| (x[i] - mean[i]) / sd[i]).collect())
            .collect();
        let x = DenseMatrix::from_2d_vec(&rows).map_err(|source| PredictError::Learner {
            what: "building the feature matrix",
            source,
        })?;
        let y: Vec<i32> = samples.iter().map(|s| i32::from(s.1)).collect();
        let params = LogisticRegressionParameters::default().with_alpha(0.1);
        let lr =
            LogisticRegression::fit(&x, &y, params).map_err(|source| PredictError::Learner {
                what: "fitting",
                source,
            })?;
        let coef = lr.coefficients();
        let weights: Vec<f64> = (0..N).map(|i| *coef.get((0, i))).collect();
        let bias = *lr.intercept().get((0, 0));
        Ok(HardwareModel {
            horizon_s,
            features: HARDWARE_FEATURES.iter().map(|s| s.to_string()).collect(),
            mean,
            sd,
            weights,
            bias,
            trained_on: (samples.len(), positives),
        })
    }
}
