//! `none`: never migrate. The floor every other policy is measured against; with the simulator's
//! power-aware accounting it is also CloudSim's DVFS baseline.

use crate::work::Work;
use crate::{Policy, placement};
use promig_model::{Decision, Observation};

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
