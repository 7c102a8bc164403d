//! Physical hosts: what a VM can be placed on.

use crate::power::PowerCurve;
use serde::{Deserialize, Serialize};

/// A physical server as the simulator and the policies see it.
///
/// CPU is expressed in MIPS per core (CloudSim's unit) so that PlanetLab's "% of a core" traces and
/// CloudSim's published host types can be used unchanged; a GHz figure converts 1:1000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Human-readable name, e.g. `rack3-h07` or `Abilene/NYC-2`.
    pub name: String,
    /// Physical cores.
    pub cores: u32,
    /// Capacity of one core; a single vCPU can never get more than this.
    pub mips_per_core: f64,
    /// Installed memory.
    pub memory_mib: f64,
    /// NIC line rate.
    pub nic_bps: f64,
    /// Power draw versus load.
    pub power: PowerCurve,
    /// Rack (leaf-spine) or site (topology zoo) the host sits in; also used to map real failure logs.
    pub rack: u32,
    /// Index of the topology node the host hangs off (its leaf switch or site).
    pub attach_node: usize,
}

impl HostSpec {
    /// Total CPU capacity in MIPS.
    pub fn total_mips(&self) -> f64 {
        self.cores as f64 * self.mips_per_core
    }
}
