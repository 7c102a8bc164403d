//! Host overload detection, Beloglazov & Buyya (2012): a static threshold (THR), adaptive thresholds
//! from the spread of the host's recent utilisation (IQR, MAD), and local regression (LR, LRR) that
//! extrapolates the last ten samples to the end of the next migration.

use crate::work::{HostWork, add_history, trimmed_len};
use promig_model::observation::{HISTORY_LEN, Observation};
use promig_model::stats;

/// Samples the regression detectors fit (the authors chose 10 to stay responsive).
const REGRESSION_WINDOW: usize = 10;
/// Non-zero leading samples IQR and MAD need before they trust their estimate.
const SPREAD_MIN_SAMPLES: usize = 12;
/// Static threshold used until an adaptive detector has enough history.
pub const FALLBACK_THRESHOLD: f64 = 0.7;

/// Which overload test a consolidation policy uses, with its parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OverloadDetector {
    /// Utilisation above a fixed threshold (published default 0.8).
    Thr(f64),
    /// Above 1 - s * IQR of the history (s = 1.5).
    Iqr(f64),
    /// Above 1 - s * MAD of the history (s = 2.5).
    Mad(f64),
    /// Local regression forecast times a safety factor reaches 1 (s = 1.2).
    Lr(f64),
    /// Robust local regression (s = 1.2).
    Lrr(f64),
}

impl OverloadDetector {
    /// Parses `thr`, `iqr`, `mad`, `lr`, `lrr` with an optional parameter (published defaults otherwise).
    pub fn from_name(name: &str, param: Option<f64>) -> Option<Self> {
        Some(match name {
            "thr" => OverloadDetector::Thr(param.unwrap_or(0.8)),
            "iqr" => OverloadDetector::Iqr(param.unwrap_or(1.5)),
            "mad" => OverloadDetector::Mad(param.unwrap_or(2.5)),
            "lr" => OverloadDetector::Lr(param.unwrap_or(1.2)),
            "lrr" => OverloadDetector::Lrr(param.unwrap_or(1.2)),
            _ => return None,
        })
    }

    /// Short label with the parameter, e.g. `lr-1.2`.
    pub fn label(&self) -> String {
        match self {
            OverloadDetector::Thr(p) => format!("thr-{p}"),
            OverloadDetector::Iqr(p) => format!("iqr-{p}"),
            OverloadDetector::Mad(p) => format!("mad-{p}"),
            OverloadDetector::Lr(p) => format!("lr-{p}"),
            OverloadDetector::Lrr(p) => format!("lrr-{p}"),
        }
    }

    /// Is `host` overloaded with its tentative VM set, plus `extra` if given?
    pub fn overloaded(
        &self,
        obs: &Observation,
        host: usize,
        w: &HostWork,
        extra: Option<usize>,
    ) -> bool {
        let view = &obs.hosts[host];
        let mut requested = w.requested_mips;
        let mut history = w.history;
        let mut history_len = w.history_len;
        if let Some(v) = extra {
            requested += obs.vms[v].requested_mips;
            if obs.vms[v].history_len > 0 {
                add_history(&mut history, obs, v, view.total_mips);
                history_len = trimmed_len(&history);
            }
        }
        let utilization = requested / view.total_mips;
        let static_test = |threshold: f64| utilization > threshold;
        let history = &history[..history_len];
        match *self {
            OverloadDetector::Thr(t) => static_test(t),
            OverloadDetector::Iqr(s) | OverloadDetector::Mad(s) => {
                let leading = history.iter().take_while(|&&x| x != 0.0).count();
                if leading < SPREAD_MIN_SAMPLES {
                    return static_test(FALLBACK_THRESHOLD);
                }
                let spread = if matches!(self, OverloadDetector::Iqr(_)) {
                    stats::iqr(history)
                } else {
                    stats::mad(history)
                };
                static_test(1.0 - s * spread)
            }
            OverloadDetector::Lr(s) | OverloadDetector::Lrr(s) => {
                if history.len() < REGRESSION_WINDOW {
                    return static_test(FALLBACK_THRESHOLD);
                }
                // Oldest first, as the regression's x runs 1..=10.
                let mut y = [0.0; REGRESSION_WINDOW];
                for (i, slot) in y.iter_mut().enumerate() {
                    *slot = history[REGRESSION_WINDOW - 1 - i];
                }
                // The published implementation builds tricube weights but its weighted-regression
                // helper only applies them when 40 % of them are zero, which never happens for a
                // full window; the effective estimator (for LR and LRR alike) is plain least squares.
                let Some((intercept, slope)) = stats::linear_fit(&y) else {
                    return static_test(FALLBACK_THRESHOLD);
                };
                let max_migration_s = w
                    .vms
                    .iter()
                    .chain(&w.migrating_in)
                    .chain(extra.as_ref())
                    .map(|&v| obs.vms[v].memory_mib * 16e6 / obs.migration_bandwidth_bps[host])
                    .fold(0.0, f64::max);
                let intervals = (max_migration_s / obs.interval_s).ceil();
                let predicted = (intercept + slope * (REGRESSION_WINDOW as f64 + intervals)) * s;
                predicted >= 1.0
            }
        }
    }
}

/// Keeps the history length constant visible to tests.
pub const _ASSERT_WINDOW_FITS: () = assert!(REGRESSION_WINDOW <= HISTORY_LEN);
