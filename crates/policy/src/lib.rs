//! The decision stage: given what the data centre looks like now (and, later, what the predictor
//! expects), say which VM moves where. The simulator, the evaluator, the controller and the RL agent
//! all call the same [`Policy`] trait; each baseline lives in its own file, like Watcher strategies.

pub mod consolidation;
pub mod error;
pub mod none;
pub mod placement;
pub mod proactive;
pub mod reactive;
pub mod registry;
pub mod threshold;
pub mod work;

pub use error::PolicyError;
use promig_model::{Decision, Observation};
pub use registry::{ParamSpec, PolicyConfig, PolicySpec, Registry, Requirements};

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

    /// The migration cost constants of the data centre the policy runs in, given once before the
    /// first decision, so a policy that prices migrations prices them as the world does (the
    /// simulator hands over its run's profile). Policies that do not price migrations ignore it.
    fn use_calibration(&mut self, _profile: &promig_migrate::Profile) {}

    /// Why the moves since the last call were made, for the run's report; policies that cannot
    /// say more than their decisions return nothing. The simulator drains this after each
    /// decision, so a policy keeps only one interval's worth.
    fn explanations(&mut self) -> Vec<promig_model::Explanation> {
        Vec::new()
    }
}

/// Builds a built-in policy from its command-line name (shorthand for
/// [`Registry::builtin`]`().build(name, seed)`).
pub fn by_name(name: &str, seed: u64) -> Result<Box<dyn Policy>, PolicyError> {
    Registry::builtin().build(name, seed)
}
