//! Bad input on the command line and in trace folders gets a clear error, never a panic, an
//! abort or a hang (issue 12's reproductions, each one a test).

mod common;
use common::promig;

fn refused(args: &[&str], needle: &str) {
    let (ok, _, err) = promig(args);
    assert!(!ok, "{args:?} was accepted");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn absurd_run_settings_are_errors() {
    refused(&["simulate", "--steps", "0"], "steps");
    refused(&["simulate", "--steps", "1000000000"], "steps");
    refused(
        &[
            "simulate",
            "--cloudsim",
            "../shared/data/planetlab/20110303",
            "--hosts",
            "100000000",
        ],
        "--hosts",
    );
    refused(&["simulate", "--policy", "reactive-foo"], "reactive");
    refused(&["simulate", "--policy", "thr-mmt-0.8-junk"], "thr-mmt");
    refused(&["simulate", "--policy", "threshold-nan"], "threshold");
}

#[test]
fn trace_paths_stay_inside_the_data_folder() {
    for bad in ["/etc", "../../..", "planetlab/../../main"] {
        refused(&["simulate", "--traces", bad], "data folder");
        refused(
            &["predict", "eval", "--traces", bad, "--seeds", "101", "101"],
            "data folder",
        );
    }
}

#[test]
fn every_real_trace_set_runs_with_chains_sized_to_it() {
    let (ok, out, err) = promig(&[
        "simulate",
        "--traces",
        "bitbrains-rnd-2013-08",
        "--format",
        "bitbrains",
        "--policy",
        "none,proactive-greedy",
        "--steps",
        "48",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("40 VMs"), "{out}");
    assert!(
        err.contains("note: the chains asked for 200 VNF instances"),
        "{err}"
    );
    assert!(
        err.contains("rows repeating the previous timestamp were dropped"),
        "{err}"
    );
    let (ok, _, err) = promig(&[
        "simulate",
        "--traces",
        "google-vms",
        "--format",
        "google",
        "--steps",
        "24",
    ]);
    assert!(ok, "{err}");
}

/// A throw-away trace folder for a scenario file next to it.
fn scenario_with_traces(tag: &str, files: &[(&str, &str)], vms: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("promig-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("traces")).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join("traces").join(name), body).unwrap();
    }
    let toml = format!(
        "name = \"t\"\nsteps = 4\n[datacenter]\ntopology = {{ kind = \"leaf-spine\", racks = 1, hosts_per_rack = 4, spines = 1, fabric_gbps = 40 }}\n[[datacenter.host_types]]\ncores = 2\nmips_per_core = 2660\nmemory_mib = 4096\npower = \"hp-ml110-g5\"\n[workload]\ntraces = \"traces\"\nformat = \"planetlab\"\nvms = {vms}\n[[workload.vm_types]]\nvcpus = 1\nmips_per_vcpu = 1000\nmemory_mib = 512\n"
    );
    let path = dir.join("s.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn trace_folders_are_read_as_written_or_refused_by_name() {
    let day = "10\n20\n30\n40\n";
    // A UTF-8 byte-order mark is not part of the first number.
    let bom = scenario_with_traces("bom", &[("a", &format!("\u{feff}{day}")), ("b", day)], 2);
    let (ok, _, err) = promig(&[
        "simulate",
        "--scenario",
        bom.to_str().unwrap(),
        "--policy",
        "none",
    ]);
    assert!(ok, "{err}");
    // More VMs asked for than files: an error naming the scenario, not a silent smaller run.
    let few = scenario_with_traces("few", &[("a", day), ("b", day)], 5);
    refused(
        &["simulate", "--scenario", few.to_str().unwrap()],
        "2 trace files",
    );
    // A bad value names its file and line, with a short excerpt of it.
    let long = "x".repeat(5000);
    let bad = scenario_with_traces("bad", &[("a", day), ("vm b", &format!("10\n{long}\n"))], 2);
    let (ok, _, err) = promig(&["simulate", "--scenario", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("vm b:2") && err.len() < 400, "{err}");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    // `promig simulate --json | head -1`: the reader goes away after one line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_promig"))
        .args(["simulate", "--json"]) // 139 KB, more than a pipe holds
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
