//! The shipped hardware model is what `promig predict train` produces from the current simulator,
//! so a change to the fault model cannot silently leave a stale model behind.

use promig_predict::HardwareModel;
use promig_sim::prediction::{HORIZON_S, training_samples};

#[test]
fn shipped_hardware_model_is_reproducible() {
    let data = training_samples(1..=30).unwrap();
    let trained = HardwareModel::train(&data, HORIZON_S).unwrap();
    let shipped = HardwareModel::builtin().unwrap();
    assert_eq!(trained.trained_on, shipped.trained_on);
    for (a, b) in trained.weights.iter().zip(&shipped.weights) {
        assert!(
            (a - b).abs() < 1e-9,
            "retrain: promig predict train ({:?} vs {:?})",
            trained.weights,
            shipped.weights
        );
    }
}
