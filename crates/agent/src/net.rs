//! The learned scorer: one small network shared by every candidate (a multilayer perceptron over
//! its [`FEATURES`] values), so the same weights rate moves in a data centre of any size, and the
//! "wait" row competes with the moves on the same scale.
//!
//! Decisions run the network in plain Rust (a few hundred multiply-adds per candidate, no tensor
//! library overhead, the same result on every machine); training runs the same arithmetic in
//! candle for its gradients ([`crate::train`]), and a test holds the two to the same scores.
//! Weights are stored as safetensors (the format candle, PyTorch and Hugging Face tools read).

use crate::features::FEATURES;
use crate::policy::Scorer;
use candle_core::{DType, Device, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::Path;

/// The weights of the scorer: `FEATURES -> hidden -> hidden -> 1`, ReLU between layers.
/// Row-major matrices, `w1[i * hidden + j]` from input `i` to unit `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpWeights {
    /// Units per hidden layer.
    pub hidden: usize,
    /// First layer, `FEATURES x hidden`.
    pub w1: Vec<f32>,
    /// First layer's biases.
    pub b1: Vec<f32>,
    /// Second layer, `hidden x hidden`.
    pub w2: Vec<f32>,
    /// Second layer's biases.
    pub b2: Vec<f32>,
    /// Output layer, `hidden`.
    pub w3: Vec<f32>,
    /// Output bias.
    pub b3: f32,
    /// Added to the "wait" row's score (feature 0 is 1 there, 0 on moves): a learned bar every
    /// move must clear. It starts high, so an untrained agent waits rather than shuffling VMs.
    pub wait_bias: f32,
}

/// Where the wait bias starts: with a few hundred candidates, "wait" keeps most of the
/// probability (e^6 = 403) until training finds moves worth their cost.
pub const INITIAL_WAIT_BIAS: f32 = 6.0;

/// Why weights could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The safetensors file could not be read, parsed or written.
    #[error("{path}: {message}")]
    File {
        /// The file (or `<embedded>` for the committed model).
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl MlpWeights {
    /// Fresh weights drawn from `seed` (He-uniform, zero biases), so a training run is
    /// reproducible from its seed alone.
    pub fn init(seed: u64, hidden: usize) -> Self {
        let hidden = hidden.max(1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layer = |fan_in: usize, n: usize| -> Vec<f32> {
            let bound = (6.0 / fan_in as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        let w1 = layer(FEATURES, FEATURES * hidden);
        let w2 = layer(hidden, hidden * hidden);
        let w3 = layer(hidden, hidden).into_iter().map(|w| w * 0.1).collect();
        MlpWeights {
            hidden,
            w1,
            b1: vec![0.0; hidden],
            w2,
            b2: vec![0.0; hidden],
            w3,
            b3: 0.0,
            wait_bias: INITIAL_WAIT_BIAS,
        }
    }

    /// The score of one candidate's features.
    pub fn score(&self, x: &[f32]) -> f32 {
        let h = self.hidden;
        let mut a = self.b1.clone();
        for (i, &xi) in x.iter().enumerate().take(FEATURES) {
            if xi == 0.0 {
                continue;
            }
            let row = &self.w1[i * h..(i + 1) * h];
            for (aj, &w) in a.iter_mut().zip(row) {
                *aj += xi * w;
            }
        }
        let mut b = self.b2.clone();
        for (i, &ai) in a.iter().enumerate() {
            let ai = ai.max(0.0);
            if ai == 0.0 {
                continue;
            }
            let row = &self.w2[i * h..(i + 1) * h];
            for (bj, &w) in b.iter_mut().zip(row) {
                *bj += ai * w;
            }
        }
        let wait = x.first().copied().unwrap_or(0.0) * self.wait_bias;
        b.iter()
            .zip(&self.w3)
            .fold(self.b3 + wait, |s, (&bi, &w)| s + bi.max(0.0) * w)
    }

    /// The weights as named tensors (`w1`, `b1`, `w2`, `b2`, `w3`, `b3`) for candle.
    pub fn tensors(&self) -> candle_core::Result<HashMap<String, Tensor>> {
        let h = self.hidden;
        let d = Device::Cpu;
        Ok(HashMap::from([
            (
                "w1".to_string(),
                Tensor::from_slice(&self.w1, (FEATURES, h), &d)?,
            ),
            ("b1".to_string(), Tensor::from_slice(&self.b1, h, &d)?),
            ("w2".to_string(), Tensor::from_slice(&self.w2, (h, h), &d)?),
            ("b2".to_string(), Tensor::from_slice(&self.b2, h, &d)?),
            ("w3".to_string(), Tensor::from_slice(&self.w3, (h, 1), &d)?),
            ("b3".to_string(), Tensor::from_slice(&[self.b3], 1, &d)?),
            (
                "wait_bias".to_string(),
                Tensor::from_slice(&[self.wait_bias], 1, &d)?,
            ),
        ]))
    }

    /// Weights back from named tensors (the inverse of [`MlpWeights::tensors`]).
    pub fn from_tensors(t: &HashMap<String, Tensor>) -> Result<Self, String> {
        let get = |name: &str| -> Result<Vec<f32>, String> {
            let tensor = t
                .get(name)
                .ok_or_else(|| format!("tensor `{name}` missing"))?;
            tensor
                .to_dtype(DType::F32)
                .and_then(|x| x.flatten_all())
                .and_then(|x| x.to_vec1::<f32>())
                .map_err(|e| format!("tensor `{name}`: {e}"))
        };
        let b1 = get("b1")?;
        let hidden = b1.len();
        let w = MlpWeights {
            hidden,
            w1: get("w1")?,
            b1,
            w2: get("w2")?,
            b2: get("b2")?,
            w3: get("w3")?,
            b3: *get("b3")?.first().ok_or("tensor `b3` is empty")?,
            wait_bias: *get("wait_bias")?
                .first()
                .ok_or("tensor `wait_bias` is empty")?,
        };
        let sizes = [
            ("w1", w.w1.len(), FEATURES * hidden),
            ("w2", w.w2.len(), hidden * hidden),
            ("b2", w.b2.len(), hidden),
            ("w3", w.w3.len(), hidden),
        ];
        for (name, got, want) in sizes {
            if got != want {
                return Err(format!(
                    "tensor `{name}` holds {got} values, {want} expected for {FEATURES} features and {hidden} hidden units"
                ));
            }
        }
        if let Some(bad) = [&w.w1, &w.b1, &w.w2, &w.b2, &w.w3]
            .iter()
            .flat_map(|v| v.iter())
            .chain([&w.b3, &w.wait_bias])
            .find(|x| !x.is_finite())
        {
            return Err(format!("a weight is {bad}"));
        }
        Ok(w)
    }

    /// Writes the weights as a safetensors file.
    pub fn save(&self, path: &Path) -> Result<(), NetError> {
        let err = |message: String| NetError::File {
            path: path.display().to_string(),
            message,
        };
        let t = self.tensors().map_err(|e| err(e.to_string()))?;
        candle_core::safetensors::save(&t, path).map_err(|e| err(e.to_string()))
    }

    /// Reads weights from a safetensors file.
    pub fn load(path: &Path) -> Result<Self, NetError> {
        let bytes = std::fs::read(path).map_err(|e| NetError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Reads weights from safetensors bytes; `name` only labels errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, NetError> {
        let err = |message: String| NetError::File {
            path: name.to_string(),
            message,
        };
        let t = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| err(e.to_string()))?;
        Self::from_tensors(&t).map_err(err)
    }
}

/// The committed model: trained by `promig train` with the defaults and shipped in the binary, so
/// `promig simulate` has an `rl` row without training first.
pub const COMMITTED_MODEL: &[u8] = include_bytes!("../models/rl.safetensors");

impl Scorer for MlpWeights {
    fn scores(&self, features: &[f32], n: usize) -> Vec<f32> {
        features
            .chunks_exact(FEATURES)
            .take(n)
            .map(|row| self.score(row))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_forward_pass_is_candles() {
        let w = MlpWeights::init(7, 16);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 20;
        let x: Vec<f32> = (0..n * FEATURES)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let plain = w.scores(&x, n);
        let t = w.tensors().unwrap();
        let xs = Tensor::from_slice(&x, (n, FEATURES), &Device::Cpu).unwrap();
        let h1 = xs
            .matmul(&t["w1"])
            .unwrap()
            .broadcast_add(&t["b1"])
            .unwrap()
            .relu()
            .unwrap();
        let h2 = h1
            .matmul(&t["w2"])
            .unwrap()
            .broadcast_add(&t["b2"])
            .unwrap()
            .relu()
            .unwrap();
        let is_wait = xs.narrow(1, 0, 1).unwrap();
        let out = h2
            .matmul(&t["w3"])
            .unwrap()
            .broadcast_add(&t["b3"])
            .unwrap()
            .add(&is_wait.broadcast_mul(&t["wait_bias"]).unwrap())
            .unwrap();
        let candle: Vec<f32> = out.flatten_all().unwrap().to_vec1().unwrap();
        for (a, b) in plain.iter().zip(&candle) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn weights_survive_a_safetensors_round_trip_and_junk_is_refused() {
        let w = MlpWeights::init(1, 8);
        let dir = std::env::temp_dir().join(format!("promig-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        w.save(&path).unwrap();
        assert_eq!(MlpWeights::load(&path).unwrap(), w);
        assert!(MlpWeights::from_bytes(b"not a model", "junk").is_err());
        let mut t = w.tensors().unwrap();
        t.remove("w2");
        assert!(MlpWeights::from_tensors(&t).unwrap_err().contains("w2"));
    }

    #[test]
    fn the_committed_model_loads() {
        let w = MlpWeights::from_bytes(COMMITTED_MODEL, "<embedded>").unwrap();
        assert!(w.hidden > 0);
    }
}
