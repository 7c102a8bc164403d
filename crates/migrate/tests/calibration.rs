//! The model against the committed sweep of real QEMU migrations (`calibration/sweep.csv`),
//! so the accuracy claim is checked on every run, without QEMU.

use promig_migrate::calibration::{
    CalibrationError, FITTED, START, cross_validated_errors, errors, fit, read_csv,
};
use promig_migrate::{Calibration, MigrationModel};

fn sweep() -> Vec<promig_migrate::calibration::Measurement> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/calibration/sweep.csv");
    read_csv(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn built_in_calibration_meets_the_accuracy_targets() {
    let runs = sweep();
    assert!(
        runs.len() >= 30,
        "the sweep should cover the grid, has {}",
        runs.len()
    );
    let e = errors(&runs, FITTED);
    assert_eq!(e.convergence_mismatches, 0, "{e:?}");
    assert!(
        e.total_mape <= 0.10,
        "total-time MdAPE {:.1} % > 10 %",
        e.total_mape * 100.0
    );
    assert!(
        e.downtime_mape <= 0.25,
        "downtime MdAPE {:.1} % > 25 %",
        e.downtime_mape * 100.0
    );
    assert!(
        e.small_downtime_abs_ms <= 10.0,
        "small downtimes off by {} ms",
        e.small_downtime_abs_ms
    );
}

#[test]
fn fitting_is_reproducible_and_gives_the_committed_constants() {
    let runs = sweep();
    let a = fit(&runs, START);
    assert_eq!(a, fit(&runs, START));
    // The committed constants are what this fit produces (to the digits kept).
    let e_fit = errors(&runs, a);
    let e_builtin = errors(&runs, Calibration::default());
    assert!(
        (e_fit.total_mape - e_builtin.total_mape).abs() < 0.01,
        "{e_fit:?} vs {e_builtin:?}"
    );
}

#[test]
fn fitting_recovers_a_known_calibration() {
    // Runs "measured" on a machine whose constants are known (the model itself with a different
    // calibration, on the sweep's grid): fitting from the generic start must find constants that
    // predict them almost exactly. A fitter that stops improving, searches the wrong knob or
    // scores misses as wins fails this.
    let truth = Calibration {
        link_efficiency: 0.8,
        setup_s: 0.35,
        sync_s_per_gib: 0.6,
        switchover_s: 0.02,
        ..FITTED
    };
    let mut synthetic = sweep();
    for r in &mut synthetic {
        let e = r.model(truth).estimate(&r.input());
        assert!(e.converged, "{r:?}");
        r.total_ms = e.total_s * 1000.0;
        r.downtime_ms = e.downtime_s * 1000.0;
    }
    let before = errors(&synthetic, START);
    let fitted = fit(&synthetic, START);
    let after = errors(&synthetic, fitted);
    assert_eq!(after.convergence_mismatches, 0, "{after:?}");
    assert!(
        after.total_mape < 0.02,
        "total time {after:?} (from {before:?})"
    );
    assert!(
        after.total_mape < before.total_mape / 3.0,
        "{before:?} -> {after:?}"
    );
    assert!(
        (fitted.link_efficiency - truth.link_efficiency).abs() < 0.08,
        "link efficiency {} vs {}",
        fitted.link_efficiency,
        truth.link_efficiency
    );
}

#[test]
fn out_of_sample_errors_stay_within_targets() {
    // Every target, misses included: a run the model calls non-converging counts as an
    // infinite error in each median.
    let e = cross_validated_errors(&sweep(), 5, START);
    assert_eq!(e.convergence_mismatches, 0, "{e:?}");
    assert!(e.total_mape <= 0.10, "{e:?}");
    assert!(e.downtime_mape <= 0.25, "{e:?}");
    assert!(e.small_downtime_abs_ms <= 10.0, "{e:?}");
}

#[test]
fn malformed_sweep_rows_are_named() {
    let bad = "technique,memory_mib,touched_mib,wws_mib,dirty_pages_per_s,link_mbps,max_bandwidth_bytes_s,downtime_limit_ms,total_ms,downtime_ms,transferred_kib,rounds\nprecopy,128,49,48,x,0,1e9,300,10,1,1,2\n";
    let e = read_csv(bad).unwrap_err();
    assert!(
        matches!(
            &e,
            CalibrationError::NotANumber { line: 2, field: "dirty_pages_per_s", value, .. } if value == "x"
        ),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.contains("line 2") && message.contains("dirty_pages_per_s"),
        "{message}"
    );
    // The parser's own error stays reachable as the source.
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn missing_columns_and_unknown_techniques_are_named() {
    let header = "technique,memory_mib,touched_mib,wws_mib,dirty_pages_per_s,link_mbps,max_bandwidth_bytes_s,downtime_limit_ms,total_ms,downtime_ms,transferred_kib,rounds";
    assert_eq!(read_csv("# only a comment\n"), Err(CalibrationError::Empty));
    let no_rounds = header.replace(",rounds", "");
    assert_eq!(
        read_csv(&format!("# sweep\n{no_rounds}\n")),
        Err(CalibrationError::MissingColumn {
            line: 2,
            column: "rounds"
        })
    );
    let teleport = format!("{header}\nteleport,128,49,48,0,0,1e9,300,10,1,1,2\n");
    assert_eq!(
        read_csv(&teleport),
        Err(CalibrationError::UnknownTechnique {
            line: 2,
            value: "teleport".into()
        })
    );
    let short = format!("{header}\nprecopy,128,49\n");
    assert_eq!(
        read_csv(&short),
        Err(CalibrationError::MissingField {
            line: 2,
            field: "wws_mib"
        })
    );
    let infinite = format!("{header}\nprecopy,128,49,48,inf,0,1e9,300,10,1,1,2\n");
    assert!(matches!(
        read_csv(&infinite),
        Err(CalibrationError::NotFinite {
            line: 2,
            field: "dirty_pages_per_s",
            ..
        })
    ));
}
