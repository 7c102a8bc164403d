//! The execution contract: what a controller hands a driver ([`MigrationRequest`]) and what it
//! gets back ([`MigrationHandle`]). One small trait, so QEMU over QMP, libvirt
//! (`virDomainMigrateToURI3`), the simulator and the no-op driver are interchangeable behind a
//! `Box<dyn Driver>` chosen from configuration.

use crate::error::DriverError;
use crate::handle::MigrationHandle;
use promig_migrate::TechniqueParams;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What to do when the deadline passes before the migration converges. Part of the plan, not a
/// driver setting: the planner weighs the risk of post-copy against that of staying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadlineAction {
    /// Cancel: the VM stays on the source.
    Cancel,
    /// Switch to post-copy: finishes quickly, at the risk of losing the VM if the source dies.
    Postcopy,
}

/// A planned migration, in the controller's words: which VM, to which host, how, and by when.
/// How the names are resolved to hypervisor connections is each driver's business (QMP sockets,
/// a libvirt URI, a simulator's host index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationRequest {
    /// The VM to move.
    pub vm: String,
    /// The host to move it to.
    pub destination: String,
    /// Technique and its parameters, as the planner chose them.
    pub params: TechniqueParams,
    /// How long the migration may take (the predicted time to failure, minus a margin).
    pub deadline: Duration,
    /// What happens at the deadline.
    pub on_deadline: DeadlineAction,
}

/// The future [`Driver::start`] returns: boxed so the trait stays usable as `dyn Driver`.
pub type StartFuture<'a> =
    Pin<Box<dyn Future<Output = Result<MigrationHandle, DriverError>> + Send + 'a>>;

/// Executes planned migrations.
///
/// `start` returns once the hypervisor has accepted the migration (so a refused capability or an
/// unreachable destination is an error here, with nothing moved); the migration then runs on its
/// own and the handle streams its progress, cancels it, and yields its outcome. Every
/// implementation keeps the same safety rules: a cancelled or failed migration leaves the VM
/// running on the source, and a VM never runs on two hosts.
pub trait Driver: Send + Sync {
    /// Short name for logs and the journal (`qemu`, `noop`...).
    fn name(&self) -> &'static str;

    /// Starts `request`.
    fn start(&self, request: MigrationRequest) -> StartFuture<'_>;
}
