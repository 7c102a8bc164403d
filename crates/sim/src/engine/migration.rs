//! Migrations in flight: start, redirect, bandwidth sharing, completion and abort.

use super::*;
use petgraph::graph::{EdgeIndex, NodeIndex};

/// Per switch slot: the link reaching it and the node before it, from one source switch.
type PredecessorTree = Vec<Option<(EdgeIndex, NodeIndex)>>;

/// Lowest-latency paths between switches (or sites): one predecessor tree per source switch,
/// built on first use and kept for the run. Trees hold switch nodes only (hosts are never
/// transit nodes), so a 10,000-host fabric costs a few MB, not one entry per host pair.
#[derive(Debug, Clone, Default)]
pub(super) struct FabricPaths {
    /// Node index -> switch slot (`u32::MAX` for hosts); empty until first use.
    slot: Vec<u32>,
    /// By source slot: each switch's incoming link and previous node on the path from it.
    trees: Vec<Option<PredecessorTree>>,
}

impl FabricPaths {
    /// The links from switch `s` to switch `t` (empty if equal or disconnected).
    fn path(
        &mut self,
        topo: &promig_model::Topology,
        s: NodeIndex,
        t: NodeIndex,
    ) -> Vec<EdgeIndex> {
        if self.slot.is_empty() {
            let mut is_host = vec![false; topo.graph.node_count()];
            for n in &topo.host_nodes {
                is_host[n.index()] = true;
            }
            self.slot = vec![u32::MAX; topo.graph.node_count()];
            let mut next = 0;
            for (n, host) in is_host.into_iter().enumerate() {
                if !host {
                    self.slot[n] = next;
                    next += 1;
                }
            }
            self.trees = vec![None; next as usize];
        }
        let slot = &self.slot;
        let tree = self.trees[slot[s.index()] as usize].get_or_insert_with(|| {
            let full = topo.predecessor_links(s);
            let mut compact = vec![None; slot.iter().filter(|&&x| x != u32::MAX).count()];
            for (node, p) in full.into_iter().enumerate() {
                if slot[node] != u32::MAX {
                    compact[slot[node] as usize] = p;
                }
            }
            compact
        });
        let mut links = Vec::new();
        let mut at = t;
        while at != s {
            match tree[slot[at.index()] as usize] {
                Some((e, prev)) => {
                    links.push(e);
                    at = prev;
                }
                None => return Vec::new(), // disconnected, as `node_path` gives no path
            }
        }
        links.reverse();
        links
    }
}

impl Simulator {
    pub(super) fn start_migration(&mut self, decision: Decision, t: f64) {
        let (vm, to) = (decision.vm, decision.to);
        if vm >= self.vms.len() {
            self.totals.rejected_decisions += 1;
            return;
        }
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
            rate_since: t,
            started_s: t,
            also_to: Vec::new(),
            technique: decision.technique.unwrap_or(Technique::Precopy),
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
                m.links = self.links_between(from, to);
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
                let links = self.migrations[id]
                    .as_ref()
                    .map(|m| m.links.clone())
                    .unwrap_or_default();
                self.set_link_membership(id, &links, true);
                self.reshare_bandwidth(t, &links, Some(id));
            }
        }
        if let Some(deadline) = decision.deadline_s.filter(|d| d.is_finite()) {
            self.push(deadline.max(t), EventKind::Deadline { id, started_s: t });
        }
        self.after_decision(to, from, t);
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
        self.after_decision(to, from, t);
        true
    }

    /// The links between two hosts: each host's access link plus the path between their switches
    /// or sites (from a predecessor tree per source switch: there are far fewer of those than
    /// host pairs, and the topology does not change during a run).
    fn links_between(&mut self, from: usize, to: usize) -> Vec<petgraph::graph::EdgeIndex> {
        let topo = &self.world.topology;
        let (Some((up_a, sw_a)), Some((up_b, sw_b))) = (topo.uplink(from), topo.uplink(to)) else {
            return topo.path(from, to).unwrap_or_default();
        };
        if from == to {
            return Vec::new();
        }
        let middle = self.fabric.path(topo, sw_a, sw_b);
        let mut links = Vec::with_capacity(middle.len() + 2);
        links.push(up_a);
        links.extend(middle);
        links.push(up_b);
        links
    }

    /// Registers or unregisters a fluid migration on the links it crosses.
    fn set_link_membership(
        &mut self,
        id: usize,
        links: &[petgraph::graph::EdgeIndex],
        member: bool,
    ) {
        if self.link_members.len() < self.world.topology.graph.edge_count() {
            self.link_members
                .resize_with(self.world.topology.graph.edge_count(), Vec::new);
        }
        for l in links {
            let members = &mut self.link_members[l.index()];
            if member {
                members.push(id);
            } else if let Some(pos) = members.iter().position(|&x| x == id) {
                members.swap_remove(pos);
            }
        }
    }

    /// Recomputes the rate (fair share of each link's migration budget, capped by QEMU's
    /// max-bandwidth) and completion time of the migrations sharing a link in `changed` with a
    /// migration that just started or ended. `new` is one that just started: its bytes to send are
    /// estimated with the rate it gets now. Only those migrations can see their rate change, so the
    /// cost is per affected link, not per migration in flight.
    pub(super) fn reshare_bandwidth(
        &mut self,
        t: f64,
        changed: &[petgraph::graph::EdgeIndex],
        new: Option<usize>,
    ) {
        let mut affected: Vec<usize> = changed
            .iter()
            .flat_map(|l| {
                self.link_members
                    .get(l.index())
                    .into_iter()
                    .flatten()
                    .copied()
            })
            .chain(new)
            .collect();
        affected.sort_unstable();
        affected.dedup();
        let share = self.cfg.migration_link_share;
        for id in affected {
            let Some(m) = self.migrations[id].as_ref() else {
                continue;
            };
            if m.fixed_end.is_some() {
                continue;
            }
            let cap = self.model(m.technique).params.max_bandwidth_bps;
            let rate = m
                .links
                .iter()
                .map(|l| {
                    self.world.topology.graph[*l].bandwidth_bps * share
                        / self.link_members[l.index()].len().max(1) as f64
                })
                .fold(cap, f64::min);
            let mut m = self.migrations[id].take().expect("checked above");
            // Book the bytes sent at the old rate since it was last set.
            m.remaining_bytes =
                (m.remaining_bytes - m.rate_bps / 8.0 * (t - m.rate_since)).max(0.0);
            m.rate_since = t;
            let unchanged = Some(id) != new && (rate - m.rate_bps).abs() <= 1e-9 * rate;
            if unchanged {
                // Same rate: its pending completion event stays valid.
                self.migrations[id] = Some(m);
                continue;
            }
            if Some(id) == new {
                let load = self.cpu_demand(m.vm, t);
                let spec = &self.world.vms[m.vm];
                let est = self.model(m.technique).estimate(&MigrationInput {
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
            }
            m.rate_bps = rate;
            m.version += 1;
            let end = t + m.remaining_bytes / (rate / 8.0);
            let version = m.version;
            self.migrations[id] = Some(m);
            self.push(end, EventKind::MigrationDone { id, version });
        }
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
            self.charge_incident(vm, m.downtime_s, t, Incident::Pause);
            self.set_link_membership(id, &m.links, false);
            self.reshare_bandwidth(t, &m.links, None);
        }
    }

    /// Re-runs the scheduler of a decision's destination and source. In CloudSim mode this waits
    /// for the round's end (one update per host, see `decision_point`); in NFV mode a VNF's
    /// latency is priced with its host's load as of the previous update, so each decision
    /// updates at once, as it always has.
    fn after_decision(&mut self, to: usize, from: usize, t: f64) {
        if self.cfg.mode == Mode::CloudSim {
            self.touched_by_decisions.push(to);
            self.touched_by_decisions.push(from);
        } else {
            self.update_host(to, t);
            self.update_host(from, t);
        }
    }

    /// The cost model of a technique (pre-copy unless the decision chose another).
    fn model(&self, technique: Technique) -> &QemuModel {
        let i = Technique::ALL
            .iter()
            .position(|&x| x == technique)
            .expect("Technique::ALL lists every technique");
        &self.models[i]
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
                self.set_link_membership(id, &m.links, false);
                self.reshare_bandwidth(t, &m.links, None);
            }
        }
    }
}
