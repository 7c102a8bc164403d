//! A random-forest alternative to the logistic hardware classifier (smartcore), trained on the
//! same labelled faults, so the evaluation can show whether a non-linear model buys anything.

use crate::PredictError;
use crate::features::HARDWARE_FEATURES;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

const N: usize = HARDWARE_FEATURES.len();

/// A trained forest.
pub struct HardwareForest {
    model: RandomForestClassifier<f64, i32, DenseMatrix<f64>, Vec<i32>>,
}

impl HardwareForest {
    /// Trains on every positive and every `negative_stride`-th negative (a deterministic
    /// subsample: negatives outnumber positives by 300 to 1 and carry little new information).
    pub fn train(
        samples: &[([f64; N], bool)],
        negative_stride: usize,
        seed: u64,
    ) -> Result<Self, PredictError> {
        let mut rows = Vec::new();
        let mut y = Vec::new();
        let mut neg = 0usize;
        for (x, label) in samples {
            if !*label {
                neg += 1;
                if !neg.is_multiple_of(negative_stride.max(1)) {
                    continue;
                }
            }
            rows.push(x.to_vec());
            y.push(i32::from(*label));
        }
        let x = DenseMatrix::from_2d_vec(&rows).map_err(|source| PredictError::Learner {
            what: "building the feature matrix",
            source,
        })?;
        let params = RandomForestClassifierParameters::default()
            .with_n_trees(50)
            .with_max_depth(8)
            .with_min_samples_leaf(5)
            .with_seed(seed);
        let model = RandomForestClassifier::fit(&x, &y, params).map_err(|source| {
            PredictError::Learner {
                what: "fitting",
                source,
            }
        })?;
        Ok(HardwareForest { model })
    }

    /// Whether the forest predicts a crash within the horizon, for many samples at once.
    pub fn predict(&self, xs: &[[f64; N]]) -> Result<Vec<bool>, PredictError> {
        if xs.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<Vec<f64>> = xs.iter().map(|x| x.to_vec()).collect();
        let m = DenseMatrix::from_2d_vec(&rows).map_err(|source| PredictError::Learner {
            what: "building the feature matrix",
            source,
        })?;
        let y = self
            .model
            .predict(&m)
            .map_err(|source| PredictError::Learner {
                what: "fitting",
                source,
            })?;
        Ok(y.into_iter().map(|c| c == 1).collect())
    }
}
