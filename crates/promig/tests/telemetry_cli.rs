//! `promig telemetry`: real traces and the simulator replayed into the store, with the counters an
//! operator reads; bad input named on one line.

mod common;
use common::promig;

fn json(args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = promig(args);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_planetlab_day_and_a_bitbrains_month_replay_without_refusals() {
    let v = json(&["telemetry", "replay", "--json"]);
    // 1,052 VMs x 288 five-minute samples, one CPU series each.
    assert_eq!(v["series"], 1052);
    assert_eq!(v["offered"], 1052 * 288);
    assert_eq!(v["stats"]["accepted"], v["offered"]);
    let v = json(&[
        "telemetry",
        "replay",
        "--traces",
        "../shared/data/bitbrains-rnd-2013-08",
        "--format",
        "bitbrains",
        "--json",
    ]);
    // CPU, memory and network per VM.
    assert_eq!(v["series"].as_u64().unwrap() % 3, 0);
    assert_eq!(v["stats"]["accepted"], v["offered"]);
}

#[test]
fn the_simulator_streams_every_host_and_vm() {
    let v = json(&["telemetry", "simulate", "--json"]);
    // 80 hosts x 8 metrics + 300 VMs x 3 metrics.
    assert_eq!(v["series"], 80 * 8 + 300 * 3);
    assert_eq!(v["stats"]["accepted"], v["offered"]);
    assert_eq!(v["stats"]["duplicate"], 0);
}

#[test]
fn an_unknown_format_is_named() {
    let (ok, _, err) = promig(&["telemetry", "replay", "--format", "csv"]);
    assert!(!ok);
    assert!(err.contains("--format") && err.contains("csv"), "{err}");
}
