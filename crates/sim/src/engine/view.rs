//! What leaves the simulator: observations for policies, invariant checks, the report.

use super::*;
use promig_model::{HostId, VmId};

/// One migration in flight, as [`Simulator::in_flight`] reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InFlight {
    /// Source host index.
    pub from: usize,
    /// Destination host index.
    pub to: usize,
    /// When it started (simulated seconds).
    pub started_s: f64,
    /// When it ends at the current transfer rate.
    pub expected_end_s: f64,
    /// The pause the VM will take at switch-over.
    pub downtime_s: f64,
    /// The technique used.
    pub technique: Technique,
}

impl Simulator {
    /// The simulator's own figures for the migration of `vm` now in flight (`None` when none
    /// is): a controller that drives the simulator as its world reports what the world did, not
    /// what its planner predicted.
    pub fn in_flight(&self, vm: usize) -> Option<InFlight> {
        let m = self
            .migrations
            .get(self.vms.get(vm)?.migration?)?
            .as_ref()?;
        let end_s = match m.fixed_end {
            Some(end) => end,
            None if m.rate_bps > 0.0 => {
                let sent = m.rate_bps / 8.0 * (self.now - m.rate_since);
                let left = (m.remaining_bytes - sent).max(0.0);
                self.now + left / (m.rate_bps / 8.0)
            }
            None => f64::INFINITY,
        };
        Some(InFlight {
            from: m.from,
            to: m.to,
            started_s: m.started_s,
            expected_end_s: end_s,
            downtime_s: m.downtime_s,
            technique: m.technique,
        })
    }

    /// The policy's view now.
    pub fn observation(&self) -> Observation {
        self.observation_with(false)
    }

    pub(super) fn observation_with(&self, instantiating: bool) -> Observation {
        let cloudsim = self.cfg.mode == Mode::CloudSim;
        let hosts = (0..self.hosts.len())
            .map(|h| {
                let spec = &self.world.hosts[h];
                let hs = &self.hosts[h];
                let overcommit = if cloudsim {
                    1.0
                } else {
                    self.cfg.memory_overcommit
                };
                let cap = self.host_capacity(h);
                HostView {
                    id: HostId(h as u32),
                    type_id: self.world.host_type[h],
                    up: hs.up,
                    cores: spec.cores,
                    mips_per_core: self.host_core_mips(h),
                    total_mips: cap,
                    nominal_mips: spec.total_mips(),
                    memory_mib: spec.memory_mib * overcommit,
                    memory_reserved_mib: if instantiating {
                        0.0
                    } else {
                        self.memory_reserved(h)
                    },
                    physical_memory_mib: spec.memory_mib,
                    nic_bps: spec.nic_bps,
                    power: spec.power.clone(),
                    rack: spec.rack,
                    utilization: if instantiating {
                        0.0
                    } else {
                        (hs.util_mips / spec.total_mips()).min(1.0)
                    },
                    requested_mips: hs.requested_mips,
                    vms: if instantiating {
                        Vec::new()
                    } else {
                        hs.vms.clone()
                    },
                    migrating_in: if instantiating {
                        Vec::new()
                    } else {
                        hs.migrating_in.clone()
                    },
                    corrected_errors_per_h: hs.corrected_errors_per_h,
                    temperature_c: hs.temperature_c,
                    latency_ms: promig_model::observation::response_time_ms(
                        hs.requested_mips / cap,
                    ),
                }
            })
            .collect();
        let vms = (0..self.vms.len())
            .map(|vm| {
                let spec = &self.world.vms[vm];
                let s = &self.vms[vm];
                let full = spec.total_mips();
                let load = self.cpu_demand(vm, self.now);
                VmView {
                    id: VmId(vm as u32),
                    host: s.host,
                    in_migration: s.migration.is_some(),
                    booting: matches!(s.status, VmStatus::Booting { .. }),
                    vcpus: spec.vcpus,
                    mips_per_vcpu: spec.mips_per_vcpu,
                    memory_mib: spec.memory_mib,
                    memory_reserved_mib: if cloudsim && !s.instantiating {
                        0.0
                    } else {
                        spec.memory_mib
                    },
                    nic_reserved_bps: s.reserve_nic_bps,
                    memory_used_mib: s.memory_used_mib,
                    requested_mips: if s.instantiating && cloudsim {
                        full
                    } else {
                        s.requested_mips
                    },
                    allocated_mips: s.allocated_mips,
                    history: s.history,
                    history_len: s.history_len,
                    dirty_pages_per_s: DIRTY_PAGES_PER_S_AT_FULL_LOAD * load,
                    vnf: spec.vnf,
                }
            })
            .collect();
        Observation {
            time_s: self.now,
            interval_s: self.cfg.interval_s,
            hosts,
            vms,
            vnf_qos: self.world.vnfs.iter().map(|v| v.qos.clone()).collect(),
            chains: self.world.chains.iter().map(|c| c.vnfs.clone()).collect(),
            risks: Vec::new(),
            migration_bandwidth_bps: self.world.hosts.iter().map(|h| h.nic_bps).collect(),
            instantiating: instantiating && cloudsim,
        }
    }

    /// The risks the predictor gave at the last decision point (empty without a predictor).
    pub fn last_risks(&self) -> &[HostRisk] {
        &self.last_risks
    }

    /// The run's fault plan, drawn from its seed before it started: the true future, for
    /// analysis only (an oracle bound); no deployable policy may read it.
    pub fn fault_plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Ground truth recorded so far.
    pub fn fault_records(&self) -> &[FaultRecord] {
        &self.records
    }

    /// Checks the invariants every state must keep; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut seen = vec![0u32; self.vms.len()];
        for (h, hs) in self.hosts.iter().enumerate() {
            for &vm in &hs.vms {
                seen[vm] += 1;
                if self.vms[vm].host != Some(h) {
                    return Err(InvariantViolation(format!(
                        "VM {vm} is listed on host {h} but thinks it is on {:?}",
                        self.vms[vm].host
                    )));
                }
            }
            for &vm in &hs.migrating_in {
                let ok = self.vms[vm]
                    .migration
                    .and_then(|id| self.migrations[id].as_ref())
                    .is_some_and(|m| m.to == h || m.also_to.contains(&h));
                if !ok {
                    return Err(InvariantViolation(format!(
                        "VM {vm} is migrating into host {h} without a migration"
                    )));
                }
            }
            let holds_vms = !hs.vms.is_empty() || !hs.migrating_in.is_empty();
            if !hs.up && holds_vms {
                return Err(InvariantViolation(format!(
                    "host {h} is down but holds VMs"
                )));
            }
            if self.cfg.mode == Mode::Nfv {
                let physical = self.world.hosts[h].memory_mib;
                let used = self.memory_used(h);
                if used > physical + 1e-6 {
                    return Err(InvariantViolation(format!(
                        "host {h} uses {used:.0} MiB of {physical:.0} MiB physical memory"
                    )));
                }
                let reserved = self.memory_reserved(h);
                if reserved > physical * self.cfg.memory_overcommit + 1e-6 {
                    return Err(InvariantViolation(format!(
                        "host {h} reserves {reserved:.0} MiB, over its limit"
                    )));
                }
            }
        }
        for (vm, s) in self.vms.iter().enumerate() {
            match (s.host, seen[vm]) {
                (Some(_), 1) => {}
                (None, 0) if matches!(s.status, VmStatus::Down { .. } | VmStatus::Retired) => {}
                (host, n) => {
                    return Err(InvariantViolation(format!(
                        "VM {vm} ({:?}, host {host:?}) is listed on {n} hosts",
                        s.status
                    )));
                }
            }
        }
        Ok(())
    }

    /// Where the run's VNF downtime and lost packets came from so far: per fault record (same
    /// order as [`Report::faults`]), migration pauses, oversubscribed hosts. Outages still open
    /// count up to now, as in [`Simulator::report`], and its parts add up to the report's
    /// `downtime_s` and `packets_lost` (up to rounding).
    pub fn attribution(&self) -> Attribution {
        let mut a = self.attribution.clone();
        if a.faults.len() < self.records.len() {
            a.faults
                .resize(self.records.len(), crate::report::FaultCost::default());
        }
        let end = self.now.max(self.cfg.start_s());
        for (vm, s) in self.vms.iter().enumerate() {
            let (since, boot_s) = match s.status {
                VmStatus::Down { since } => (since, 0.0),
                VmStatus::Booting { since, until } => (
                    since,
                    (end - (until - self.world.recovery.boot_s)).clamp(0.0, end - since),
                ),
                VmStatus::Running | VmStatus::Retired => continue,
            };
            if self.world.vms[vm].vnf.is_none() {
                continue;
            }
            let d = (end - since).max(0.0);
            // The report charges no packets for outages still open at the end; neither does this.
            match self.down_record[vm] {
                Some(r) => {
                    let c = &mut a.faults[r];
                    c.downtime_s += d;
                    c.detection_s += self.world.recovery.detection_delay_s.min(d);
                    c.boot_s += boot_s.min(d);
                }
                None => a.unattributed_s += d,
            }
        }
        a
    }

    /// The run's results so far (call after the last [`Simulator::step`] for the final report).
    pub fn report(&self) -> Report {
        let t = &self.totals;
        let slatah = if t.host_active_s > 0.0 {
            t.host_violation_s / t.host_active_s
        } else {
            0.0
        };
        let pdm = if t.vm_requested > 0.0 {
            t.vm_underallocated_migration / t.vm_requested
        } else {
            0.0
        };
        // Downtime still open at the end of the run counts up to the horizon.
        let mut vnf = t.vnf.clone();
        let end = self.now.max(self.cfg.start_s());
        for (vm, s) in self.vms.iter().enumerate() {
            let since = match s.status {
                VmStatus::Down { since } | VmStatus::Booting { since, .. } => since,
                VmStatus::Running | VmStatus::Retired => continue,
            };
            if let Some(f) = self.world.vms[vm].vnf {
                let d = (end - since).max(0.0);
                vnf[f].downtime_s += d;
                vnf[f].interruptions += 1;
                vnf[f].longest_incident_s = vnf[f].longest_incident_s.max(d);
                vnf[f].qos_violation_s += d;
            }
        }
        let per_vnf: Vec<VnfReport> = vnf
            .iter()
            .zip(&self.world.vnfs)
            .map(|(v, spec)| VnfReport {
                name: spec.name.clone(),
                downtime_s: v.downtime_s,
                interruptions: v.interruptions,
                longest_incident_ms: v.longest_incident_s * 1000.0,
                packets_offered: v.packets_offered,
                packets_lost: v.packets_lost,
                loss_rate: if v.packets_offered > 0.0 {
                    v.packets_lost / v.packets_offered
                } else {
                    0.0
                },
                qos_violation_s: v.qos_violation_s,
            })
            .collect();
        let sum = |f: fn(&VnfReport) -> f64| per_vnf.iter().map(f).sum::<f64>();
        let offered = sum(|v| v.packets_offered);
        let lost = sum(|v| v.packets_lost);
        let crashes: Vec<&FaultRecord> = self
            .records
            .iter()
            .filter(|r| r.cause == FaultCause::HardwareFailure && r.strike_s.is_some())
            .collect();
        Report {
            scenario: self.world.name.clone(),
            policy: self.policy_name.clone(),
            seed: self.cfg.seed,
            mode: self.cfg.mode,
            simulated_s: end - self.cfg.start_s(),
            hosts: self.hosts.len(),
            vms: self.vms.len(),
            energy_kwh: t.energy_j / 3.6e6,
            migrations: t.migrations,
            migration_traffic_gib: t.migration_bytes / (1024.0 * 1024.0 * 1024.0),
            rejected_decisions: t.rejected_decisions,
            deadline_cancelled: t.deadline_cancelled,
            slatah_pct: slatah * 100.0,
            pdm_pct: pdm * 100.0,
            slav_pct: slatah * pdm * 100.0,
            overall_sla_violation_pct: if t.vm_requested > 0.0 {
                (t.vm_requested - t.vm_allocated) / t.vm_requested * 100.0
            } else {
                0.0
            },
            downtime_s: sum(|v| v.downtime_s),
            interruptions: per_vnf.iter().map(|v| v.interruptions).sum(),
            packets_offered: offered,
            packets_lost: lost,
            loss_rate: if offered > 0.0 { lost / offered } else { 0.0 },
            qos_violation_s: sum(|v| v.qos_violation_s),
            vms_crashed: t.vms_crashed,
            failures_struck: crashes.len() as u64,
            failures_evacuated: crashes.iter().filter(|r| r.vms_hit == 0).count() as u64,
            vnfs: per_vnf,
            faults: self.records.clone(),
            explanations: self.explanations.clone(),
        }
    }
}

/// A broken simulator invariant (a VM on two hosts, memory over physical...), described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvariantViolation(pub String);
