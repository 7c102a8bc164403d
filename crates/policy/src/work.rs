//! The policies' shared work-space: a tentative allocation a policy edits while it plans. VMs are
//! "created" on and "destroyed" from hosts to try placements, exactly as CloudSim's optimiser does
//! on its live objects, but on a scratch copy so nothing leaks into the data centre.

use promig_model::observation::{HISTORY_LEN, Observation};
use promig_model::scheduler::scheduler_allocation;

/// Per-host scratch state.
#[derive(Debug, Clone, Default)]
pub struct HostWork {
    /// Resident VMs in arrival order (tentative).
    pub vms: Vec<usize>,
    /// VMs migrating in.
    pub migrating_in: Vec<usize>,
    /// VMs this round's plan moves away: they no longer load the host's CPU in the plan, but
    /// their memory stays reserved here until their migration ends, as in the simulator and
    /// in Nova, so a plan never counts on memory that is not free yet.
    pub leaving: Vec<usize>,
    /// CPU the host would use with this VM set, counting migrating-in VMs in full
    /// (what CloudSim's power-aware placement looks at).
    pub util_mips: f64,
    /// CPU the scheduler still has free (0 once oversubscribed).
    pub available_mips: f64,
    /// Sum of the VMs' current requests.
    pub requested_mips: f64,
    /// Memory reserved.
    pub memory_reserved_mib: f64,
    /// NIC bandwidth reserved.
    pub nic_reserved_bps: f64,
    /// Host utilisation history: sum of VM histories weighted by their share of the host.
    pub history: [f64; HISTORY_LEN],
    /// Valid length of `history` after dropping the all-zero tail.
    pub history_len: usize,
}

/// The scratch copy of a whole data centre.
#[derive(Debug, Clone, Default)]
pub struct Work {
    /// Hosts.
    pub hosts: Vec<HostWork>,
}

impl Work {
    /// Starts from the observed allocation.
    pub fn reset(&mut self, obs: &Observation) {
        self.hosts.resize_with(obs.hosts.len(), HostWork::default);
        for (h, view) in obs.hosts.iter().enumerate() {
            let w = &mut self.hosts[h];
            w.vms.clear();
            w.vms.extend_from_slice(&view.vms);
            w.migrating_in.clear();
            w.migrating_in.extend_from_slice(&view.migrating_in);
            w.leaving.clear();
        }
        for h in 0..obs.hosts.len() {
            self.refresh(obs, h);
        }
    }

    /// Tentatively places `vm` on `host` (CloudSim's `vmCreate`).
    pub fn create(&mut self, obs: &Observation, host: usize, vm: usize) {
        self.hosts[host].vms.push(vm);
        self.refresh(obs, host);
    }

    /// Tentatively removes `vm` from `host` (CloudSim's `vmDestroy`).
    pub fn destroy(&mut self, obs: &Observation, host: usize, vm: usize) {
        let list = &mut self.hosts[host].vms;
        if let Some(pos) = list.iter().position(|&v| v == vm) {
            list.remove(pos);
        }
        self.refresh(obs, host);
    }

    /// Plans a live migration of `vm` from `from` to `to`: the destination takes its load and
    /// memory at once, the source is relieved of its load but keeps its memory reserved.
    pub fn plan_migration(&mut self, obs: &Observation, from: usize, to: usize, vm: usize) {
        self.hosts[from].leaving.push(vm);
        self.destroy(obs, from, vm);
        self.create(obs, to, vm);
    }

    /// Recomputes a host's derived figures from its VM set. Always from scratch: incremental
    /// add/subtract of floats leaves residues that would break the zero-tail test of the history.
    pub fn refresh(&mut self, obs: &Observation, host: usize) {
        let view = &obs.hosts[host];
        let w = &mut self.hosts[host];
        let alloc = scheduler_allocation(obs, host, &w.vms, &w.migrating_in);
        w.util_mips = alloc.util_mips;
        w.available_mips = alloc.available_mips;
        w.requested_mips = w
            .vms
            .iter()
            .chain(&w.migrating_in)
            .map(|&v| obs.vms[v].requested_mips)
            .sum();
        w.memory_reserved_mib = w
            .vms
            .iter()
            .chain(&w.migrating_in)
            .chain(&w.leaving)
            .map(|&v| obs.vms[v].memory_reserved_mib)
            .sum();
        w.nic_reserved_bps = w
            .vms
            .iter()
            .chain(&w.migrating_in)
            .map(|&v| obs.vms[v].nic_reserved_bps)
            .sum();
        w.history = [0.0; HISTORY_LEN];
        for &v in w.vms.iter().chain(&w.migrating_in) {
            add_history(&mut w.history, obs, v, view.total_mips);
        }
        w.history_len = trimmed_len(&w.history);
    }
}

/// Adds one VM's history, weighted by its size relative to the host, into a host history.
pub fn add_history(history: &mut [f64; HISTORY_LEN], obs: &Observation, vm: usize, host_mips: f64) {
    let v = &obs.vms[vm];
    let mips = v.total_mips();
    for (slot, u) in history.iter_mut().zip(v.history()) {
        *slot += u * mips / host_mips;
    }
}

/// Length of a history once trailing zeros (samples no VM had yet) are dropped.
pub fn trimmed_len(history: &[f64]) -> usize {
    history.iter().rposition(|&x| x != 0.0).map_or(0, |i| i + 1)
}
