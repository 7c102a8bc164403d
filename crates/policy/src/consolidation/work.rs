//! Tentative allocation state used while a consolidation round plans: VMs are "created" on and
//! "destroyed" from hosts to try placements, exactly as CloudSim's optimiser does on its live
//! objects, but on a scratch copy so nothing leaks into the data centre.

use crate::observation::{HISTORY_LEN, Observation};

/// Share of a migrating VM's CPU the destination already grants during the migration.
pub const MIGRATING_IN_SHARE: f64 = 0.1;
/// Share of its CPU a VM keeps at the source while migrating out (10 % degradation).
pub const MIGRATING_OUT_SHARE: f64 = 0.9;

/// Per-host scratch state.
#[derive(Debug, Clone, Default)]
pub struct HostWork {
    /// Resident VMs in arrival order (tentative).
    pub vms: Vec<usize>,
    /// VMs migrating in.
    pub migrating_in: Vec<usize>,
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

/// Result of the CPU scheduler on one host.
#[derive(Debug, Clone, Copy)]
pub struct Allocation {
    /// CPU the host uses for placement decisions (migrating-in VMs counted in full).
    pub util_mips: f64,
    /// CPU left for another VM.
    pub available_mips: f64,
}

/// CPU a VM asks for, each vCPU capped at one physical core.
pub fn capped_request(obs: &Observation, host: usize, vm: usize) -> f64 {
    let v = &obs.vms[vm];
    let per = v.requested_mips / v.vcpus.max(1) as f64;
    per.min(obs.hosts[host].mips_per_core) * v.vcpus as f64
}

/// What a VM is doing on the host whose scheduler grants it CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs here.
    Resident,
    /// Runs here but is being migrated away (loses 10 % to the migration).
    MigratingOut,
    /// Is being migrated here (already costs 10 % of its demand here).
    MigratingIn,
}

/// Time-shared CPU scheduler with oversubscription (CloudSim's `VmSchedulerTimeSharedOverSubscription`):
/// every VM gets its capped request unless their sum exceeds the host, in which case all are scaled
/// down by the same factor (and rounded down to whole MIPS). Shared by the simulator, which applies
/// it, and by planners, which try placements with it.
#[derive(Debug, Clone, Copy)]
pub struct CpuShares {
    /// Sum of capped requests (incoming VMs at their 10 %).
    pub total_mips: f64,
    /// The sum exceeds the host.
    pub oversubscribed: bool,
    scale: f64,
    capacity: f64,
}

impl CpuShares {
    /// Sizes the shares for a host of `capacity_mips` and the (capped request, role) of each VM.
    pub fn new(capacity_mips: f64, requests: impl Iterator<Item = (f64, Role)>) -> Self {
        let total: f64 = requests
            .map(|(r, role)| {
                if role == Role::MigratingIn {
                    r * MIGRATING_IN_SHARE
                } else {
                    r
                }
            })
            .sum();
        let oversubscribed = total > capacity_mips;
        CpuShares {
            total_mips: total,
            oversubscribed,
            scale: if oversubscribed {
                capacity_mips / total
            } else {
                1.0
            },
            capacity: capacity_mips,
        }
    }

    /// CPU granted to one VM.
    pub fn grant(&self, capped_request: f64, role: Role) -> f64 {
        let r = match role {
            Role::Resident => capped_request,
            Role::MigratingOut => capped_request * MIGRATING_OUT_SHARE,
            Role::MigratingIn => capped_request * MIGRATING_IN_SHARE,
        };
        if self.oversubscribed {
            (r * self.scale).floor()
        } else {
            r
        }
    }

    /// CPU still free for another VM.
    pub fn available_mips(&self) -> f64 {
        if self.oversubscribed {
            0.0
        } else {
            self.capacity - self.total_mips
        }
    }
}

fn role_of(obs: &Observation, vm: usize) -> Role {
    if obs.vms[vm].in_migration {
        Role::MigratingOut
    } else {
        Role::Resident
    }
}

/// The scheduler's outcome on one host of an observation, as placement sees it.
pub fn scheduler_allocation(
    obs: &Observation,
    host: usize,
    vms: &[usize],
    migrating_in: &[usize],
) -> Allocation {
    let cap = obs.hosts[host].total_mips;
    let requests = vms
        .iter()
        .map(|&v| (capped_request(obs, host, v), role_of(obs, v)))
        .chain(
            migrating_in
                .iter()
                .map(|&v| (capped_request(obs, host, v), Role::MigratingIn)),
        );
    let shares = CpuShares::new(cap, requests);
    let mut util = 0.0;
    for &v in vms {
        util += shares.grant(capped_request(obs, host, v), role_of(obs, v));
    }
    for &v in migrating_in {
        let alloc = shares.grant(capped_request(obs, host, v), Role::MigratingIn);
        // Placement counts an incoming VM as if it already ran here at full demand.
        util += alloc + alloc * MIGRATING_OUT_SHARE / MIGRATING_IN_SHARE;
    }
    Allocation {
        util_mips: util,
        available_mips: shares.available_mips(),
    }
}
