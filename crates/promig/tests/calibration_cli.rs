//! `promig migrate calibrate` and the `--calibration` flag: fitting a profile on a migration
//! history, loading it back, and refusing broken profiles with the file and line.

mod common;
use common::promig;
use std::path::PathBuf;

/// Forty real KVM migrations (8 per technique, 2 per workload) cut from the SoCC 2017 file.
const FIXTURE: &str = "crates/migrate/tests/fixtures/kvm-migrations-40.csv";

/// A fresh folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("calibration-cli-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ESTIMATE: [&str; 8] = [
    "migrate",
    "estimate",
    "--memory-mib",
    "2048",
    "--dirty-pages-per-s",
    "5000",
    "--bandwidth-mbps",
    "1000",
];

fn estimate_with(calibration: &str, technique: &str) -> (bool, String, String) {
    let mut args = ESTIMATE.to_vec();
    args.extend([
        "--technique",
        technique,
        "--calibration",
        calibration,
        "--json",
    ]);
    promig(&args)
}

#[test]
fn a_profile_fitted_on_a_history_loads_back() {
    let dir = scratch("fit");
    let out = dir.join("fixture.toml");
    let out_s = out.to_str().unwrap();
    let (ok, stdout, err) = promig(&[
        "migrate",
        "calibrate",
        "--history",
        FIXTURE,
        "--out",
        out_s,
        "--name",
        "fixture-cluster",
    ]);
    assert!(ok, "{err}");
    for t in ["precopy", "auto-converge", "xbzrle", "compress", "postcopy"] {
        assert!(stdout.contains(t), "{t} missing from the report:\n{stdout}");
    }
    assert!(stdout.contains("40 migrations"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    let profile = promig_migrate::Profile::parse(&text, &out).unwrap();
    assert_eq!(profile.name, "fixture-cluster");
    assert_eq!(profile.techniques.len(), 5);
    assert_eq!(profile.default, None, "every technique has history");

    for t in ["precopy", "xbzrle", "postcopy"] {
        let (ok, json, err) = estimate_with(out_s, t);
        assert!(ok, "{t}: {err}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["calibration"], "fixture-cluster");
        assert_eq!(v["converged"], true, "{t}: {json}");
    }
    let (ok, _, err) = promig(&[
        "migrate",
        "plan",
        "--memory-mib",
        "2048",
        "--bandwidth-mbps",
        "1000",
        "--calibration",
        out_s,
        "--json",
    ]);
    assert!(ok, "{err}");
}

#[test]
fn without_out_the_profile_is_stdout_and_the_report_stderr() {
    let (ok, stdout, stderr) = promig(&["migrate", "calibrate", "--history", FIXTURE]);
    assert!(ok, "{stderr}");
    let p = promig_migrate::Profile::parse(&stdout, std::path::Path::new("<stdout>")).unwrap();
    assert_eq!(p.name, "kvm-migrations-40");
    assert!(stderr.contains("in-sample errors"), "{stderr}");

    let (ok, json, err) = promig(&["migrate", "calibrate", "--history", FIXTURE, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["runs"], 40);
    assert_eq!(v["techniques"]["xbzrle"]["runs"], 8);
    assert!(v["techniques"]["xbzrle"]["errors_tcg"]["total_mape"].is_number());
    assert!(v["profile"]["techniques"]["auto-converge"]["setup_s"].is_number());
}

#[test]
fn a_history_with_some_techniques_gets_a_default_for_the_rest() {
    let dir = scratch("partial");
    let csv = dir.join("precopy-only.csv");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(FIXTURE),
    )
    .unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.contains(",original,"))
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&csv, kept.join("\n")).unwrap();
    let out = dir.join("p.toml");
    let (ok, _, err) = promig(&[
        "migrate",
        "calibrate",
        "--history",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let p = promig_migrate::Profile::load(&out).unwrap();
    assert_eq!(p.techniques.len(), 1);
    assert!(p.default.is_some());
    let (ok, _, err) = estimate_with(out.to_str().unwrap(), "compress");
    assert!(ok, "{err}");
}

#[test]
fn broken_profiles_are_refused_with_file_line_and_key() {
    let dir = scratch("broken");
    let good = promig_migrate::Profile::kvm().to_toml();
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    // Replaces the first line setting `key` (in [techniques.precopy], the first table).
    let set_first = |text: &str, key: &str, value: &str| {
        let mut done = false;
        text.lines()
            .map(|l| {
                if !done && l.starts_with(&format!("{key} = ")) {
                    done = true;
                    format!("{key} = {value}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // A NaN constant.
    let nan = set_first(&good, "setup_s", "nan");
    let path = dir.join("nan.toml");
    std::fs::write(&path, &nan).unwrap();
    let (ok, _, err) = estimate_with(path.to_str().unwrap(), "precopy");
    assert!(!ok);
    let at = format!("{}:{}", path.display(), line_of(&nan, "setup_s = nan"));
    assert!(err.contains(&at), "{at} not in {err}");
    assert!(err.contains("techniques.precopy.setup_s"), "{err}");

    // A string where a number goes.
    let text = set_first(&good, "switchover_s", "\"quick\"");
    let path = dir.join("string.toml");
    std::fs::write(&path, &text).unwrap();
    let (ok, _, err) = estimate_with(path.to_str().unwrap(), "precopy");
    assert!(!ok);
    let at = format!("{}:{}", path.display(), line_of(&text, "\"quick\""));
    assert!(err.contains(&at), "{at} not in {err}");
    assert!(err.contains("switchover_s"), "{err}");

    // The simulator refuses it the same way, and a missing file is named.
    let (ok, _, err) = promig(&[
        "simulate",
        "--steps",
        "2",
        "--policy",
        "none",
        "--calibration",
        path.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains(&at), "{err}");
    let (ok, _, err) = estimate_with("no/such/profile.toml", "precopy");
    assert!(!ok && err.contains("no/such/profile.toml"), "{err}");
    let (ok, _, err) = estimate_with("kvmm", "precopy");
    assert!(!ok && err.contains("tcg, kvm"), "{err}");
}

#[test]
fn builtin_profiles_load_by_name() {
    for name in ["kvm", "tcg"] {
        let (ok, json, err) = estimate_with(name, "compress");
        assert!(ok, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["calibration"], name);
    }
    // The real-hardware profile has its own constants, so its figures differ from the test bed's.
    assert_ne!(
        estimate_with("kvm", "xbzrle")
            .1
            .replace("\"kvm\"", "\"tcg\""),
        estimate_with("tcg", "xbzrle").1
    );
    let (ok, json, err) = promig(&[
        "simulate",
        "--steps",
        "12",
        "--policy",
        "proactive-greedy",
        "--calibration",
        "kvm",
        "--json",
    ]);
    assert!(ok, "{err}");
    let (ok2, json2, err2) = promig(&[
        "simulate",
        "--steps",
        "12",
        "--policy",
        "proactive-greedy",
        "--json",
    ]);
    assert!(ok2, "{err2}");
    assert_eq!(json, json2, "kvm is the simulator's default");
}

#[test]
fn history_and_the_sweep_flags_exclude_each_other() {
    let (ok, _, err) = promig(&[
        "migrate",
        "calibrate",
        "--history",
        FIXTURE,
        "--from-csv",
        "crates/migrate/calibration/sweep.csv",
    ]);
    assert!(!ok && err.contains("--from-csv"), "{err}");
    let (ok, _, err) = promig(&["migrate", "calibrate", "--out", "x.toml"]);
    assert!(!ok && err.contains("--history"), "{err}");
    // The sweep fit still runs as before.
    let (ok, out, err) = promig(&["migrate", "calibrate", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["runs"], 34);
}
