//! `none`: never migrate. The floor every other policy is measured against; with the simulator's
//! power-aware accounting it is also CloudSim's DVFS baseline.

use crate::registry::{PolicySpec, Requirements};
use crate::work::Work;
use crate::{Policy, placement};
use promig_model::{Decision, Observation};
use std::sync::Arc;

/// Where `none` puts VMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialPlacement {
    /// Most free cores first (OpenStack's default).
    Spread,
    /// Lowest-numbered host that fits (CloudSim's simple power policy).
    FirstFit,
}

/// Places VMs once and never moves them again.
#[derive(Debug, Clone)]
pub struct NoMigration {
    placement: InitialPlacement,
    label: &'static str,
    work: Work,
}

impl NoMigration {
    /// `label` is the name reports show (`none`, `dvfs`, `non-power-aware`).
    pub fn new(placement: InitialPlacement, label: &'static str) -> Self {
        NoMigration {
            placement,
            label,
            work: Work::default(),
        }
    }
}

impl Policy for NoMigration {
    fn name(&self) -> String {
        self.label.into()
    }

    fn decide(&mut self, _obs: &Observation) -> Vec<Decision> {
        Vec::new()
    }

    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        match self.placement {
            InitialPlacement::Spread => placement::spread(obs, vms),
            InitialPlacement::FirstFit => placement::first_fit(obs, &mut self.work, vms),
        }
    }
}

/// The declarations of `none` (spread placement), `dvfs` and `non-power-aware` (CloudSim's
/// first-fit baselines; the latter charges every host at full power).
pub fn specs() -> Vec<PolicySpec> {
    let spec = |name: &'static str, placement, summary: &str, full_power| PolicySpec {
        name: name.into(),
        summary: summary.into(),
        params: Vec::new(),
        requires: Requirements {
            predictions: false,
            full_power_accounting: full_power,
        },
        build: Arc::new(move |_: &[f64], _| Box::new(NoMigration::new(placement, name))),
    };
    vec![
        spec(
            "none",
            InitialPlacement::Spread,
            "never migrate; VMs spread like OpenStack's filter scheduler (the floor)",
            false,
        ),
        spec(
            "dvfs",
            InitialPlacement::FirstFit,
            "never migrate, first-fit placement, power by load (CloudSim's DVFS baseline)",
            false,
        ),
        spec(
            "non-power-aware",
            InitialPlacement::FirstFit,
            "never migrate, every host at full power (CloudSim's NonPowerAware baseline)",
            true,
        ),
    ]
}
