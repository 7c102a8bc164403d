//! The `promig` binary as a user runs it: the default scenario, CloudSim JSON keys, and one-line
//! errors naming file, line and field for malformed input.

mod common;
use common::promig;

use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("promig-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn default_scenario_compares_policies() {
    let (ok, out, err) = promig(&["simulate"]);
    assert!(ok, "{err}");
    for p in [
        "none",
        "reactive",
        "threshold-0.8",
        "thr-mmt-0.8",
        "lr-mmt-1.2",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(p)),
            "{p} missing from:\n{out}"
        );
    }
}

#[test]
fn cloudsim_json_has_the_published_keys() {
    let (ok, out, err) = promig(&[
        "simulate",
        "--cloudsim",
        "../shared/data/planetlab/20110306",
        "--policy",
        "thr-mmt-0.8",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in [
        "energy_kwh",
        "migrations",
        "slatah_pct",
        "pdm_pct",
        "slav_pct",
    ] {
        assert!(v.get(k).is_some_and(|x| x.is_number()), "{k} missing");
    }
}

#[test]
fn malformed_trace_names_file_line_field() {
    let dir = scratch("badtrace");
    std::fs::write(dir.join("vm a"), "10\n20\n").unwrap();
    std::fs::write(dir.join("vm b"), "10\nnot-a-number\n").unwrap();
    let (ok, _, err) = promig(&["simulate", "--cloudsim", dir.to_str().unwrap()]);
    assert!(!ok);
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.contains("vm b:2: field `cpu_pct`"), "{line}");
}

#[test]
fn malformed_scenario_names_file_line_field() {
    let dir = scratch("badtoml");
    let text = promig_sim::scenario::DEFAULT_SCENARIO_TOML
        .replace("mips_per_core = 2660", "mips_per_core = \"fast\"");
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    let (ok, _, err) = promig(&["simulate", "--scenario", path.to_str().unwrap()]);
    assert!(!ok);
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(
        line.contains("s.toml:") && line.contains("field `mips_per_core`"),
        "{line}"
    );
}

#[test]
fn unknown_policy_is_refused() {
    let (ok, _, err) = promig(&["simulate", "--policy", "best-ever"]);
    assert!(!ok);
    assert!(err.contains("unknown policy"), "{err}");
}

/// A plain `promig simulate` writes its report under the temporary directory and names it on
/// stderr (stdout keeps only the table); `--json` writes none.
#[test]
fn default_simulate_names_its_report_on_stderr_json_writes_none() {
    let tmp = scratch("default-report");
    let run = |json: bool| {
        let mut args = vec!["simulate", "--steps", "20", "--policy", "none"];
        if json {
            args.push("--json");
        }
        std::process::Command::new(env!("CARGO_BIN_EXE_promig"))
            .args(&args)
            .env("TMPDIR", &tmp)
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .output()
            .unwrap()
    };
    let file = tmp.join("promig-report").join("report.html");
    let out = run(true);
    assert!(out.status.success());
    assert!(!file.exists(), "--json wrote a report");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("report:"));
    let out = run(false);
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains(&format!("report: {}", file.display())),
        "{stderr}"
    );
    assert!(!stdout.contains("report"), "{stdout}");
    assert!(std::fs::read_to_string(&file).unwrap().contains("<html"));
    let _ = std::fs::remove_dir_all(&tmp);
}
