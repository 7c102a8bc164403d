//! The calibration fitted on the committed sweep of real QEMU migrations
//! (`calibration/sweep.csv`, produced by `promig migrate calibrate` on this machine class), and
//! the fitting procedure itself, so the figures can be reproduced without QEMU.

use crate::qemu::{Calibration, QemuModel, Technique, TechniqueParams};
use crate::{MigrationInput, MigrationModel};
use serde::{Deserialize, Serialize};

/// Constants fitted on `calibration/sweep.csv` (see [`fit`]).
pub const FITTED: Calibration = Calibration {
    link_efficiency: 1.0,
    setup_s: 0.000047,
    sync_s_per_gib: 0.0105,
    zero_scan_s_per_gib: 0.339,
    switchover_s: 0.0085,
    xbzrle_ratio: 0.05,
    compress_ratio: 0.15,
    compress_mib_s_per_thread: 72.0,
    compress_parallelism: 2.0,
    inflight_mib: 2.394,
    queue_s_per_mib_s: 0.0,
    queue_free_mib_s: 0.0,
    hot_set_s: 0.0,
    force_after_passes: 0.0,
    decide_on_wire_rate: false,
    switch_fill: 0.0,
};

/// Where fitting starts: round figures from QEMU-NOTES and first principles, so fits and
/// cross-validation do not depend on the previous fit.
pub const START: Calibration = Calibration {
    link_efficiency: 0.94,
    setup_s: 0.05,
    sync_s_per_gib: 0.02,
    zero_scan_s_per_gib: 1.0,
    switchover_s: 0.01,
    xbzrle_ratio: 0.05,
    compress_ratio: 0.3,
    compress_mib_s_per_thread: 60.0,
    compress_parallelism: 2.0,
    inflight_mib: 2.0,
    queue_s_per_mib_s: 0.0,
    queue_free_mib_s: 0.0,
    hot_set_s: 0.0,
    force_after_passes: 0.0,
    decide_on_wire_rate: false,
    switch_fill: 0.0,
};

/// One measured migration: what was asked, and what QEMU reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Technique used.
    pub technique: Technique,
    /// Guest RAM.
    pub memory_mib: f64,
    /// Memory the guest had written (the rest is zero pages).
    pub touched_mib: f64,
    /// Writable working set (the guest's dirtied region).
    pub wws_mib: f64,
    /// Pages dirtied per second by the guest.
    pub dirty_pages_per_s: f64,
    /// Link rate (tc tbf), or 0 for loopback without limit.
    pub link_mbps: f64,
    /// QEMU max-bandwidth, bytes/s.
    pub max_bandwidth_bytes_s: f64,
    /// QEMU downtime-limit.
    pub downtime_limit_ms: f64,
    /// Measured total time (QEMU `total-time`).
    pub total_ms: f64,
    /// Measured downtime (QEMU `downtime`, with return-path).
    pub downtime_ms: f64,
    /// Measured bytes sent (QEMU `ram.transferred`).
    pub transferred_kib: f64,
    /// Measured dirty-sync count.
    pub rounds: u32,
    /// Post-copy only: full pre-copy passes before the switch was requested
    /// ([`TechniqueParams::postcopy_after_rounds`]); 1 where the source does not say.
    #[serde(default = "one_pass")]
    pub postcopy_after_rounds: u32,
}

/// Serde default of [`Measurement::postcopy_after_rounds`]: QEMU's and promig's default plan.
fn one_pass() -> u32 {
    TechniqueParams::default().postcopy_after_rounds
}

/// Link rate of an unshaped loopback as QEMU under TCG achieves it in the stop-and-copy phase,
/// which max-bandwidth does not cap (chosen by the fit among 3, 6, 8 and 12 Gbit/s).
pub const LOOPBACK_MBPS: f64 = 8_000.0;

impl Measurement {
    /// The model input that describes this run.
    pub fn input(&self) -> MigrationInput {
        MigrationInput {
            memory_mib: self.memory_mib,
            dirty_pages_per_s: self.dirty_pages_per_s,
            wws_mib: self.wws_mib,
            bandwidth_bps: if self.link_mbps > 0.0 {
                self.link_mbps * 1e6
            } else {
                LOOPBACK_MBPS * 1e6
            },
            latency_ms: 0.05,
            touched_mib: Some(self.touched_mib),
        }
    }

    /// The model (technique parameters as used in the run) with a given calibration.
    pub fn model(&self, calibration: Calibration) -> QemuModel {
        QemuModel {
            params: TechniqueParams {
                technique: self.technique,
                downtime_limit_ms: self.downtime_limit_ms,
                max_bandwidth_bps: self.max_bandwidth_bytes_s * 8.0,
                postcopy_after_rounds: self.postcopy_after_rounds,
                ..TechniqueParams::default()
            },
            calibration,
        }
    }
}

/// Prediction errors of a calibration over a set of measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    /// Median absolute percentage error of total time.
    pub total_mape: f64,
    /// Median absolute percentage error of downtime (runs with downtime >= 20 ms).
    pub downtime_mape: f64,
    /// Median absolute error of downtime where it is under 20 ms.
    pub small_downtime_abs_ms: f64,
    /// Runs QEMU finished that the model gives no finite estimate for (each also counted as an
    /// infinite error in the medians above).
    pub convergence_mismatches: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// How well `calibration` predicts `runs`.
pub fn errors(runs: &[Measurement], calibration: Calibration) -> Errors {
    errors_with(runs, |_| calibration)
}

/// Errors when run `i` is predicted with `calibration_for(i)` (used for cross-validation).
pub fn errors_with(runs: &[Measurement], calibration_for: impl Fn(usize) -> Calibration) -> Errors {
    errors_of(runs, |i, r| {
        let e = r.model(calibration_for(i)).estimate(&r.input());
        (e.total_s * 1000.0, e.downtime_s * 1000.0)
    })
}

/// Errors of any predictor given as (total ms, downtime ms) per run, so the model, the naive loop
/// and the model-free yardstick are scored by one rule.
fn errors_of(runs: &[Measurement], predict: impl Fn(usize, &Measurement) -> (f64, f64)) -> Errors {
    let mut total = Vec::new();
    let mut down = Vec::new();
    let mut small = Vec::new();
    let mut mismatches = 0;
    for (i, r) in runs.iter().enumerate() {
        let (total_ms, downtime_ms) = predict(i, r);
        if !total_ms.is_finite() {
            // QEMU finished this run (the sweep records completed migrations only): a model that
            // says it never converges has missed completely. It counts as an error above any
            // bound in every median, so a worse fit cannot look better by dropping its misses.
            mismatches += 1;
            total.push(f64::INFINITY);
            if r.downtime_ms < 20.0 {
                small.push(f64::INFINITY);
            } else {
                down.push(f64::INFINITY);
            }
            continue;
        }
        total.push((total_ms - r.total_ms).abs() / r.total_ms.max(1.0));
        if r.downtime_ms < 20.0 {
            small.push((downtime_ms - r.downtime_ms).abs());
        } else {
            down.push((downtime_ms - r.downtime_ms).abs() / r.downtime_ms);
        }
    }
    Errors {
        total_mape: median(total),
        downtime_mape: median(down),
        small_downtime_abs_ms: median(small),
        convergence_mismatches: mismatches,
    }
}

/// A model-free yardstick beside [`leave_one_group_out`]: each run is predicted by the median (of
/// logs) of its `k` nearest runs in the other groups, by VM size, dirty rate, link rate and
/// max-bandwidth, each on a log scale and standardised. It learns whatever these inputs say
/// across workloads with no mechanism at all. Where it misses as much as the model, what is left
/// depends on the workload itself and nothing in the inputs carries it; where it misses less, the
/// mechanism still lacks something the inputs show. A lone group is predicted from its other runs.
pub fn nearest_runs_errors(runs: &[Measurement], groups: &[&str], k: usize) -> Errors {
    let raw: Vec<[f64; 4]> = runs
        .iter()
        .map(|r| {
            [
                r.memory_mib.max(1.0).ln(),
                r.dirty_pages_per_s.max(0.0).ln_1p(),
                r.link_mbps.max(1.0).ln(),
                r.max_bandwidth_bytes_s.max(1.0).ln(),
            ]
        })
        .collect();
    let n = raw.len().max(1) as f64;
    let mean: [f64; 4] = std::array::from_fn(|d| raw.iter().map(|x| x[d]).sum::<f64>() / n);
    let sd: [f64; 4] = std::array::from_fn(|d| {
        (raw.iter().map(|x| (x[d] - mean[d]).powi(2)).sum::<f64>() / n).sqrt()
    });
    let z: Vec<[f64; 4]> = raw
        .iter()
        .map(|x| {
            std::array::from_fn(|d| {
                if sd[d] > 0.0 {
                    (x[d] - mean[d]) / sd[d]
                } else {
                    0.0
                }
            })
        })
        .collect();
    let distance =
        |a: &[f64; 4], b: &[f64; 4]| -> f64 { a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum() };
    let lone = groups.iter().all(|g| *g == groups[0]);
    errors_of(runs, |i, _| {
        let mut near: Vec<(f64, usize)> = (0..runs.len())
            .filter(|&j| if lone { j != i } else { groups[j] != groups[i] })
            .map(|j| (distance(&z[i], &z[j]), j))
            .collect();
        if near.is_empty() {
            return (f64::INFINITY, f64::INFINITY);
        }
        let k = k.clamp(1, near.len());
        near.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        let of = |value: fn(&Measurement) -> f64| {
            median(
                near[..k]
                    .iter()
                    .map(|&(_, j)| value(&runs[j]).max(1e-3).ln())
                    .collect(),
            )
            .exp()
        };
        (of(|r| r.total_ms), of(|r| r.downtime_ms))
    })
}

/// A calibration constant to tune: accessor, lower bound, upper bound.
pub type Knob = (fn(&mut Calibration) -> &mut f64, f64, f64);

/// The constants the test bed's sweep pins down (its guest dirties uniformly over a known set and
/// its loopback path does not queue, so the hot-set and queue constants stay at 0 there). The
/// order is the order coordinate descent visits them in.
pub const TESTBED_KNOBS: [Knob; 10] = [
    (|c| &mut c.link_efficiency, 0.3, 1.0),
    (|c| &mut c.setup_s, 0.0, 2.0),
    (|c| &mut c.sync_s_per_gib, 0.0, 5.0),
    (|c| &mut c.zero_scan_s_per_gib, 0.0, 20.0), // ZERO_SCAN
    (|c| &mut c.switchover_s, 0.0, 0.5),
    (|c| &mut c.xbzrle_ratio, 0.001, 1.0),
    (|c| &mut c.compress_ratio, 0.001, 1.0),
    (|c| &mut c.compress_mib_s_per_thread, 1.0, 2000.0),
    (|c| &mut c.compress_parallelism, 1.0, 64.0),
    (|c| &mut c.inflight_mib, 0.0, 64.0),
];

/// Index of the zero-page scan in [`TESTBED_KNOBS`], which a history cannot pin down.
const ZERO_SCAN: usize = 3;

/// What a cluster's history adds to the test bed's constants: the real guest's hot set, the
/// path's rate-dependent queue, the orchestrator's forced completion and how full QEMU's
/// switch-over threshold is when a busy guest stops.
const REAL_HARDWARE_KNOBS: [Knob; 5] = [
    (|c| &mut c.queue_s_per_mib_s, 0.0, 0.1),
    (|c| &mut c.queue_free_mib_s, 0.0, 10_000.0),
    (|c| &mut c.hot_set_s, 0.0, 3600.0),
    (|c| &mut c.force_after_passes, 0.0, 100.0),
    (|c| &mut c.switch_fill, 0.0, 1.0),
];

/// Everything a cluster's history can pin down: [`TESTBED_KNOBS`] but the zero-page scan (guest
/// memory is fully touched in such histories), then the real-hardware constants.
pub fn history_knobs() -> Vec<Knob> {
    TESTBED_KNOBS[..ZERO_SCAN]
        .iter()
        .chain(&TESTBED_KNOBS[ZERO_SCAN + 1..])
        .chain(&REAL_HARDWARE_KNOBS)
        .copied()
        .collect()
}

/// What fitting minimises: the total-time and downtime errors (10 ms of absolute error on short
/// pauses weighs like 10 %), plus half a unit per run QEMU finished that the model says never does.
pub fn score(runs: &[Measurement], c: Calibration) -> f64 {
    let e = errors(runs, c);
    e.total_mape
        + e.downtime_mape
        + e.small_downtime_abs_ms / 100.0
        + e.convergence_mismatches as f64 * 0.5
}

/// What fitting a history minimises: each error in units of its target (total time 10 %,
/// downtime 30 % over pauses of 20 ms or more, 10 ms absolute below), plus five units per run
/// QEMU finished that the model says never does. A downtime class holding under 5 % of the runs
/// weighs in proportion: post-copy pauses 1-3 ms in 98 % of real runs, and its 2 % of 20-40 ms
/// outliers, which nothing in the inputs announces, must not pull every prediction up to 20 ms.
pub fn history_score(runs: &[Measurement], c: Calibration) -> f64 {
    let e = errors(runs, c);
    let n = runs.len().max(1) as f64;
    let small = runs.iter().filter(|r| r.downtime_ms < 20.0).count() as f64 / n;
    let weight = |share: f64| (share / 0.05).min(1.0);
    e.total_mape / 0.10
        + weight(1.0 - small) * e.downtime_mape / 0.30
        + weight(small) * e.small_downtime_abs_ms / 10.0
        + e.convergence_mismatches as f64 * 5.0
}

/// Where fitting a cluster's history starts: QEMU's and a 1 Gbit/s path's round figures (zlib
/// level 1 shrinks guest pages to about half: 0.38-0.68 of VM_SIZE crosses the wire when an idle
/// guest is migrated with compression in the SoCC 2017 runs). The hot set is then searched from
/// several starts (see [`fit_history`]).
pub const HISTORY_START: Calibration = Calibration {
    link_efficiency: 0.95,
    setup_s: 0.05,
    sync_s_per_gib: 0.02,
    zero_scan_s_per_gib: 0.0,
    switchover_s: 0.01,
    xbzrle_ratio: 0.1,
    compress_ratio: 0.5,
    compress_mib_s_per_thread: 30.0,
    compress_parallelism: 2.0,
    inflight_mib: 0.5,
    queue_s_per_mib_s: 0.002,
    queue_free_mib_s: 45.0,
    hot_set_s: 5.0,
    force_after_passes: 4.0,
    decide_on_wire_rate: false,
    // Coordinate descent cannot leave 0 (its steps there are too small to change a pause), so
    // the fill starts near what QEMU's 100 ms checks give under a 300 ms limit (5/6) and the fit
    // takes it down where a history says so.
    switch_fill: 0.8,
};

/// Fits a calibration on one technique's migration history ([`history_knobs`]). The hot set
/// shapes everything after the first pass, and coordinate descent from one start settles in the
/// nearest valley, so it starts from a uniform guest (0) and from hot sets of 0.5, 5 and 50 s
/// of dirtying, each with QEMU's convergence test on the round's time and (for compression) on
/// the wire rate ([`Calibration::decide_on_wire_rate`]), and keeps the fit that scores best on
/// the history itself.
pub fn fit_history(runs: &[Measurement]) -> Calibration {
    // QEMU's wire-rate estimate only differs from the round's own time where the pages go
    // through slower than the wire could carry them: compression, bound by its threads. (XBZRLE
    // is bound by the path; its real-KVM history fits better in-sample with the wire-rate test
    // but worse on workloads left out, so it is not offered there.)
    let cpu_bound = runs.iter().any(|r| r.technique == Technique::Compress);
    let wire_rate_options: &[bool] = if cpu_bound { &[false, true] } else { &[false] };
    let starts: Vec<Calibration> = wire_rate_options
        .iter()
        .copied()
        .flat_map(|wire| [0.0, 0.5, 5.0, 50.0].map(|hot| (wire, hot)))
        .map(|(decide_on_wire_rate, hot)| Calibration {
            hot_set_s: hot,
            decide_on_wire_rate,
            ..HISTORY_START
        })
        .collect();
    fit_history_from(runs, &starts)
}

/// [`fit_history`] from given starting points: coordinate descent from each, keeping the fit
/// that scores best on the history itself.
fn fit_history_from(runs: &[Measurement], starts: &[Calibration]) -> Calibration {
    starts
        .iter()
        .map(|&start| {
            let c = fit_scored(start, &history_knobs(), |c| history_score(runs, c));
            (history_score(runs, c), c)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
        .unwrap_or(HISTORY_START)
}

/// Post-copy runs that all switched over at once ([`Measurement::postcopy_after_rounds`] 0) never
/// ran a pre-copy round, so their history cannot pin down what shapes one: the hot set, the
/// path's queue, what a round leaves in flight, forced completion, how full the switch-over
/// threshold is. A plan that switches after a
/// pass needs them; they are taken from `precopy`, the pre-copy fit on the same hosts, whose
/// rounds are the same mechanism. Any other post-copy history is returned as fitted.
pub fn with_precopy_rounds(
    postcopy: Calibration,
    runs: &[Measurement],
    precopy: Calibration,
) -> Calibration {
    if runs.is_empty() || runs.iter().any(|r| r.postcopy_after_rounds != 0) {
        return postcopy;
    }
    Calibration {
        inflight_mib: precopy.inflight_mib,
        queue_s_per_mib_s: precopy.queue_s_per_mib_s,
        queue_free_mib_s: precopy.queue_free_mib_s,
        hot_set_s: precopy.hot_set_s,
        force_after_passes: precopy.force_after_passes,
        switch_fill: precopy.switch_fill,
        ..postcopy
    }
}

/// Fits the test bed's constants ([`TESTBED_KNOBS`]); see [`fit_knobs`].
pub fn fit(runs: &[Measurement], start: Calibration) -> Calibration {
    fit_knobs(runs, start, &TESTBED_KNOBS)
}

/// Fits the calibration by coordinate descent on a log grid over `knobs`, minimising the sum of
/// the total-time and downtime errors (median absolute percentage, plus a penalty per
/// convergence mismatch). Deterministic; a few thousand model evaluations per run.
pub fn fit_knobs(runs: &[Measurement], start: Calibration, knobs: &[Knob]) -> Calibration {
    fit_scored(start, knobs, |c| score(runs, c))
}

/// Coordinate descent on a log grid over `knobs` from `start`, minimising `score`.
fn fit_scored(
    start: Calibration,
    knobs: &[Knob],
    score: impl Fn(Calibration) -> f64,
) -> Calibration {
    let mut best = start;
    let mut best_score = score(best);
    for _sweep in 0..6 {
        let mut improved = false;
        for &(field, lo, hi) in knobs {
            for factor in [0.5, 0.7, 0.85, 0.95, 1.05, 1.2, 1.5, 2.0] {
                let mut c = best;
                let v = field(&mut c);
                *v = if *v == 0.0 {
                    (factor - 0.5) * 0.02
                } else {
                    *v * factor
                };
                *v = v.clamp(lo, hi);
                let s = score(c);
                if s < best_score - 1e-12 {
                    best = c;
                    best_score = s;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    best
}

/// Out-of-sample errors: each run is predicted by a calibration fitted without its fold
/// (`folds` interleaved folds), so the figure says how the model generalises, not how it memorises.
pub fn cross_validated_errors(runs: &[Measurement], folds: usize, start: Calibration) -> Errors {
    let folds = folds.clamp(2, runs.len().max(2));
    let fitted: Vec<Calibration> = (0..folds)
        .map(|f| {
            let train: Vec<Measurement> = runs
                .iter()
                .enumerate()
                .filter(|(i, _)| i % folds != f)
                .map(|(_, r)| r.clone())
                .collect();
            fit(&train, start)
        })
        .collect();
    errors_with(runs, |i| fitted[i % folds])
}

/// Why a sweep CSV could not be read. Lines are 1-based as an editor shows them (comments and
/// blank lines counted), and fields are named by their column, so the message points at the cell.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// No header row: the file is empty or holds only comments.
    #[error("empty sweep file: no header row")]
    Empty,
    /// The header lacks a column every run needs.
    #[error("line {line}: column `{column}` missing")]
    MissingColumn {
        /// The header's line.
        line: usize,
        /// The missing column.
        column: &'static str,
    },
    /// A row is shorter than the header.
    #[error("line {line}: field `{field}` missing")]
    MissingField {
        /// The row's line.
        line: usize,
        /// The field's column.
        field: &'static str,
    },
    /// A numeric field does not parse as a number.
    #[error("line {line}: field `{field}`: not a number: {value:?}")]
    NotANumber {
        /// The row's line.
        line: usize,
        /// The field's column.
        field: &'static str,
        /// The text found.
        value: String,
        /// The parser's error.
        #[source]
        source: std::num::ParseFloatError,
    },
    /// A numeric field is infinite or NaN, which no measurement can be.
    #[error("line {line}: field `{field}`: not a finite number: {value:?}")]
    NotFinite {
        /// The row's line.
        line: usize,
        /// The field's column.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// The technique is not one the model knows.
    #[error("line {line}: field `technique`: unknown technique {value:?}")]
    UnknownTechnique {
        /// The row's line.
        line: usize,
        /// The text found.
        value: String,
    },
}

/// The columns of a sweep CSV, in [`Measurement`]'s order.
const COLUMNS: [&str; 12] = [
    "technique",
    "memory_mib",
    "touched_mib",
    "wws_mib",
    "dirty_pages_per_s",
    "link_mbps",
    "max_bandwidth_bytes_s",
    "downtime_limit_ms",
    "total_ms",
    "downtime_ms",
    "transferred_kib",
    "rounds",
];

/// One data row, split, with its 1-based line and where each column sits in it.
struct Row<'a> {
    line: usize,
    fields: Vec<&'a str>,
    at: &'a [usize],
}

impl<'a> Row<'a> {
    fn text(&self, k: usize) -> Result<&'a str, CalibrationError> {
        self.fields
            .get(self.at[k])
            .copied()
            .ok_or(CalibrationError::MissingField {
                line: self.line,
                field: COLUMNS[k],
            })
    }

    fn number(&self, k: usize) -> Result<f64, CalibrationError> {
        let text = self.text(k)?;
        let value = text
            .parse::<f64>()
            .map_err(|source| CalibrationError::NotANumber {
                line: self.line,
                field: COLUMNS[k],
                value: text.to_string(),
                source,
            })?;
        if !value.is_finite() {
            return Err(CalibrationError::NotFinite {
                line: self.line,
                field: COLUMNS[k],
                value: text.to_string(),
            });
        }
        Ok(value)
    }

    fn measurement(&self) -> Result<Measurement, CalibrationError> {
        let name = self.text(0)?;
        let technique =
            Technique::from_name(name).ok_or_else(|| CalibrationError::UnknownTechnique {
                line: self.line,
                value: name.to_string(),
            })?;
        Ok(Measurement {
            technique,
            memory_mib: self.number(1)?,
            touched_mib: self.number(2)?,
            wws_mib: self.number(3)?,
            dirty_pages_per_s: self.number(4)?,
            link_mbps: self.number(5)?,
            max_bandwidth_bytes_s: self.number(6)?,
            downtime_limit_ms: self.number(7)?,
            total_ms: self.number(8)?,
            downtime_ms: self.number(9)?,
            transferred_kib: self.number(10)?,
            rounds: self.number(11)? as u32,
            postcopy_after_rounds: one_pass(),
        })
    }
}

/// Reads a sweep CSV (header row; columns as in [`Measurement`], in any order).
pub fn read_csv(text: &str) -> Result<Vec<Measurement>, CalibrationError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let (header_index, header) = lines.next().ok_or(CalibrationError::Empty)?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let at: Vec<usize> = COLUMNS
        .iter()
        .map(|&column| {
            cols.iter()
                .position(|c| *c == column)
                .ok_or(CalibrationError::MissingColumn {
                    line: header_index + 1,
                    column,
                })
        })
        .collect::<Result<_, _>>()?;
    lines
        .map(|(i, line)| {
            Row {
                line: i + 1,
                fields: line.split(',').map(str::trim).collect(),
                at: &at,
            }
            .measurement()
        })
        .collect()
}

/// Writes measurements as the CSV [`read_csv`] reads.
pub fn write_csv(runs: &[Measurement]) -> String {
    let mut s = String::from(
        "technique,memory_mib,touched_mib,wws_mib,dirty_pages_per_s,link_mbps,max_bandwidth_bytes_s,downtime_limit_ms,total_ms,downtime_ms,transferred_kib,rounds\n",
    );
    for r in runs {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.1},{:.1},{:.0},{}\n",
            r.technique.name(),
            r.memory_mib,
            r.touched_mib,
            r.wws_mib,
            r.dirty_pages_per_s,
            r.link_mbps,
            r.max_bandwidth_bytes_s,
            r.downtime_limit_ms,
            r.total_ms,
            r.downtime_ms,
            r.transferred_kib,
            r.rounds
        ));
    }
    s
}

/// The baseline a model must beat: the textbook pre-copy loop (Clark et al. 2005, as most
/// published estimators use it). Each round re-sends what the previous one let the guest dirty,
/// at the path's rate, until that fits in the downtime limit or 30 rounds pass; then the rest
/// is sent with the guest paused. No working set, no queueing, no per-technique behaviour.
/// Returns (total ms, downtime ms).
pub fn naive_precopy(run: &Measurement) -> (f64, f64) {
    let input = run.input();
    let rate = (input.bandwidth_bps / 8.0).min(run.max_bandwidth_bytes_s.max(1.0));
    let dirty = input.dirty_pages_per_s * crate::PAGE_BYTES;
    let memory = input.memory_mib * crate::MIB;
    let (mut to_send, mut elapsed) = (memory, 0.0);
    for _ in 0..30 {
        let round_s = to_send / rate;
        elapsed += round_s;
        to_send = (dirty * round_s).min(memory);
        if to_send / rate <= run.downtime_limit_ms / 1000.0 {
            break;
        }
    }
    let downtime_s = to_send / rate;
    ((elapsed + downtime_s) * 1000.0, downtime_s * 1000.0)
}

/// [`errors`] of the [`naive_precopy`] loop on the same runs, so a figure always has its baseline
/// beside it.
pub fn naive_errors(runs: &[Measurement]) -> Errors {
    errors_of(runs, |_, r| naive_precopy(r))
}

/// Leave-one-group-out errors: each run is predicted by a [`fit_history`] calibration fitted on the
/// runs of the other groups only (groups are workloads), so the figure says how the model does on a
/// workload it has never seen. Runs of a lone group are predicted by a fit on all runs.
pub fn leave_one_group_out(runs: &[Measurement], groups: &[&str]) -> Errors {
    let mut names: Vec<&str> = groups.to_vec();
    names.sort_unstable();
    names.dedup();
    let fits: Vec<Calibration> = names
        .iter()
        .map(|held_out| {
            let train: Vec<Measurement> = runs
                .iter()
                .zip(groups)
                .filter(|(_, g)| *g != held_out)
                .map(|(r, _)| r.clone())
                .collect();
            fit_history(if train.is_empty() { runs } else { &train })
        })
        .collect();
    let index: Vec<usize> = groups
        .iter()
        .map(|g| names.binary_search(g).unwrap_or(0))
        .collect();
    errors_with(runs, |i| fits[index[i]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcopy_switched_at_once_borrows_the_precopy_rounds_only() {
        let run = |after| Measurement {
            technique: Technique::Postcopy,
            memory_mib: 1024.0,
            touched_mib: 1024.0,
            wws_mib: 1024.0,
            dirty_pages_per_s: 5000.0,
            link_mbps: 1000.0,
            max_bandwidth_bytes_s: 100.0 * crate::MIB,
            downtime_limit_ms: 300.0,
            total_ms: 9000.0,
            downtime_ms: 2.0,
            transferred_kib: 1048576.0,
            rounds: 0,
            postcopy_after_rounds: after,
        };
        let precopy = Calibration {
            hot_set_s: 0.75,
            queue_s_per_mib_s: 0.003,
            queue_free_mib_s: 60.0,
            inflight_mib: 0.2,
            force_after_passes: 3.5,
            switch_fill: 0.6,
            switchover_s: 0.5,
            ..HISTORY_START
        };
        let postcopy = Calibration {
            switchover_s: 0.001,
            ..HISTORY_START
        };
        let at_once = with_precopy_rounds(postcopy, &[run(0), run(0)], precopy);
        assert_eq!(at_once.switchover_s, 0.001);
        assert_eq!(
            (
                at_once.hot_set_s,
                at_once.queue_s_per_mib_s,
                at_once.queue_free_mib_s
            ),
            (0.75, 0.003, 60.0)
        );
        assert_eq!(
            (
                at_once.inflight_mib,
                at_once.force_after_passes,
                at_once.switch_fill
            ),
            (0.2, 3.5, 0.6)
        );
        // The runs' own predictions do not move: switching at once uses none of them.
        let r = run(0);
        assert_eq!(
            r.model(at_once).estimate(&r.input()),
            r.model(postcopy).estimate(&r.input())
        );
        // A history with a pre-copy pass before the switch pins them itself.
        assert_eq!(
            with_precopy_rounds(postcopy, &[run(0), run(1)], precopy),
            postcopy
        );
        assert_eq!(with_precopy_rounds(postcopy, &[], precopy), postcopy);
    }

    #[test]
    fn the_nearest_runs_yardstick_learns_from_other_groups_only() {
        let run = |memory_mib: f64, total_ms: f64| Measurement {
            technique: Technique::Precopy,
            memory_mib,
            touched_mib: memory_mib,
            wws_mib: memory_mib,
            dirty_pages_per_s: 1000.0,
            link_mbps: 1000.0,
            max_bandwidth_bytes_s: 100.0 * crate::MIB,
            downtime_limit_ms: 300.0,
            total_ms,
            downtime_ms: 30.0,
            transferred_kib: memory_mib * 1024.0,
            rounds: 2,
            postcopy_after_rounds: 1,
        };
        let sizes = || (0..10).map(|i| 1000.0 + 100.0 * i as f64);
        // Two workloads that take the same time at the same inputs: each predicts the other.
        let same: Vec<Measurement> = sizes()
            .map(|m| run(m, 10.0 * m))
            .chain(sizes().map(|m| run(m, 10.0 * m)))
            .collect();
        let groups: Vec<&str> = (0..20).map(|i| if i < 10 { "a" } else { "b" }).collect();
        let e = nearest_runs_errors(&same, &groups, 1);
        assert!(e.total_mape < 1e-9, "{e:?}");
        assert!(e.downtime_mape < 1e-9, "{e:?}");
        // One twice as slow: a run is never predicted from its own workload, so both miss.
        let apart: Vec<Measurement> = sizes()
            .map(|m| run(m, 10.0 * m))
            .chain(sizes().map(|m| run(m, 20.0 * m)))
            .collect();
        let e = nearest_runs_errors(&apart, &groups, 3);
        assert!(e.total_mape >= 0.5 - 1e-9, "{e:?}");
        // A lone workload is predicted from its other runs.
        let e = nearest_runs_errors(&same[..10], &groups[..10], 1);
        assert!(e.total_mape > 0.0 && e.total_mape < 0.15, "{e:?}");
        assert_eq!(e.convergence_mismatches, 0);
    }

    #[test]
    fn history_knobs_are_the_testbed_ones_without_the_zero_page_scan_plus_real_hardware() {
        let moved = |k: &Knob| {
            let mut c = START;
            *(k.0)(&mut c) += 1.0;
            c
        };
        let bumped_zero = moved(&TESTBED_KNOBS[ZERO_SCAN]);
        assert_eq!(
            bumped_zero.zero_scan_s_per_gib,
            START.zero_scan_s_per_gib + 1.0
        );
        let knobs = history_knobs();
        assert_eq!(
            knobs.len(),
            TESTBED_KNOBS.len() - 1 + REAL_HARDWARE_KNOBS.len()
        );
        for k in &knobs {
            assert_eq!(moved(k).zero_scan_s_per_gib, START.zero_scan_s_per_gib);
        }
        assert!(knobs.iter().any(|k| moved(k).hot_set_s == 1.0));
    }
}
