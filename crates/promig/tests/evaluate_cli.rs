//! `promig evaluate`: the JSON summary's shape, shards merged back into the unsharded output,
//! and the refusals (too few seeds, an unknown policy, mismatched or incomplete shards). Short
//! episodes (24 steps) and two policies keep each run to a fraction of a second.

mod common;

use common::promig;
use std::path::PathBuf;

const METRICS: [&str; 6] = [
    "downtime_s",
    "loss_rate",
    "qos_violation_s",
    "migrations",
    "energy_kwh",
    "vms_crashed",
];

const SHORT: [&str; 7] = [
    "evaluate",
    "--steps",
    "24",
    "--seeds",
    "1",
    "5",
    "--policies=none,proactive-greedy",
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promig-evaluate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    dir.join(name)
}

fn evaluate(extra: &[&str]) -> String {
    let args: Vec<&str> = SHORT.iter().chain(extra).copied().collect();
    let (ok, out, err) = promig(&args);
    assert!(ok, "promig {args:?} failed: {err}");
    out
}

#[test]
fn json_has_one_summary_per_policy_with_every_metric() {
    let out = evaluate(&["--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let policies = v["policies"].as_object().expect("a `policies` object");
    let names: Vec<&String> = policies.keys().collect();
    assert_eq!(names, ["none", "proactive-greedy"]);
    for (name, p) in policies {
        let p = p.as_object().expect("a policy's summary is an object");
        let mut keys: Vec<&str> = p.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = METRICS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "{name}");
        for m in METRICS {
            let s = p[m].as_object().expect("a metric is an object");
            assert_eq!(s.len(), 2, "{name}.{m}: only mean and ci95");
            let mean = s["mean"].as_f64().expect("mean is a number");
            let ci = s["ci95"].as_array().expect("ci95 is an array");
            assert_eq!(ci.len(), 2, "{name}.{m}");
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            assert!(lo <= mean && mean <= hi, "{name}.{m}: {lo} {mean} {hi}");
        }
    }
    assert_eq!(v["seeds"], serde_json::json!([1, 2, 3, 4, 5]));
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(10));
    // The same seeds give the same output, bit for bit.
    assert_eq!(evaluate(&["--json"]), out);
}

#[test]
fn shards_merged_equal_the_unsharded_run() {
    let whole = evaluate(&["--json"]);
    let (a, b) = (scratch("shard-0.json"), scratch("shard-1.json"));
    // Written in reverse order on purpose: merge must not depend on the files' order.
    std::fs::write(&b, evaluate(&["--shard", "1/2"])).unwrap();
    std::fs::write(&a, evaluate(&["--shard", "0/2"])).unwrap();
    let shard0: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    assert!(shard0.get("policies").is_none(), "a shard has no summary");
    let seeds: Vec<u64> = shard0["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [1, 3, 5, 1, 3, 5]);

    let (ok, merged, err) = promig(&[
        "evaluate",
        "merge",
        "--json",
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        merged, whole,
        "merged shards print exactly the unsharded JSON"
    );

    let (ok, table, err) = promig(&[
        "evaluate",
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(table, evaluate(&[]), "and the same table");

    // Refusals name the file: a missing shard, an overlap, a different episode length.
    let (ok, _, err) = promig(&["evaluate", "merge", a.to_str().unwrap()]);
    assert!(!ok && err.contains("shard 1/2"), "{err}");
    let (ok, _, err) = promig(&[
        "evaluate",
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("shard-0.json") && err.contains("overlapping"),
        "{err}"
    );
    let c = scratch("shard-1-48.json");
    let args: Vec<&str> = SHORT
        .iter()
        .copied()
        .map(|a| if a == "24" { "48" } else { a })
        .chain(["--shard", "1/2"])
        .collect();
    let (ok, out, err) = promig(&args);
    assert!(ok, "{err}");
    std::fs::write(&c, out).unwrap();
    let (ok, _, err) = promig(&[
        "evaluate",
        "merge",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("shard-1-48.json") && err.contains("steps"),
        "{err}"
    );
    let (ok, _, err) = promig(&["evaluate", "merge", "/nonexistent/shard.json"]);
    assert!(!ok && err.contains("/nonexistent/shard.json"), "{err}");
}

#[test]
fn fewer_than_five_seeds_are_refused() {
    let (ok, _, err) = promig(&["evaluate", "--steps", "24", "--seeds", "1", "4"]);
    assert!(!ok);
    assert!(
        err.contains("--seeds") && err.contains("at least 5"),
        "{err}"
    );
    let (ok, _, err) = promig(&["evaluate", "--seeds", "5", "1"]);
    assert!(!ok && err.contains("--seeds"), "{err}");
}

#[test]
fn bad_policies_and_shards_are_refused_by_name() {
    let (ok, _, err) = promig(&[
        "evaluate",
        "--steps",
        "24",
        "--policies",
        "none,greedy-typo",
    ]);
    assert!(!ok);
    assert!(err.contains("greedy-typo"), "{err}");
    for bad in ["2/2", "x", "0/0"] {
        let (ok, _, err) = promig(&["evaluate", "--steps", "24", "--shard", bad]);
        assert!(!ok && err.contains("--shard"), "{bad}: {err}");
    }
}

#[test]
fn a_real_trace_folder_runs() {
    let out = evaluate(&["--traces", "planetlab/20110303", "--format", "planetlab"]);
    assert!(out.contains("on planetlab/20110303 (planetlab)"), "{out}");
    assert!(out.contains("proactive-greedy"), "{out}");
    let (ok, _, err) = promig(&["evaluate", "--traces", "no-such-folder", "--steps", "24"]);
    assert!(!ok && err.contains("no-such-folder"), "{err}");
}

#[test]
fn evacuation_is_still_a_subcommand() {
    let (ok, out, err) = promig(&[
        "evaluate",
        "evacuation",
        "--seeds",
        "1",
        "1",
        "--policy",
        "reactive",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v[0]["policy"], "reactive");
    // Its flags do not mix with the comparison's.
    let (ok, _, _) = promig(&["evaluate", "--json", "evacuation"]);
    assert!(!ok);
}

#[test]
fn breakdown_prints_causes_and_the_oracle_stays_out_of_the_registry() {
    let (ok, out, err) = promig(&[
        "evaluate",
        "breakdown",
        "--seeds",
        "1",
        "2",
        "--policies",
        "proactive-greedy,oracle",
    ]);
    assert!(ok, "{err}");
    for want in [
        "silent",
        "warned",
        "pauses",
        "oversub",
        "Against proactive-greedy",
        "oracle",
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
    // The comparison takes the oracle too, for its intervals.
    let (ok, out, err) = promig(&[
        "evaluate",
        "--steps",
        "24",
        "--seeds",
        "1",
        "5",
        "--policies=proactive-greedy,oracle-1800",
    ]);
    assert!(ok && out.contains("oracle-1800"), "{out}{err}");
    // It is analysis only: not a policy `simulate` or `policies` knows.
    let (ok, out, _) = promig(&["policies"]);
    assert!(ok && !out.contains("oracle"), "{out}");
    let (ok, _, _) = promig(&["simulate", "--steps", "4", "--policy", "oracle"]);
    assert!(!ok, "simulate must refuse the oracle");
}

#[test]
fn a_split_runs_each_seed_on_its_own_data_centre_and_one_episode_replays_alone() {
    // The validation split: 20 episodes of 20-1,000 hosts, two policies (about 5 s).
    let (ok, out, err) = promig(&[
        "evaluate",
        "--split",
        "validate",
        "--policies=none,proactive-greedy",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["seeds"].as_array().map(Vec::len), Some(20));
    assert!(
        v["scenario"]
            .as_str()
            .unwrap()
            .starts_with("validate split")
    );
    assert!(v["traces"].as_str().unwrap().contains("google-vms 401-600"));
    for p in ["none", "proactive-greedy"] {
        assert!(
            v["policies"][p]["downtime_s"]["mean"].as_f64().unwrap() > 0.0,
            "{p}"
        );
    }
    // One episode of it, alone, gives the same figures as in the comparison.
    let run = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["policy"] == "proactive-greedy" && r["seed"] == 7)
        .unwrap()
        .clone();
    let (ok, out, err) = promig(&[
        "simulate",
        "--split",
        "validate",
        "--seed",
        "7",
        "--policy",
        "proactive-greedy",
        "--json",
    ]);
    assert!(ok, "{err}");
    let one: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(one["downtime_s"], run["downtime_s"]);
    assert_eq!(one["migrations"], run["migrations"]);
    assert!(
        one["scenario"]
            .as_str()
            .unwrap()
            .starts_with("validate-7 (")
    );
    // Its breakdown by cause runs the same episode and adds up to the same downtime.
    let (ok, out, err) = promig(&[
        "evaluate",
        "breakdown",
        "--split",
        "validate",
        "--seeds",
        "7",
        "7",
        "--policies",
        "proactive-greedy",
        "--json",
    ]);
    assert!(ok, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(rows[0]["downtime_s"], run["downtime_s"]);
    assert_eq!(rows[0]["seeds"], 1);
    let (ok, _, err) = promig(&[
        "evaluate",
        "breakdown",
        "--split",
        "test",
        "--seeds",
        "7",
        "7",
    ]);
    assert!(!ok && err.contains("not in the test split"), "{err}");
    // A seed outside the split, an unknown split, and flags the split fixes are refused.
    let (ok, _, err) = promig(&["simulate", "--split", "test", "--seed", "5"]);
    assert!(!ok && err.contains("not in the test split"), "{err}");
    let (ok, _, err) = promig(&["evaluate", "--split", "holdout"]);
    assert!(!ok && err.contains("not train, validate or test"), "{err}");
    let (ok, _, err) = promig(&["evaluate", "--split", "test", "--seeds", "1", "9"]);
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}
