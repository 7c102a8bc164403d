//! Real hosts as the controller's world (`driver = "qemu"`): each snapshot scrapes every host's
//! node_exporter and asks every VM's QEMU over QMP where and how it runs, builds the same
//! [`Observation`] the simulator gives, and puts the shipped predictor's risks in it. Migrations
//! go through [`QemuWorldDriver`], which starts the destination's incoming QEMU itself and moves
//! the VM in the inventory when QEMU says it runs there.
//!
//! What a snapshot reads, per host: `node_edac_correctable_errors_total` (a rate, as corrected
//! errors per hour), the hottest `node_hwmon_temp_celsius`, `node_memory_MemAvailable_bytes` and
//! `node_cpu_seconds_total` (busy share); per VM: its host and state from `query-status` /
//! `query-migrate`, and its dirty rate from QEMU's `calc-dirty-rate` in `page-sampling` mode
//! (the `dirty-bitmap` mode crashes QEMU 7.2 under TCG), started at the end of one round and read
//! at the start of the next, so a round never waits for a measurement; and the CPU and resident
//! memory of its QEMU process (`/proc/<pid>`, the pid being the QMP socket's peer), which become
//! the VM's CPU demand, its utilisation history and its memory in use.
//!
//! Each host's prediction carries a [`Confidence`]: its four series and its VMs' process
//! readings, each fresh, stale (the exporter did not answer this round; the old value is in use)
//! or missing, so the API, the dashboard and `promig_host_prediction_confidence` show which
//! predictions stand on little data.
//!
//! Missing data never stops the loop: an unreachable exporter or a series it does not carry is
//! counted in [`QemuWorld::refusals`] by reason (and in the core's `telemetry_refused` metric
//! once [`Refusals::export_to`] links them) and logged, once per reason at warning level; the
//! host's signal stays neutral (a
//! host unreachable for [`DOWN_AFTER_FAILURES`] scrapes in a row is reported down), and a round
//! with no exporter answering at all is an error for that round only.
//!
//! A configuration (the test bed's, in `tests/e2e_qemu.rs`, starts QEMU the same way):
//!
//! ```toml
//! [controller]
//! driver = "qemu"
//! policy = "proactive-greedy"
//! calibration = "kvm"
//! # Must return once the incoming QEMU runs (-daemonize, systemd-run, ssh ...).
//! incoming_command = "ssh {address} /usr/local/bin/start-incoming {vm} {memory_mib} {qmp}"
//! incoming_qmp = "/run/promig/{vm}@{host}.qmp"
//!
//! [[host]]
//! name = "compute-1"
//! migration_address = "10.0.0.1"
//! exporter = "http://10.0.0.1:9100/metrics"
//! memory_mib = 262144
//! cores = 64
//! link_mbps = 10000
//!
//! [[vm]]
//! name = "fw-1"
//! host = "compute-1"
//! qmp = "/run/promig/fw-1@compute-1.qmp"
//! memory_mib = 4096
//! vnf = "firewall"
//! max_downtime_ms = 50
//! ```
//!
//! QMP sockets are paths on the controller's machine: the controller runs where it can reach
//! them (on one host in the test bed; through a forwarded socket, e.g. `ssh -L`, elsewhere).
//!
//! Where a VM runs is QEMU's word, not the journal's: a VM with no live session is looked for at
//! its configured socket and at its incoming socket on every host, so after a controller crash
//! mid-migration the first snapshot tells the core whether the move completed (the VM runs on
//! the destination), failed (on the source), or still runs (`in_migration`).

pub mod driver;
pub mod exporter;
pub mod inventory;
pub mod process;

use crate::confidence::{Confidence, InputState};
use crate::config::ControllerConfig;
use crate::core::Snapshot;
use crate::error::ControllerError;
use crate::metrics::ReasonLabel;
use crate::world::World;
pub use driver::QemuWorldDriver;
use exporter::{HostTelemetry, split_url};
use inventory::{Inventory, Shared, connect, lock, nobody_there, probe, quit};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use promig_driver::{Driver, QemuDriver, QmpClient, RunState};
use promig_model::observation::response_time_ms;
use promig_model::{HISTORY_LEN, HostId, HostView, Observation, PowerCurve, Qos, VmId, VmView};
use promig_predict::Predictor;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Failed scrapes in a row after which a host counts as down (a single lost scrape is noise; a
/// host whose exporter stays silent for three rounds has most likely failed).
pub const DOWN_AFTER_FAILURES: u32 = 3;

/// Longest wait for one exporter page.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// Capacity of one core in the observation's units (real hosts report shares, not MIPS).
const MIPS_PER_CORE: f64 = 1000.0;

/// CPU a VM is assumed to request until its QEMU process has been metered twice (or when it
/// cannot be: a relayed socket): a tenth of a core, a nominal demand that keeps the overload and
/// latency models quiet rather than inventing load. The host's confidence shows the gap.
const VM_REQUESTED_MIPS: f64 = 100.0;

/// Dirty-rate measurement window, seconds (QEMU 7.2 counts it in whole seconds).
const DIRTY_RATE_CALC_S: u64 = 1;

/// Refused or missing telemetry, counted by reason: readable here (tests, logs) and, once
/// [`Refusals::export_to`] has been called, in the daemon's `telemetry_refused` metric too, so an
/// operator's alert on that metric covers the real-host world without the daemon knowing it.
#[derive(Default)]
pub struct Refusals {
    counts: Mutex<BTreeMap<String, u64>>,
    family: Mutex<Option<Family<ReasonLabel, Counter>>>,
}

impl Refusals {
    /// Counts so far, by reason.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// From now on every refusal also increments `family` (the core's
    /// `metrics.telemetry_refused`); the counts so far are added at once.
    pub fn export_to(&self, family: Family<ReasonLabel, Counter>) {
        for (reason, n) in self.counts() {
            family.get_or_create(&ReasonLabel { reason }).inc_by(n);
        }
        *self.family.lock().unwrap_or_else(|p| p.into_inner()) = Some(family);
    }

    /// Counts one refusal; returns how many of that reason came before.
    fn count(&self, reason: &str) -> u64 {
        let before = {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(reason.to_string()).or_default();
            *n += 1;
            *n - 1
        };
        if let Some(f) = &*self.family.lock().unwrap_or_else(|p| p.into_inner()) {
            f.get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
        }
        before
    }
}

/// The real-host world.
pub struct QemuWorld {
    shared: Shared,
    qemu: Arc<QemuDriver>,
    telemetry: Vec<HostTelemetry>,
    failures: Vec<u32>,
    targets: Vec<(String, String)>,
    predictor: Box<dyn Predictor>,
    last_round: Option<Instant>,
    refusals: Arc<Refusals>,
}

impl QemuWorld {
    /// The world of a checked configuration whose driver is `qemu`, with the shipped predictor.
    pub fn new(cfg: &ControllerConfig) -> Result<Self, ControllerError> {
        let predictor =
            promig_eval::default_predictor().map_err(|e| ControllerError::World(e.to_string()))?;
        Self::with_predictor(cfg, Box::new(predictor))
    }

    /// The same with another predictor (tests, or a retrained model).
    pub fn with_predictor(
        cfg: &ControllerConfig,
        predictor: Box<dyn Predictor>,
    ) -> Result<Self, ControllerError> {
        let targets = cfg
            .hosts
            .iter()
            .map(|h| {
                split_url(&h.exporter).ok_or_else(|| {
                    ControllerError::World(format!(
                        "host {}: exporter {:?} is not an http://host:port/path URL",
                        h.name, h.exporter
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = cfg.hosts.len();
        Ok(QemuWorld {
            shared: Arc::new(Mutex::new(Inventory::from_config(cfg))),
            qemu: Arc::new(QemuDriver::new()),
            telemetry: (0..n).map(|_| HostTelemetry::default()).collect(),
            failures: vec![DOWN_AFTER_FAILURES; n],
            targets,
            predictor,
            last_round: None,
            refusals: Arc::default(),
        })
    }

    /// Counts of refused or missing telemetry by reason (`unreachable:<host>`,
    /// `missing:<host>:<series>`, `qmp:<vm>`, `dirty-rate:<vm>`, `process:<vm>`), shared: it stays readable
    /// after the world is handed to the daemon.
    pub fn refusals(&self) -> Arc<Refusals> {
        Arc::clone(&self.refusals)
    }

    /// Where each VM runs now, by name (for logs and tests).
    pub fn placement(&self) -> BTreeMap<String, Option<String>> {
        let inv = lock(&self.shared);
        inv.vms
            .iter()
            .map(|v| {
                let host = v.alive.then(|| inv.hosts[v.host].name.clone());
                (v.entry.name.clone(), host)
            })
            .collect()
    }

    /// Counts one refusal; the first of each reason is a warning, repeats are debug lines (a
    /// host without EDAC lacks that series every round, and the log must stay readable).
    fn refuse(&self, reason: String) {
        if self.refusals.count(&reason) == 0 {
            tracing::warn!(%reason, "telemetry refused (repeats are logged at debug level)");
        } else {
            tracing::debug!(%reason, "telemetry refused");
        }
    }

    /// Scrapes every exporter at once. A host that never answered counts as down until it does
    /// (a host the controller knows nothing about is no place to move a VM to).
    async fn scrape_all(&mut self) {
        let mut tasks = Vec::new();
        for (addr, path) in &self.targets {
            let (addr, path) = (addr.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                exporter::scrape(&addr, &path, SCRAPE_TIMEOUT).await
            }));
        }
        let names: Vec<String> = lock(&self.shared)
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .collect();
        for (h, task) in tasks.into_iter().enumerate() {
            let result = task
                .await
                .unwrap_or_else(|e| Err(format!("scrape task: {e}")));
            match result {
                Ok(sample) => {
                    for series in sample.missing() {
                        self.refuse(format!("missing:{}:{series}", names[h]));
                    }
                    self.telemetry[h].update(Instant::now(), sample);
                    self.failures[h] = 0;
                }
                Err(e) => {
                    tracing::debug!(host = %names[h], error = %e, "scrape failed");
                    self.refuse(format!("unreachable:{}", names[h]));
                    self.telemetry[h].unanswered();
                    self.failures[h] = self.failures[h].saturating_add(1);
                }
            }
        }
    }

    /// Brings every VM's location, liveness and dirty rate up to date.
    async fn refresh_vms(&mut self) {
        let n = lock(&self.shared).vms.len();
        for vm in 0..n {
            let (client, migrating, name) = {
                let inv = lock(&self.shared);
                let v = &inv.vms[vm];
                (
                    v.client.clone(),
                    v.migrating_to.is_some(),
                    v.entry.name.clone(),
                )
            };
            if migrating {
                continue; // the driver holds both sides and settles it
            }
            let probed = match &client {
                Some(c) => probe(c).await.ok(),
                None => None,
            };
            match probed {
                Some((state, mig)) if state != RunState::Postmigrate => {
                    let recheck = {
                        let mut inv = lock(&self.shared);
                        let v = &mut inv.vms[vm];
                        v.alive = is_live(&state);
                        v.external_migration = migration_active(&mig);
                        v.recheck
                    };
                    if recheck && let Some(c) = client {
                        let (host, path) = {
                            let inv = lock(&self.shared);
                            (inv.vms[vm].host, inv.vms[vm].qmp.clone())
                        };
                        self.locate(vm, &name, Some((host, path, c, state, mig)))
                            .await;
                    }
                }
                Some((state, mig)) => {
                    // A stopped source: the VM runs elsewhere now. This session is the only
                    // one QEMU serves, so it goes into the search as it is (and asks that
                    // copy to exit once the live one is found).
                    let host = {
                        let mut inv = lock(&self.shared);
                        inv.vms[vm].client = None;
                        (inv.vms[vm].host, inv.vms[vm].qmp.clone())
                    };
                    let stale = client.map(|c| (host.0, host.1, c, state, mig));
                    self.locate(vm, &name, stale).await;
                }
                None => {
                    lock(&self.shared).vms[vm].client = None;
                    drop(client);
                    self.locate(vm, &name, None).await;
                }
            }
            self.dirty_rate(vm, &name).await;
            self.meter(vm, &name).await;
        }
    }

    /// Reads VM `vm`'s QEMU process (CPU seconds, resident memory); on a new process also its
    /// vCPU count. A VM that is down or not metered this round keeps no figure.
    async fn meter(&self, vm: usize, name: &str) {
        let client = {
            let mut inv = lock(&self.shared);
            let v = &mut inv.vms[vm];
            match &v.client {
                Some(c) if v.alive => Arc::clone(c),
                _ => {
                    v.meter.clear();
                    return;
                }
            }
        };
        let Some(pid) = client.peer_pid() else {
            self.refuse(format!("process:{name}"));
            lock(&self.shared).vms[vm].meter.clear();
            return;
        };
        match process::read(pid) {
            Ok(sample) => {
                let new_process = lock(&self.shared).vms[vm].meter.pid() != Some(pid);
                let vcpus = if new_process {
                    match client
                        .execute("query-cpus-fast", serde_json::Value::Null)
                        .await
                    {
                        Ok(r) => r.as_array().map(|a| a.len() as u32).filter(|&n| n > 0),
                        Err(_) => None,
                    }
                } else {
                    None
                };
                let mut inv = lock(&self.shared);
                let v = &mut inv.vms[vm];
                if new_process {
                    v.vcpus = vcpus;
                }
                v.meter.update(pid, Instant::now(), sample);
            }
            Err(e) => {
                tracing::debug!(vm = name, pid, reason = %e, "QEMU process not metered");
                self.refuse(format!("process:{name}"));
                lock(&self.shared).vms[vm].meter.clear();
            }
        }
    }

    /// Looks for VM `vm` at every socket it may have; keeps a session to the QEMU that runs it
    /// and asks stopped leftovers (a completed migration's source) to exit. `known` is a QEMU
    /// already probed through a session of ours: QMP serves one client at a time, so its socket
    /// cannot be opened a second time.
    async fn locate(&self, vm: usize, name: &str, known: Option<Found>) {
        let candidates = lock(&self.shared).candidates(vm);
        let mut found: Vec<Found> = known.into_iter().collect();
        let mut unchecked = false;
        for (host, path) in candidates {
            if found.iter().any(|f| f.1 == path) {
                continue;
            }
            let client = match connect(&path, name).await {
                Ok(c) => c,
                Err(e) => {
                    unchecked |= !nobody_there(&e);
                    continue;
                }
            };
            match probe(&client).await {
                Ok((state, mig)) => found.push((host, path, client, state, mig)),
                Err(_) => unchecked = true,
            }
        }
        let states: Vec<(RunState, &str)> =
            found.iter().map(|f| (f.3.clone(), f.4.as_str())).collect();
        let (keep, leftovers) = choose(&states);
        {
            let mut inv = lock(&self.shared);
            let v = &mut inv.vms[vm];
            match keep {
                Some(k) => {
                    let f = &found[k];
                    v.host = f.0;
                    v.qmp = f.1.clone();
                    v.client = Some(Arc::clone(&f.2));
                    v.alive = is_live(&f.3);
                    v.external_migration = migration_active(&f.4);
                }
                None => {
                    v.alive = false;
                    v.external_migration = false;
                }
            }
        }
        if keep.is_none() {
            self.refuse(format!("qmp:{name}"));
        }
        for i in leftovers {
            let f = &found[i];
            tracing::info!(vm = name, host = f.0, state = %f.3, "asking a leftover QEMU to exit");
            unchecked |= !quit(&f.2).await;
        }
        lock(&self.shared).vms[vm].recheck = unchecked && keep.is_some();
    }

    /// Reads the last dirty-rate measurement and starts the next one.
    async fn dirty_rate(&self, vm: usize, name: &str) {
        let (client, pending) = {
            let inv = lock(&self.shared);
            let v = &inv.vms[vm];
            match &v.client {
                Some(c) if v.alive && !v.external_migration && v.migrating_to.is_none() => {
                    (Arc::clone(c), v.dirty_rate_pending)
                }
                _ => return,
            }
        };
        let mut still_pending = pending;
        if pending {
            match client
                .execute("query-dirty-rate", serde_json::Value::Null)
                .await
            {
                Ok(r) if r["status"].as_str() == Some("measured") => {
                    // MiB/s to 4 KiB pages/s.
                    let pages = r["dirty-rate"].as_f64().unwrap_or(0.0) * 256.0;
                    lock(&self.shared).vms[vm].dirty_pages_per_s = pages;
                    still_pending = false;
                }
                Ok(_) => {} // still measuring
                Err(_) => {
                    self.refuse(format!("dirty-rate:{name}"));
                    still_pending = false;
                }
            }
        }
        if !still_pending {
            let args = json!({ "calc-time": DIRTY_RATE_CALC_S, "mode": "page-sampling" });
            still_pending = match client.execute("calc-dirty-rate", args).await {
                Ok(_) => true,
                Err(_) => {
                    self.refuse(format!("dirty-rate:{name}"));
                    false
                }
            };
        }
        lock(&self.shared).vms[vm].dirty_rate_pending = still_pending;
    }

    /// The observation of the data centre as the last scrape and probes left it.
    fn observation(&mut self, interval_s: f64) -> Observed {
        let inv = lock(&self.shared);
        let now = Instant::now();
        let round_start = self.last_round.unwrap_or(now);
        let mut confidence = Vec::with_capacity(inv.hosts.len());
        let time_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut vnf_names: Vec<String> = Vec::new();
        let mut vnf_qos: Vec<Qos> = Vec::new();
        let mut vms = Vec::with_capacity(inv.vms.len());
        for (i, v) in inv.vms.iter().enumerate() {
            let vnf =
                v.entry
                    .vnf
                    .as_ref()
                    .map(|name| match vnf_names.iter().position(|n| n == name) {
                        Some(f) => {
                            let q = &mut vnf_qos[f];
                            q.max_downtime_ms = q.max_downtime_ms.min(v.entry.max_downtime_ms);
                            f
                        }
                        None => {
                            vnf_names.push(name.clone());
                            vnf_qos.push(Qos {
                                max_downtime_ms: v.entry.max_downtime_ms,
                                ..Qos::default()
                            });
                            vnf_names.len() - 1
                        }
                    });
            let vcpus = v.vcpus.unwrap_or(1).max(1);
            let capacity_mips = f64::from(vcpus) * MIPS_PER_CORE;
            let m = &v.meter;
            let requested_mips = m.cores.map_or(VM_REQUESTED_MIPS, |c| c * MIPS_PER_CORE);
            let mut history = [VM_REQUESTED_MIPS / capacity_mips; HISTORY_LEN];
            let mut history_len = 1;
            if m.len > 0 {
                for (h, cores) in history.iter_mut().zip(&m.history[..m.len]) {
                    *h = (cores * MIPS_PER_CORE / capacity_mips).clamp(0.0, 1.0);
                }
                history_len = m.len;
            }
            vms.push(VmView {
                id: VmId(i as u32),
                host: v.alive.then_some(v.host),
                in_migration: v.migrating_to.is_some() || v.external_migration,
                booting: false,
                vcpus,
                mips_per_vcpu: MIPS_PER_CORE,
                memory_mib: v.entry.memory_mib,
                memory_reserved_mib: v.entry.memory_mib,
                nic_reserved_bps: 0.0,
                memory_used_mib: m
                    .rss_mib
                    .map_or(v.entry.memory_mib, |r| r.min(v.entry.memory_mib)),
                requested_mips,
                allocated_mips: requested_mips,
                history,
                history_len,
                dirty_pages_per_s: v.dirty_pages_per_s,
                vnf,
            });
        }
        let mut hosts = Vec::with_capacity(inv.hosts.len());
        for (h, entry) in inv.hosts.iter().enumerate() {
            let up = self.failures[h] < DOWN_AFTER_FAILURES;
            let resident: Vec<usize> = (0..vms.len()).filter(|&v| vms[v].host == Some(h)).collect();
            let incoming: Vec<usize> = inv
                .vms
                .iter()
                .enumerate()
                .filter(|(_, v)| v.migrating_to == Some(h))
                .map(|(i, _)| i)
                .collect();
            let reserved: f64 = resident
                .iter()
                .chain(&incoming)
                .map(|&v| vms[v].memory_reserved_mib)
                .sum();
            let total_mips = entry.cores as f64 * MIPS_PER_CORE;
            let requested: f64 = resident.iter().map(|&v| vms[v].requested_mips).sum();
            let sig = if up {
                self.telemetry[h].signals
            } else {
                exporter::Signals::default()
            };
            let series = exporter::SERIES
                .iter()
                .map(|s| s.to_string())
                .zip(self.telemetry[h].series(now));
            let processes = resident.iter().map(|&v| {
                let m = &inv.vms[v].meter;
                let state = match (m.cores, m.read_at) {
                    (Some(_), Some(t)) if t >= round_start => InputState::Fresh,
                    (Some(_), Some(t)) => InputState::Stale(now.duration_since(t).as_secs_f64()),
                    _ => InputState::Missing,
                };
                (format!("{}:qemu-process", inv.vms[v].entry.name), state)
            });
            confidence.push(Confidence::of(series.chain(processes)));
            hosts.push(HostView {
                id: HostId(h as u32),
                type_id: 0,
                up,
                cores: entry.cores,
                mips_per_core: MIPS_PER_CORE,
                total_mips,
                nominal_mips: total_mips,
                memory_mib: entry.memory_mib,
                memory_reserved_mib: reserved,
                physical_memory_mib: entry.memory_mib,
                nic_bps: entry.link_mbps * 1e6,
                power: PowerCurve::HP_ML110_G5,
                rack: entry.rack,
                utilization: sig.utilization,
                requested_mips: requested,
                vms: resident,
                migrating_in: incoming,
                corrected_errors_per_h: sig.corrected_errors_per_h,
                temperature_c: sig.temperature_c,
                latency_ms: response_time_ms(requested / total_mips.max(1.0)),
            });
        }
        let obs = Observation {
            time_s,
            interval_s,
            migration_bandwidth_bps: inv.hosts.iter().map(|h| h.link_mbps * 1e6).collect(),
            hosts,
            vms,
            vnf_qos,
            chains: Vec::new(),
            risks: Vec::new(),
            instantiating: false,
        };
        let host_names = inv.hosts.iter().map(|h| h.name.clone()).collect();
        let vm_names = inv.vms.iter().map(|v| v.entry.name.clone()).collect();
        Observed {
            obs,
            host_names,
            vm_names,
            confidence,
        }
    }

    async fn round(&mut self) -> Result<Snapshot, ControllerError> {
        let now = Instant::now();
        let interval_s = self
            .last_round
            .map_or(1.0, |t| now.duration_since(t).as_secs_f64().max(1e-3));
        self.last_round = Some(now);
        self.scrape_all().await;
        self.refresh_vms().await;
        if self.failures.iter().all(|&f| f > 0) {
            return Err(ControllerError::World(
                "no node_exporter answered this round".into(),
            ));
        }
        let Observed {
            mut obs,
            host_names,
            vm_names,
            confidence,
        } = self.observation(interval_s);
        obs.risks = self.predictor.predict(&obs);
        Ok(Snapshot {
            obs: Arc::new(obs),
            host_names: Arc::new(host_names),
            vm_names: Arc::new(vm_names),
            confidence: Arc::new(confidence),
            // The inventory names each host's link, not the racks' uplinks: the dashboard shows
            // rack traffic without a capacity ("capacity not reported").
            rack_uplink_bps: Arc::new(std::collections::BTreeMap::new()),
        })
    }
}

/// One round's view before prediction: the observation, its names, and each host's confidence.
struct Observed {
    obs: Observation,
    host_names: Vec<String>,
    vm_names: Vec<String>,
    confidence: Vec<Confidence>,
}

/// A QEMU found for a VM: host index, QMP path, session, run state, `query-migrate` status.
type Found = (usize, std::path::PathBuf, Arc<QmpClient>, RunState, String);

/// Given the QEMUs found for one VM (run state, `query-migrate` status), which one the VM runs
/// on, and which are leftovers to ask to exit.
///
/// The VM runs on a live QEMU with no migration in flight (a destination that completed may say
/// so while its source is still in `finish-migrate`); else on a live source still migrating;
/// else on a source stopped for the switch-over. Only next to a settled live copy is any stopped
/// copy a leftover: the source of a move that completed while no controller watched
/// (`postmigrate`, or `finish-migrate` when its destination already runs), or a destination whose
/// migration never came (`inmigrate`). A second live copy is never touched, and nothing is while
/// a migration (post-copy included) is still in flight.
fn choose(found: &[(RunState, &str)]) -> (Option<usize>, Vec<usize>) {
    let settled_live = found
        .iter()
        .position(|(s, m)| is_live(s) && !migration_active(m));
    let keep = settled_live
        .or_else(|| found.iter().position(|(s, _)| is_live(s)))
        .or_else(|| {
            found
                .iter()
                .position(|(s, m)| migration_active(m) && *s != RunState::Inmigrate)
        });
    let leftovers = match settled_live {
        Some(k) => (0..found.len())
            .filter(|&i| i != k && !is_live(&found[i].0))
            .collect(),
        None => Vec::new(),
    };
    (keep, leftovers)
}

/// A QEMU that runs the guest (paused counts: the guest exists there and resumes there).
fn is_live(state: &RunState) -> bool {
    matches!(state, RunState::Running | RunState::Paused)
}

/// Whether `query-migrate`'s status is a migration in flight.
fn migration_active(status: &str) -> bool {
    matches!(
        status,
        "setup"
            | "active"
            | "postcopy-active"
            | "postcopy-paused"
            | "postcopy-recover"
            | "pre-switchover"
            | "device"
            | "wait-unplug"
    )
}

impl World for QemuWorld {
    fn name(&self) -> &'static str {
        "qemu"
    }

    /// Blocks on the runtime the daemon runs on (it calls this inside `block_in_place`); the
    /// QMP sessions live on that runtime between rounds.
    fn next(&mut self) -> Result<Snapshot, ControllerError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            ControllerError::World("the qemu world must be driven from a tokio runtime".into())
        })?;
        rt.block_on(self.round())
    }

    fn driver(&self) -> Arc<dyn Driver> {
        Arc::new(QemuWorldDriver {
            shared: Arc::clone(&self.shared),
            qemu: Arc::clone(&self.qemu),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-page exporter on a loopback port: answers every request with `body`.
    async fn exporter(body: &'static str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\r\n{body}"
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        port
    }

    fn config(port_a: u16, port_b: u16) -> ControllerConfig {
        let text = format!(
            r#"
[controller]
driver = "qemu"
incoming_command = "true {{qmp}}"
incoming_qmp = "/nonexistent/{{vm}}@{{host}}.qmp"

[[host]]
name = "a"
migration_address = "127.0.0.1"
exporter = "http://127.0.0.1:{port_a}/metrics"
memory_mib = 4096
cores = 4

[[host]]
name = "b"
migration_address = "127.0.0.1"
exporter = "http://127.0.0.1:{port_b}/metrics"
memory_mib = 4096
cores = 4

[[vm]]
name = "fw1"
host = "a"
qmp = "/nonexistent/fw1.qmp"
memory_mib = 512
vnf = "firewall"
max_downtime_ms = 80
"#
        );
        ControllerConfig::parse(&text, Path::new("t.toml")).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_exporters_and_vms_are_counted_not_fatal() {
        let port_a = exporter(
            "node_edac_correctable_errors_total{controller=\"0\"} 4\n\
             node_hwmon_temp_celsius{chip=\"c\",sensor=\"t\"} 61\n\
             node_memory_MemAvailable_bytes 2147483648\n",
        )
        .await;
        // Nothing listens on port 1: host b's exporter is unreachable.
        let mut world = QemuWorld::new(&config(port_a, 1)).unwrap();
        let snap = tokio::task::block_in_place(|| world.next()).unwrap();
        let obs = &snap.obs;
        assert_eq!(snap.host_names.as_slice(), ["a", "b"]);
        assert!(obs.hosts[0].up, "a answers");
        assert!(
            !obs.hosts[1].up,
            "b never answered: down, not a destination"
        );
        assert_eq!(obs.hosts[0].temperature_c, 61.0);
        assert_eq!(obs.vms[0].host, None, "no QEMU answers for fw1");
        assert_eq!(obs.vnf_qos[0].max_downtime_ms, 80.0);
        assert_eq!(obs.risks.len(), 2);
        let a = &snap.confidence[0];
        assert_eq!(a.missing, ["node_cpu_seconds_total"], "{a:?}");
        assert_eq!(a.fraction, 0.75);
        let b = &snap.confidence[1];
        assert_eq!((b.fraction, b.missing.len()), (0.0, 4), "{b:?}");
        for _ in 0..2 {
            tokio::task::block_in_place(|| world.next()).unwrap();
        }
        let family = Family::<ReasonLabel, Counter>::default();
        world.refusals().export_to(family.clone());
        tokio::task::block_in_place(|| world.next()).unwrap();
        let reason = |r: &str| ReasonLabel { reason: r.into() };
        assert_eq!(family.get_or_create(&reason("unreachable:b")).get(), 4);
        let r = world.refusals().counts();
        assert_eq!(r.get("unreachable:b"), Some(&4), "{r:?}");
        assert_eq!(r.get("missing:a:node_cpu_seconds_total"), Some(&4), "{r:?}");
        assert_eq!(r.get("qmp:fw1"), Some(&4), "{r:?}");
    }

    #[test]
    fn the_vm_is_where_a_settled_copy_runs_and_stopped_copies_beside_it_are_leftovers() {
        use RunState::*;
        // Mid-migration: stay on the source, touch nothing.
        assert_eq!(
            choose(&[(Running, "active"), (Inmigrate, "active")]),
            (Some(0), vec![])
        );
        // The destination already completed while the source is still switching over.
        assert_eq!(
            choose(&[(FinishMigrate, "active"), (Running, "completed")]),
            (Some(1), vec![0])
        );
        // Both report running for a moment: the completed destination wins, nothing is quit.
        assert_eq!(
            choose(&[(Running, "active"), (Running, "completed")]),
            (Some(1), vec![])
        );
        // Completed long ago; and a cancelled move leaves a waiting destination behind.
        assert_eq!(
            choose(&[(Postmigrate, "completed"), (Running, "completed")]),
            (Some(1), vec![0])
        );
        assert_eq!(
            choose(&[(Running, "cancelled"), (Inmigrate, "setup")]),
            (Some(0), vec![1])
        );
        // Post-copy: the destination runs but still pulls pages; the source must stay.
        assert_eq!(
            choose(&[
                (Postmigrate, "postcopy-active"),
                (Running, "postcopy-active")
            ]),
            (Some(1), vec![])
        );
        // Stopped for the switch-over, nothing running yet; nothing found at all.
        assert_eq!(
            choose(&[(FinishMigrate, "active"), (Inmigrate, "active")]),
            (Some(0), vec![])
        );
        assert_eq!(choose(&[]), (None, vec![]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_exporter_that_stops_answering_leaves_stale_inputs_and_lower_confidence() {
        let full = "node_edac_correctable_errors_total 1\n\
                    node_hwmon_temp_celsius 50\n\
                    node_memory_MemAvailable_bytes 1e9\n\
                    node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 5\n";
        let port_a = exporter(full).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port_b = listener.local_addr().unwrap().port();
        let serving = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let reply = format!("HTTP/1.0 200 OK\r\n\r\n{full}");
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        let mut world = QemuWorld::new(&config(port_a, port_b)).unwrap();
        let snap = tokio::task::block_in_place(|| world.next()).unwrap();
        assert_eq!(snap.confidence[1].fraction, 1.0, "{:?}", snap.confidence[1]);
        serving.abort();
        let _ = serving.await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let snap = tokio::task::block_in_place(|| world.next()).unwrap();
        let b = &snap.confidence[1];
        assert!(snap.obs.hosts[1].up, "one lost scrape is not a failure");
        assert_eq!(b.stale.len(), 4, "{b:?}");
        assert!(b.stale.iter().all(|s| s.age_s >= 0.3), "{b:?}");
        assert!(b.fraction < 1.0 && b.fraction > 0.99, "{b:?}");
        assert_eq!(snap.confidence[0].fraction, 1.0, "a still answers");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_with_no_exporter_answering_is_an_error() {
        let mut world = QemuWorld::new(&config(1, 1)).unwrap();
        assert!(tokio::task::block_in_place(|| world.next()).is_err());
    }
}
