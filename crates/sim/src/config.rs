//! How a run is simulated (as opposed to what is simulated, which is the [`crate::World`]).

use promig_migrate::Profile;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which accounting rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// NFV data centre: memory is reserved and can run out, migrations share links and follow the
    /// pre-copy model, VNF downtime and packet loss are charged, faults are injected.
    Nfv,
    /// CloudSim 3.0.3's PlanetLab power experiment: its host/VM types, its migration-time rule
    /// (RAM / half the host bandwidth), its event times (0.1 s offset) and its metrics.
    CloudSim,
}

/// Run parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Seed for every random draw of the run.
    pub seed: u64,
    /// Scheduling intervals to simulate.
    pub steps: usize,
    /// Length of one interval (the traces' sampling period).
    pub interval_s: f64,
    /// Accounting rules.
    pub mode: Mode,
    /// Hosts draw power by load (false: every host at full power, CloudSim's non-power-aware baseline).
    pub power_aware: bool,
    /// Memory a host may promise to VMs, as a multiple of its physical memory (Nova's
    /// `ram_allocation_ratio`); actual use can never exceed physical memory.
    pub memory_overcommit: f64,
    /// Share of each link that migrations may use together (the rest carries VNF traffic).
    pub migration_link_share: f64,
    /// Machine constants of the QEMU migration model, per technique: NFV migrations are priced
    /// with them (CloudSim mode uses CloudSim's own rule instead). Shared, so cloning a
    /// simulator to branch stays cheap.
    pub calibration: Arc<Profile>,
}

impl SimConfig {
    /// NFV defaults for `steps` intervals.
    pub fn nfv(seed: u64, steps: usize) -> Self {
        SimConfig {
            seed,
            steps,
            interval_s: promig_model::TRACE_STEP_S,
            mode: Mode::Nfv,
            power_aware: true,
            memory_overcommit: 1.5,
            migration_link_share: 0.5,
            // The hosts an NFV data centre runs on are KVM hosts.
            calibration: Arc::new(Profile::kvm()),
        }
    }

    /// CloudSim-compatible defaults (one day).
    pub fn cloudsim(seed: u64) -> Self {
        SimConfig {
            seed,
            steps: 288,
            interval_s: promig_model::TRACE_STEP_S,
            mode: Mode::CloudSim,
            power_aware: true,
            memory_overcommit: 1.0,
            migration_link_share: 0.5,
            // Unused (CloudSim's migration rule is RAM / half the bandwidth); the built-in fit.
            calibration: Arc::new(Profile::tcg()),
        }
    }

    /// Time of the first event: CloudSim submits its workload 0.1 s in (its minimum event spacing).
    pub fn start_s(&self) -> f64 {
        match self.mode {
            Mode::CloudSim => 0.1,
            Mode::Nfv => 0.0,
        }
    }

    /// End of the simulated period.
    pub fn horizon_s(&self) -> f64 {
        self.steps as f64 * self.interval_s
    }
}

impl SimConfig {
    /// Refuses settings no run can honour (zero or absurdly many steps, a non-positive interval,
    /// NaN anywhere), so a bad flag is an error naming it rather than a panic or a hang later.
    pub fn validate(&self) -> Result<(), crate::SimError> {
        let bad =
            |field: &'static str, message: String| Err(crate::SimError::Config { field, message });
        let max = promig_model::scenario::MAX_STEPS;
        if !(1..=max).contains(&self.steps) {
            return bad("steps", format!("{} is outside 1..={max}", self.steps));
        }
        if !(self.interval_s.is_finite() && self.interval_s > 0.0) {
            return bad(
                "interval_s",
                format!("{} is not a positive number", self.interval_s),
            );
        }
        if !(self.memory_overcommit.is_finite() && self.memory_overcommit >= 1.0) {
            return bad(
                "memory_overcommit",
                format!("{} is not a number >= 1", self.memory_overcommit),
            );
        }
        let share = self.migration_link_share;
        if !(share.is_finite() && share > 0.0 && share <= 1.0) {
            return bad("migration_link_share", format!("{share} is outside (0, 1]"));
        }
        // A profile loaded from a file was checked then; one built in memory is checked here.
        self.calibration.validate()?;
        Ok(())
    }
}
