//! Placement rules shared by the simple policies: where a VM goes when it needs a host.

use crate::work::Work;
use promig_model::observation::Observation;

/// Spread: the host with the most free cores that has the memory, lowest number on ties.
///
/// This is OpenStack's default (spread by free resources) and CloudSim's `VmAllocationPolicySimple`,
/// the placement of the `none`/DVFS baselines. Cores are oversubscribed freely, as in both.
pub fn spread(obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
    let mut free_cores: Vec<i64> = obs
        .hosts
        .iter()
        .map(|h| {
            h.cores as i64
                - h.vms
                    .iter()
                    .chain(&h.migrating_in)
                    .map(|&v| obs.vms[v].vcpus as i64)
                    .sum::<i64>()
        })
        .collect();
    let mut memory: Vec<f64> = obs.hosts.iter().map(|h| h.memory_reserved_mib).collect();
    let mut out = Vec::with_capacity(vms.len());
    let mut order: Vec<usize> = (0..obs.hosts.len()).collect();
    for &vm in vms {
        let v = &obs.vms[vm];
        order.sort_by(|&a, &b| free_cores[b].cmp(&free_cores[a]).then(a.cmp(&b)));
        let chosen = order.iter().copied().find(|&h| {
            obs.hosts[h].up && memory[h] + v.memory_reserved_mib <= obs.hosts[h].memory_mib
        });
        if let Some(h) = chosen {
            free_cores[h] -= v.vcpus as i64;
            memory[h] += v.memory_reserved_mib;
        }
        out.push(chosen);
    }
    out
}

/// [`spread`] over the hosts `trusted` accepts; what they cannot hold still goes to any host
/// that is up (spread again). A VNF on a suspect host is better than a VNF down until a repair:
/// after a whole rack or site fails, the trusted hosts alone may lack the room.
pub fn spread_trusted(
    obs: &Observation,
    vms: &[usize],
    trusted: impl Fn(usize) -> bool,
) -> Vec<Option<usize>> {
    let mut safe = obs.clone();
    for (h, host) in safe.hosts.iter_mut().enumerate() {
        if !trusted(h) {
            host.up = false;
        }
    }
    let mut out = spread(&safe, vms);
    let left: Vec<usize> = vms
        .iter()
        .zip(&out)
        .filter(|(_, p)| p.is_none())
        .map(|(&v, _)| v)
        .collect();
    if !left.is_empty() {
        let mut after = obs.clone();
        for (&vm, p) in vms.iter().zip(&out) {
            if let Some(h) = *p {
                after.hosts[h].vms.push(vm);
                after.hosts[h].memory_reserved_mib += obs.vms[vm].memory_reserved_mib;
            }
        }
        let mut fallback = spread(&after, &left).into_iter();
        for p in out.iter_mut().filter(|p| p.is_none()) {
            *p = fallback.next().flatten();
        }
    }
    out
}

/// `place` over `vms` with the VNF instances first, results back in the order of `vms`. When a
/// crash leaves less room than the VMs it took down need, what is placed first is what runs:
/// a VNF instance's outage is what the operator pays for, a plain VM's is not.
pub fn vnf_first(
    obs: &Observation,
    vms: &[usize],
    place: impl FnOnce(&Observation, &[usize]) -> Vec<Option<usize>>,
) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..vms.len()).collect();
    // Stable: within each class the caller's order (the restart queue's) is kept.
    order.sort_by_key(|&i| obs.vms.get(vms[i]).is_none_or(|v| v.vnf.is_none()));
    let sorted: Vec<usize> = order.iter().map(|&i| vms[i]).collect();
    let placed = place(obs, &sorted);
    let mut out = vec![None; vms.len()];
    for (&i, p) in order.iter().zip(placed) {
        out[i] = p;
    }
    out
}

/// First fit: the lowest-numbered host that can take the VM (a core's worth of MIPS per vCPU, free
/// CPU, memory and NIC reservations). CloudSim's `PowerVmAllocationPolicySimple`, used by its DVFS and
/// non-power-aware baselines.
pub fn first_fit(obs: &Observation, work: &mut Work, vms: &[usize]) -> Vec<Option<usize>> {
    work.reset(obs);
    vms.iter()
        .map(|&vm| {
            let v = &obs.vms[vm];
            let h = (0..obs.hosts.len()).find(|&h| {
                let host = &obs.hosts[h];
                let w = &work.hosts[h];
                host.up
                    && host.mips_per_core >= v.requested_mips / v.vcpus.max(1) as f64
                    && w.available_mips >= v.requested_mips
                    && w.memory_reserved_mib + v.memory_reserved_mib <= host.memory_mib
                    && w.nic_reserved_bps + v.nic_reserved_bps <= host.nic_bps
            })?;
            work.create(obs, h, vm);
            Some(h)
        })
        .collect()
}

/// The up host with the lowest CPU load that can take `vm` and stays at or below `max_utilization`
/// (CPU requests) and within memory; used by the threshold and reactive baselines.
pub fn least_loaded(
    obs: &Observation,
    work: &Work,
    vm: usize,
    max_utilization: f64,
    exclude: usize,
) -> Option<usize> {
    let v = &obs.vms[vm];
    let mut best: Option<(f64, usize)> = None;
    for (h, host) in obs.hosts.iter().enumerate() {
        if h == exclude || !host.up {
            continue;
        }
        let w = &work.hosts[h];
        if w.memory_reserved_mib + v.memory_reserved_mib > host.memory_mib {
            continue;
        }
        let load = w.requested_mips / host.total_mips;
        let after = (w.requested_mips + v.requested_mips) / host.total_mips;
        if after > max_utilization {
            continue;
        }
        if best.is_none_or(|(bl, _)| load < bl) {
            best = Some((load, h));
        }
    }
    best.map(|(_, h)| h)
}
