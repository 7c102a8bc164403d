//! The simulation engine: state, event queue, accounting and the step loop.
//!
//! Time advances one scheduling interval at a time (the traces' 5 minutes); inside an interval the
//! finer events (a migration completing, a crash, a restart, an out-of-memory kill) happen at their
//! exact times from a priority queue. Every event updates the hosts' CPU allocation and accrues
//! energy and SLA time since the previous event, so nothing is rounded to the step.

use crate::config::{Mode, SimConfig};
use crate::faults::{self, FaultPlan};
use crate::report::{Report, VnfReport};
use crate::world::World;
use promig_migrate::{CloudSimRule, MigrationInput, MigrationModel, QemuModel, Technique};
use promig_model::{FaultCause, FaultRecord};
use promig_policy::consolidation::work::{CpuShares, MIGRATING_OUT_SHARE, Role};
use promig_policy::{Decision, HISTORY_LEN, HostRisk, HostView, Observation, Policy, VmView};
use promig_predict::Predictor;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
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
    started_s: f64,
    /// Earlier destinations of the same decision round that the VM was redirected away from; like
    /// CloudSim, they keep the incoming VM (and its CPU share) until the migration ends.
    also_to: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EventKind {
    MigrationDone { id: usize, version: u64 },
    Crash { host: usize, record: usize },
    Repair { host: usize },
    Restart,
    BootDone { vm: usize },
    DegradeStart { host: usize, record: usize },
    DegradeEnd { host: usize },
    OutOfMemory { host: usize, version: u64 },
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
    precopy: QemuModel,
    finished: bool,
    oom_version: Vec<u64>,
    last_reshare: f64,
    scratch_shares: Vec<(f64, Role)>,
    scratch_requests: Vec<f64>,
    last_risks: Vec<HostRisk>,
}

impl Simulator {
    /// Sets up a run: draws the fault plan from the seed and places every VM with the policy's
    /// placement rule.
    pub fn new(
        world: Arc<World>,
        cfg: SimConfig,
        policy: &mut dyn Policy,
    ) -> Result<Self, crate::SimError> {
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
            precopy: QemuModel::of(Technique::Precopy),
            finished: false,
            oom_version: vec![0; n_hosts],
            last_reshare: start,
            scratch_shares: Vec::new(),
            scratch_requests: Vec::new(),
            last_risks: Vec::new(),
            cfg,
        };
        sim.schedule_faults();
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

    fn push(&mut self, time: f64, kind: EventKind) {
        self.seq += 1;
        self.events.push(Event {
            time,
            seq: self.seq,
            kind,
        });
    }

    fn schedule_faults(&mut self) {
        let plan = self.plan.clone();
        for f in &plan.crashes {
            let record = self.records.len();
            self.records.push(FaultRecord {
                cause: FaultCause::HardwareFailure,
                host: f.host,
                vm: None,
                onset_s: f.onset_s,
                strike_s: None,
                vnf_vms_hit: 0,
                vms_hit: 0,
            });
            self.push(
                f.crash_s,
                EventKind::Crash {
                    host: f.host,
                    record,
                },
            );
        }
        for f in &plan.false_alarms {
            self.records.push(FaultRecord {
                cause: FaultCause::FalseAlarm,
                host: f.host,
                vm: None,
                onset_s: f.onset_s,
                strike_s: None,
                vnf_vms_hit: 0,
                vms_hit: 0,
            });
        }
        for l in &plan.leaks {
            self.vms[l.vm].leak = Some((l.start_s, l.mib_per_s));
        }
        for d in &plan.degradations {
            let record = self.records.len();
            self.records.push(FaultRecord {
                cause: FaultCause::ResponseDegradation,
                host: d.host,
                vm: None,
                onset_s: d.start_s,
                strike_s: None,
                vnf_vms_hit: 0,
                vms_hit: 0,
            });
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
        let t = self.cfg.start_s() + self.next_step as f64 * self.cfg.interval_s;
        if t >= self.cfg.horizon_s() {
            let horizon = self.cfg.horizon_s();
            self.process_events_until(horizon, policy);
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
        self.update_all(t);
        for id in valid {
            self.complete_migration(id, t);
        }
        self.update_all(t);
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
                    self.charge_incident(vm, t - since, t);
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
                let u = self.world.cpu_fraction(vm, t, self.cfg.interval_s);
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
        drop(obs);
        for d in decisions {
            match d {
                Decision::Migrate { vm, to } => self.start_migration(vm, to, t),
            }
        }
    }

    // ---------------------------------------------------------------- accounting

    fn vm_request(&self, vm: usize, t: f64) -> f64 {
        match self.vms[vm].status {
            VmStatus::Running => {
                self.world.cpu_fraction(vm, t, self.cfg.interval_s)
                    * self.world.vms[vm].total_mips()
            }
            _ => 0.0,
        }
    }

    fn capped(&self, host: usize, vm: usize, request: f64) -> f64 {
        let spec = &self.world.vms[vm];
        let per = request / spec.vcpus.max(1) as f64;
        per.min(self.host_core_mips(host)) * spec.vcpus as f64
    }

    fn host_core_mips(&self, host: usize) -> f64 {
        self.world.hosts[host].mips_per_core * self.hosts[host].capacity_factor
    }

    fn host_capacity(&self, host: usize) -> f64 {
        self.world.hosts[host].total_mips() * self.hosts[host].capacity_factor
    }

    fn update_all(&mut self, t: f64) {
        self.update_hosts(t);
        if self.cfg.mode == Mode::CloudSim {
            self.retire_idle_vms();
        }
    }

    /// CloudSim 3.0.3 treats a VM whose CPU request is exactly zero at an update as finished and
    /// removes it from the data centre for the rest of the run (idle PlanetLab VMs thus disappear).
    /// Its published figures depend on this, so the CloudSim mode reproduces it.
    fn retire_idle_vms(&mut self) {
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

    fn update_hosts(&mut self, t: f64) {
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
    fn update_host(&mut self, h: usize, t: f64) {
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
        let mut host_req = 0.0;
        let n_res = self.hosts[h].vms.len();
        for (i, &(capped, role)) in shares_in.iter().enumerate() {
            let alloc = shares.grant(capped, role);
            host_req += requests[i];
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
    fn account_vm(
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
        let load = if running {
            self.world.cpu_fraction(vm, t, self.cfg.interval_s)
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

    /// Charges an interruption of `duration_s` ending at `t` to the VM's VNF.
    fn charge_incident(&mut self, vm: usize, duration_s: f64, t: f64) {
        let Some(f) = self.world.vms[vm].vnf else {
            return;
        };
        let load = self.world.cpu_fraction(vm, t, self.cfg.interval_s);
        let spec = &self.world.vnfs[f];
        let vt = &mut self.totals.vnf[f];
        let offered = spec.packets_per_s * load * duration_s;
        vt.downtime_s += duration_s;
        vt.interruptions += 1;
        vt.packets_offered += offered;
        vt.packets_lost += offered;
        vt.longest_incident_s = vt.longest_incident_s.max(duration_s);
        if duration_s * 1000.0 > spec.qos.max_downtime_ms {
            vt.qos_violation_s += duration_s;
        }
    }

    // ---------------------------------------------------------------- migrations

    fn start_migration(&mut self, vm: usize, to: usize, t: f64) {
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
    fn redirect_migration(&mut self, vm: usize, to: usize, t: f64) -> bool {
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
    fn reshare_bandwidth(&mut self, t: f64, new: Option<usize>) {
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

    fn complete_migration(&mut self, id: usize, t: f64) {
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
    fn abort_migration(&mut self, id: usize, t: f64) {
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

    // ---------------------------------------------------------------- faults and recovery

    fn crash_host(&mut self, h: usize, t: f64, record: Option<usize>) {
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
            self.take_down(vm, t);
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
    fn take_down(&mut self, vm: usize, t: f64) {
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

    fn restart_pending(&mut self, t: f64, policy: &mut dyn Policy) {
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
            self.vms[vm].requested_mips = self.world.cpu_fraction(vm, t, self.cfg.interval_s)
                * self.world.vms[vm].total_mips();
        }
        let mut obs = self.observation_with(false);
        obs.risks.clone_from(&self.last_risks);
        let placement = policy.place(&obs, &ready);
        drop(obs);
        let boot = self.world.recovery.boot_s;
        for (vm, host) in ready.into_iter().zip(placement) {
            let since = match self.vms[vm].status {
                VmStatus::Down { since } => since,
                _ => t,
            };
            match host.filter(|&h| self.hosts[h].up && self.memory_fits(h, vm)) {
                Some(h) => {
                    self.vms[vm].host = Some(h);
                    self.vms[vm].status = VmStatus::Booting {
                        since,
                        until: t + boot,
                    };
                    self.vms[vm].memory_used_mib = self.base_memory(vm, self.next_step);
                    self.vms[vm].leak = None; // the restart clears the leaking process
                    self.hosts[h].vms.push(vm);
                    self.push(t + boot, EventKind::BootDone { vm });
                }
                None => {
                    // Nowhere to go now: try again next interval.
                    self.restart_queue.push(vm);
                    self.push(t + self.cfg.interval_s, EventKind::Restart);
                }
            }
        }
    }

    fn base_memory(&self, vm: usize, step: usize) -> f64 {
        let spec = &self.world.vms[vm];
        spec.memory_mib
            * self
                .world
                .memory_fraction(vm, step)
                .unwrap_or(DEFAULT_MEMORY_USE)
    }

    fn memory_reserved(&self, h: usize) -> f64 {
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

    fn memory_fits(&self, h: usize, vm: usize) -> bool {
        if self.cfg.mode == Mode::CloudSim {
            return true;
        }
        let limit = self.world.hosts[h].memory_mib * self.cfg.memory_overcommit;
        self.memory_reserved(h) + self.world.vms[vm].memory_mib <= limit
    }

    /// Memory in use on a host (resident VMs; incoming VMs' pages land as they are copied and are
    /// counted at the switch-over).
    fn memory_used(&self, h: usize) -> f64 {
        self.hosts[h]
            .vms
            .iter()
            .map(|&v| self.vms[v].memory_used_mib)
            .sum()
    }

    fn refresh_memory(&mut self, step: usize) {
        for vm in 0..self.vms.len() {
            if self.vms[vm].host.is_some() {
                self.vms[vm].memory_used_mib = self.base_memory(vm, step);
            }
        }
        self.advance_memory(self.now);
    }

    /// Applies leak growth up to time `t`.
    fn advance_memory(&mut self, t: f64) {
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
    fn schedule_oom_checks(&mut self, t: f64) {
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
    fn kill_for_memory(&mut self, h: usize, t: f64) {
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
            vms_hit: 1,
        });
        if let Some(id) = self.vms[vm].migration {
            self.abort_migration(id, t);
        }
        self.totals.vms_crashed += 1;
        self.take_down(vm, t);
    }

    fn record_overloads(&mut self, t: f64) {
        for h in 0..self.hosts.len() {
            let over = self.hosts[h].up && self.hosts[h].requested_mips > self.host_capacity(h);
            if over && !self.hosts[h].overloaded {
                self.records.push(FaultRecord {
                    cause: FaultCause::Overload,
                    host: h,
                    vm: None,
                    onset_s: t,
                    strike_s: Some(t),
                    vnf_vms_hit: self.hosts[h]
                        .vms
                        .iter()
                        .filter(|&&v| self.world.vms[v].vnf.is_some())
                        .count() as u32,
                    vms_hit: self.hosts[h].vms.len() as u32,
                });
            }
            self.hosts[h].overloaded = over;
            if let Some(r) = self.hosts[h].degraded_record
                && self.records[r].strike_s.is_none()
            {
                let breach = self.hosts[h].vms.iter().any(|&v| {
                    self.world.vms[v].vnf.is_some_and(|f| {
                        self.vms[v]
                            .entry
                            .is_some_and(|e| e.latency_ms > self.world.vnfs[f].qos.max_latency_ms)
                    })
                });
                if breach {
                    self.records[r].strike_s = Some(t);
                }
            }
        }
    }

    /// Precursor signals: temperature follows load plus noise; corrected memory errors are rare on
    /// healthy hosts and climb before a hardware failure (or during a false alarm).
    fn update_precursors(&mut self, t: f64) {
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
            // A degrading DIMM: corrected errors accelerate and the host warms up until it fails.
            for p in &self.plan.crashes {
                if p.host == h && t >= p.onset_s && t < p.crash_s {
                    let progress = (t - p.onset_s) / (p.crash_s - p.onset_s).max(1.0);
                    temp += 8.0 * progress;
                    errors += (2.0 + 60.0 * progress * progress) * self.rng.random_range(0.5..1.5);
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

    // ---------------------------------------------------------------- observation and report

    /// The policy's view now.
    pub fn observation(&self) -> Observation {
        self.observation_with(false)
    }

    fn observation_with(&self, instantiating: bool) -> Observation {
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
                    latency_ms: 0.5 / (1.0 - (hs.requested_mips / cap).min(0.99)),
                }
            })
            .collect();
        let vms = (0..self.vms.len())
            .map(|vm| {
                let spec = &self.world.vms[vm];
                let s = &self.vms[vm];
                let full = spec.total_mips();
                let load = self.world.cpu_fraction(vm, self.now, self.cfg.interval_s);
                VmView {
                    host: s.host,
                    in_migration: s.migration.is_some(),
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
            risks: Vec::new(),
            migration_bandwidth_bps: self.world.hosts.iter().map(|h| h.nic_bps).collect(),
            instantiating: instantiating && cloudsim,
        }
    }

    /// The risks the predictor gave at the last decision point (empty without a predictor).
    pub fn last_risks(&self) -> &[HostRisk] {
        &self.last_risks
    }

    /// Ground truth recorded so far.
    pub fn fault_records(&self) -> &[FaultRecord] {
        &self.records
    }

    /// Checks the invariants every state must keep; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = vec![0u32; self.vms.len()];
        for (h, hs) in self.hosts.iter().enumerate() {
            for &vm in &hs.vms {
                seen[vm] += 1;
                if self.vms[vm].host != Some(h) {
                    return Err(format!(
                        "VM {vm} is listed on host {h} but thinks it is on {:?}",
                        self.vms[vm].host
                    ));
                }
            }
            for &vm in &hs.migrating_in {
                let ok = self.vms[vm]
                    .migration
                    .and_then(|id| self.migrations[id].as_ref())
                    .is_some_and(|m| m.to == h || m.also_to.contains(&h));
                if !ok {
                    return Err(format!(
                        "VM {vm} is migrating into host {h} without a migration"
                    ));
                }
            }
            let holds_vms = !hs.vms.is_empty() || !hs.migrating_in.is_empty();
            if !hs.up && holds_vms {
                return Err(format!("host {h} is down but holds VMs"));
            }
            if self.cfg.mode == Mode::Nfv {
                let physical = self.world.hosts[h].memory_mib;
                let used = self.memory_used(h);
                if used > physical + 1e-6 {
                    return Err(format!(
                        "host {h} uses {used:.0} MiB of {physical:.0} MiB physical memory"
                    ));
                }
                let reserved = self.memory_reserved(h);
                if reserved > physical * self.cfg.memory_overcommit + 1e-6 {
                    return Err(format!(
                        "host {h} reserves {reserved:.0} MiB, over its limit"
                    ));
                }
            }
        }
        for (vm, s) in self.vms.iter().enumerate() {
            match (s.host, seen[vm]) {
                (Some(_), 1) => {}
                (None, 0) if matches!(s.status, VmStatus::Down { .. } | VmStatus::Retired) => {}
                (host, n) => {
                    return Err(format!(
                        "VM {vm} ({:?}, host {host:?}) is listed on {n} hosts",
                        s.status
                    ));
                }
            }
        }
        Ok(())
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
        }
    }
}
