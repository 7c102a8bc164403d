//! The QEMU driver: QMP client and processes, and one migration split into its steps, each in
//! its own module and in the order they run: [`capabilities`], [`incoming`], [`parameters`],
//! then [`poll`] supervising with [`postcopy`], [`deadline`] and [`cancel`], and [`outcome`]
//! checking the end state. [`QemuDriver`] strings them together behind [`crate::Driver`].

pub mod cancel;
pub mod capabilities;
pub mod client;
pub mod deadline;
pub mod incoming;
pub mod outcome;
pub mod parameters;
pub mod poll;
pub mod postcopy;
pub mod run_state;
pub mod vm;

use crate::driver::{Driver, MigrationRequest, StartFuture};
use crate::error::DriverError;
use crate::handle::MigrationHandle;
use client::QmpClient;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vm::QemuVm;

/// The two QEMU processes of one migration: the running source and the destination started
/// with `-incoming defer` on the target host.
#[derive(Clone)]
pub struct QemuEndpoints {
    /// QMP session of the source.
    pub source: Arc<QmpClient>,
    /// QMP session of the waiting destination.
    pub destination: Arc<QmpClient>,
    /// Address on the destination's host to listen on (reachable from the source).
    pub listen_ip: IpAddr,
    /// Guest RAM, which paces a downtime ramp.
    pub memory_mib: u32,
}

impl QemuEndpoints {
    /// The endpoints of two processes this crate started.
    pub fn between(source: &QemuVm, destination: &QemuVm, listen_ip: IpAddr) -> Self {
        QemuEndpoints {
            source: Arc::clone(&source.qmp),
            destination: Arc::clone(&destination.qmp),
            listen_ip,
            memory_mib: source.options.memory_mib,
        }
    }
}

type Prepared = BTreeMap<(String, String), QemuEndpoints>;

/// Migrates QEMU guests over QMP.
///
/// A request names a VM and a destination host; QMP needs live sessions to the two processes, so
/// the caller (a host agent, the test bed) first registers them with [`QemuDriver::prepare`].
/// `start` takes them out again: a destination QEMU accepts one incoming migration, and a VM
/// whose migration is running cannot be started a second time.
pub struct QemuDriver {
    poll_interval: Duration,
    prepared: Mutex<Prepared>,
}

impl Default for QemuDriver {
    fn default() -> Self {
        QemuDriver::new()
    }
}

impl QemuDriver {
    /// QEMU-NOTES' figure: frequent enough for deadlines and post-copy switches, cheap for QEMU.
    pub const DEFAULT_POLL: Duration = Duration::from_millis(50);

    /// A driver polling every [`QemuDriver::DEFAULT_POLL`].
    pub fn new() -> Self {
        QemuDriver {
            poll_interval: QemuDriver::DEFAULT_POLL,
            prepared: Mutex::default(),
        }
    }

    /// The same, polling every `interval` (short migrations in tests need finer samples).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Registers the processes for migrating `vm` to `destination`.
    pub fn prepare(&self, vm: &str, destination: &str, endpoints: QemuEndpoints) {
        self.lock()
            .insert((vm.to_string(), destination.to_string()), endpoints);
    }

    fn take(&self, request: &MigrationRequest) -> Result<QemuEndpoints, DriverError> {
        let key = (request.vm.clone(), request.destination.clone());
        let endpoints = self.lock().remove(&key);
        endpoints.ok_or(DriverError::NotPrepared {
            vm: key.0,
            destination: key.1,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Prepared> {
        self.prepared
            .lock()
            .expect("invariant: the prepared-migration lock is never held across a panic")
    }
}

impl Driver for QemuDriver {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn start(&self, request: MigrationRequest) -> StartFuture<'_> {
        Box::pin(async move {
            let endpoints = self.take(&request)?;
            let decided = Instant::now();
            let (src, dst) = (&endpoints.source, &endpoints.destination);
            capabilities::configure(src, dst, &request).await?;
            let uri = incoming::listen(dst, endpoints.listen_ip).await?;
            parameters::apply(src, &request.params, endpoints.memory_mib).await?;
            let started = Instant::now();
            src.execute("migrate", json!({ "uri": uri })).await?;
            let session = poll::Session {
                command_latency_ms: decided.elapsed().as_secs_f64() * 1000.0,
                started,
                poll_interval: self.poll_interval,
                endpoints,
                request,
            };
            let vm = session.request.vm.clone();
            Ok(MigrationHandle::spawn(vm, move |progress, cancel| {
                poll::supervise(session, progress, cancel)
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DeadlineAction;
    use promig_migrate::{Technique, TechniqueParams};

    #[tokio::test]
    async fn an_unprepared_migration_is_refused_before_touching_qemu() {
        let driver = QemuDriver::new();
        let request = MigrationRequest {
            vm: "vm-7".into(),
            destination: "host-b".into(),
            params: TechniqueParams::of(Technique::Precopy),
            deadline: Duration::from_secs(10),
            on_deadline: DeadlineAction::Cancel,
        };
        match driver.start(request).await {
            Err(DriverError::NotPrepared { vm, destination }) => {
                assert_eq!((vm.as_str(), destination.as_str()), ("vm-7", "host-b"));
            }
            Err(other) => panic!("expected NotPrepared, got {other}"),
            Ok(_) => panic!("started a migration nobody prepared"),
        }
    }
}
