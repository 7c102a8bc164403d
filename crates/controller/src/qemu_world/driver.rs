//! The `qemu` world's driver: what a request needs beyond [`QemuDriver`]. A request names a VM and
//! a destination host; before QMP can migrate, the destination needs a QEMU waiting with
//! `-incoming defer`. This driver starts it with the configured `incoming_command`, connects to
//! its socket, hands both sessions to [`QemuDriver::prepare`], starts the migration, and when it
//! ends updates the world's inventory from what QEMU says on both sides: the VM lives where a
//! QEMU runs it, and the stopped copy on the other side is asked to exit, so a VM never has two
//! QEMUs after a move.

use super::inventory::{Shared, lock, quit};
use promig_driver::{
    Driver, DriverError, MigrationHandle, MigrationRequest, QemuDriver, QemuEndpoints, QmpClient,
    RunState, StartFuture,
};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for `incoming_command` to return (an `ssh` to a busy host included).
pub const INCOMING_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest wait for the incoming QEMU's QMP socket once the command returned.
pub const INCOMING_QMP_WAIT: Duration = Duration::from_secs(10);

/// Migrates the world's VMs (see the module documentation).
pub struct QemuWorldDriver {
    pub(super) shared: Shared,
    pub(super) qemu: Arc<QemuDriver>,
}

/// What a start needs, read from the inventory under its lock.
struct Resolved {
    vm: usize,
    source_client: Arc<QmpClient>,
    command: String,
    dest_qmp: PathBuf,
    listen_ip: IpAddr,
    memory_mib: u32,
}

impl QemuWorldDriver {
    /// Finds the VM and the destination and marks the VM as migrating (so no second plan and no
    /// dirty-rate probe touches it meanwhile).
    fn resolve(&self, request: &MigrationRequest) -> Result<Resolved, DriverError> {
        let mut inv = lock(&self.shared);
        let refuse = |reason: String| DriverError::MigrationFailed {
            reason,
            source_running: true,
            cause: None,
        };
        let vm = inv.vms.iter().position(|v| v.entry.name == request.vm);
        let dest = inv.hosts.iter().position(|h| h.name == request.destination);
        let (Some(vm), Some(dest)) = (vm, dest) else {
            return Err(DriverError::NotPrepared {
                vm: request.vm.clone(),
                destination: request.destination.clone(),
            });
        };
        let v = &inv.vms[vm];
        if v.migrating_to.is_some() || v.external_migration {
            return Err(refuse(format!("{} is already migrating", request.vm)));
        }
        if v.host == dest {
            return Err(refuse(format!(
                "{} already runs on {}",
                request.vm, request.destination
            )));
        }
        let Some(source_client) = v.client.clone().filter(|_| v.alive) else {
            return Err(refuse(format!(
                "{} has no live QMP session (not running, or its QEMU is unreachable)",
                request.vm
            )));
        };
        let listen_ip = inv.hosts[dest]
            .migration_address
            .parse()
            .map_err(|_| refuse("the destination's migration_address is not an IP".into()))?;
        let resolved = Resolved {
            vm,
            source_client,
            command: inv.expand(&inv.incoming_command, vm, dest),
            dest_qmp: inv.incoming_qmp_path(vm, dest),
            listen_ip,
            memory_mib: v.entry.memory_mib.round() as u32,
        };
        inv.vms[vm].migrating_to = Some(dest);
        Ok(resolved)
    }

    /// Starts the incoming QEMU and connects to it.
    async fn start_incoming(
        &self,
        vm: &str,
        command: &str,
        qmp: &std::path::Path,
    ) -> Result<Arc<QmpClient>, DriverError> {
        let _ = std::fs::remove_file(qmp);
        let run = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .output();
        let out = tokio::time::timeout(INCOMING_COMMAND_TIMEOUT, run)
            .await
            .map_err(|_| DriverError::Timeout {
                vm: vm.into(),
                command: format!("incoming_command `{command}`"),
                timeout: INCOMING_COMMAND_TIMEOUT,
            })?
            .map_err(|e| DriverError::io(format!("{vm}: running `sh -c {command}`"), e))?;
        if !out.status.success() {
            return Err(DriverError::ExternalCommand {
                command: command.into(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let client = QmpClient::connect(qmp, vm, INCOMING_QMP_WAIT).await?;
        Ok(Arc::new(client))
    }

    /// Everything between the request and a running migration; on error the caller undoes the
    /// inventory mark.
    async fn begin(
        &self,
        request: MigrationRequest,
        r: &Resolved,
    ) -> Result<(MigrationHandle, Arc<QmpClient>), DriverError> {
        let dest = self
            .start_incoming(&request.vm, &r.command, &r.dest_qmp)
            .await?;
        let state = dest.status().await?;
        if state != RunState::Inmigrate {
            let _ = quit(&dest).await;
            return Err(DriverError::Protocol {
                vm: request.vm.clone(),
                message: format!(
                    "the incoming QEMU at {} is {state}, not waiting for a migration (is -incoming defer in incoming_command?)",
                    r.dest_qmp.display()
                ),
            });
        }
        self.qemu.prepare(
            &request.vm,
            &request.destination,
            QemuEndpoints {
                source: Arc::clone(&r.source_client),
                destination: Arc::clone(&dest),
                listen_ip: r.listen_ip,
                memory_mib: r.memory_mib,
            },
        );
        match self.qemu.start(request).await {
            Ok(handle) => Ok((handle, dest)),
            Err(e) => {
                let _ = quit(&dest).await;
                Err(e)
            }
        }
    }
}

impl Driver for QemuWorldDriver {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn start(&self, request: MigrationRequest) -> StartFuture<'_> {
        Box::pin(async move {
            let r = self.resolve(&request)?;
            let name = request.vm.clone();
            let (inner, dest_client) = match self.begin(request, &r).await {
                Ok(started) => started,
                Err(e) => {
                    lock(&self.shared).vms[r.vm].migrating_to = None;
                    return Err(e);
                }
            };
            let shared = Arc::clone(&self.shared);
            let vm = r.vm;
            let (source_client, dest_qmp) = (r.source_client, r.dest_qmp);
            Ok(MigrationHandle::spawn(name, move |progress, mut cancel| {
                let mut inner_progress = inner.progress();
                let canceller = inner.canceller();
                async move {
                    let forward = tokio::spawn(async move {
                        while inner_progress.changed().await.is_ok() {
                            progress.send_replace(inner_progress.borrow_and_update().clone());
                        }
                    });
                    let relay_cancel = tokio::spawn(async move {
                        cancel.requested().await;
                        canceller.cancel();
                    });
                    let result = inner.outcome().await;
                    relay_cancel.abort();
                    let _ = forward.await;
                    settle(&shared, vm, source_client, dest_client, dest_qmp).await;
                    result
                }
            }))
        })
    }
}

/// After a migration ended, however it ended: the VM lives on the destination if the
/// destination QEMU runs it, otherwise on the source; the other QEMU is asked to exit (a
/// source in `postmigrate`, or a destination left in `inmigrate` by a cancelled migration).
async fn settle(
    shared: &Shared,
    vm: usize,
    source: Arc<QmpClient>,
    dest: Arc<QmpClient>,
    dest_qmp: PathBuf,
) {
    let on_dest = matches!(dest.status().await, Ok(RunState::Running));
    let leftover = {
        let mut inv = lock(shared);
        let v = &mut inv.vms[vm];
        let to = v.migrating_to.take();
        if on_dest && let Some(to) = to {
            v.host = to;
            v.qmp = dest_qmp;
            v.client = Some(dest);
            v.alive = true;
            v.dirty_rate_pending = false;
            source
        } else {
            dest
        }
    };
    if !quit(&leftover).await {
        // Not gone yet: the world's next search finds the stopped copy and asks again.
        lock(shared).vms[vm].recheck = true;
    }
}
