//! Virtual machines and the workload they replay.

use serde::{Deserialize, Serialize};

/// A VM: its size and which trace drives its demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmSpec {
    /// Name (usually the trace file it replays).
    pub name: String,
    /// Number of vCPUs; demand is spread evenly over them.
    pub vcpus: u32,
    /// MIPS of one vCPU at 100 % load.
    pub mips_per_vcpu: f64,
    /// Configured memory size; this is what a migration has to copy.
    pub memory_mib: f64,
    /// Index into the scenario's trace set.
    pub trace: usize,
    /// Index of the VNF this VM runs, if it is part of a service chain.
    pub vnf: Option<usize>,
}

impl VmSpec {
    /// Peak CPU demand in MIPS.
    pub fn total_mips(&self) -> f64 {
        self.vcpus as f64 * self.mips_per_vcpu
    }
}
