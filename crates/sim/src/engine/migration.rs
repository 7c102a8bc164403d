//! Migrations in flight: start, redirect, bandwidth sharing, completion and abort.

use super::*;

impl Simulator {
    pub(super) fn start_migration(&mut self, vm: usize, to: usize, t: f64) {
        if self.redirect_migration(vm, to, t) {
            return;
        }
        let v = &self.vms[vm];
        let valid = v.status == VmStatus::Running
            && v.migration.is_none()
            && v.host.is_some_and(|h| h != to)
            && to < self.hosts.len()
            && self.hosts[to].up
            && self.memory_fits(to, vm);
        if !valid {
            self.totals.rejected_decisions += 1;
            return;
        }
        let from = v.host.expect("checked above");
        let memory_mib = self.world.vms[vm].memory_mib;
        let id = self.free_migration_ids.pop().unwrap_or_else(|| {
            self.migrations.push(None);
            self.migrations.len() - 1
        });
        let mut m = Migration {
            vm,
            from,
            to,
            links: Vec::new(),
            remaining_bytes: 0.0,
            rate_bps: 0.0,
            downtime_s: 0.0,
            version: 0,
            fixed_end: None,
            started_s: t,
            also_to: Vec::new(),
        };
        match self.cfg.mode {
            Mode::CloudSim => {
                let est = CloudSimRule.estimate(&MigrationInput {
                    memory_mib,
                    dirty_pages_per_s: 0.0,
                    wws_mib: 0.0,
                    bandwidth_bps: self.world.hosts[to].nic_bps,
                    latency_ms: 0.0,
                    touched_mib: None,
                });
                m.fixed_end = Some(t + est.total_s);
                self.totals.migration_bytes += est.transferred_bytes;
            }
            Mode::Nfv => {
                m.links = self.world.topology.path(from, to).unwrap_or_default();
            }
        }
        self.migrations[id] = Some(m);
        self.vms[vm].migration = Some(id);
        self.hosts[to].migrating_in.push(vm);
        self.totals.migrations += 1;
        match self.cfg.mode {
            Mode::CloudSim => {
                let end = self.migrations[id]
                    .as_ref()
                    .and_then(|m| m.fixed_end)
                    .expect("set above");
                self.push(end, EventKind::MigrationDone { id, version: 0 });
            }
            Mode::Nfv => {
                self.reshare_bandwidth(t, Some(id));
            }
        }
        self.update_host(to, t);
        self.update_host(from, t);
    }

    /// A policy may plan a VM twice in one round (consolidation's underload pass can evacuate a
    /// host that its overload pass just chose as a destination). As in CloudSim, the VM then heads
    /// for the later destination and both moves count; returns false when `vm` has no migration
    /// started in this same round.
    pub(super) fn redirect_migration(&mut self, vm: usize, to: usize, t: f64) -> bool {
        let Some(id) = self.vms[vm].migration else {
            return false;
        };
        let Some(m) = self.migrations[id].as_ref() else {
            return false;
        };
        if m.started_s != t
            || m.to == to
            || m.from == to
            || !self.hosts[to].up
            || !self.memory_fits(to, vm)
        {
            return false;
        }
        let from = m.from;
        let memory_mib = self.world.vms[vm].memory_mib;
        let m = self.migrations[id].as_mut().expect("checked above");
        m.also_to.push(m.to);
        m.to = to;
        self.hosts[to].migrating_in.push(vm);
        self.totals.migrations += 1;
        self.totals.migration_bytes += memory_mib * promig_migrate::MIB;
        self.update_host(to, t);
        self.update_host(from, t);
        true
    }

    /// Recomputes every in-flight migration's rate (fair share of each link's migration budget,
    /// capped by QEMU's max-bandwidth) and its completion time. `new` is a migration that just
    /// started: its bytes to send are estimated with the rate it gets now.
    pub(super) fn reshare_bandwidth(&mut self, t: f64, new: Option<usize>) {
        let mut users: BTreeMap<petgraph::graph::EdgeIndex, u32> = BTreeMap::new();
        for m in self.migrations.iter().flatten() {
            if m.fixed_end.is_none() {
                for &l in &m.links {
                    *users.entry(l).or_default() += 1;
                }
            }
        }
        let share = self.cfg.migration_link_share;
        let cap = self.precopy.params.max_bandwidth_bps;
        for id in 0..self.migrations.len() {
            let Some(m) = self.migrations[id].as_ref() else {
                continue;
            };
            if m.fixed_end.is_some() {
                continue;
            }
            let rate = m
                .links
                .iter()
                .map(|l| self.world.topology.graph[*l].bandwidth_bps * share / users[l] as f64)
                .fold(cap, f64::min);
            let mut m = self.migrations[id].take().expect("checked above");
            if Some(id) == new {
                let load = self.world.cpu_fraction(m.vm, t, self.cfg.interval_s);
                let spec = &self.world.vms[m.vm];
                let est = self.precopy.estimate(&MigrationInput {
                    memory_mib: spec.memory_mib,
                    dirty_pages_per_s: DIRTY_PAGES_PER_S_AT_FULL_LOAD * load,
                    wws_mib: spec.memory_mib * WWS_SHARE,
                    bandwidth_bps: rate,
                    latency_ms: self.world.topology.path_latency_ms(&m.links),
                    touched_mib: None,
                });
                m.remaining_bytes = est.transferred_bytes;
                m.downtime_s = est.downtime_s;
                self.totals.migration_bytes += est.transferred_bytes;
            } else {
                let elapsed = t - self.last_reshare;
                m.remaining_bytes = (m.remaining_bytes - m.rate_bps / 8.0 * elapsed).max(0.0);
            }
            m.rate_bps = rate;
            m.version += 1;
            let end = t + m.remaining_bytes / (rate / 8.0);
            let version = m.version;
            self.migrations[id] = Some(m);
            self.push(end, EventKind::MigrationDone { id, version });
        }
        self.last_reshare = t;
    }

    pub(super) fn complete_migration(&mut self, id: usize, t: f64) {
        let m = self.migrations[id]
            .take()
            .expect("caller checked the migration exists");
        self.free_migration_ids.push(id);
        let vm = m.vm;
        self.hosts[m.from].vms.retain(|&v| v != vm);
        self.hosts[m.to].migrating_in.retain(|&v| v != vm);
        for &h in &m.also_to {
            self.hosts[h].migrating_in.retain(|&v| v != vm);
        }
        self.hosts[m.to].vms.push(vm);
        self.vms[vm].host = Some(m.to);
        self.vms[vm].migration = None;
        if m.fixed_end.is_none() {
            self.charge_incident(vm, m.downtime_s, t);
            self.reshare_bandwidth(t, None);
        }
    }

    /// Drops an in-flight migration (its source or destination failed).
    pub(super) fn abort_migration(&mut self, id: usize, t: f64) {
        if let Some(m) = self.migrations[id].take() {
            self.free_migration_ids.push(id);
            self.hosts[m.to].migrating_in.retain(|&v| v != m.vm);
            for &h in &m.also_to {
                self.hosts[h].migrating_in.retain(|&v| v != m.vm);
            }
            self.vms[m.vm].migration = None;
            if m.fixed_end.is_none() {
                self.reshare_bandwidth(t, None);
            }
        }
    }
}
