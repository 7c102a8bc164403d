//! Accounting at every update: the CPU scheduler's grants, energy, SLA time, VNF service quality.

use super::*;
use crate::report::FaultCost;

impl Simulator {
    pub(super) fn vm_request(&self, vm: usize, t: f64) -> f64 {
        match self.vms[vm].status {
            VmStatus::Running => self.cpu_demand(vm, t) * self.world.vms[vm].total_mips(),
            _ => 0.0,
        }
    }

    pub(super) fn capped(&self, host: usize, vm: usize, request: f64) -> f64 {
        let spec = &self.world.vms[vm];
        let per = request / spec.vcpus.max(1) as f64;
        per.min(self.host_core_mips(host)) * spec.vcpus as f64
    }

    pub(super) fn host_core_mips(&self, host: usize) -> f64 {
        self.world.hosts[host].mips_per_core * self.hosts[host].capacity_factor
    }

    pub(super) fn host_capacity(&self, host: usize) -> f64 {
        self.world.hosts[host].total_mips() * self.hosts[host].capacity_factor
    }

    pub(super) fn update_all(&mut self, t: f64) {
        self.update_hosts(t);
        if self.cfg.mode == Mode::CloudSim {
            self.retire_idle_vms();
        }
    }

    /// CloudSim 3.0.3 treats a VM whose CPU request is exactly zero at an update as finished and
    /// removes it from the data centre for the rest of the run (idle PlanetLab VMs thus disappear).
    /// Its published figures depend on this, so the CloudSim mode reproduces it.
    pub(super) fn retire_idle_vms(&mut self) {
        for h in 0..self.hosts.len() {
            if self.hosts[h].vms.is_empty() {
                continue;
            }
            let vms = &self.vms;
            let before = self.hosts[h].vms.len();
            self.hosts[h].vms.retain(|&v| {
                !(vms[v].migration.is_none()
                    && vms[v].requested_mips == 0.0
                    && vms[v].status == VmStatus::Running)
            });
            if self.hosts[h].vms.len() != before {
                let keep: Vec<usize> = self.hosts[h].vms.clone();
                for vm in 0..self.vms.len() {
                    if self.vms[vm].host == Some(h) && !keep.contains(&vm) {
                        self.vms[vm].host = None;
                        self.vms[vm].status = VmStatus::Retired;
                        self.vms[vm].entry = None;
                    }
                }
            }
        }
    }

    pub(super) fn update_hosts(&mut self, t: f64) {
        for h in 0..self.hosts.len() {
            let hs = &self.hosts[h];
            // An empty host that was already idle accrues nothing: skipping it is exact.
            if hs.vms.is_empty()
                && hs.migrating_in.is_empty()
                && hs.util_mips == 0.0
                && !hs.entry.flag
                && self.cfg.power_aware
            {
                continue;
            }
            self.update_host(h, t);
        }
    }

    /// Re-runs the CPU scheduler on a host at time `t`, accruing energy, SLA time and VNF service
    /// quality over the time since its previous update.
    pub(super) fn update_host(&mut self, h: usize, t: f64) {
        let cap = self.host_capacity(h);
        let dt = t - self.hosts[h].last_t;
        let world = Arc::clone(&self.world);
        let spec_power = &world.hosts[h].power;
        // Energy over [last_t, t], trapezoidal in utilisation; a host idle at the previous update
        // was switched off and draws nothing.
        if dt > 0.0 {
            let hs = &self.hosts[h];
            if !self.cfg.power_aware {
                self.totals.energy_j += spec_power.max_watts() * dt;
            }
            if hs.entry.flag {
                self.totals.host_active_s += dt;
                if hs.entry.allocated < hs.entry.requested {
                    self.totals.host_violation_s += dt;
                }
            }
        }
        let mut shares_in = std::mem::take(&mut self.scratch_shares);
        let mut requests = std::mem::take(&mut self.scratch_requests);
        shares_in.clear();
        requests.clear();
        let up = self.hosts[h].up;
        for i in 0..self.hosts[h].vms.len() {
            let vm = self.hosts[h].vms[i];
            let req = if up { self.vm_request(vm, t) } else { 0.0 };
            let role = if self.vms[vm].migration.is_some() {
                Role::MigratingOut
            } else {
                Role::Resident
            };
            requests.push(req);
            shares_in.push((self.capped(h, vm, req), role));
        }
        for i in 0..self.hosts[h].migrating_in.len() {
            let vm = self.hosts[h].migrating_in[i];
            let req = if up { self.vm_request(vm, t) } else { 0.0 };
            requests.push(req);
            shares_in.push((self.capped(h, vm, req), Role::MigratingIn));
        }
        let shares = CpuShares::new(cap, shares_in.iter().copied());
        let mut util_mips = 0.0;
        // The host's demand now, before its VMs are accounted: a VNF's latency is priced with the
        // load it sees at this update, not the one of the host's previous update.
        let mut host_req = 0.0;
        for &r in requests.iter() {
            host_req += r;
        }
        self.hosts[h].requested_mips = host_req;
        let n_res = self.hosts[h].vms.len();
        for (i, &(capped, role)) in shares_in.iter().enumerate() {
            let alloc = shares.grant(capped, role);
            if i < n_res {
                let vm = self.hosts[h].vms[i];
                util_mips += if role == Role::MigratingOut {
                    alloc / MIGRATING_OUT_SHARE
                } else {
                    alloc
                };
                self.account_vm(
                    vm,
                    t,
                    alloc,
                    requests[i],
                    role == Role::MigratingOut,
                    h,
                    &shares,
                );
            } else {
                util_mips += alloc;
            }
        }
        let nominal = self.world.hosts[h].total_mips();
        let power_util = (util_mips / nominal).min(1.0);
        let hs = &mut self.hosts[h];
        if dt > 0.0 && self.cfg.power_aware && hs.power_util != 0.0 {
            let p0 = spec_power.watts_at(hs.power_util);
            let p1 = spec_power.watts_at(power_util);
            self.totals.energy_j += (p0 + (p1 - p0) / 2.0) * dt;
        }
        hs.power_util = power_util;
        hs.util_mips = util_mips;
        hs.requested_mips = host_req;
        hs.last_t = t;
        hs.entry = Entry {
            time: t,
            allocated: util_mips,
            requested: host_req,
            flag: util_mips > 0.0,
            ..Entry::default()
        };
        self.scratch_shares = shares_in;
        self.scratch_requests = requests;
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn account_vm(
        &mut self,
        vm: usize,
        t: f64,
        alloc: f64,
        req: f64,
        migrating: bool,
        host: usize,
        shares: &CpuShares,
    ) {
        let nfv = self.cfg.mode == Mode::Nfv;
        if let Some(prev) = self.vms[vm].entry {
            let dt = t - prev.time;
            if dt > 0.0 {
                self.totals.vm_requested += prev.requested * dt;
                self.totals.vm_allocated += prev.allocated * dt;
                if prev.allocated < prev.requested && prev.flag {
                    self.totals.vm_underallocated_migration +=
                        (prev.requested - prev.allocated) * dt;
                }
                if nfv
                    && prev.load > 0.0
                    && let Some(f) = self.world.vms[vm].vnf
                {
                    let spec = &self.world.vnfs[f];
                    let offered = spec.packets_per_s * prev.load * dt;
                    let vt = &mut self.totals.vnf[f];
                    vt.packets_offered += offered;
                    vt.packets_lost += offered * prev.drop_fraction;
                    if prev.latency_ms > spec.qos.max_latency_ms
                        || prev.drop_fraction > spec.qos.max_loss_rate
                    {
                        vt.qos_violation_s += dt;
                    }
                    let dropped = offered * prev.drop_fraction;
                    if dropped > 0.0 {
                        self.attribute_drop(f, host, prev.time, t, dropped);
                    }
                }
            }
        }
        let running = self.vms[vm].status == VmStatus::Running;
        let (drop_fraction, latency_ms) = if nfv {
            let cap = self.host_capacity(host);
            let rho = (self.hosts[host].requested_mips.max(req) / cap).min(0.99);
            let base = self.world.vms[vm]
                .vnf
                .map_or(0.5, |f| self.world.vnfs[f].base_latency_ms);
            let drop = if shares.oversubscribed && req > 0.0 {
                (1.0 - cap / shares.total_mips).max(0.0)
            } else {
                0.0
            };
            (drop, base / (1.0 - rho))
        } else {
            (0.0, 0.0)
        };
        // The load only prices VNF traffic (NFV mode); CloudSim's accounting never reads it.
        let load = if running && nfv {
            self.cpu_demand(vm, t)
        } else {
            0.0
        };
        let v = &mut self.vms[vm];
        v.requested_mips = req;
        v.allocated_mips = alloc;
        v.entry = Some(Entry {
            time: t,
            allocated: alloc,
            requested: req,
            flag: migrating,
            drop_fraction,
            latency_ms,
            load,
        });
    }

    /// Charges an interruption of `duration_s` ending at `t` to the VM's VNF, and notes what it
    /// was in the attribution.
    pub(super) fn charge_incident(&mut self, vm: usize, duration_s: f64, t: f64, what: Incident) {
        let Some(f) = self.world.vms[vm].vnf else {
            return;
        };
        let load = self.cpu_demand(vm, t);
        let offered = self.world.vnfs[f].packets_per_s * load * duration_s;
        self.attribute(what, duration_s, offered);
        let spec = &self.world.vnfs[f];
        let vt = &mut self.totals.vnf[f];
        vt.downtime_s += duration_s;
        vt.interruptions += 1;
        vt.packets_offered += offered;
        vt.packets_lost += offered;
        vt.longest_incident_s = vt.longest_incident_s.max(duration_s);
        if duration_s * 1000.0 > spec.qos.max_downtime_ms {
            vt.qos_violation_s += duration_s;
        }
    }

    /// Books packets dropped by oversubscribed host `host` between `from_s` and `to_s` to VNF `f`:
    /// on a degraded host, during a surge on one of the VNF's chains, or otherwise.
    fn attribute_drop(&mut self, f: usize, host: usize, from_s: f64, to_s: f64, dropped: f64) {
        let a = &mut self.attribution;
        a.oversubscribed_lost += dropped;
        if self.hosts[host].degraded_record.is_some() {
            a.oversubscribed_lost_degraded += dropped;
        } else if self.plan.surges.iter().any(|s| {
            (s.intensity(from_s) > 0.0 || s.intensity(to_s) > 0.0)
                && self.world.chains[s.chain].vnfs.contains(&f)
        }) {
            a.oversubscribed_lost_surge += dropped;
        }
    }

    /// Books an outage of `duration_s` that lost `lost` packets under what caused it.
    pub(super) fn attribute(&mut self, what: Incident, duration_s: f64, lost: f64) {
        let a = &mut self.attribution;
        match what {
            Incident::Pause => {
                a.migration_pause_s += duration_s;
                a.migration_pause_lost += lost;
            }
            Incident::Outage(Some(r)) => {
                if a.faults.len() <= r {
                    a.faults.resize(r + 1, FaultCost::default());
                }
                let recovery = &self.world.recovery;
                let detection = recovery.detection_delay_s.min(duration_s);
                let c = &mut a.faults[r];
                c.downtime_s += duration_s;
                c.detection_s += detection;
                c.boot_s += recovery.boot_s.min(duration_s - detection);
                c.packets_lost += lost;
            }
            Incident::Outage(None) => {
                a.unattributed_s += duration_s;
                a.unattributed_lost += lost;
            }
        }
    }
}
