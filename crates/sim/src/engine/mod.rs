//! The simulation engine: state, event queue, accounting and the step loop.
//!
//! Time advances one scheduling interval at a time (the traces' 5 minutes); inside an interval the
//! finer events (a migration completing, a crash, a restart, an out-of-memory kill) happen at their
//! exact times from a priority queue. Every event updates the hosts' CPU allocation and accrues
//! energy and SLA time since the previous event, so nothing is rounded to the step.

mod accounting;
mod migration;
mod recovery;
mod view;

pub use view::{InFlight, InvariantViolation};

use crate::config::{Mode, SimConfig};
use crate::faults::{self, FaultPlan};
use crate::report::{Attribution, Report, VnfReport};
use crate::world::World;
use promig_migrate::{
    CloudSimRule, MigrationInput, MigrationModel, QemuModel, Technique, TechniqueParams,
};
use promig_model::scheduler::{CpuShares, MIGRATING_OUT_SHARE, Role};
use promig_model::{Decision, HISTORY_LEN, HostRisk, HostView, Observation, VmView};
use promig_model::{FaultCause, FaultRecord};
use promig_policy::Policy;
use promig_predict::Predictor;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Dirty-page rate of a VM at full CPU load; scales linearly with load (NFV packet processing
/// touches buffers in proportion to traffic).
const DIRTY_PAGES_PER_S_AT_FULL_LOAD: f64 = 20_000.0;
/// Writable working set as a share of VM memory.
const WWS_SHARE: f64 = 0.25;
/// Memory in use as a share of the VM's size when the trace has no memory column.
const DEFAULT_MEMORY_USE: f64 = 0.6;

#[derive(Debug, Clone, Copy, PartialEq)]
enum VmStatus {
    Running,
    /// Not running anywhere since `since`; a restart is pending.
    Down {
        since: f64,
    },
    /// Placed on a host and booting; serves again at `until`.
    Booting {
        since: f64,
        until: f64,
    },
    /// Gone for good: CloudSim 3.0.3 destroys a VM whose CPU request reaches exactly zero.
    Retired,
}

/// Last state entry of a VM or host, accrued when time moves on (CloudSim's state history,
/// without keeping the history).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    time: f64,
    allocated: f64,
    requested: f64,
    flag: bool,
    drop_fraction: f64,
    latency_ms: f64,
    load: f64,
}

#[derive(Debug, Clone)]
struct VmState {
    host: Option<usize>,
    status: VmStatus,
    migration: Option<usize>,
    history: [f64; HISTORY_LEN],
    history_len: usize,
    requested_mips: f64,
    allocated_mips: f64,
    entry: Option<Entry>,
    memory_used_mib: f64,
    leak: Option<(f64, f64)>,
    reserve_nic_bps: f64,
    instantiating: bool,
}

#[derive(Debug, Clone)]
struct HostState {
    up: bool,
    vms: Vec<usize>,
    migrating_in: Vec<usize>,
    capacity_factor: f64,
    util_mips: f64,
    requested_mips: f64,
    power_util: f64,
    last_t: f64,
    entry: Entry,
    temperature_c: f64,
    corrected_errors_per_h: f64,
    overloaded: bool,
    /// Last time a VNF on the host was over its latency bound.
    last_breach_s: f64,
    degraded_record: Option<usize>,
}

#[derive(Debug, Clone)]
struct Migration {
    vm: usize,
    from: usize,
    to: usize,
    links: Vec<petgraph::graph::EdgeIndex>,
    remaining_bytes: f64,
    rate_bps: f64,
    downtime_s: f64,
    version: u64,
    fixed_end: Option<f64>,
    /// When `rate_bps` took effect (bytes sent since then are not yet booked).
    rate_since: f64,
    started_s: f64,
    /// Earlier destinations of the same decision round that the VM was redirected away from; like
    /// CloudSim, they keep the incoming VM (and its CPU share) until the migration ends.
    also_to: Vec<usize>,
    /// Technique the decision chose (its cost model prices the migration).
    technique: Technique,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EventKind {
    MigrationDone {
        id: usize,
        version: u64,
    },
    Crash {
        host: usize,
        record: usize,
    },
    Repair {
        host: usize,
    },
    Restart,
    BootDone {
        vm: usize,
    },
    DegradeStart {
        host: usize,
        record: usize,
    },
    DegradeEnd {
        host: usize,
    },
    OutOfMemory {
        host: usize,
        version: u64,
    },
    /// The deadline of the migration `id` started at `started_s`.
    Deadline {
        id: usize,
        started_s: f64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Event {
    time: f64,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    // Reversed so the max-heap pops the earliest event; ties in insertion order.
    fn cmp(&self, o: &Self) -> Ordering {
        o.time.total_cmp(&self.time).then(o.seq.cmp(&self.seq))
    }
}

/// Running totals of the run.
#[derive(Debug, Clone, Default)]
struct Totals {
    energy_j: f64,
    migrations: u64,
    migration_bytes: f64,
    rejected_decisions: u64,
    deadline_cancelled: u64,
    host_active_s: f64,
    host_violation_s: f64,
    vm_requested: f64,
    vm_allocated: f64,
    vm_underallocated_migration: f64,
    vnf: Vec<VnfTotals>,
    vms_crashed: u64,
}

#[derive(Debug, Clone, Default)]
struct VnfTotals {
    downtime_s: f64,
    interruptions: u64,
    packets_offered: f64,
    packets_lost: f64,
    qos_violation_s: f64,
    longest_incident_s: f64,
}

/// One simulation run. Cheap to clone (the world is shared), so a search or an RL agent can branch.
#[derive(Clone)]
pub struct Simulator {
    world: Arc<World>,
    cfg: SimConfig,
    now: f64,
    next_step: usize,
    hosts: Vec<HostState>,
    vms: Vec<VmState>,
    migrations: Vec<Option<Migration>>,
    free_migration_ids: Vec<usize>,
    events: BinaryHeap<Event>,
    seq: u64,
    totals: Totals,
    records: Vec<FaultRecord>,
    plan: FaultPlan,
    rng: ChaCha8Rng,
    restart_queue: Vec<usize>,
    policy_name: String,
    /// One cost model per technique, in `Technique::ALL` order, with the constants the run's
    /// calibration profile gives that technique.
    models: Vec<QemuModel>,
    finished: bool,
    oom_version: Vec<u64>,
    /// In-flight fluid migrations per link (by edge index).
    link_members: Vec<Vec<usize>>,
    /// Host-to-host paths already computed.
    fabric: migration::FabricPaths,
    scratch_shares: Vec<(f64, Role)>,
    scratch_requests: Vec<f64>,
    last_risks: Vec<HostRisk>,
    /// Why the policy made its moves, as far as it says (see `Policy::explanations`).
    explanations: Vec<promig_model::Explanation>,
    /// Hosts the current round's decisions changed, updated once when the round ends.
    touched_by_decisions: Vec<usize>,
    /// Per VM, the fault record whose outage it is in (while down or booting).
    down_record: Vec<Option<usize>>,
    /// Where downtime and loss came from (analysis only; the totals above stay the figures).
    attribution: Attribution,
}

/// What an interruption charged to a VNF was.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Incident {
    /// A live migration's switch-over pause.
    Pause,
    /// An outage after a fault (its record, when known), restart included.
    Outage(Option<usize>),
}

impl Simulator {
    /// Sets up a run: draws the fault plan from the seed and places every VM with the policy's
    /// placement rule.
    pub fn new(
        world: Arc<World>,
        cfg: SimConfig,
        policy: &mut dyn Policy,
    ) -> Result<Self, crate::SimError> {
        cfg.validate()?;
        if world.hosts.is_empty() || world.hosts.len() > promig_model::scenario::MAX_HOSTS {
            return Err(crate::SimError::Setup(format!(
                "{} hosts: a data centre needs 1..={}",
                world.hosts.len(),
                promig_model::scenario::MAX_HOSTS
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let plan = if cfg.mode == Mode::Nfv {
            faults::plan(&world, &cfg, &mut rng)?
        } else {
            FaultPlan::default()
        };
        let start = cfg.start_s();
        let hosts = world
            .hosts
            .iter()
            .map(|_| HostState {
                up: true,
                vms: Vec::new(),
                migrating_in: Vec::new(),
                capacity_factor: 1.0,
                util_mips: 0.0,
                requested_mips: 0.0,
                power_util: 0.0,
                // CloudSim's datacentre starts its energy clock at 0, not at the 0.1 s submission.
                last_t: 0.0,
                entry: Entry::default(),
                temperature_c: 40.0,
                corrected_errors_per_h: 0.0,
                overloaded: false,
                last_breach_s: f64::NEG_INFINITY,
                degraded_record: None,
            })
            .collect::<Vec<_>>();
        let vms = world
            .vms
            .iter()
            .enumerate()
            .map(|(i, spec)| VmState {
                host: None,
                status: VmStatus::Down { since: start },
                migration: None,
                history: [0.0; HISTORY_LEN],
                history_len: 0,
                // CloudSim reserves a VM's full size while instantiating it; an NFV scheduler
                // places by current demand.
                requested_mips: match cfg.mode {
                    Mode::CloudSim => spec.total_mips(),
                    Mode::Nfv => world.cpu_fraction(i, start, cfg.interval_s) * spec.total_mips(),
                },
                allocated_mips: 0.0,
                entry: None,
                memory_used_mib: 0.0,
                leak: None,
                reserve_nic_bps: if cfg.mode == Mode::CloudSim {
                    100e6
                } else {
                    0.0
                },
                instantiating: true,
            })
            .collect::<Vec<_>>();
        let n_hosts = hosts.len();
        let n_vms = vms.len();
        let mut sim = Simulator {
            totals: Totals {
                vnf: vec![VnfTotals::default(); world.vnfs.len()],
                ..Totals::default()
            },
            world,
            now: start,
            next_step: 1,
            hosts,
            vms,
            migrations: Vec::new(),
            free_migration_ids: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
            records: Vec::new(),
            plan,
            rng,
            restart_queue: Vec::new(),
            policy_name: policy.name(),
            models: Technique::ALL
                .into_iter()
                .map(|t| cfg.calibration.model(TechniqueParams::of(t)))
                .collect(),
            finished: false,
            oom_version: vec![0; n_hosts],
            link_members: Vec::new(),
            fabric: migration::FabricPaths::default(),
            scratch_shares: Vec::new(),
            scratch_requests: Vec::new(),
            last_risks: Vec::new(),
            explanations: Vec::new(),
            touched_by_decisions: Vec::new(),
            down_record: vec![None; n_vms],
            attribution: Attribution::default(),
            cfg,
        };
        sim.schedule_faults();
        policy.use_calibration(&sim.cfg.calibration);
        // Initial placement, in VM order, with VMs requesting their full size.
        let all: Vec<usize> = (0..sim.vms.len()).collect();
        let obs = sim.observation_with(true);
        let placement = policy.place(&obs, &all);
        for (vm, host) in all.into_iter().zip(placement) {
            let Some(h) = host else {
                return Err(crate::SimError::Setup(format!(
                    "policy {} found no host for VM {} ({}) at start: the data centre is too small",
                    sim.policy_name, vm, sim.world.vms[vm].name
                )));
            };
            sim.vms[vm].host = Some(h);
            sim.vms[vm].status = VmStatus::Running;
            sim.hosts[h].vms.push(vm);
        }
        for v in &mut sim.vms {
            v.instantiating = false;
            if sim.cfg.mode == Mode::CloudSim {
                // CloudSim's VMs stop reserving NIC bandwidth (and RAM) once instantiated.
                v.reserve_nic_bps = 0.0;
            }
        }
        if sim.cfg.mode == Mode::Nfv {
            let t = sim.now;
            sim.refresh_memory(0);
            sim.update_all(t);
        }
        Ok(sim)
    }

    /// Name of the policy this run was set up with.
    pub fn policy_name(&self) -> &str {
        &self.policy_name
    }

    /// Simulated time now.
    pub fn now_s(&self) -> f64 {
        self.now
    }

    /// Decision points done so far and in total.
    pub fn progress(&self) -> (usize, usize) {
        (
            self.next_step.saturating_sub(1),
            self.cfg.steps.saturating_sub(1),
        )
    }

    /// True once the horizon is reached.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Events waiting in the queue: bounded by the data centre's size in a healthy run (a
    /// growing count is a leak of retries, which the tests watch for).
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    fn push(&mut self, time: f64, kind: EventKind) {
        self.seq += 1;
        self.events.push(Event {
            time,
            seq: self.seq,
            kind,
        });
    }

    /// Adds a ground-truth record for a planned fault (strike time filled in when it happens).
    fn open_record(&mut self, cause: FaultCause, host: usize, onset_s: f64) -> usize {
        self.records.push(FaultRecord {
            cause,
            host,
            vm: None,
            onset_s,
            strike_s: None,
            vnf_vms_hit: 0,
            vms_hit: 0,
            silent: false,
        });
        self.records.len() - 1
    }

    fn schedule_faults(&mut self) {
        let plan = self.plan.clone();
        for f in &plan.crashes {
            let record = self.open_record(FaultCause::HardwareFailure, f.host, f.onset_s);
            self.records[record].silent = f.peak_per_h == 0.0;
            self.push(
                f.crash_s,
                EventKind::Crash {
                    host: f.host,
                    record,
                },
            );
        }
        for f in &plan.false_alarms {
            self.open_record(FaultCause::FalseAlarm, f.host, f.onset_s);
        }
        for l in &plan.leaks {
            self.vms[l.vm].leak = Some((l.start_s, l.mib_per_s));
        }
        for d in &plan.degradations {
            let record = self.open_record(FaultCause::ResponseDegradation, d.host, d.start_s);
            self.push(
                d.start_s,
                EventKind::DegradeStart {
                    host: d.host,
                    record,
                },
            );
            self.push(
                d.start_s + d.duration_s,
                EventKind::DegradeEnd { host: d.host },
            );
        }
    }

    /// A VM's CPU utilisation at `t`: its trace, raised by any surge on its VNF's chain.
    pub(super) fn cpu_demand(&self, vm: usize, t: f64) -> f64 {
        let u = self.world.cpu_fraction(vm, t, self.cfg.interval_s);
        if self.plan.surges.is_empty() {
            return u;
        }
        let Some(f) = self.world.vms[vm].vnf else {
            return u;
        };
        self.plan
            .surges
            .iter()
            .filter(|s| self.world.chains[s.chain].vnfs.contains(&f))
            .fold(u, |u, s| s.apply(u, t))
    }

    /// Runs to the end.
    pub fn run(
        &mut self,
        policy: &mut dyn Policy,
        on_step: &mut dyn FnMut(usize, usize),
    ) -> Report {
        self.run_with(policy, None, on_step)
    }

    /// Runs to the end with a predictor filling the observations' risks.
    pub fn run_with(
        &mut self,
        policy: &mut dyn Policy,
        mut predictor: Option<&mut dyn Predictor>,
        on_step: &mut dyn FnMut(usize, usize),
    ) -> Report {
        while self.step_with(policy, predictor.as_deref_mut()) {
            let (done, total) = self.progress();
            on_step(done, total);
        }
        self.report()
    }

    /// When the next decision point falls (seconds), so a driver can step up to a wall time.
    pub fn next_decision_s(&self) -> f64 {
        self.cfg.start_s() + self.next_step as f64 * self.cfg.interval_s
    }

    /// Advances to the next decision point, asks the policy, applies its decisions. Returns false
    /// once the horizon is reached (then only [`Simulator::report`] is left to call).
    pub fn step(&mut self, policy: &mut dyn Policy) -> bool {
        self.step_with(policy, None)
    }

    /// [`Simulator::step`] with a predictor: its per-host risk is in the observation the policy gets.
    pub fn step_with<'p>(
        &mut self,
        policy: &mut dyn Policy,
        predictor: Option<&mut (dyn Predictor + 'p)>,
    ) -> bool {
        if self.finished {
            return false;
        }
        let t = self.next_decision_s();
        if t >= self.cfg.horizon_s() {
            let horizon = self.cfg.horizon_s();
            self.process_events_until(horizon, policy);
            if self.cfg.mode == Mode::Nfv {
                // The last interval runs to the horizon: N steps simulate N intervals. (CloudSim
                // stops accounting at its last decision point, 86,100.1 s of a day, and its mode
                // keeps that to reproduce the published figures.)
                self.update_all(horizon);
                self.now = horizon;
            }
            self.finished = true;
            return false;
        }
        self.process_events_until(t, policy);
        self.now = t;
        self.decision_point(t, policy, predictor);
        self.next_step += 1;
        true
    }

    fn process_events_until(&mut self, t_end: f64, policy: &mut dyn Policy) {
        while let Some(ev) = self.events.peek().copied() {
            if ev.time > t_end || (ev.time == t_end && t_end >= self.cfg.horizon_s()) {
                break;
            }
            self.events.pop();
            self.now = ev.time;
            if let EventKind::MigrationDone { .. } = ev.kind {
                // Migrations ending at the same instant (same size, same start) are completed
                // together between one pair of updates, as CloudSim does.
                let mut batch = vec![ev];
                while let Some(next) = self.events.peek().copied() {
                    if next.time == ev.time && matches!(next.kind, EventKind::MigrationDone { .. })
                    {
                        self.events.pop();
                        batch.push(next);
                    } else {
                        break;
                    }
                }
                self.complete_batch(&batch);
            } else {
                self.handle(ev, policy);
            }
        }
    }

    fn complete_batch(&mut self, batch: &[Event]) {
        let valid: Vec<usize> = batch
            .iter()
            .filter_map(|ev| match ev.kind {
                EventKind::MigrationDone { id, version } => self
                    .migrations
                    .get(id)
                    .and_then(|m| m.as_ref())
                    .is_some_and(|m| m.version == version)
                    .then_some(id),
                _ => None,
            })
            .collect();
        if valid.is_empty() {
            return;
        }
        let t = batch[0].time;
        if self.cfg.mode == Mode::CloudSim {
            // CloudSim updates every host at every migration event; its figures depend on it.
            // After the completions only the hosts they touched can change: the others were
            // just updated at this same instant with the same VMs, and updating them again
            // accrues nothing and recomputes the same state, so they are skipped (exactly).
            self.update_all(t);
            let mut touched: Vec<usize> = Vec::new();
            for &id in &valid {
                if let Some(m) = self.migrations[id].as_ref() {
                    touched.push(m.from);
                    touched.push(m.to);
                    touched.extend_from_slice(&m.also_to);
                }
            }
            for id in valid {
                self.complete_migration(id, t);
            }
            touched.sort_unstable();
            touched.dedup();
            for &h in &touched {
                self.update_host(h, t);
            }
            self.retire_idle_vms();
            return;
        }
        // Elsewhere only the hosts a migration touches change: accounting is per host and exact
        // between any two of its own updates, so the others need not be visited.
        let mut touched: Vec<usize> = Vec::new();
        for &id in &valid {
            if let Some(m) = self.migrations[id].as_ref() {
                touched.push(m.from);
                touched.push(m.to);
                touched.extend_from_slice(&m.also_to);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for &h in &touched {
            self.update_host(h, t);
        }
        for id in valid {
            self.complete_migration(id, t);
        }
        for &h in &touched {
            self.update_host(h, t);
        }
    }

    fn handle(&mut self, ev: Event, policy: &mut dyn Policy) {
        let t = ev.time;
        match ev.kind {
            EventKind::MigrationDone { .. } => self.complete_batch(&[ev]),
            EventKind::Crash { host, record } => {
                if self.hosts[host].up {
                    self.update_all(t);
                    self.crash_host(host, t, Some(record));
                    self.update_all(t);
                }
            }
            EventKind::Repair { host } => {
                self.hosts[host].up = true;
                self.hosts[host].capacity_factor = 1.0;
            }
            EventKind::Restart => {
                self.update_all(t);
                self.restart_pending(t, policy);
                self.update_all(t);
            }
            EventKind::BootDone { vm } => {
                if let VmStatus::Booting { since, until } = self.vms[vm].status
                    && until == t
                {
                    self.update_all(t);
                    self.vms[vm].status = VmStatus::Running;
                    let record = self.down_record[vm].take();
                    self.charge_incident(vm, t - since, t, Incident::Outage(record));
                    self.update_all(t);
                }
            }
            EventKind::DegradeStart { host, record } => {
                self.update_all(t);
                self.hosts[host].capacity_factor = self.world.faults.degradation_capacity;
                self.hosts[host].degraded_record = Some(record);
                self.update_all(t);
            }
            EventKind::DegradeEnd { host } => {
                self.update_all(t);
                if self.hosts[host].up {
                    self.hosts[host].capacity_factor = 1.0;
                }
                self.hosts[host].degraded_record = None;
                self.update_all(t);
            }
            EventKind::Deadline { id, started_s } => {
                let running = self.migrations[id]
                    .as_ref()
                    .is_some_and(|m| m.started_s == started_s);
                if running {
                    self.update_all(t);
                    self.abort_migration(id, t);
                    self.totals.deadline_cancelled += 1;
                    self.update_all(t);
                }
            }
            EventKind::OutOfMemory { host, version } => {
                if self.oom_version[host] == version && self.hosts[host].up {
                    self.update_all(t);
                    self.advance_memory(t);
                    self.kill_for_memory(host, t);
                    self.update_all(t);
                }
            }
        }
    }

    fn decision_point<'p>(
        &mut self,
        t: f64,
        policy: &mut dyn Policy,
        predictor: Option<&mut (dyn Predictor + 'p)>,
    ) {
        let step = self.next_step;
        if self.cfg.mode == Mode::Nfv {
            self.refresh_memory(step);
            self.update_precursors(t);
        }
        self.update_all(t);
        // Every placed VM records its requested utilisation (CloudSim appends zeros too).
        for vm in 0..self.vms.len() {
            if self.vms[vm].host.is_some() {
                let u = self.cpu_demand(vm, t);
                let v = &mut self.vms[vm];
                v.history.copy_within(0..HISTORY_LEN - 1, 1);
                v.history[0] = u;
                v.history_len = (v.history_len + 1).min(HISTORY_LEN);
            }
        }
        if self.cfg.mode == Mode::Nfv {
            self.record_overloads(t);
            self.schedule_oom_checks(t);
        }
        let mut obs = self.observation_with(false);
        if let Some(p) = predictor {
            obs.risks = p.predict(&obs);
        }
        self.last_risks.clone_from(&obs.risks);
        let decisions = policy.decide(&obs);
        self.explanations.extend(policy.explanations());
        drop(obs);
        for d in decisions {
            self.start_migration(d, t);
        }
        // In CloudSim mode the hosts the decisions touched re-run their scheduler once each,
        // after all of them: at this same instant an update accrues nothing and recomputes the
        // host from its VM lists, and no decision reads a host's allocation, so once at the end
        // is exactly the same as once per decision (NFV mode updates per decision).
        let mut touched = std::mem::take(&mut self.touched_by_decisions);
        touched.sort_unstable();
        touched.dedup();
        for &h in &touched {
            self.update_host(h, t);
        }
        touched.clear();
        self.touched_by_decisions = touched;
    }
}
