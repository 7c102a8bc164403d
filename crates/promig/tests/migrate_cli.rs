//! `promig migrate estimate|plan` as scripts call them.

mod common;
use common::promig;

#[test]
fn estimate_json_has_the_documented_keys_for_every_technique() {
    for t in ["precopy", "auto-converge", "xbzrle", "compress", "postcopy"] {
        let (ok, out, err) = promig(&[
            "migrate",
            "estimate",
            "--memory-mib",
            "4096",
            "--dirty-pages-per-s",
            "5000",
            "--bandwidth-mbps",
            "1000",
            "--technique",
            t,
            "--max-bandwidth-mib-s",
            "128",
            "--downtime-limit-ms",
            "300",
            "--json",
        ]);
        assert!(ok, "{t}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        for k in [
            "total_ms",
            "downtime_ms",
            "transferred_kib",
            "rounds",
            "converged",
        ] {
            assert!(v.get(k).is_some(), "{t}: {k} missing in {out}");
        }
        assert_eq!(v["converged"], true, "{t}: {out}");
    }
}

#[test]
fn non_converging_precopy_says_so() {
    let (ok, out, _) = promig(&[
        "migrate",
        "estimate",
        "--memory-mib",
        "4096",
        "--dirty-pages-per-s",
        "100000",
        "--bandwidth-mbps",
        "300",
        "--json",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["converged"], false);
    assert!(v["total_ms"].is_null());
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    let (ok, _, err) = promig(&[
        "migrate",
        "estimate",
        "--memory-mib",
        "-5",
        "--bandwidth-mbps",
        "100",
    ]);
    assert!(!ok && err.contains("--memory-mib"), "{err}");
    let (ok, _, err) = promig(&[
        "migrate",
        "estimate",
        "--memory-mib",
        "512",
        "--bandwidth-mbps",
        "100",
        "--technique",
        "teleport",
    ]);
    assert!(!ok && err.contains("teleport"), "{err}");
}

/// `promig migrate plan` for a 2 GiB VM dirtying 200,000 pages/s over 1 Gbit/s, 60 s deadline.
fn plan_heavy_dirtier(extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "migrate",
        "plan",
        "--memory-mib",
        "2048",
        "--dirty-pages-per-s",
        "200000",
        "--bandwidth-mbps",
        "1000",
        "--deadline-s",
        "60",
    ];
    args.extend_from_slice(extra);
    promig(&args)
}

#[test]
fn plan_picks_postcopy_only_when_needed() {
    let (ok, out, err) = plan_heavy_dirtier(&["--risk", "balanced", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["params"]["technique"], "postcopy", "{out}");
    let (ok, _, err) = plan_heavy_dirtier(&["--risk", "conservative", "--no-throttle"]);
    assert!(!ok && err.contains("no technique"), "{err}");
}

#[test]
fn absurd_migration_flags_are_refused_naming_the_flag() {
    for (args, flag) in [
        (
            vec![
                "--memory-mib",
                "1e303",
                "--bandwidth-mbps",
                "1000",
                "--nova-ramp",
            ],
            "--memory-mib",
        ),
        (
            vec![
                "--memory-mib",
                "4096",
                "--bandwidth-mbps",
                "1000",
                "--latency-ms",
                "NaN",
            ],
            "--latency-ms",
        ),
        (
            vec!["--memory-mib", "4096", "--bandwidth-mbps", "-5"],
            "--bandwidth-mbps",
        ),
        (
            vec![
                "--memory-mib",
                "4096",
                "--bandwidth-mbps",
                "1000",
                "--max-bandwidth-mib-s",
                "inf",
            ],
            "--max-bandwidth-mib-s",
        ),
    ] {
        let mut full = vec!["migrate", "estimate"];
        full.extend(&args);
        let (ok, _, err) = common::promig(&full);
        assert!(!ok && err.contains(flag), "{args:?}: {err}");
    }
    let (ok, _, err) = common::promig(&[
        "migrate",
        "plan",
        "--memory-mib",
        "1e303",
        "--bandwidth-mbps",
        "1000",
    ]);
    assert!(!ok && err.contains("--memory-mib"), "{err}");
    let (ok, _, err) = common::promig(&[
        "migrate",
        "plan",
        "--memory-mib",
        "4096",
        "--bandwidth-mbps",
        "1000",
        "--deadline-s",
        "nan",
    ]);
    assert!(!ok && err.contains("--deadline-s"), "{err}");
}
