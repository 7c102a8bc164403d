//! The decision stage: given what the data centre looks like now (and, later, what the predictor
//! expects), say which VM moves where. The simulator, the evaluator, the controller and the RL agent
//! all call the same [`Policy`] trait; each baseline lives in its own file, like Watcher strategies.

pub mod consolidation;
pub mod error;
pub mod none;
pub mod placement;
pub mod proactive;
pub mod reactive;
pub mod threshold;
pub mod work;

pub use error::PolicyError;
use promig_model::{Decision, Observation};

/// A migration policy.
///
/// `decide` is called once per scheduling interval with a fresh observation; `place` is called for
/// VMs that need a host (at start-up and after a crash), so each policy keeps its own placement
/// rule (spread, best-fit, power-aware...) for both.
pub trait Policy: Send {
    /// Name shown in reports, e.g. `lr-mmt-1.2`.
    fn name(&self) -> String;

    /// Migrations to start now.
    fn decide(&mut self, obs: &Observation) -> Vec<Decision>;

    /// Whether the policy reads `Observation::risks` (the runner then attaches a predictor).
    fn uses_predictions(&self) -> bool {
        false
    }

    /// A host for each VM in `vms` (in that order, each placement seeing the previous ones), or
    /// `None` when nothing fits. The default spreads VMs like OpenStack's filter scheduler.
    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        placement::spread(obs, vms)
    }
}

/// Builds a policy from its command-line name.
///
/// Known: `none`, `reactive`, `threshold[-T]`, and Beloglazov & Buyya's `{thr,iqr,mad,lr,lrr}-{mmt,mc,rs}[-P]`
/// (for example `lr-mmt`, `thr-mmt-0.8`, `iqr-mc-1.5`), with the published default parameters.
pub fn by_name(name: &str, seed: u64) -> Result<Box<dyn Policy>, PolicyError> {
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('-').collect();
    let param = |i: usize| -> Result<Option<f64>, PolicyError> {
        match parts.get(i) {
            None => Ok(None),
            Some(p) => p.parse::<f64>().map(Some).map_err(|_| {
                PolicyError::UnknownPolicy(format!("{name}: parameter {p:?} is not a number"))
            }),
        }
    };
    match parts[0] {
        "none" if parts.len() == 1 => Ok(Box::new(none::NoMigration::new(
            none::InitialPlacement::Spread,
            "none",
        ))),
        "dvfs" if parts.len() == 1 => Ok(Box::new(none::NoMigration::new(
            none::InitialPlacement::FirstFit,
            "dvfs",
        ))),
        "non" if lower == "non-power-aware" => Ok(Box::new(none::NoMigration::new(
            none::InitialPlacement::FirstFit,
            "non-power-aware",
        ))),
        "reactive" => Ok(Box::new(reactive::Reactive::default())),
        "proactive" if lower == "proactive-greedy" => {
            Ok(Box::new(proactive::ProactiveGreedy::default()))
        }
        "threshold" => {
            let mut p = threshold::Threshold::default();
            if let Some(t) = param(1)? {
                p.cpu_threshold = t;
            }
            Ok(Box::new(p))
        }
        det @ ("thr" | "iqr" | "mad" | "lr" | "lrr") => {
            let sel = parts.get(1).copied().unwrap_or("mmt");
            let detector = consolidation::OverloadDetector::from_name(det, param(2)?)
                .ok_or_else(|| PolicyError::UnknownPolicy(name.to_string()))?;
            let selection = consolidation::VmSelection::from_name(sel).ok_or_else(|| {
                PolicyError::UnknownPolicy(format!(
                    "{name}: unknown VM selection {sel:?} (mmt, mc, rs)"
                ))
            })?;
            Ok(Box::new(consolidation::DynamicConsolidation::new(
                detector, selection, seed,
            )))
        }
        _ => Err(PolicyError::UnknownPolicy(name.to_string())),
    }
}

/// Names accepted by [`by_name`], for help texts.
pub const KNOWN_POLICIES: &str =
    "none, dvfs, non-power-aware, reactive, threshold[-T], {thr,iqr,mad,lr,lrr}-{mmt,mc,rs}[-P]";
