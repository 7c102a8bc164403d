//! The shipped hardware model is what `promig predict train` produces from the current simulator,
//! so a change to the fault model cannot silently leave a stale model behind.

use promig_eval::prediction::{HORIZON_S, training_samples};
use promig_predict::HardwareModel;

#[test]
fn shipped_hardware_model_is_reproducible() {
    let data = training_samples(&promig_model::data::dir(None).unwrap(), 1..=30).unwrap();
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

#[test]
fn failing_hosts_are_flagged_before_they_crash_and_the_longer_horizon_warns_earlier() {
    use promig_predict::{Predictor, RiskPredictor};
    let file = promig_sim::scenario::default_scenario().unwrap();
    let base = promig_model::data::dir(None).unwrap();
    let world = std::sync::Arc::new(promig_sim::scenario::build_world(&file, &base).unwrap());
    let mut policy = promig_policy::by_name("none", 0).unwrap();
    let mut sim =
        promig_sim::Simulator::new(world, promig_sim::SimConfig::nfv(42, 288), policy.as_mut())
            .unwrap();
    let mut predictor = RiskPredictor::new(Some(HardwareModel::builtin().unwrap()), 3.0);
    // The bound proactive-greedy acts on.
    let bound = promig_policy::proactive::ProactiveGreedy::default().hardware_bound;
    // First time each host's hardware risk, and its 5- and 30-minute breach risk, crossed 0.5.
    let mut flagged: std::collections::BTreeMap<usize, f64> = Default::default();
    let mut within_5: std::collections::BTreeMap<usize, f64> = Default::default();
    let mut within_30: std::collections::BTreeMap<usize, f64> = Default::default();
    while sim.step(policy.as_mut()) {
        let obs = sim.observation();
        for (h, r) in predictor.predict(&obs).iter().enumerate() {
            // Prediction intervals bracket their forecast.
            for iv in [r.cpu_demand, r.memory_use] {
                assert!(iv[0] <= iv[1] && iv[1] <= iv[2], "{r:?}");
            }
            if r.hardware >= bound {
                flagged.entry(h).or_insert(obs.time_s);
            }
            if r.within[0] >= bound {
                within_5.entry(h).or_insert(obs.time_s);
            }
            if r.within[2] >= bound {
                within_30.entry(h).or_insert(obs.time_s);
            }
        }
    }
    // Every failing host that gave a warning is flagged before it crashes, most of them at least
    // 10 minutes before (a precursor can start too late for that: the lead time is drawn per
    // failure); a silent failure gives nothing to flag.
    let report = sim.report();
    let crashes: Vec<_> = report
        .faults
        .iter()
        .filter(|f| f.cause == promig_model::FaultCause::HardwareFailure && !f.silent)
        .collect();
    assert!(!crashes.is_empty());
    let mut early = 0;
    for f in &crashes {
        let strike = f.strike_s.unwrap();
        let first = flagged.get(&f.host).copied().unwrap_or(f64::INFINITY);
        assert!(
            first < strike,
            "host {} not flagged before its crash at {strike}",
            f.host
        );
        early += usize::from(first + 600.0 <= strike);
    }
    assert!(
        early * 4 >= crashes.len() * 3,
        "{early} of {} flagged 10 min ahead",
        crashes.len()
    );
    // The 30-minute horizon is worth having: on most failures it raises the alarm strictly
    // earlier than the 5-minute one (equal would mean the horizon adds nothing).
    let earlier = crashes
        .iter()
        .filter(|f| {
            let t30 = within_30.get(&f.host).copied().unwrap_or(f64::INFINITY);
            let t5 = within_5.get(&f.host).copied().unwrap_or(f64::INFINITY);
            t30 < t5
        })
        .count();
    assert!(
        earlier * 2 >= crashes.len(),
        "30-min horizon earlier on {earlier} of {} failures",
        crashes.len()
    );
}
