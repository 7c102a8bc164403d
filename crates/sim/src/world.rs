//! Everything static about a simulated data centre: hosts, VMs, VNFs, traces and network.

use promig_model::fault::FaultsConfig;
use promig_model::scenario::RecoveryConfig;
use promig_model::{ChainSpec, HostSpec, Topology, Trace, VmSpec, VnfSpec};

/// The data centre a simulation runs on. Shared read-only between runs and clones.
#[derive(Debug, Clone)]
pub struct World {
    /// Scenario name for reports.
    pub name: String,
    /// Hosts by index.
    pub hosts: Vec<HostSpec>,
    /// Host model of each host (hosts of one type are interchangeable).
    pub host_type: Vec<usize>,
    /// VMs by index.
    pub vms: Vec<VmSpec>,
    /// Traces, referenced by VMs.
    pub traces: Vec<Trace>,
    /// VNFs by index.
    pub vnfs: Vec<VnfSpec>,
    /// Service chains.
    pub chains: Vec<ChainSpec>,
    /// Network.
    pub topology: Topology,
    /// Faults to inject.
    pub faults: FaultsConfig,
    /// Crash recovery.
    pub recovery: RecoveryConfig,
    /// Folder the scenario came from (relative fault-replay paths resolve against it).
    pub base_dir: std::path::PathBuf,
    /// What was adapted while building it (chains scaled to the VMs available, duplicate trace
    /// rows dropped...), for the user to read next to the results.
    pub notes: Vec<String>,
}

impl World {
    /// CPU demand of a VM's trace at time `t_s` as a fraction, interpolated between samples.
    pub fn cpu_fraction(&self, vm: usize, t_s: f64, interval_s: f64) -> f64 {
        let trace = &self.traces[self.vms[vm].trace];
        let n = trace.cpu.len();
        let pos = t_s / interval_s;
        // `t_s % interval_s == 0.0` (CloudSim's test) without fmod, a slow libm loop on the
        // hottest path: an exact multiple divides to an integer that multiplies back exactly.
        let i1 = pos as usize; // floor: times are non-negative
        // Within the trace no wrap is needed; an integer division per lookup is not free.
        let wrap = |i: usize| if i < n { i } else { i % n };
        if i1 as f64 == pos && i1 as f64 * interval_s == t_s {
            return trace.cpu[wrap(i1)];
        }
        let i2 = if i1 as f64 == pos { i1 } else { i1 + 1 }; // ceil
        let u1 = trace.cpu[wrap(i1)];
        let u2 = trace.cpu[wrap(i2)];
        let delta = (u2 - u1) / ((i2 - i1) as f64 * interval_s);
        u1 + delta * (t_s - i1 as f64 * interval_s)
    }

    /// Memory in use as a fraction of the VM's size at sample `step`, when the trace has it.
    pub fn memory_fraction(&self, vm: usize, step: usize) -> Option<f64> {
        let trace = &self.traces[self.vms[vm].trace];
        trace.memory.as_ref().map(|m| m[step % m.len()])
    }
}
