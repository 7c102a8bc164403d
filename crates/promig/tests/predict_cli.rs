//! The prediction path end to end: held-out evaluation targets, and the proactive policy using the
//! predictor inside the simulator to empty hosts before they fail.

mod common;
use common::promig;

/// Harmonic mean of an alarm's precision and recall: the balance a learned model must win.
fn f1(s: &serde_json::Value) -> f64 {
    let (p, r) = (
        s["precision"].as_f64().unwrap(),
        s["recall"].as_f64().unwrap(),
    );
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

#[test]
fn hardware_failures_are_flagged_early_with_few_false_alarms_on_held_out_days() {
    let (ok, out, err) = promig(&["predict", "eval", "--seeds", "101", "110", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Hardware failures under the field-calibrated precursor model (4 in 10 give no warning,
    // healthy hosts log corrected errors with a heavy tail): the learned model beats the static
    // "CE >= 20/h" alarm on balance (F1) with a tenth of its false alarms or fewer, and at the
    // bound proactive-greedy acts on it warns of most failures that can be warned of.
    let fa = |s: &serde_json::Value| s["false_alarms_per_100_host_days"].as_f64().unwrap();
    let (hw, fixed, acted) = (
        &v["hardware"],
        &v["hardware_reactive"],
        &v["hardware_at_policy_bound"],
    );
    assert!(hw["events"].as_u64().unwrap() >= 15, "{hw}");
    assert!(f1(hw) > f1(fixed) + 0.1, "learned {hw} vs static {fixed}");
    assert!(fa(hw) * 10.0 <= fa(fixed), "learned {hw} vs static {fixed}");
    assert!(acted["recall"].as_f64().unwrap() >= 0.45, "{acted}");
    assert!(
        acted["recall"].as_f64().unwrap() > fixed["recall"].as_f64().unwrap(),
        "{acted}"
    );
    // One-step-ahead overload on the default scenario (surges included): the target,
    // recall >= 0.8 at precision >= 0.7, and no worse than persistence.
    let ov = &v["overload"];
    assert!(
        ov["predictor"]["positives"].as_u64().unwrap() >= 100,
        "{ov}"
    );
    // At the threshold fixed on the validation seeds (not chosen on these): the target,
    // recall >= 0.8 at precision >= 0.7.
    let fixed = &ov["at_validation_threshold"];
    assert!(fixed["precision"].as_f64().unwrap() >= 0.7, "{ov}");
    assert!(fixed["recall"].as_f64().unwrap() >= 0.8, "{ov}");
    // The real-trace figures the README prints, at the same fixed threshold.
    let real = |name: &str| {
        v["overload_real"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["traces"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["at_validation_threshold"]
            .clone()
    };
    for (name, precision, recall) in [
        ("google-vms static", 0.9, 0.9),
        ("planetlab/20110306 static", 0.75, 0.78),
        ("planetlab/20110325 static", 0.7, 0.7),
    ] {
        let c = real(name);
        assert!(
            c["precision"].as_f64().unwrap() >= precision
                && c["recall"].as_f64().unwrap() >= recall,
            "{name}: {c}"
        );
    }
    assert!(
        ov["predictor"]["recall"].as_f64().unwrap() >= ov["reactive"]["recall"].as_f64().unwrap(),
        "{ov}"
    );
    // The 90 % interval of next-step CPU demand is calibrated.
    let coverage = v["cpu_interval_coverage"].as_f64().unwrap();
    assert!((0.85..=0.97).contains(&coverage), "{coverage}");
    // Response-time breaches now occur (surges push VNF hosts past their latency bound).
    assert!(
        v["response_time"]["events"].as_u64().unwrap() >= 50,
        "{}",
        v["response_time"]
    );
}

#[test]
fn proactive_greedy_evacuates_hosts_before_they_fail() {
    let (ok, out, err) = promig(&["simulate", "--policy", "none,proactive-greedy", "--json"]);
    assert!(ok, "{err}");
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let (none, pro) = (&v[0], &v[1]);
    assert!(pro["failures_struck"].as_u64().unwrap() > 0);
    // Every failure that gave a warning finds its host empty; a silent one (no precursor at
    // all) cannot be foreseen.
    let warned_hits: u64 = pro["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"] == "hardware-failure" && f["silent"] != true)
        .map(|f| f["vms_hit"].as_u64().unwrap())
        .sum();
    assert_eq!(warned_hits, 0, "{pro}");
    assert!(
        pro["failures_evacuated"].as_u64().unwrap() > none["failures_evacuated"].as_u64().unwrap(),
        "{pro}"
    );
    assert!(pro["downtime_s"].as_f64().unwrap() < none["downtime_s"].as_f64().unwrap());
    assert!(pro["vms_crashed"].as_u64().unwrap() < none["vms_crashed"].as_u64().unwrap());
}

#[test]
fn on_nab_the_new_extreme_detector_beats_the_static_threshold_and_nabs_detectors_score_as_nab_scores_them()
 {
    let (ok, out, err) = promig(&["predict", "nab", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let score = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|d| d["detector"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))["scores"]["all"]["score"]
            .as_f64()
            .unwrap()
    };
    let (novel, fixed) = (score("new extreme"), score("static threshold"));
    assert!(novel > fixed + 5.0, "{novel} vs {fixed}");
    // NAB's own detectors, from their result files, score what NAB's scorer gives them on these
    // 22 series (the sums of their S(t)_standard columns, normalised; see
    // crates/predict/tests/nab_against_nab.rs).
    for (name, nab) in [
        ("numenta HTM (NAB)", 65.552),
        ("twitterADVec (NAB)", 29.106),
        ("windowedGaussian (NAB)", 22.378),
        ("randomCutForest (NAB)", 52.596),
    ] {
        let got = score(name);
        assert!((got - nab).abs() < 0.001, "{name}: {got} vs NAB's {nab}");
    }
}

#[test]
fn the_learned_hardware_model_beats_the_static_alarm_on_a_day_it_never_saw() {
    let (ok, out, err) = promig(&[
        "predict",
        "eval",
        "--traces",
        "planetlab/20110325",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The same balance holds on a day the model was never trained on.
    let (hw, fixed) = (&v["hardware"], &v["hardware_reactive"]);
    assert!(f1(hw) > f1(fixed), "learned {hw} vs static {fixed}");
    assert!(
        hw["false_alarms_per_100_host_days"].as_f64().unwrap()
            < fixed["false_alarms_per_100_host_days"].as_f64().unwrap(),
        "{hw}"
    );
    assert!(
        v["overload"]["traces"]
            .as_str()
            .unwrap()
            .contains("20110325")
    );
}

#[test]
fn the_overload_threshold_is_the_one_the_validation_seeds_choose() {
    let (ok, out, err) = promig(&["predict", "eval", "--seeds", "1", "10", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let chosen = v["overload"]["best_recall_at_precision_70"][1]
        .as_f64()
        .unwrap();
    assert!(
        (chosen - promig_eval::prediction::OVERLOAD_THRESHOLD).abs() < 0.001,
        "validation seeds choose P >= {chosen}; update OVERLOAD_THRESHOLD"
    );
}
