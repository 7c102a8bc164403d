//! The simulator as the controller's world (`driver = "sim"`, and `--demo`): each snapshot is one
//! simulated interval of a scenario, with the predictor's risks; a migration the daemon starts
//! through the [`SimDriver`] is handed to the simulator at its next decision point and ends when
//! the simulator completes it, with the simulator's own total time and pause.
//!
//! When an episode reaches its horizon the next one starts with the next seed, so a demo daemon
//! never runs dry; migrations in flight at that moment fail ("world reset").

use crate::core::Snapshot;
use crate::error::ControllerError;
use crate::world::World;
use promig_driver::{
    Driver, DriverError, MigrationHandle, MigrationRequest, MigrationStatus, Outcome, Progress,
    StartFuture,
};
use promig_model::{Decision, Observation};
use promig_policy::Policy;
use promig_predict::RiskPredictor;
use promig_sim::{SimConfig, Simulator};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{oneshot, watch};

/// Where one migration of the simulated world stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Accepted by the driver; the simulator takes it at its next decision point.
    Queued,
    /// Handed to the simulator in the step now running.
    Handing,
    /// Running in the simulator.
    Running {
        started_s: f64,
        expected_end_s: f64,
        downtime_s: f64,
    },
}

struct Entry {
    request: MigrationRequest,
    vm: usize,
    to: usize,
    phase: Phase,
    memory_mib: f64,
    cancel_requested: bool,
    progress: watch::Sender<Progress>,
    done: Option<oneshot::Sender<Result<Outcome, DriverError>>>,
}

impl Entry {
    /// Hands the outcome to the migration's handle; true the first time.
    fn finish(&mut self, result: Result<Outcome, DriverError>) -> bool {
        match self.done.take() {
            Some(done) => {
                let _ = done.send(result);
                true
            }
            None => false,
        }
    }
}

#[derive(Default)]
struct Shared {
    host_names: Arc<Vec<String>>,
    vm_names: Arc<Vec<String>>,
    entries: Vec<Entry>,
    /// Outcomes handed out so far (see [`World::migrations_ended`]).
    ended: u64,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Executes migrations in the simulated world.
pub struct SimDriver {
    shared: Arc<Mutex<Shared>>,
}

impl Driver for SimDriver {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn start(&self, request: MigrationRequest) -> StartFuture<'_> {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let mut s = lock(&shared);
            let vm = s.vm_names.iter().position(|n| *n == request.vm);
            let to = s.host_names.iter().position(|n| *n == request.destination);
            let (Some(vm), Some(to)) = (vm, to) else {
                return Err(DriverError::NotPrepared {
                    vm: request.vm,
                    destination: request.destination,
                });
            };
            if s.entries.iter().any(|e| e.vm == vm) {
                return Err(DriverError::MigrationFailed {
                    reason: format!("{} is already migrating", request.vm),
                    source_running: true,
                    cause: None,
                });
            }
            let name = request.vm.clone();
            let waiter = Arc::clone(&shared);
            let handle = MigrationHandle::spawn(name.clone(), |progress, mut cancel| {
                let (done_tx, done_rx) = oneshot::channel();
                s.entries.push(Entry {
                    request,
                    vm,
                    to,
                    phase: Phase::Queued,
                    memory_mib: 0.0,
                    cancel_requested: false,
                    progress,
                    done: Some(done_tx),
                });
                async move {
                    let mut done_rx = done_rx;
                    tokio::select! {
                        r = &mut done_rx => r.unwrap_or(Err(DriverError::TaskLost { vm: name })),
                        () = cancel.requested() => {
                            {
                                let mut s = lock(&waiter);
                                let i = s.entries.iter().position(|e| e.vm == vm);
                                match i {
                                    Some(i) if s.entries[i].phase == Phase::Queued => {
                                        s.entries.remove(i);
                                        return Ok(cancelled());
                                    }
                                    Some(i) => s.entries[i].cancel_requested = true,
                                    None => {}
                                }
                            }
                            done_rx.await.unwrap_or(Err(DriverError::TaskLost { vm: name }))
                        }
                    }
                }
            });
            Ok(handle)
        })
    }
}

fn cancelled() -> Outcome {
    Outcome {
        status: MigrationStatus::Cancelled,
        total_ms: 0.0,
        downtime_ms: 0.0,
        transferred_kib: 0.0,
        rounds: 0,
        command_latency_ms: 0.0,
        deadline_hit: false,
        cancel_requested: true,
        max_throttle_pct: 0,
    }
}

/// The policy the simulator sees: it records the observation and hands over the queued
/// migrations. The controller's own policy decides outside, on the recorded observation.
struct Relay {
    shared: Arc<Mutex<Shared>>,
    seen: Option<Observation>,
}

impl Policy for Relay {
    fn name(&self) -> String {
        "controller".into()
    }

    fn uses_predictions(&self) -> bool {
        true
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        let mut s = lock(&self.shared);
        settle(&mut s, obs);
        let mut out = Vec::new();
        for e in s.entries.iter_mut() {
            if e.phase == Phase::Queued {
                e.phase = Phase::Handing;
                e.memory_mib = obs.vms.get(e.vm).map_or(0.0, |v| v.memory_mib);
                out.push(Decision::migrate(e.vm, e.to).with_technique(e.request.params.technique));
            }
        }
        self.seen = Some(obs.clone());
        out
    }
}

/// Ends the running migrations the observation shows finished (VM on its destination) or
/// broken off (VM elsewhere or down).
fn settle(s: &mut Shared, obs: &Observation) {
    let mut ended = 0;
    s.entries.retain_mut(|e| {
        let Phase::Running {
            started_s,
            expected_end_s,
            downtime_s,
        } = e.phase
        else {
            return true;
        };
        let Some(v) = obs.vms.get(e.vm) else {
            ended += u64::from(e.finish(Err(lost("the VM left the simulated world"))));
            return false;
        };
        if v.in_migration {
            return true;
        }
        if v.host == Some(e.to) {
            let total_s = (expected_end_s.min(obs.time_s) - started_s).max(0.0);
            ended += u64::from(e.finish(Ok(Outcome {
                status: MigrationStatus::Completed,
                total_ms: total_s * 1000.0,
                downtime_ms: downtime_s * 1000.0,
                transferred_kib: e.memory_mib * 1024.0,
                rounds: 0,
                command_latency_ms: 0.0,
                deadline_hit: false,
                cancel_requested: e.cancel_requested,
                max_throttle_pct: 0,
            })));
        } else {
            ended += u64::from(e.finish(Err(DriverError::MigrationFailed {
                reason: "the simulated migration broke off (source or destination failed)".into(),
                source_running: v.host.is_some(),
                cause: None,
            })));
        }
        false
    });
    s.ended += ended;
}

fn lost(reason: &str) -> DriverError {
    DriverError::MigrationFailed {
        reason: reason.into(),
        source_running: false,
        cause: None,
    }
}

/// The simulated world.
pub struct SimWorld {
    world: Arc<promig_sim::World>,
    config: SimConfig,
    sim: Simulator,
    predictor: RiskPredictor,
    relay: Relay,
    shared: Arc<Mutex<Shared>>,
    episodes: u64,
    /// Simulated seconds of the episodes before this one: added to each snapshot's clock, so the
    /// controller's clock keeps running forward across episodes (plan ages, cooldowns and the
    /// journal's times would otherwise jump back a day at each restart).
    epoch_s: f64,
    /// Rack uplink capacities from the world's topology (fixed for a run).
    rack_uplink_bps: Arc<std::collections::BTreeMap<u32, f64>>,
}

impl SimWorld {
    /// A world over `world` run with `config` (its seed starts the first episode).
    pub fn new(world: Arc<promig_sim::World>, config: SimConfig) -> Result<Self, ControllerError> {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut relay = Relay {
            shared: Arc::clone(&shared),
            seen: None,
        };
        let sim = Simulator::new(Arc::clone(&world), config.clone(), &mut relay)
            .map_err(|e| ControllerError::World(e.to_string()))?;
        let predictor =
            promig_eval::default_predictor().map_err(|e| ControllerError::World(e.to_string()))?;
        let obs = sim.observation();
        {
            let mut s = lock(&shared);
            s.host_names = Arc::new(
                obs.hosts
                    .iter()
                    .map(|h| format!("host-{}", h.id.0))
                    .collect(),
            );
            s.vm_names = Arc::new(obs.vms.iter().map(|v| format!("vm-{}", v.id.0)).collect());
        }
        let rack_uplink_bps = Arc::new(world.topology.rack_uplink_bps());
        Ok(SimWorld {
            world,
            rack_uplink_bps,
            config,
            sim,
            predictor,
            relay,
            shared,
            episodes: 1,
            epoch_s: 0.0,
        })
    }

    /// The built-in default scenario (what `promig simulate` runs), seeded with `seed`.
    pub fn default_scenario(
        seed: u64,
        steps: Option<usize>,
        data: Option<&std::path::Path>,
    ) -> Result<Self, ControllerError> {
        let world_err = |e: &dyn std::fmt::Display| ControllerError::World(e.to_string());
        let file = promig_sim::scenario::default_scenario().map_err(|e| world_err(&e))?;
        let base = promig_model::data::dir(data).map_err(|e| world_err(&e))?;
        Self::from_scenario(&file, &base, seed, steps)
    }

    /// A scenario file's world.
    pub fn from_scenario(
        file: &promig_model::ScenarioFile,
        base: &std::path::Path,
        seed: u64,
        steps: Option<usize>,
    ) -> Result<Self, ControllerError> {
        let world_err = |e: &dyn std::fmt::Display| ControllerError::World(e.to_string());
        let world = promig_sim::scenario::build_world(file, base).map_err(|e| world_err(&e))?;
        let config =
            promig_sim::scenario::sim_config(file, base, seed, steps.unwrap_or(file.steps))
                .map_err(|e| world_err(&e))?;
        Self::new(Arc::new(world), config)
    }

    /// Decision points in one episode (the scenario's length).
    pub fn steps(&self) -> usize {
        self.config.steps
    }

    /// Episodes started so far (1 for the first).
    pub fn episodes(&self) -> u64 {
        self.episodes
    }

    fn restart(&mut self) -> Result<(), ControllerError> {
        let mut s = lock(&self.shared);
        let mut ended = 0;
        for e in s.entries.iter_mut() {
            ended += u64::from(e.finish(Err(lost("world reset: the simulated episode ended"))));
        }
        s.ended += ended;
        s.entries.clear();
        drop(s);
        self.config.seed += 1;
        self.sim = Simulator::new(
            Arc::clone(&self.world),
            self.config.clone(),
            &mut self.relay,
        )
        .map_err(|e| ControllerError::World(e.to_string()))?;
        self.predictor =
            promig_eval::default_predictor().map_err(|e| ControllerError::World(e.to_string()))?;
        self.episodes += 1;
        self.epoch_s += self.config.horizon_s();
        Ok(())
    }
}

impl World for SimWorld {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn next(&mut self) -> Result<Snapshot, ControllerError> {
        self.relay.seen = None;
        if !self
            .sim
            .step_with(&mut self.relay, Some(&mut self.predictor))
        {
            self.restart()?;
            self.sim
                .step_with(&mut self.relay, Some(&mut self.predictor));
        }
        let obs = self.relay.seen.take().ok_or_else(|| {
            ControllerError::World("the simulator stepped without a decision point".into())
        })?;
        let mut s = lock(&self.shared);
        let mut refused = 0;
        for e in s.entries.iter_mut() {
            if e.phase != Phase::Handing {
                continue;
            }
            match self.sim.in_flight(e.vm) {
                Some(f) if f.to == e.to => {
                    e.phase = Phase::Running {
                        started_s: f.started_s,
                        expected_end_s: f.expected_end_s,
                        downtime_s: f.downtime_s,
                    };
                    let bytes = (e.memory_mib * 1024.0 * 1024.0) as u64;
                    e.progress.send_replace(Progress {
                        elapsed_ms: 0.0,
                        status: MigrationStatus::Active,
                        remaining_bytes: bytes,
                        expected_downtime_ms: (f.downtime_s * 1000.0) as u64,
                        ..Progress::default()
                    });
                }
                _ => {
                    refused += u64::from(
                        e.finish(Err(DriverError::MigrationFailed {
                            reason:
                                "the simulator refused the move (capacity, host down or VM busy)"
                                    .into(),
                            source_running: true,
                            cause: None,
                        })),
                    );
                }
            }
        }
        s.ended += refused;
        s.entries.retain(|e| e.done.is_some());
        let mut obs = obs;
        obs.time_s += self.epoch_s;
        let snap = Snapshot {
            obs: Arc::new(obs),
            host_names: Arc::clone(&s.host_names),
            vm_names: Arc::clone(&s.vm_names),
            rack_uplink_bps: Arc::clone(&self.rack_uplink_bps),
            confidence: Arc::default(),
        };
        Ok(snap)
    }

    fn report(&self) -> Option<promig_sim::Report> {
        Some(self.sim.report())
    }

    fn migrations_ended(&self) -> Option<u64> {
        Some(lock(&self.shared).ended)
    }

    fn driver(&self) -> Arc<dyn Driver> {
        Arc::new(SimDriver {
            shared: Arc::clone(&self.shared),
        })
    }
}
