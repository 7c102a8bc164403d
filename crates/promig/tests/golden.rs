//! Results unchanged, bit for bit: every command whose output is a result (simulations of every
//! policy in both modes, the CloudSim fidelity table, the prediction evaluation and feature ranking,
//! the NAB scores) is run and its output fingerprinted against `tests/golden/outputs.txt`.
//!
//! A refactoring must leave every fingerprint as it is. A change that moves results on purpose
//! re-records them with `PROMIG_BLESS=1 cargo test --release -p promig --test golden` and says in its
//! commit message which figures moved and why. On a mismatch the actual output is written to
//! `target/golden-actual/` so it can be diffed against a build of the previous commit.
//!
//! Fingerprints hold on one machine kind: results are deterministic, but the platform's libm may
//! round `exp`/`ln` differently on another CPU family.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ALL_POLICIES: &str = "none,dvfs,non-power-aware,reactive,threshold,proactive-greedy,\
thr-mmt,thr-mc,thr-rs,iqr-mmt,iqr-mc,iqr-rs,mad-mmt,mad-mc,mad-rs,lr-mmt,lr-mc,lr-rs,lrr-mmt,lrr-mc,lrr-rs";

/// The runs whose output is fingerprinted: (label, arguments).
fn runs() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("simulate-default", vec!["simulate", "--json"]),
        (
            "simulate-nfv-all-policies",
            vec!["simulate", "--json", "--policy", ALL_POLICIES],
        ),
        (
            "simulate-nfv-seed7-short",
            vec!["simulate", "--json", "--seed", "7", "--steps", "100"],
        ),
        (
            "simulate-cloudsim-all-policies",
            vec![
                "simulate",
                "--json",
                "--cloudsim",
                "../shared/data/planetlab/20110303",
                "--policy",
                ALL_POLICIES,
            ],
        ),
        ("fidelity", vec!["fidelity", "--json"]),
        ("predict-eval", vec!["predict", "eval", "--json"]),
        (
            "predict-eval-traces",
            vec![
                "predict",
                "eval",
                "--traces",
                "planetlab/20110306",
                "--json",
            ],
        ),
        ("predict-features", vec!["predict", "features"]),
        ("predict-nab", vec!["predict", "nab", "--json"]),
    ]
}

/// FNV-1a, 64 bit: a fingerprint, not a security hash; a dependency for ten lines is not worth it.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn golden_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/outputs.txt")
}

#[test]
fn results_are_unchanged_bit_for_bit() {
    let mut actual = String::new();
    let mut outputs = Vec::new();
    for (label, args) in runs() {
        let (ok, stdout, stderr) = common::promig(&args);
        assert!(ok, "promig {}: {stderr}", args.join(" "));
        writeln!(
            actual,
            "{label} {:016x} {} promig {}",
            fnv1a(stdout.as_bytes()),
            stdout.len(),
            args.join(" ")
        )
        .unwrap();
        outputs.push((label, stdout));
    }
    if std::env::var_os("PROMIG_BLESS").is_some() {
        std::fs::write(golden_file(), &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(golden_file()).unwrap_or_default();
    if expected != actual {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/golden-actual");
        std::fs::create_dir_all(&dir).unwrap();
        for (label, out) in &outputs {
            std::fs::write(dir.join(format!("{label}.out")), out).unwrap();
        }
        let changed: Vec<&str> = actual
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .collect();
        panic!(
            "results changed (outputs in {}):\n{}\nexpected:\n{expected}",
            dir.display(),
            changed.join("\n")
        );
    }
}
