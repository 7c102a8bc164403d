//! Where each VM runs, as the world knows it: the host, the QMP socket of its live QEMU (and the
//! one session open to it: QMP serves one client at a time), whether a migration of it is in
//! flight, and its last measured dirty rate. The world reads it to build snapshots; the driver
//! changes it when a migration ends. Shared behind one lock never held across an `await`.

use super::process::ProcessMeter;
use crate::config::{ControllerConfig, HostEntry, VmEntry};
use promig_driver::{DriverError, QmpClient, RunState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a QMP command of the world (status, dirty rate, quit) may take: a hung QEMU must not
/// hold a decision round for QmpClient's default ten seconds.
pub const QMP_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a connection to an existing socket may take (QEMU answers at once when alive).
pub const QMP_CONNECT_WAIT: Duration = Duration::from_millis(500);

/// One VM.
pub struct VmState {
    /// Its inventory entry.
    pub entry: VmEntry,
    /// Index of the host it runs on (last known).
    pub host: usize,
    /// QMP socket of the QEMU that runs it.
    pub qmp: PathBuf,
    /// The open session to that QEMU, if connected.
    pub client: Option<Arc<QmpClient>>,
    /// Whether the last status query found it alive (running or paused).
    pub alive: bool,
    /// Destination host index while a migration is in flight.
    pub migrating_to: Option<usize>,
    /// Pages dirtied per second, as QEMU last measured them (0 until measured).
    pub dirty_pages_per_s: f64,
    /// A dirty-rate measurement was started and not yet read.
    pub dirty_rate_pending: bool,
    /// QEMU reports a migration this driver did not start (one a previous controller process
    /// started before it died): the VM is `in_migration` until it ends.
    pub external_migration: bool,
    /// The last search could not check every other socket of this VM (a QEMU that did not
    /// answer, or a leftover that did not quit): search again next round, so a stopped copy is
    /// never forgotten.
    pub recheck: bool,
    /// Its QEMU process's CPU and memory, metered every round.
    pub meter: ProcessMeter,
    /// vCPUs of its QEMU (`query-cpus-fast`), read once per process.
    pub vcpus: Option<u32>,
}

/// Hosts and VMs.
pub struct Inventory {
    /// Hosts, in configuration order (the observation's indices).
    pub hosts: Vec<HostEntry>,
    /// VMs, in configuration order.
    pub vms: Vec<VmState>,
    /// Template of an incoming QEMU's QMP path.
    pub incoming_qmp: String,
    /// Template of the command that starts an incoming QEMU.
    pub incoming_command: String,
}

/// The inventory shared by the world and its driver.
pub type Shared = Arc<Mutex<Inventory>>;

/// Locks the inventory. A panic while holding it leaves plain data behind; keep serving it.
pub fn lock(shared: &Mutex<Inventory>) -> MutexGuard<'_, Inventory> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inventory {
    /// The inventory of a checked configuration (driver `qemu`).
    pub fn from_config(cfg: &ControllerConfig) -> Self {
        let vms = cfg
            .vms
            .iter()
            .map(|v| VmState {
                entry: v.clone(),
                host: cfg.hosts.iter().position(|h| h.name == v.host).unwrap_or(0),
                qmp: v.qmp.clone(),
                client: None,
                alive: false,
                migrating_to: None,
                dirty_pages_per_s: 0.0,
                dirty_rate_pending: false,
                external_migration: false,
                recheck: false,
                meter: ProcessMeter::default(),
                vcpus: None,
            })
            .collect();
        Inventory {
            hosts: cfg.hosts.clone(),
            vms,
            incoming_qmp: cfg.controller.incoming_qmp.clone().unwrap_or_default(),
            incoming_command: cfg.controller.incoming_command.clone().unwrap_or_default(),
        }
    }

    /// `template` with the placeholders of VM `vm` on host `host` filled in.
    pub fn expand(&self, template: &str, vm: usize, host: usize) -> String {
        let v = &self.vms[vm];
        let h = &self.hosts[host];
        let qmp = self.incoming_qmp_path(vm, host);
        template
            .replace("{vm}", &v.entry.name)
            .replace("{host}", &h.name)
            .replace("{qmp}", &qmp.display().to_string())
            .replace(
                "{memory_mib}",
                &format!("{}", v.entry.memory_mib.round() as u64),
            )
            .replace("{address}", &h.migration_address)
    }

    /// Where VM `vm`'s QEMU has its QMP socket when it was started (or migrated) on `host`
    /// by this controller.
    pub fn incoming_qmp_path(&self, vm: usize, host: usize) -> PathBuf {
        PathBuf::from(
            self.incoming_qmp
                .replace("{vm}", &self.vms[vm].entry.name)
                .replace("{host}", &self.hosts[host].name),
        )
    }

    /// Every place VM `vm` may run: its configured socket on its configured host, and the
    /// incoming socket on every host.
    pub fn candidates(&self, vm: usize) -> Vec<(usize, PathBuf)> {
        let v = &self.vms[vm];
        let home = self
            .hosts
            .iter()
            .position(|h| h.name == v.entry.host)
            .unwrap_or(0);
        let mut out = vec![(home, v.entry.qmp.clone())];
        for h in 0..self.hosts.len() {
            let p = self.incoming_qmp_path(vm, h);
            if !out.iter().any(|(_, q)| *q == p) {
                out.push((h, p));
            }
        }
        out
    }
}

/// Connects to the QEMU behind `path` (quickly: it exists or it does not).
pub async fn connect(path: &Path, vm: &str) -> Result<Arc<QmpClient>, DriverError> {
    if !path.exists() {
        return Err(DriverError::Closed { vm: vm.into() });
    }
    // A socket file whose QEMU exited refuses at once; QmpClient::connect would keep retrying
    // for its whole wait (it expects a QEMU that is still starting).
    if let Err(e) = tokio::net::UnixStream::connect(path).await {
        return Err(DriverError::io(
            format!("{vm}: connecting to QMP at {}", path.display()),
            e,
        ));
    }
    let mut c = QmpClient::connect(path, vm, QMP_CONNECT_WAIT).await?;
    c.timeout = QMP_COMMAND_TIMEOUT;
    Ok(Arc::new(c))
}

/// The run state and migration status (`query-migrate`'s `status`, `none` when there is none)
/// of the QEMU behind `client`.
pub async fn probe(client: &QmpClient) -> Result<(RunState, String), DriverError> {
    let state = client.status().await?;
    let mig = client
        .execute("query-migrate", serde_json::Value::Null)
        .await?;
    let status = mig["status"].as_str().unwrap_or("none").to_string();
    Ok((state, status))
}

/// Asks a QEMU to exit (a stopped source after a completed migration, an unused destination),
/// ignoring a QEMU that is already gone.
/// `true` once it is gone (it answered, or closed the session exiting), `false` when it did not
/// answer in time (busy switching over: the caller tries again later).
pub async fn quit(client: &QmpClient) -> bool {
    match client.execute("quit", serde_json::Value::Null).await {
        Ok(_) | Err(DriverError::Closed { .. }) => true,
        Err(_) => false,
    }
}

/// Whether a failed connection means "no QEMU there" (no socket, nobody listening: a QEMU that
/// exited leaves its socket file behind) rather than "a QEMU that did not greet us in time"
/// (busy, or serving another client), which must be looked at again.
pub fn nobody_there(error: &DriverError) -> bool {
    matches!(error, DriverError::Closed { .. } | DriverError::Io { .. })
}
