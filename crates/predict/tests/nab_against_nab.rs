//! Our NAB scorer against NAB's own scores. NAB's result files (`DATA/nab/results/`) hold, for
//! four published detectors on our 22 series, the anomaly score of every row and the score NAB's
//! scorer gave it under each profile (`S(t)_<profile>`: a window's score on its first row, each
//! false alarm's cost on its row, 0 elsewhere). Fed NAB's anomaly scores and NAB's thresholds
//! (`config/thresholds.json`), our scorer must give the same per-series sums, the same counts and
//! the same normalised totals; any change to a scoring rule (true-positive normalisation,
//! probation, window bounds, false-alarm weighting, the threshold test) breaks this test.
//!
//! The expected figures are read from NAB's files here with a parser of the test's own, so a bug in
//! the library's loader cannot hide a bug in the scorer.

use promig_predict::nab::{self, NabScore, Profile};
use std::path::{Path, PathBuf};

/// NAB's four detectors whose result files the data folder holds.
const DETECTORS: [&str; 4] = [
    "numenta",
    "twitterADVec",
    "windowedGaussian",
    "randomCutForest",
];

/// NAB writes `S(t)` with 12 significant digits; summed over a series (up to a few thousand false
/// alarms) that rounding stays near 1e-12, so 1e-9 is tight enough to catch any rule and loose
/// enough for the printing.
const TOLERANCE: f64 = 1e-9;

fn nab_dir() -> PathBuf {
    promig_model::data::dir(None)
        .expect("the shared data folder (PROMIG_DATA or ../shared/data)")
        .join("nab")
}

/// One NAB result file, read independently of the library: (label per row, S(t) per row).
fn nab_file(dir: &Path, detector: &str, series: &str, profile: &str) -> (Vec<bool>, Vec<f64>) {
    let (category, file) = series.split_once('/').unwrap();
    let path = dir.join(format!("results/{detector}/{category}/{detector}_{file}"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|&h| h == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", path.display()))
    };
    let (label, score) = (col("label"), col(&format!("S(t)_{profile}")));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[label] == "1", f[score].parse::<f64>().unwrap())
        })
        .unzip()
}

#[test]
fn our_profiles_are_nabs() {
    let path = nab_dir().join("config/profiles.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let profiles = v.as_object().unwrap();
    assert_eq!(profiles.len(), Profile::ALL.len());
    for p in Profile::ALL {
        let m = &v[p.name]["CostMatrix"];
        assert_eq!(m["tpWeight"].as_f64(), Some(p.tp_weight), "{}", p.name);
        assert_eq!(m["fpWeight"].as_f64(), Some(p.fp_weight), "{}", p.name);
        assert_eq!(m["fnWeight"].as_f64(), Some(p.fn_weight), "{}", p.name);
    }
}

#[test]
fn our_scorer_gives_nabs_scores_for_nabs_detectors() {
    let dir = nab_dir();
    let series = nab::load(&dir).unwrap();
    assert_eq!(series.len(), 22);
    let mut failures = Vec::new();
    let mut compared = 0;
    for detector in DETECTORS {
        let scores = nab::load_results(&dir, detector, &series).unwrap();
        for profile in Profile::ALL {
            let threshold = nab::load_threshold(&dir, detector, &profile).unwrap();
            let mut ours = NabScore::default();
            let (mut nab_raw, mut nab_windows) = (0.0, 0usize);
            for (s, anomaly) in series.iter().zip(&scores) {
                let (labels, st) = nab_file(&dir, detector, &s.name, profile.name);
                // The windows: NAB's label column marks exactly the rows inside our windows.
                let inside: Vec<bool> = (0..s.values.len())
                    .map(|i| s.windows.iter().any(|&(a, b)| i >= a && i <= b))
                    .collect();
                assert_eq!(labels, inside, "{detector} {}: window rows", s.name);
                let starts: Vec<usize> = (0..labels.len())
                    .filter(|&i| labels[i] && (i == 0 || !labels[i - 1]))
                    .collect();
                let expected = st.iter().sum::<f64>();
                let nab_detected = starts.iter().filter(|&&i| st[i] > 0.0).count();
                let nab_false_alarms = (0..st.len())
                    .filter(|&i| !labels[i] && st[i] != 0.0)
                    .count();

                let got = nab::score_with(s, &nab::detections_at(anomaly, threshold), &profile);
                compared += 1;
                if (got.raw - expected).abs() > TOLERANCE
                    || got.detected != nab_detected
                    || got.false_alarms != nab_false_alarms
                {
                    failures.push(format!(
                        "{detector} {} {}: raw {:.12} vs NAB {:.12} (diff {:.3e}); detected {} vs \
                         {nab_detected}; false alarms {} vs {nab_false_alarms}",
                        profile.name,
                        s.name,
                        got.raw,
                        expected,
                        got.raw - expected,
                        got.detected,
                        got.false_alarms
                    ));
                }
                ours.add(&got);
                nab_raw += expected;
                nab_windows += starts.len();
            }
            // NAB's final score: the null detector scores -fn_weight and a perfect one tp_weight
            // per window, summed over the corpus before normalising.
            let w = nab_windows as f64;
            let (null, perfect) = (-profile.fn_weight * w, profile.tp_weight * w);
            let nab_normalized = 100.0 * (nab_raw - null) / (perfect - null);
            if (ours.normalized() - nab_normalized).abs() > TOLERANCE {
                failures.push(format!(
                    "{detector} {}: normalised {:.9} vs NAB {nab_normalized:.9}",
                    profile.name,
                    ours.normalized()
                ));
            }
            eprintln!(
                "{detector:<17} {:<19} threshold {threshold:<20} normalised {:>7.3} (NAB {nab_normalized:>7.3})",
                profile.name,
                ours.normalized()
            );
        }
    }
    assert_eq!(compared, 4 * 3 * 22);
    assert!(
        failures.is_empty(),
        "{} of {compared} series scores differ from NAB's:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_null_and_perfect_detectors_score_0_and_100() {
    let series = nab::load(&nab_dir()).unwrap();
    let (mut null, mut perfect) = (NabScore::default(), NabScore::default());
    for s in &series {
        null.add(&nab::score(s, &vec![false; s.values.len()]));
        let mut d = vec![false; s.values.len()];
        for &(a, _) in &s.windows {
            d[a] = true;
        }
        perfect.add(&nab::score(s, &d));
    }
    assert_eq!(null.normalized(), 0.0);
    assert!((perfect.normalized() - 100.0).abs() < 1e-12, "{perfect:?}");
    assert_eq!((perfect.windows, perfect.detected), (42, 42));
}
