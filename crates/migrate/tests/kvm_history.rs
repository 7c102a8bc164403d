//! The cost model on real KVM hardware: 16,713 migrations measured on physical hosts (Jo, Cho and
//! Egger, SoCC 2017), four workloads. Each technique is fitted on three workloads and judged on
//! the fourth, beside the naive pre-copy loop on the same runs; the README's live-migration table
//! prints these figures and this test fails when one of them regresses past its printed value.

use promig_migrate::calibration::{self, Errors, Measurement};
use promig_migrate::{Profile, Technique, read_history};

fn history() -> Vec<promig_migrate::HistoryRow> {
    let path = promig_model::data::dir(None)
        .expect("data folder")
        .join("live-migration/kvm-migrations.csv");
    read_history(&path).expect("kvm-migrations.csv")
}

/// One technique's runs and, beside each, its workload (the group a fold leaves out).
fn runs_of(rows: &[promig_migrate::HistoryRow], t: Technique) -> (Vec<Measurement>, Vec<&str>) {
    rows.iter()
        .filter(|r| r.measurement.technique == t)
        .map(|r| (r.measurement.clone(), r.workload.as_str()))
        .unzip()
}

/// (technique, printed LOWO total %, downtime %, small-pause ms) as in the README.
const PRINTED: [(Technique, f64, f64, f64); 5] = [
    (Technique::Precopy, 7.6, 20.1, 7.3),
    (Technique::AutoConverge, 6.8, 18.6, 6.8),
    // QEMU's switch-over fill (`switch_fill`) cut pre-copy's and auto-converge's pause errors on
    // held-out workloads by 10 and 7 points; XBZRLE's rose from 24.8 to 27.0 % and its short
    // pauses from 6.5 to 7.2 ms, compress's pauses from 50.2 to 55.2 % while its short ones
    // fell from 11.1 to 7.1 ms.
    (Technique::Xbzrle, 7.9, 27.0, 7.2),
    (Technique::Compress, 28.4, 55.2, 7.1),
    // Post-copy switched over at once in these runs (`SOCC_POSTCOPY_AFTER_ROUNDS`): pauses of
    // 1-3 ms are now predicted within 0.6 ms, where a pre-copy pass first put them at 6 ms; its
    // 60 pauses of 20-115 ms (1.7 %, 47 of them in the study's last weeks, nothing in the inputs
    // announcing them) are predicted at 2-3 ms, 92 % off, against 87 % before.
    (Technique::Postcopy, 0.1, 92.1, 0.6),
];

#[test]
fn leave_one_workload_out_errors_hold_and_beat_the_naive_loop_on_downtime() {
    let rows = history();
    for (t, total, down, small) in PRINTED {
        let (runs, groups) = runs_of(&rows, t);
        let cv: Errors = calibration::leave_one_group_out(&runs, &groups);
        let naive = calibration::naive_errors(&runs);
        let name = t.name();
        eprintln!("{name}: cross-validated {cv:?}\n{name}: naive {naive:?}");
        // Printed to one decimal: a regression past the printed figure fails.
        assert!(cv.total_mape * 100.0 <= total + 0.05, "{name} total {cv:?}");
        assert!(
            cv.downtime_mape * 100.0 <= down + 0.05,
            "{name} downtime {cv:?}"
        );
        assert!(
            cv.small_downtime_abs_ms <= small + 0.05,
            "{name} small {cv:?}"
        );
        // QEMU finished every one of these runs: the model must give each a finite estimate.
        assert_eq!(cv.convergence_mismatches, 0, "{name} {cv:?}");
        // The mechanism's point: pauses predicted far better than the textbook loop does.
        assert!(
            cv.downtime_mape < naive.downtime_mape,
            "{name} {cv:?} vs {naive:?}"
        );
        assert!(
            cv.small_downtime_abs_ms < naive.small_downtime_abs_ms,
            "{name}"
        );
    }
}

#[test]
fn the_shipped_kvm_profile_is_the_fit_of_the_whole_history() {
    // `promig migrate calibrate --history kvm-migrations.csv --out profiles/kvm.toml` wrote it;
    // a change of the mechanism or the fit that is not re-run shows up here.
    let rows = history();
    let shipped = Profile::kvm();
    for t in Technique::ALL {
        let runs: Vec<Measurement> = rows
            .iter()
            .filter(|r| r.measurement.technique == t)
            .map(|r| r.measurement.clone())
            .collect();
        let refit = calibration::fit_history(&runs);
        let a = calibration::errors(&runs, refit);
        let b = calibration::errors(&runs, shipped.calibration(t));
        assert!(
            (a.total_mape - b.total_mape).abs() < 1e-3
                && (a.downtime_mape - b.downtime_mape).abs() < 1e-3,
            "{}: refit {a:?} vs shipped {b:?}",
            t.name()
        );
    }
}

#[test]
fn the_socc_bandwidth_column_is_each_runs_own_throughput() {
    // The history's `Available Network Bandwidth` is bytes sent over total time, so a model
    // that reads it as the link rate is told each run's achieved rate (for compression, the
    // compressed stream's): total time there follows from the bytes the model sends.
    let rows = history();
    let off = |r: &promig_migrate::HistoryRow| {
        let m = &r.measurement;
        let achieved_bps = m.transferred_kib * 1024.0 * 8.0 / (m.total_ms / 1000.0);
        (achieved_bps / (m.link_mbps * 1e6) - 1.0).abs()
    };
    let within_1 = rows.iter().filter(|r| off(r) < 0.01).count();
    let worst = rows.iter().map(off).fold(0.0, f64::max);
    assert_eq!(rows.len(), 16_713);
    assert_eq!(within_1, 16_711, "worst {worst}");
    assert!(worst < 0.013, "worst {worst}");
}

/// The model-free yardstick of `calibrate --cross-validate` (the median of the 20 nearest runs
/// of the other workloads), as the README prints it: (technique, total %, downtime %, small ms).
const YARDSTICK: [(Technique, f64, f64, f64); 5] = [
    (Technique::Precopy, 11.9, 10.3, 11.0),
    (Technique::AutoConverge, 12.5, 8.9, 12.0),
    (Technique::Xbzrle, 11.4, 21.7, 13.5),
    (Technique::Compress, 28.9, 47.3, 36.5),
    (Technique::Postcopy, 6.7, 92.0, 0.4),
];

#[test]
fn the_model_free_yardstick_bounds_what_the_inputs_tell() {
    let rows = history();
    for (t, total, down, small) in YARDSTICK {
        let (runs, groups) = runs_of(&rows, t);
        let y = calibration::nearest_runs_errors(&runs, &groups, 20);
        let name = t.name();
        // Deterministic: the printed figures, to their one decimal.
        assert!((y.total_mape * 100.0 - total).abs() <= 0.05, "{name} {y:?}");
        assert!(
            (y.downtime_mape * 100.0 - down).abs() <= 0.05,
            "{name} {y:?}"
        );
        assert!(
            (y.small_downtime_abs_ms - small).abs() <= 0.05,
            "{name} {y:?}"
        );
    }
    // What the README reads from them: compress's held-out errors are no larger than what any
    // predictor learned from the other workloads gets (the rest depends on the workload), while
    // pre-copy's pauses are about half as far off with the inputs alone (the mechanism lacks it).
    let (compress, precopy) = (YARDSTICK[3], YARDSTICK[0]);
    let printed = |t: Technique| PRINTED.iter().find(|p| p.0 == t).copied().unwrap();
    assert!(compress.1 >= printed(Technique::Compress).1 - 1.0);
    assert!(compress.2 >= printed(Technique::Compress).2 - 10.0);
    assert!(precopy.2 <= 0.6 * printed(Technique::Precopy).2);
}
