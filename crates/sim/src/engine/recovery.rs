//! Faults and recovery: crashes, restarts, memory growth and out-of-memory kills, precursors.

use super::*;

/// Quiet time after which a new latency breach on a host counts as a new episode.
const BREACH_EPISODE_GAP_S: f64 = 1800.0;

impl Simulator {
    pub(super) fn crash_host(&mut self, h: usize, t: f64, record: Option<usize>) {
        // Migrations into the host fail: their VMs keep running on the source.
        for vm in self.hosts[h].migrating_in.clone() {
            if let Some(id) = self.vms[vm].migration {
                self.abort_migration(id, t);
            }
        }
        let victims = std::mem::take(&mut self.hosts[h].vms);
        let mut vnf_hit = 0;
        for &vm in &victims {
            if let Some(id) = self.vms[vm].migration {
                self.abort_migration(id, t);
            }
            if self.world.vms[vm].vnf.is_some() {
                vnf_hit += 1;
            }
            self.take_down(vm, t, record);
        }
        self.totals.vms_crashed += victims.len() as u64;
        let hs = &mut self.hosts[h];
        hs.up = false;
        hs.util_mips = 0.0;
        hs.power_util = 0.0;
        if let Some(r) = record {
            self.records[r].strike_s = Some(t);
            self.records[r].vnf_vms_hit = vnf_hit;
            self.records[r].vms_hit = victims.len() as u32;
        }
        if let Some(repair) = self.world.recovery.repair_s {
            self.push(t + repair, EventKind::Repair { host: h });
        }
    }

    /// Takes a VM down (its host crashed or killed it) and queues its restart after detection.
    pub(super) fn take_down(&mut self, vm: usize, t: f64, record: Option<usize>) {
        // An outage that is already open (a booting VM whose new host crashed) stays charged
        // to the fault that opened it.
        if matches!(self.vms[vm].status, VmStatus::Running | VmStatus::Retired) {
            self.down_record[vm] = record;
        }
        let since = match self.vms[vm].status {
            VmStatus::Booting { since, .. } => since,
            VmStatus::Down { since } => since,
            VmStatus::Running | VmStatus::Retired => t,
        };
        if let Some(h) = self.vms[vm].host.take() {
            self.hosts[h].vms.retain(|&v| v != vm);
        }
        let v = &mut self.vms[vm];
        v.status = VmStatus::Down { since };
        v.entry = None;
        v.history_len = 0;
        v.memory_used_mib = 0.0;
        self.restart_queue.push(vm);
        let when = t + self.world.recovery.detection_delay_s;
        self.push(when, EventKind::Restart);
    }

    pub(super) fn restart_pending(&mut self, t: f64, policy: &mut dyn Policy) {
        let due: Vec<usize> = std::mem::take(&mut self.restart_queue);
        let (ready, later): (Vec<usize>, Vec<usize>) = due.into_iter().partition(|&vm| match self
            .vms[vm]
            .status
        {
            VmStatus::Down { since } => since + self.world.recovery.detection_delay_s <= t + 1e-9,
            _ => false,
        });
        self.restart_queue = later;
        if ready.is_empty() {
            return;
        }
        for &vm in &ready {
            self.vms[vm].requested_mips = self.cpu_demand(vm, t) * self.world.vms[vm].total_mips();
        }
        let mut obs = self.observation_with(false);
        obs.risks.clone_from(&self.last_risks);
        let placement = policy.place(&obs, &ready);
        drop(obs);
        let boot = self.world.recovery.boot_s;
        let mut retry = false;
        for (vm, host) in ready.into_iter().zip(placement) {
            let since = match self.vms[vm].status {
                VmStatus::Down { since } => since,
                _ => t,
            };
            let chosen = host
                .filter(|&h| self.hosts[h].up && self.memory_fits(h, vm))
                .map(|h| (h, 0.0))
                .or_else(|| self.sleeping_host_for(vm).map(|h| (h, self.power_on_s())));
            match chosen {
                Some((h, power_on_s)) => {
                    let until = t + power_on_s + boot;
                    self.vms[vm].host = Some(h);
                    self.vms[vm].status = VmStatus::Booting { since, until };
                    self.vms[vm].memory_used_mib = self.base_memory(vm, self.next_step);
                    self.vms[vm].leak = None; // the restart clears the leaking process
                    self.hosts[h].vms.push(vm);
                    self.push(until, EventKind::BootDone { vm });
                }
                None => {
                    // Nowhere to go now: try again next interval.
                    self.restart_queue.push(vm);
                    retry = true;
                }
            }
        }
        // One retry for all of them: a retry per VM would multiply (each retry re-runs the
        // whole queue and would schedule one more per VM still waiting).
        if retry {
            self.push(t + self.cfg.interval_s, EventKind::Restart);
        }
    }

    /// A switched-off host (up, empty, drawing nothing) the platform can power on for `vm` when
    /// the policy found no running host with room: the lowest-numbered one whose memory holds
    /// it. None when powering on is disabled or no host sleeps.
    fn sleeping_host_for(&self, vm: usize) -> Option<usize> {
        self.world.recovery.power_on_s?;
        (0..self.hosts.len()).find(|&h| {
            let hs = &self.hosts[h];
            hs.up && hs.vms.is_empty() && hs.migrating_in.is_empty() && self.memory_fits(h, vm)
        })
    }

    /// How long powering a sleeping host on takes (0 when disabled).
    fn power_on_s(&self) -> f64 {
        self.world.recovery.power_on_s.unwrap_or(0.0)
    }

    pub(super) fn base_memory(&self, vm: usize, step: usize) -> f64 {
        let spec = &self.world.vms[vm];
        spec.memory_mib
            * self
                .world
                .memory_fraction(vm, step)
                .unwrap_or(DEFAULT_MEMORY_USE)
    }

    pub(super) fn memory_reserved(&self, h: usize) -> f64 {
        if self.cfg.mode == Mode::CloudSim {
            return 0.0;
        }
        self.hosts[h]
            .vms
            .iter()
            .chain(&self.hosts[h].migrating_in)
            .map(|&v| self.world.vms[v].memory_mib)
            .sum()
    }

    pub(super) fn memory_fits(&self, h: usize, vm: usize) -> bool {
        if self.cfg.mode == Mode::CloudSim {
            return true;
        }
        let limit = self.world.hosts[h].memory_mib * self.cfg.memory_overcommit;
        self.memory_reserved(h) + self.world.vms[vm].memory_mib <= limit
    }

    /// Memory in use on a host (resident VMs; incoming VMs' pages land as they are copied and are
    /// counted at the switch-over).
    pub(super) fn memory_used(&self, h: usize) -> f64 {
        self.hosts[h]
            .vms
            .iter()
            .map(|&v| self.vms[v].memory_used_mib)
            .sum()
    }

    pub(super) fn refresh_memory(&mut self, step: usize) {
        for vm in 0..self.vms.len() {
            if self.vms[vm].host.is_some() {
                self.vms[vm].memory_used_mib = self.base_memory(vm, step);
            }
        }
        self.advance_memory(self.now);
    }

    /// Applies leak growth up to time `t`.
    pub(super) fn advance_memory(&mut self, t: f64) {
        for vm in 0..self.vms.len() {
            if let (Some((start, rate)), Some(_)) = (self.vms[vm].leak, self.vms[vm].host)
                && t > start
            {
                // The leak is in the VM's host-side process (QEMU, a vhost/DPDK helper), so it is not
                // bounded by the guest's configured RAM: it grows until the host runs out.
                let base = self.base_memory(vm, self.next_step);
                self.vms[vm].memory_used_mib = base + rate * (t - start);
            }
        }
    }

    /// For hosts whose memory use grows (a leak), schedules the exact moment it runs out.
    pub(super) fn schedule_oom_checks(&mut self, t: f64) {
        for h in 0..self.hosts.len() {
            if !self.hosts[h].up {
                continue;
            }
            let used = self.memory_used(h);
            let physical = self.world.hosts[h].memory_mib;
            if used > physical {
                self.kill_for_memory(h, t);
                continue;
            }
            let mut growth = 0.0;
            for &vm in &self.hosts[h].vms {
                if let Some((start, rate)) = self.vms[vm].leak
                    && t >= start
                    && self.vms[vm].status == VmStatus::Running
                {
                    growth += rate;
                }
            }
            if growth > 0.0 {
                let t_full = t + (physical - used) / growth;
                if t_full < t + self.cfg.interval_s {
                    self.oom_version[h] += 1;
                    let version = self.oom_version[h];
                    self.push(t_full, EventKind::OutOfMemory { host: h, version });
                }
            }
        }
    }

    /// The host ran out of memory: the kernel kills the largest consumer.
    pub(super) fn kill_for_memory(&mut self, h: usize, t: f64) {
        let victim = self.hosts[h]
            .vms
            .iter()
            .copied()
            .filter(|&v| self.vms[v].status == VmStatus::Running)
            .max_by(|&a, &b| {
                self.vms[a]
                    .memory_used_mib
                    .total_cmp(&self.vms[b].memory_used_mib)
                    .then(b.cmp(&a))
            });
        let Some(vm) = victim else { return };
        let onset = self.vms[vm].leak.map_or(t, |(s, _)| s);
        self.records.push(FaultRecord {
            cause: FaultCause::MemoryShortage,
            host: h,
            vm: Some(vm),
            onset_s: onset,
            strike_s: Some(t),
            vnf_vms_hit: u32::from(self.world.vms[vm].vnf.is_some()),
            silent: false,
            vms_hit: 1,
        });
        if let Some(id) = self.vms[vm].migration {
            self.abort_migration(id, t);
        }
        self.totals.vms_crashed += 1;
        let record = self.records.len() - 1;
        self.take_down(vm, t, Some(record));
    }

    /// An episode that slows the VMs on host `h` down from `t` (nothing stops), as ground truth.
    fn record_host_episode(&mut self, cause: FaultCause, h: usize, t: f64) {
        let vms = &self.hosts[h].vms;
        self.records.push(FaultRecord {
            cause,
            host: h,
            vm: None,
            onset_s: t,
            strike_s: Some(t),
            vnf_vms_hit: vms
                .iter()
                .filter(|&&v| self.world.vms[v].vnf.is_some())
                .count() as u32,
            silent: false,
            vms_hit: vms.len() as u32,
        });
    }

    /// Records overload and latency-breach episodes as ground truth.
    pub(super) fn record_overloads(&mut self, t: f64) {
        for h in 0..self.hosts.len() {
            let over = self.hosts[h].up && self.hosts[h].requested_mips > self.host_capacity(h);
            if over && !self.hosts[h].overloaded {
                self.record_host_episode(FaultCause::Overload, h, t);
            }
            self.hosts[h].overloaded = over;
            let breach = self.hosts[h].up
                && self.hosts[h].vms.iter().any(|&v| {
                    self.world.vms[v].vnf.is_some_and(|f| {
                        self.vms[v]
                            .entry
                            .is_some_and(|e| e.latency_ms > self.world.vnfs[f].qos.max_latency_ms)
                    })
                });
            let planned = self.hosts[h]
                .degraded_record
                .is_some_and(|r| self.records[r].strike_s.is_none());
            // A breach outside a planned degradation (a surge, or plain load) is ground truth too;
            // one that follows another within half an hour is the same episode.
            if breach && !planned && t - self.hosts[h].last_breach_s > BREACH_EPISODE_GAP_S {
                self.record_host_episode(FaultCause::ResponseDegradation, h, t);
            }
            if breach {
                self.hosts[h].last_breach_s = t;
            }
            if let Some(r) = self.hosts[h].degraded_record
                && self.records[r].strike_s.is_none()
                && breach
            {
                self.records[r].strike_s = Some(t);
            }
        }
    }

    /// Precursor signals: temperature follows load plus noise; corrected memory errors are rare on
    /// healthy hosts and climb before a hardware failure (or during a false alarm).
    pub(super) fn update_precursors(&mut self, t: f64) {
        for h in 0..self.hosts.len() {
            let util = self.hosts[h].util_mips / self.world.hosts[h].total_mips();
            let noise: f64 = self.rng.random_range(-0.5..0.5);
            let base_errors = if self.rng.random_range(0.0..1.0) < 0.02 {
                1.0
            } else {
                0.0
            };
            let mut temp = 40.0 + 25.0 * util + noise;
            let mut errors = base_errors;
            // A healthy host with a weak cell logs corrected errors all day, at a rate that is
            // heavy-tailed across hosts (field studies: most errors come from a few machines).
            let background = self.plan.ce_background_per_h.get(h).copied().unwrap_or(0.0);
            if background > 0.0 {
                errors += background * self.rng.random_range(0.5..1.5);
            }
            // A degrading DIMM: corrected errors accelerate towards its peak rate and the host
            // warms a little until it fails; a silent failure (peak 0) shows nothing.
            for p in &self.plan.crashes {
                if p.host == h && t >= p.onset_s && t < p.crash_s && p.peak_per_h > 0.0 {
                    let progress = (t - p.onset_s) / (p.crash_s - p.onset_s).max(1.0);
                    temp += self.world.faults.precursors.heating_c * progress;
                    let rate = p.peak_per_h * (0.03 + progress * progress);
                    errors += rate * self.rng.random_range(0.5..1.5);
                }
            }
            // A false alarm: a burst of corrected errors (a transient, e.g. a particle strike or a
            // marginal read) at a steady level, without heat; it fades without a failure.
            for p in &self.plan.false_alarms {
                if p.host == h && t >= p.onset_s && t < p.crash_s {
                    let level = 4.0 + 4.0 * (h % 3) as f64;
                    errors += level * self.rng.random_range(0.5..1.5);
                }
            }
            self.hosts[h].temperature_c = temp;
            self.hosts[h].corrected_errors_per_h = errors;
        }
    }
}
