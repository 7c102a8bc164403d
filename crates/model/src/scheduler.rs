//! The CPU scheduler every stage must agree on: CloudSim's time-shared scheduler with
//! oversubscription. The simulator applies it to charge what VMs get; planners (the consolidation
//! policies, the agent) try placements with it. It lives in `model` so both sides share one copy.

use crate::observation::Observation;

/// Share of a migrating VM's CPU the destination already grants during the migration.
pub const MIGRATING_IN_SHARE: f64 = 0.1;
/// Share of its CPU a VM keeps at the source while migrating out (10 % degradation).
pub const MIGRATING_OUT_SHARE: f64 = 0.9;

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
