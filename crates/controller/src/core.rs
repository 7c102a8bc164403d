//! The controller's decisions, free of I/O so they can be tested step by step: each world
//! snapshot goes through predict (already in the snapshot) -> policy -> planner -> action plans
//! -> approval -> admission under the operator's limits, and comes out as orders for the driver.
//! Every state change is journaled before it is acted upon; the daemon around this type only
//! moves snapshots in and orders and outcomes out.

use crate::confidence::Confidence;
use crate::config::{Approval, ControllerConfig};
use crate::error::ControllerError;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::plan::{Alternative, Measured, Plan, PlanId, PlanState, Reason, ScoredChoice};
use promig_driver::{DeadlineAction, DriverError, MigrationRequest, Outcome, Progress};
use promig_migrate::planner::{self, Constraints, RiskPolicy};
use promig_migrate::{MigrationInput, Profile, Technique, TechniqueParams};
use promig_model::{Decision, Observation};
use promig_policy::Policy;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Final plans kept in memory for the API's history (the journal keeps them all): a bound, so a
/// daemon that runs for months does not grow.
pub const RECENT_PLANS: usize = 1000;

/// Share of a VM's memory it re-dirties (its writable working set), as the simulator assumes.
const WWS_SHARE: f64 = 0.25;

/// Path latency assumed within a data centre when the world does not give one.
const LAN_LATENCY_MS: f64 = 0.1;

/// Deadline handed to the driver when the predictor gives no time to failure.
const NO_DEADLINE_S: f64 = 3600.0;

/// Default share of the migration path's bandwidth QEMU's pre-copy may use (`max-bandwidth`;
/// `[controller] link_headroom`). QEMU sends
/// each 100 ms window's budget in one burst; at or above the link rate (its default cap is
/// 128 MiB/s, more than 1 Gbit/s) the bursts never drain, so socket and link buffers stay full
/// and the final stop-and-copy waits behind them: on the e2e test bed (1 Gbit/s `tbf`) that
/// queue, not the last dirty pages, made most of a ~90 ms pause. Below the link rate each burst
/// drains before the next window, when QEMU decides to stop, so the pause is the pending pages
/// and the device state the model prices.
pub const LINK_HEADROOM: f64 = 0.8;

/// One snapshot of the world with its names: the observation indexes hosts and VMs, the plans,
/// the journal and the API name them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The observation, risks included.
    pub obs: Arc<Observation>,
    /// Host names by observation index.
    pub host_names: Arc<Vec<String>>,
    /// VM names by observation index.
    pub vm_names: Arc<Vec<String>>,
    /// Capacity (bits/s) of each rack's uplink to the fabric, by rack, where the world knows its
    /// topology (observations carry host NICs only); empty otherwise, and the dashboard then
    /// shows a rack's migration traffic without a capacity.
    pub rack_uplink_bps: Arc<BTreeMap<u32, f64>>,
    /// How far each host's prediction can be trusted (missing and stale inputs), by host index;
    /// empty where every input is always fresh (the simulator).
    pub confidence: Arc<Vec<Confidence>>,
}

impl Snapshot {
    fn host_index(&self, name: &str) -> Option<usize> {
        self.host_names.iter().position(|n| n == name)
    }

    fn vm_index(&self, name: &str) -> Option<usize> {
        self.vm_names.iter().position(|n| n == name)
    }
}

/// A migration the daemon must hand to the driver now (its plan is already journaled as
/// executing).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The plan.
    pub plan: PlanId,
    /// What to tell the driver.
    pub request: MigrationRequest,
}

/// A host as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    /// Name.
    pub name: String,
    /// Rack or site.
    pub rack: u32,
    /// Up or crashed.
    pub up: bool,
    /// CPU utilisation in [0, 1].
    pub cpu_utilization: f64,
    /// Memory reserved by its VMs.
    pub memory_reserved_mib: f64,
    /// Memory installed.
    pub memory_mib: f64,
    /// Predicted probability of breaking a VNF's requirements within the horizon.
    pub risk: f64,
    /// The most likely cause.
    pub cause: String,
    /// Predicted time to failure.
    pub time_left_s: Option<f64>,
    /// How far that prediction can be trusted: the inputs it lacked or took from an earlier
    /// reading (a host that looks safe for lack of data must not look like a safe host).
    pub confidence: Confidence,
    /// Resident VMs.
    pub vms: Vec<String>,
}

/// A VM as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VmStatus {
    /// Name.
    pub name: String,
    /// Host it runs on (`None` while down).
    pub host: Option<String>,
    /// A migration is in flight.
    pub migrating: bool,
    /// Memory.
    pub memory_mib: f64,
    /// Memory in use (a real VM: its QEMU process's resident set, at most `memory_mib`).
    pub memory_used_mib: f64,
    /// Pages dirtied per second.
    pub dirty_pages_per_s: f64,
    /// CPU requested (MIPS).
    pub requested_mips: f64,
    /// VNF index, if any.
    pub vnf: Option<usize>,
    /// Index of the service chain its VNF belongs to (into `/api/v1/chains`), so the dashboard
    /// can mark the members of one chain together; `None` outside any chain.
    pub chain: Option<usize>,
}

/// A service chain as the API shows it: an outage of any member interrupts the whole chain, so
/// the operator wants to see where its members run and whether one of those hosts is at risk.
#[derive(Debug, Clone, Serialize)]
pub struct ChainStatus {
    /// Index of the chain in the observation (what [`VmStatus::chain`] refers to).
    pub index: usize,
    /// The chain's VNF indices in traffic order.
    pub vnfs: Vec<usize>,
    /// VMs running one of those VNFs, in traffic order of their VNF.
    pub vms: Vec<String>,
    /// Hosts those VMs run on (each once, in traffic order; VMs that are down have none).
    pub hosts: Vec<String>,
    /// Hosts of members that are down or carry a risk at or above `destination_risk_max` (the
    /// controller's own "at risk" line): the ones to look at first.
    pub hosts_at_risk: Vec<String>,
    /// Some member is down or its host is at risk (see `hosts_at_risk`): the chain may be
    /// interrupted.
    pub at_risk: bool,
}

/// What a link carries, so a client can tell a host's own NIC from a rack's shared uplink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A host's network interface: every migration into or out of the host crosses it.
    HostNic,
    /// The uplink of a rack (leaf switch to the fabric): migrations between racks cross it.
    RackUplink,
}

/// A link with the migration traffic on it now, as the API shows it. Any world can fill it: the
/// traffic is summed over the controller's running migrations, each at its measured mean rate
/// when the driver reports bytes sent, else at the bandwidth its source grants a migration now
/// (`migration_bandwidth_bps`) shared equally among the migrations leaving that host.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// Human-readable name (`<host> NIC`, `rack <n> uplink`).
    pub name: String,
    /// What the link is.
    pub kind: LinkKind,
    /// The rack it belongs to.
    pub rack: u32,
    /// The host, for a host NIC.
    pub host: Option<String>,
    /// Running migrations crossing it.
    pub migrations: usize,
    /// Migration traffic crossing it now (bits/s, estimate as described on the type); other
    /// traffic (the VNFs' own) is not included.
    pub migration_bps: f64,
    /// Capacity (bits/s) when the world reports it (`nic_bps` for a host NIC, the snapshot's
    /// `rack_uplink_bps` for a rack); `None` when it does not.
    pub capacity_bps: Option<f64>,
}

/// A running migration as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatusView {
    /// The plan.
    pub plan: Plan,
    /// The latest progress sample.
    pub progress: Progress,
}

/// The decision core.
pub struct Core {
    cfg: ControllerConfig,
    policy: Box<dyn Policy>,
    profile: Arc<Profile>,
    journal: Box<dyn Journal>,
    open: BTreeMap<PlanId, Plan>,
    recent: VecDeque<Plan>,
    progress: BTreeMap<PlanId, Progress>,
    /// Executing plans found in the journal at start: no handle watches them; the world's next
    /// snapshot tells how they ended.
    orphans: Vec<PlanId>,
    last_moved_s: BTreeMap<String, f64>,
    /// Hosts a migration into failed, with when: held back as destinations for `cooldown_s`
    /// (see [`Core::held_destinations`]).
    failed_into: BTreeMap<String, f64>,
    snapshot: Option<Snapshot>,
    kill_switch: bool,
    draining: bool,
    now_s: f64,
    /// World time of the last journal pruning that left nothing behind.
    pruned_at_s: Option<f64>,
    /// Counters, gauges and histograms for `/metrics`.
    pub metrics: Metrics,
}

/// World seconds between two prunings of the journal.
const PRUNE_EVERY_S: f64 = 3600.0;

/// Most finished plans pruned in one round.
const PRUNE_BATCH: usize = 10_000;

/// The kill switch's name in the journal's flags.
const KILL_SWITCH: &str = "kill_switch";

impl Core {
    /// Takes over the journal: open plans come back, executing ones wait for reconciliation.
    pub fn new(
        cfg: ControllerConfig,
        mut policy: Box<dyn Policy>,
        profile: Arc<Profile>,
        journal: Box<dyn Journal>,
    ) -> Result<Self, ControllerError> {
        policy.use_calibration(&profile);
        let kill_switch = journal.flag(KILL_SWITCH)?;
        let open: BTreeMap<PlanId, Plan> = journal
            .open_plans()?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let orphans = open
            .values()
            .filter(|p| p.state == PlanState::Executing)
            .map(|p| p.id)
            .collect();
        let mut recent: Vec<Plan> = journal
            .recent(RECENT_PLANS)?
            .into_iter()
            .filter(|p| p.state.is_final())
            .collect();
        recent.reverse();
        let metrics = Metrics::new();
        metrics.kill_switch.set(kill_switch as i64);
        let core = Core {
            cfg,
            policy,
            profile,
            journal,
            open,
            recent: recent.into(),
            progress: BTreeMap::new(),
            orphans,
            last_moved_s: BTreeMap::new(),
            failed_into: BTreeMap::new(),
            snapshot: None,
            kill_switch,
            draining: false,
            now_s: 0.0,
            pruned_at_s: None,
            metrics,
        };
        core.refresh_plan_gauges();
        Ok(core)
    }

    /// The policy's name.
    pub fn policy_name(&self) -> String {
        self.policy.name()
    }

    /// World time of the latest snapshot.
    pub fn now_s(&self) -> f64 {
        self.now_s
    }

    /// Whether automatic approval is paused.
    pub fn kill_switch(&self) -> bool {
        self.kill_switch
    }

    /// Engages or releases the kill switch (journaled, so it survives a restart). Engaging it
    /// stops automatic approval; plans an operator approves still run, and running migrations
    /// finish.
    pub fn set_kill_switch(&mut self, on: bool) -> Result<(), ControllerError> {
        self.journal.set_flag(KILL_SWITCH, on)?;
        self.kill_switch = on;
        self.metrics.kill_switch.set(on as i64);
        Ok(())
    }

    /// Shutting down: no new plan is proposed or started; running migrations still end.
    pub fn set_draining(&mut self, on: bool) {
        self.draining = on;
    }

    /// Whether the daemon is shutting down (the dashboard's event stream ends then, so an open
    /// page does not hold up the graceful stop).
    pub fn draining(&self) -> bool {
        self.draining
    }

    /// Executing plans the journal had at start that are not yet reconciled.
    pub fn orphans(&self) -> &[PlanId] {
        &self.orphans
    }

    /// Takes in one snapshot and returns the migrations to start now. The round's journal
    /// changes are committed together before the orders are returned; if the journal fails the
    /// error stops the daemon (memory may then be ahead of the journal, and a restart rebuilds it
    /// from the journal, which is what was acted upon: nothing).
    pub fn observe(&mut self, snap: Snapshot) -> Result<Vec<Order>, ControllerError> {
        self.journal.begin()?;
        let orders = self.observe_in_batch(snap)?;
        self.journal.commit()?;
        Ok(orders)
    }

    fn observe_in_batch(&mut self, snap: Snapshot) -> Result<Vec<Order>, ControllerError> {
        self.now_s = snap.obs.time_s;
        self.metrics.observe_snapshot(&snap);
        self.reconcile_orphans(&snap)?;
        self.expire(&snap)?;
        self.prune_journal()?;
        let mut orders = Vec::new();
        if !self.draining {
            let held = self.held_destinations(&snap);
            let decisions = if held.is_empty() {
                self.policy.decide(&snap.obs)
            } else {
                // The policy sees no room on a held host, so it picks another destination
                // instead of proposing the one that just failed again (and again).
                let mut obs = (*snap.obs).clone();
                for &h in &held {
                    obs.hosts[h].memory_reserved_mib = obs.hosts[h].memory_mib;
                }
                self.policy.decide(&obs)
            };
            let explained = self.policy.explanations();
            for d in decisions {
                let vm_id = snap.obs.vms.get(d.vm).map(|v| v.id);
                let why = explained.iter().find(|e| Some(e.vm) == vm_id);
                self.propose(&snap, &d, why)?;
            }
            orders = self.admit(&snap)?;
        }
        self.snapshot = Some(snap);
        self.refresh_plan_gauges();
        Ok(orders)
    }

    /// Keeps the journal to `journal_keep_s` of finished plans: once per world hour, or every
    /// round while a backlog remains, at most [`PRUNE_BATCH`] plans a round so that a large
    /// backlog never holds up a decision.
    fn prune_journal(&mut self) -> Result<(), ControllerError> {
        let keep = self.cfg.controller.journal_keep_s;
        if keep <= 0.0
            || self
                .pruned_at_s
                .is_some_and(|t| self.now_s - t < PRUNE_EVERY_S)
        {
            return Ok(());
        }
        let pruned = self.journal.prune(self.now_s - keep, PRUNE_BATCH)?;
        if pruned > 0 {
            tracing::debug!(pruned, "journal: old finished plans removed");
        }
        self.pruned_at_s = (pruned < PRUNE_BATCH).then_some(self.now_s);
        Ok(())
    }

    /// Indices of the hosts held back as destinations: a migration into them failed less than
    /// `cooldown_s` ago. A failed migration whose VM stayed on its source is most often the
    /// destination's fault (its QEMU died or could not load the stream, its link broke); the
    /// host still looks healthy to the predictor, so without this the policy would pick it again
    /// at once. Held hosts keep their VMs and may still be sources; only new moves into them wait.
    pub fn held_destinations(&self, snap: &Snapshot) -> Vec<usize> {
        self.failed_into
            .iter()
            .filter(|&(_, &t)| snap.obs.time_s - t < self.cfg.limits.cooldown_s)
            .filter_map(|(h, _)| snap.host_index(h))
            .collect()
    }

    /// After a restart: an executing plan whose VM is found on its destination succeeded, one
    /// whose VM runs on its source (and no longer migrates) failed. One still migrating waits.
    fn reconcile_orphans(&mut self, snap: &Snapshot) -> Result<(), ControllerError> {
        let orphans = std::mem::take(&mut self.orphans);
        for id in orphans {
            let Some(plan) = self.open.get(&id) else {
                continue;
            };
            let vm = snap.vm_index(&plan.vm).map(|i| &snap.obs.vms[i]);
            let host = vm.and_then(|v| v.host).map(|h| snap.host_names[h].as_str());
            let migrating = vm.is_some_and(|v| v.in_migration);
            let (to, detail) = match (host, migrating) {
                (_, true) => {
                    self.orphans.push(id);
                    continue;
                }
                (Some(h), false) if h == plan.destination => (
                    PlanState::Succeeded,
                    format!("reconciled after restart: {} runs on {h}", plan.vm),
                ),
                (Some(h), false) => (
                    PlanState::Failed,
                    format!(
                        "reconciled after restart: the migration did not complete; {} runs on {h}",
                        plan.vm
                    ),
                ),
                (None, false) => (
                    PlanState::Failed,
                    format!(
                        "reconciled after restart: {} runs nowhere (its host is down)",
                        plan.vm
                    ),
                ),
            };
            self.move_plan(id, to, detail)?;
        }
        Ok(())
    }

    /// Supersedes open plans overtaken by events: unapproved (or approved but not started) for
    /// longer than `plan_ttl_s`, or the VM no longer on the plan's source. This also bounds the
    /// open plans a busy data centre accumulates.
    fn expire(&mut self, snap: &Snapshot) -> Result<(), ControllerError> {
        let mut changes = Vec::new();
        for p in self.open.values() {
            if !matches!(p.state, PlanState::Recommended | PlanState::Approved) {
                continue;
            }
            let host = snap
                .vm_index(&p.vm)
                .and_then(|i| snap.obs.vms[i].host)
                .map(|h| snap.host_names[h].as_str());
            if host != Some(p.source.as_str()) {
                changes.push((
                    p.id,
                    format!(
                        "{} is no longer on {} (now {})",
                        p.vm,
                        p.source,
                        host.unwrap_or("down")
                    ),
                ));
            } else if p.state == PlanState::Recommended
                && self.now_s - p.created_s > self.cfg.controller.plan_ttl_s
            {
                changes.push((
                    p.id,
                    format!("not approved within {} s", self.cfg.controller.plan_ttl_s),
                ));
            } else if p.state == PlanState::Approved
                && self.now_s - p.updated_s > self.cfg.controller.plan_ttl_s
            {
                // Its moment passed while it waited for a slot; the policy proposes afresh if
                // the VM still needs to move.
                changes.push((
                    p.id,
                    format!(
                        "approved but not started within {} s (limits)",
                        self.cfg.controller.plan_ttl_s
                    ),
                ));
            }
        }
        for (id, why) in changes {
            self.move_plan(id, PlanState::Superseded, why)?;
        }
        Ok(())
    }

    /// Turns one policy decision into a recommended (and maybe approved) plan, unless the VM
    /// already has an open plan, is cooling down, or the destination is itself at risk.
    fn propose(
        &mut self,
        snap: &Snapshot,
        d: &Decision,
        explained: Option<&promig_model::Explanation>,
    ) -> Result<(), ControllerError> {
        let obs = &snap.obs;
        let (Some(vm), Some(dest)) = (obs.vms.get(d.vm), obs.hosts.get(d.to)) else {
            self.metrics
                .decisions_refused
                .get_or_create(&reason("unknown index"))
                .inc();
            return Ok(());
        };
        let Some(source) = vm.host else {
            self.metrics
                .decisions_refused
                .get_or_create(&reason("vm down"))
                .inc();
            return Ok(());
        };
        let vm_name = snap.vm_names[d.vm].clone();
        if let Some(existing) = self.open.values().find(|p| p.vm == vm_name) {
            let same = existing.destination == snap.host_names[d.to];
            if same || existing.state != PlanState::Recommended {
                return Ok(()); // already planned (or running)
            }
            let id = existing.id;
            self.move_plan(
                id,
                PlanState::Superseded,
                format!("a newer plan moves {vm_name} to {}", snap.host_names[d.to]),
            )?;
        }
        if let Some(&t) = self.last_moved_s.get(&vm_name)
            && self.now_s - t < self.cfg.limits.cooldown_s
        {
            self.metrics
                .decisions_refused
                .get_or_create(&reason("cooldown"))
                .inc();
            return Ok(());
        }
        let dest_risk = obs.risks.get(d.to).map_or(0.0, |r| r.probability);
        if !dest.up || dest_risk >= self.cfg.controller.destination_risk_max {
            self.metrics
                .decisions_refused
                .get_or_create(&reason("destination at risk"))
                .inc();
            return Ok(());
        }
        if self.held_destinations(snap).contains(&d.to) {
            self.metrics
                .decisions_refused
                .get_or_create(&reason("destination failed a migration"))
                .inc();
            return Ok(());
        }
        let Some((params, mut why)) = self.price(snap, d, source) else {
            self.metrics
                .decisions_refused
                .get_or_create(&reason("no technique converges"))
                .inc();
            return Ok(());
        };
        why.rejected
            .extend(self.rejected_destinations(snap, d.vm, source, d.to));
        why.scored = explained.and_then(|e| ScoredChoice::of(e, obs, &snap.host_names));
        let mut plan = Plan {
            id: PlanId(0),
            vm: vm_name,
            source: snap.host_names[source].clone(),
            destination: snap.host_names[d.to].clone(),
            technique: params.technique.name().to_string(),
            params,
            reason: why,
            state: PlanState::Recommended,
            created_s: self.now_s,
            updated_s: self.now_s,
            detail: format!("proposed by {}", self.policy.name()),
            measured: None,
        };
        self.journal.insert(&mut plan)?;
        self.metrics.plans_created.inc();
        let id = plan.id;
        tracing::info!(plan = %id, vm = %plan.vm, from = %plan.source, to = %plan.destination,
            technique = %plan.technique, cause = %plan.reason.cause, "plan recommended");
        self.open.insert(id, plan);
        if self.cfg.controller.approval == Approval::Auto && !self.kill_switch {
            self.move_plan(id, PlanState::Approved, "approved automatically".into())?;
        }
        Ok(())
    }

    /// The technique, its parameters and the reason for one move.
    fn price(
        &self,
        snap: &Snapshot,
        d: &Decision,
        source: usize,
    ) -> Option<(TechniqueParams, Reason)> {
        let obs = &snap.obs;
        let vm = &obs.vms[d.vm];
        let risk = obs.risks.get(source);
        let time_left_s = risk.and_then(|r| r.time_left_s);
        let input = MigrationInput {
            memory_mib: vm.memory_mib,
            dirty_pages_per_s: vm.dirty_pages_per_s,
            wws_mib: vm.memory_mib * WWS_SHARE,
            bandwidth_bps: obs
                .migration_bandwidth_bps
                .get(source)
                .copied()
                .unwrap_or(1e9)
                .max(1.0),
            latency_ms: LAN_LATENCY_MS,
            touched_mib: None,
        };
        if input.validate().is_err() {
            return None;
        }
        let max_downtime_ms = vm
            .vnf
            .and_then(|f| obs.vnf_qos.get(f))
            .map_or(300.0, |q| q.max_downtime_ms);
        let deadline_s = deadline_from(time_left_s, self.cfg.controller.deadline_margin_s);
        let constraints = Constraints {
            deadline_s,
            max_downtime_ms,
            risk: RiskPolicy::Balanced,
            allow_throttle: true,
        };
        // QEMU's defaults, but never pushing the stream faster than `link_headroom` of the path,
        // and compressing on at most a quarter of the source's cores: QEMU's 8 compression
        // threads took both cores of the e2e bed and stalled the source's other guest for
        // 339 ms while the migrated one paused 63 ms; the VNFs own the host's CPUs.
        let base = TechniqueParams {
            max_bandwidth_bps: TechniqueParams::default()
                .max_bandwidth_bps
                .min(input.bandwidth_bps * self.cfg.controller.link_headroom),
            compress_threads: (obs.hosts[source].cores / 4).max(1),
            ..TechniqueParams::default()
        };
        let (chosen, meets) = match d.technique {
            Some(t) => {
                let params = TechniqueParams {
                    technique: t,
                    ..base
                };
                let e = self.profile.model(params).detail(&input).estimate;
                let meets = e.converged
                    && e.downtime_s * 1000.0 <= max_downtime_ms
                    && deadline_s.is_none_or(|dl| e.total_s <= dl);
                (
                    planner::Plan {
                        params,
                        expected: self.profile.model(params).detail(&input),
                    },
                    meets,
                )
            }
            None => match planner::plan_from(&input, &constraints, &self.profile, &base) {
                Ok(p) => (p, true),
                Err(planner::PlanError::NoFit { best: Some(b) }) => (*b, false),
                Err(planner::PlanError::NoFit { best: None }) => return None,
            },
        };
        let e = chosen.expected.estimate;
        let mut rejected = Vec::new();
        for t in Technique::ALL {
            if t == chosen.params.technique {
                continue;
            }
            let alt = self
                .profile
                .model(TechniqueParams {
                    technique: t,
                    ..base
                })
                .detail(&input)
                .estimate;
            let why = if !alt.converged {
                "does not converge at this dirty rate".to_string()
            } else if alt.downtime_s * 1000.0 > max_downtime_ms {
                format!(
                    "pause {:.0} ms exceeds the VNF's {max_downtime_ms:.0} ms",
                    alt.downtime_s * 1000.0
                )
            } else if deadline_s.is_some_and(|dl| alt.total_s > dl) {
                format!(
                    "takes {:.0} s, past the predicted failure in {:.0} s",
                    alt.total_s,
                    time_left_s.unwrap_or(0.0)
                )
            } else if t == Technique::Postcopy {
                "post-copy loses the VM if the source dies mid-way; not needed here".into()
            } else {
                format!(
                    "pause {:.1} ms vs {:.1} ms chosen",
                    alt.downtime_s * 1000.0,
                    e.downtime_s * 1000.0
                )
            };
            rejected.push(Alternative {
                option: format!("technique {}", t.name()),
                why,
            });
        }
        let cause = match risk.map(cause_of) {
            None | Some("none") => "policy",
            Some(c) => c,
        }
        .to_string();
        Some((
            chosen.params,
            Reason {
                cause,
                risk: risk.map_or(0.0, |r| r.probability),
                time_left_s,
                predicted_total_s: e.total_s,
                predicted_downtime_ms: e.downtime_s * 1000.0,
                meets_constraints: meets,
                rejected,
                scored: None,
            },
        ))
    }

    /// Up to three other hosts that could not take the VM, with why.
    fn rejected_destinations(
        &self,
        snap: &Snapshot,
        vm: usize,
        source: usize,
        chosen: usize,
    ) -> Vec<Alternative> {
        let obs = &snap.obs;
        let need = obs.vms[vm].memory_reserved_mib.max(obs.vms[vm].memory_mib);
        let mut out = Vec::new();
        for (h, host) in obs.hosts.iter().enumerate() {
            if h == source || h == chosen {
                continue;
            }
            let risk = obs.risks.get(h).map_or(0.0, |r| r.probability);
            let why = if !host.up {
                "down".to_string()
            } else if risk >= self.cfg.controller.destination_risk_max {
                format!("itself at risk ({risk:.2})")
            } else if host.memory_mib - host.memory_reserved_mib < need {
                format!(
                    "{:.0} MiB free, needs {need:.0}",
                    host.memory_mib - host.memory_reserved_mib
                )
            } else {
                continue;
            };
            out.push(Alternative {
                option: format!("destination {}", snap.host_names[h]),
                why,
            });
            if out.len() == 3 {
                break;
            }
        }
        out
    }

    /// Starts approved plans, oldest first, within the limits.
    fn admit(&mut self, snap: &Snapshot) -> Result<Vec<Order>, ControllerError> {
        let obs = &snap.obs;
        let mut per_host: BTreeMap<String, usize> = BTreeMap::new();
        let mut running = 0;
        for p in self
            .open
            .values()
            .filter(|p| p.state == PlanState::Executing)
        {
            running += 1;
            *per_host.entry(p.source.clone()).or_default() += 1;
            *per_host.entry(p.destination.clone()).or_default() += 1;
        }
        // Capacity reserved on each destination by migrations already handed to the driver that
        // the snapshot does not show yet (a world may take them up at its next step).
        let mut booked_mib: BTreeMap<usize, f64> = BTreeMap::new();
        for p in self
            .open
            .values()
            .filter(|p| p.state == PlanState::Executing)
        {
            let (Some(v), Some(to)) = (snap.vm_index(&p.vm), snap.host_index(&p.destination))
            else {
                continue;
            };
            let dest = &obs.hosts[to];
            if !dest.migrating_in.contains(&v) && !dest.vms.contains(&v) {
                let vm = &obs.vms[v];
                *booked_mib.entry(to).or_default() += vm.memory_reserved_mib.max(vm.memory_mib);
            }
        }
        let approved: Vec<PlanId> = self
            .open
            .values()
            .filter(|p| p.state == PlanState::Approved)
            .map(|p| p.id)
            .collect();
        let mut orders = Vec::new();
        for id in approved {
            if running >= self.cfg.limits.max_concurrent {
                break;
            }
            let p = &self.open[&id];
            let (Some(v), Some(to)) = (snap.vm_index(&p.vm), snap.host_index(&p.destination))
            else {
                let why = format!("{} or {} left the inventory", p.vm, p.destination);
                self.move_plan(id, PlanState::Superseded, why)?;
                continue;
            };
            let (vm, dest) = (&obs.vms[v], &obs.hosts[to]);
            if vm.in_migration {
                continue; // something else moves it; the next snapshot decides
            }
            let dest_risk = obs.risks.get(to).map_or(0.0, |r| r.probability);
            if !dest.up || dest_risk >= self.cfg.controller.destination_risk_max {
                let why = format!(
                    "destination {} became unavailable (up: {}, risk {dest_risk:.2})",
                    p.destination, dest.up
                );
                self.move_plan(id, PlanState::Superseded, why)?;
                continue;
            }
            let busy = |h: &str| per_host.get(h).copied().unwrap_or(0);
            if busy(&p.source) >= self.cfg.limits.max_per_host
                || busy(&p.destination) >= self.cfg.limits.max_per_host
            {
                continue;
            }
            let need = vm.memory_reserved_mib.max(vm.memory_mib);
            let booked = booked_mib.get(&to).copied().unwrap_or(0.0);
            if dest.memory_mib - dest.memory_reserved_mib - booked < need {
                continue; // waits for room (or its TTL)
            }
            let time_left = p.reason.time_left_s;
            let deadline_s = deadline_from(time_left, self.cfg.controller.deadline_margin_s)
                .unwrap_or(NO_DEADLINE_S);
            let request = MigrationRequest {
                vm: p.vm.clone(),
                destination: p.destination.clone(),
                params: p.params,
                deadline: Duration::from_secs_f64(deadline_s),
                on_deadline: DeadlineAction::Cancel,
            };
            let (src, dst) = (p.source.clone(), p.destination.clone());
            self.move_plan(id, PlanState::Executing, "handed to the driver".into())?;
            *per_host.entry(src).or_default() += 1;
            *per_host.entry(dst).or_default() += 1;
            *booked_mib.entry(to).or_default() += need;
            running += 1;
            self.metrics.migrations_started.inc();
            orders.push(Order { plan: id, request });
        }
        Ok(orders)
    }

    /// The driver refused to start a plan's migration: nothing moved.
    pub fn start_failed(&mut self, id: PlanId, error: &DriverError) -> Result<(), ControllerError> {
        self.metrics.migrations_failed.inc();
        self.move_plan(id, PlanState::Failed, format!("driver refused: {error}"))
    }

    /// A progress sample of a running migration.
    pub fn progress(&mut self, id: PlanId, sample: Progress) {
        if self.open.contains_key(&id) {
            self.progress.insert(id, sample);
        }
    }

    /// A migration ended.
    pub fn finished(
        &mut self,
        id: PlanId,
        result: Result<Outcome, DriverError>,
    ) -> Result<(), ControllerError> {
        let Some(plan) = self.open.get_mut(&id) else {
            return Ok(());
        };
        let predicted_ms = plan.reason.predicted_downtime_ms;
        let predicted_total_s = plan.reason.predicted_total_s;
        let (to, detail) = match &result {
            Ok(o) => {
                plan.measured = Some(Measured {
                    total_ms: o.total_ms,
                    downtime_ms: o.downtime_ms,
                    transferred_kib: o.transferred_kib,
                });
                match o.status {
                    promig_driver::MigrationStatus::Completed => (
                        PlanState::Succeeded,
                        format!(
                            "completed in {:.1} s, paused {:.1} ms",
                            o.total_ms / 1000.0,
                            o.downtime_ms
                        ),
                    ),
                    _ if o.deadline_hit => (
                        PlanState::Failed,
                        "deadline reached before convergence; cancelled, VM on source".into(),
                    ),
                    _ => (PlanState::Cancelled, "cancelled; VM on source".into()),
                }
            }
            Err(e) => {
                self.failed_into
                    .insert(plan.destination.clone(), self.now_s);
                (
                    PlanState::Failed,
                    format!(
                        "migration failed: {e}; {} held back as a destination for {:.0} s",
                        plan.destination, self.cfg.limits.cooldown_s
                    ),
                )
            }
        };
        match (&result, to) {
            (Ok(o), PlanState::Succeeded) => {
                self.metrics.observe_migration(
                    predicted_ms,
                    o.downtime_ms,
                    predicted_total_s,
                    o.total_ms / 1000.0,
                );
                self.last_moved_s.insert(plan.vm.clone(), self.now_s);
            }
            (_, PlanState::Failed) => {
                self.metrics.migrations_failed.inc();
            }
            _ => {}
        }
        self.progress.remove(&id);
        self.move_plan(id, to, detail)?;
        self.refresh_plan_gauges();
        Ok(())
    }

    /// A plan's migration was only recorded (the `noop` driver): the VM stays where it is, so the
    /// plan ends `cancelled` with "dry run" in its detail. The VM's cooldown starts as if it had
    /// moved, so the same move is not recorded again every round.
    pub fn finished_dry_run(&mut self, id: PlanId) -> Result<(), ControllerError> {
        let Some(plan) = self.open.get(&id) else {
            return Ok(());
        };
        self.last_moved_s.insert(plan.vm.clone(), self.now_s);
        self.progress.remove(&id);
        self.move_plan(
            id,
            PlanState::Cancelled,
            "dry run (noop driver): recorded, nothing moved".into(),
        )?;
        self.refresh_plan_gauges();
        Ok(())
    }

    /// An operator approves a recommended plan.
    pub fn approve(&mut self, id: PlanId, who: &str) -> Result<Plan, ControllerError> {
        self.move_plan(id, PlanState::Approved, format!("approved by {who}"))?;
        self.refresh_plan_gauges();
        self.plan(id).ok_or(ControllerError::UnknownPlan(id))
    }

    /// An operator cancels a plan. A plan not yet executing is cancelled here; for an executing
    /// one the answer is `true`: the daemon must ask the driver to cancel, and the migration's
    /// own end decides the final state (a post-copy past its switch cannot be cancelled).
    pub fn cancel(&mut self, id: PlanId, who: &str) -> Result<bool, ControllerError> {
        let state = self
            .open
            .get(&id)
            .map(|p| p.state)
            .or_else(|| self.recent.iter().find(|p| p.id == id).map(|p| p.state))
            .ok_or(ControllerError::UnknownPlan(id))?;
        if state == PlanState::Executing {
            return Ok(true);
        }
        self.move_plan(id, PlanState::Cancelled, format!("cancelled by {who}"))?;
        self.refresh_plan_gauges();
        Ok(false)
    }

    /// Journals and applies one state change; final plans move to the recent list.
    fn move_plan(
        &mut self,
        id: PlanId,
        to: PlanState,
        detail: String,
    ) -> Result<(), ControllerError> {
        let Some(plan) = self.open.get_mut(&id) else {
            return match self.recent.iter().find(|p| p.id == id) {
                Some(p) => Err(ControllerError::IllegalTransition {
                    id,
                    from: p.state,
                    to,
                }),
                None => Err(ControllerError::UnknownPlan(id)),
            };
        };
        let from = plan.state;
        if !from.may_become(to) {
            return Err(ControllerError::IllegalTransition { id, from, to });
        }
        let mut next = plan.clone();
        next.state = to;
        next.updated_s = self.now_s;
        next.detail = detail;
        // Journal first: if this fails, nothing changed in memory and nothing is acted upon.
        self.journal.transition(&next, from)?;
        tracing::debug!(plan = %id, %from, %to, detail = %next.detail, "plan state");
        if to.is_final() {
            self.open.remove(&id);
            self.progress.remove(&id);
            self.recent.push_back(next);
            while self.recent.len() > RECENT_PLANS {
                self.recent.pop_front();
            }
        } else {
            *plan = next;
        }
        Ok(())
    }

    fn refresh_plan_gauges(&self) {
        for s in PlanState::ALL {
            if s.is_final() {
                continue;
            }
            let n = self.open.values().filter(|p| p.state == s).count();
            self.metrics
                .plans
                .get_or_create(&crate::metrics::StateLabel {
                    state: s.as_str().to_string(),
                })
                .set(n as i64);
        }
    }

    /// One plan, open or recent.
    pub fn plan(&self, id: PlanId) -> Option<Plan> {
        self.open
            .get(&id)
            .or_else(|| self.recent.iter().find(|p| p.id == id))
            .cloned()
    }

    /// Open plans (oldest first) then recent final ones (newest first), optionally of one state.
    pub fn plans(&self, state: Option<PlanState>) -> Vec<Plan> {
        self.open
            .values()
            .chain(self.recent.iter().rev())
            .filter(|p| state.is_none_or(|s| p.state == s))
            .cloned()
            .collect()
    }

    /// Finished plans, newest first, at most `limit`.
    pub fn history(&self, limit: usize) -> Vec<Plan> {
        self.recent.iter().rev().take(limit).cloned().collect()
    }

    /// Running migrations with their latest progress.
    pub fn migrations(&self) -> Vec<MigrationStatusView> {
        self.open
            .values()
            .filter(|p| p.state == PlanState::Executing)
            .map(|p| MigrationStatusView {
                plan: p.clone(),
                progress: self.progress.get(&p.id).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// Hosts with their risk, from the latest snapshot.
    pub fn hosts(&self) -> Vec<HostStatus> {
        let Some(snap) = &self.snapshot else {
            return Vec::new();
        };
        let obs = &snap.obs;
        obs.hosts
            .iter()
            .enumerate()
            .map(|(h, host)| {
                let r = obs.risks.get(h);
                HostStatus {
                    name: snap.host_names[h].clone(),
                    rack: host.rack,
                    up: host.up,
                    cpu_utilization: host.utilization,
                    memory_reserved_mib: host.memory_reserved_mib,
                    memory_mib: host.memory_mib,
                    risk: r.map_or(0.0, |r| r.probability),
                    cause: r.map_or("none", cause_of).to_string(),
                    time_left_s: r.and_then(|r| r.time_left_s),
                    confidence: snap.confidence.get(h).cloned().unwrap_or_default(),
                    vms: host.vms.iter().map(|&v| snap.vm_names[v].clone()).collect(),
                }
            })
            .collect()
    }

    /// VMs from the latest snapshot.
    pub fn vms(&self) -> Vec<VmStatus> {
        let Some(snap) = &self.snapshot else {
            return Vec::new();
        };
        snap.obs
            .vms
            .iter()
            .enumerate()
            .map(|(i, v)| VmStatus {
                name: snap.vm_names[i].clone(),
                host: v.host.map(|h| snap.host_names[h].clone()),
                migrating: v.in_migration,
                memory_mib: v.memory_mib,
                memory_used_mib: v.memory_used_mib,
                dirty_pages_per_s: v.dirty_pages_per_s,
                requested_mips: v.requested_mips,
                vnf: v.vnf,
                chain: v
                    .vnf
                    .and_then(|f| snap.obs.chains.iter().position(|c| c.contains(&f))),
            })
            .collect()
    }

    /// Service chains with where their members run, from the latest snapshot.
    pub fn chains(&self) -> Vec<ChainStatus> {
        let Some(snap) = &self.snapshot else {
            return Vec::new();
        };
        let obs = &snap.obs;
        let line = self.cfg.controller.destination_risk_max;
        obs.chains
            .iter()
            .enumerate()
            .map(|(index, vnfs)| {
                let mut vms = Vec::new();
                let mut hosts: Vec<usize> = Vec::new();
                let mut risky: Vec<usize> = Vec::new();
                let mut at_risk = false;
                for f in vnfs {
                    for (v, vm) in obs.vms.iter().enumerate() {
                        if vm.vnf != Some(*f) {
                            continue;
                        }
                        vms.push(snap.vm_names[v].clone());
                        match vm.host {
                            Some(h) => {
                                let risk = obs.risks.get(h).map_or(0.0, |r| r.probability);
                                if (!obs.hosts[h].up || risk >= line) && !risky.contains(&h) {
                                    risky.push(h);
                                    at_risk = true;
                                }
                                if !hosts.contains(&h) {
                                    hosts.push(h);
                                }
                            }
                            None => at_risk = true,
                        }
                    }
                }
                ChainStatus {
                    index,
                    vnfs: vnfs.clone(),
                    vms,
                    hosts: hosts
                        .into_iter()
                        .map(|h| snap.host_names[h].clone())
                        .collect(),
                    hosts_at_risk: risky
                        .into_iter()
                        .map(|h| snap.host_names[h].clone())
                        .collect(),
                    at_risk,
                }
            })
            .collect()
    }

    /// Host NICs and rack uplinks with the migration traffic crossing them now (see
    /// [`LinkStatus`] for what the figure means), from the latest snapshot and running plans.
    pub fn links(&self) -> Vec<LinkStatus> {
        let Some(snap) = &self.snapshot else {
            return Vec::new();
        };
        let obs = &snap.obs;
        // (source, destination, progress if the driver reported any) of each running migration.
        let running: Vec<(usize, usize, Option<&Progress>)> = self
            .open
            .values()
            .filter(|p| p.state == PlanState::Executing)
            .filter_map(|p| {
                let from = snap.host_index(&p.source)?;
                let to = snap.host_index(&p.destination)?;
                Some((from, to, self.progress.get(&p.id)))
            })
            .collect();
        let leaving = |h: usize| running.iter().filter(|m| m.0 == h).count().max(1) as f64;
        let rate = |&&(from, _, g): &&(usize, usize, Option<&Progress>)| -> f64 {
            match g {
                Some(g) if g.transferred_bytes > 0 && g.elapsed_ms > 0.0 => {
                    g.transferred_bytes as f64 * 8.0 / (g.elapsed_ms / 1000.0)
                }
                _ => {
                    obs.migration_bandwidth_bps
                        .get(from)
                        .copied()
                        .unwrap_or(0.0)
                        / leaving(from)
                }
            }
        };
        let mut links: Vec<LinkStatus> = Vec::new();
        let mut racks: Vec<u32> = obs.hosts.iter().map(|h| h.rack).collect();
        racks.sort_unstable();
        racks.dedup();
        for r in racks {
            let crossing: Vec<_> = running
                .iter()
                .filter(|m| {
                    let (a, b) = (obs.hosts[m.0].rack, obs.hosts[m.1].rack);
                    a != b && (a == r || b == r)
                })
                .collect();
            links.push(LinkStatus {
                name: format!("rack {r} uplink"),
                kind: LinkKind::RackUplink,
                rack: r,
                host: None,
                migrations: crossing.len(),
                migration_bps: crossing.iter().map(rate).sum(),
                capacity_bps: snap.rack_uplink_bps.get(&r).copied(),
            });
            for (h, host) in obs.hosts.iter().enumerate().filter(|(_, x)| x.rack == r) {
                let crossing: Vec<_> = running
                    .iter()
                    .filter(|m| m.0 != m.1 && (m.0 == h || m.1 == h))
                    .collect();
                links.push(LinkStatus {
                    name: format!("{} NIC", snap.host_names[h]),
                    kind: LinkKind::HostNic,
                    rack: r,
                    host: Some(snap.host_names[h].clone()),
                    migrations: crossing.len(),
                    migration_bps: crossing.iter().map(rate).sum(),
                    capacity_bps: Some(host.nic_bps),
                });
            }
        }
        links
    }
}

/// The most likely cause of a host's risk, `none` when it carries none.
pub fn cause_of(r: &promig_model::HostRisk) -> &'static str {
    if r.probability <= 0.0 {
        return "none";
    }
    [
        ("hardware", r.hardware),
        ("overload", r.overload),
        ("memory", r.memory),
        ("response-time", r.response_time),
    ]
    .iter()
    .fold(
        ("none", 0.0),
        |best, &(n, p)| if p > best.1 { (n, p) } else { best },
    )
    .0
}

fn reason(text: &str) -> crate::metrics::ReasonLabel {
    crate::metrics::ReasonLabel {
        reason: text.to_string(),
    }
}

/// The deadline a migration off a host must meet, from the predictor's time left before the
/// host's breach, less `margin_s` (at least 1 s). A breach under way (0 s left: the host is over
/// its capacity now) sets none: moving a VM off relieves it whenever the move lands, whereas a
/// 1 s deadline refused every plan and had the driver cancel the migration after a second.
pub(crate) fn deadline_from(time_left_s: Option<f64>, margin_s: f64) -> Option<f64> {
    time_left_s
        .filter(|&t| t > 0.0)
        .map(|t| (t - margin_s).max(1.0))
}

#[cfg(test)]
mod tests {
    use super::deadline_from;

    #[test]
    fn only_a_breach_still_ahead_is_a_deadline() {
        assert_eq!(deadline_from(Some(600.0), 60.0), Some(540.0));
        assert_eq!(deadline_from(Some(30.0), 60.0), Some(1.0));
        assert_eq!(deadline_from(Some(0.0), 60.0), None);
        assert_eq!(deadline_from(None, 60.0), None);
        assert_eq!(deadline_from(Some(f64::NAN), 60.0), None);
    }
}
