//! The caller's grip on a started migration: watch its progress, cancel it at any time, await how
//! it ended. One concrete type for every driver, so the controller handles QEMU, libvirt, the
//! simulator and the no-op driver alike.
//!
//! The migration itself runs in its own task: dropping the handle does not stop it, because a
//! half-finished migration abandoned mid-way is exactly what the driver's safety rules exist to
//! prevent; the task still brings it to a safe end.

use crate::error::DriverError;
use crate::progress::{Outcome, Progress};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// Asks a running migration to stop. Cheap to clone, so an HTTP handler, a fault detector and a
/// timeout can each hold one; calling it more than once, or after the end, is harmless.
#[derive(Debug, Clone)]
pub struct CancelHandle {
    requested: Arc<watch::Sender<bool>>,
}

impl CancelHandle {
    /// Requests cancellation. The driver honours it while the source still holds the VM's
    /// authoritative state; once post-copy has begun it is ignored (cancelling then would lose
    /// the VM) and the outcome says so ([`Outcome::cancel_requested`]).
    pub fn cancel(&self) {
        self.requested.send_replace(true);
    }

    /// Whether cancellation was requested.
    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }
}

/// The driver's side of a [`CancelHandle`]: lets the migration task notice a request between
/// two polls or wake up for it at once.
#[derive(Debug)]
pub struct CancelSignal {
    requested: watch::Receiver<bool>,
}

impl CancelSignal {
    /// Whether cancellation was requested.
    pub fn is_requested(&self) -> bool {
        *self.requested.borrow()
    }

    /// Resolves when cancellation is requested; never, if every handle is dropped first (then
    /// nobody can ask any more).
    pub async fn requested(&mut self) {
        if self.requested.wait_for(|asked| *asked).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A linked pair: the caller's [`CancelHandle`] and the driver's [`CancelSignal`].
pub fn cancel_pair() -> (CancelHandle, CancelSignal) {
    let (tx, rx) = watch::channel(false);
    (
        CancelHandle {
            requested: Arc::new(tx),
        },
        CancelSignal { requested: rx },
    )
}

/// A started migration.
#[derive(Debug)]
pub struct MigrationHandle {
    vm: String,
    progress: watch::Receiver<Progress>,
    cancel: CancelHandle,
    outcome: oneshot::Receiver<Result<Outcome, DriverError>>,
}

impl MigrationHandle {
    /// Runs `migration` in its own tokio task and returns its handle. Drivers call this once the
    /// hypervisor has accepted the migration: `migration` gets the progress sender (latest
    /// sample wins) and the cancel signal, and returns the outcome.
    pub fn spawn<F, Fut>(vm: impl Into<String>, migration: F) -> Self
    where
        F: FnOnce(watch::Sender<Progress>, CancelSignal) -> Fut,
        Fut: Future<Output = Result<Outcome, DriverError>> + Send + 'static,
    {
        let (progress_tx, progress) = watch::channel(Progress::default());
        let (cancel, signal) = cancel_pair();
        let (outcome_tx, outcome) = oneshot::channel();
        let task = migration(progress_tx, signal);
        tokio::spawn(async move {
            // The receiver may be gone (the caller dropped the handle); the migration still ran
            // to its safe end, which is all that matters then.
            let _ = outcome_tx.send(task.await);
        });
        MigrationHandle {
            vm: vm.into(),
            progress,
            cancel,
            outcome,
        }
    }

    /// A migration that is already over when it starts (dry runs, no-op moves): its progress
    /// shows `last` and its outcome is `outcome`. Needs no runtime.
    pub fn finished(vm: impl Into<String>, last: Progress, outcome: Outcome) -> Self {
        let (_, progress) = watch::channel(last);
        let (cancel, _) = cancel_pair();
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let _ = outcome_tx.send(Ok(outcome));
        MigrationHandle {
            vm: vm.into(),
            progress,
            cancel,
            outcome: outcome_rx,
        }
    }

    /// The VM being migrated, for logs.
    pub fn vm(&self) -> &str {
        &self.vm
    }

    /// The progress stream: the latest sample, and `changed().await` for the next one. A watch
    /// rather than a queue on purpose: a slow reader (a dashboard) must never hold up the poll
    /// loop or grow memory; it sees fewer samples, and counters are cumulative. The stream ends
    /// (`changed()` errs) when the migration is over.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// A handle to cancel this migration from anywhere, at any time.
    pub fn canceller(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Requests cancellation (see [`CancelHandle::cancel`]).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Waits for the end and returns how it went.
    pub async fn outcome(self) -> Result<Outcome, DriverError> {
        match self.outcome.await {
            Ok(result) => result,
            Err(_) => Err(DriverError::TaskLost { vm: self.vm }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_reaches_the_driver_side_from_any_clone() {
        let (handle, mut signal) = cancel_pair();
        assert!(!signal.is_requested());
        let other = handle.clone();
        tokio::spawn(async move { other.cancel() });
        signal.requested().await;
        assert!(signal.is_requested() && handle.is_requested());
    }

    #[tokio::test]
    async fn a_panicking_migration_task_is_reported_not_hung() {
        let handle = MigrationHandle::spawn("vm1", |_, _| async {
            if std::hint::black_box(true) {
                panic!("driver bug");
            }
            Err(DriverError::TaskLost { vm: String::new() })
        });
        match handle.outcome().await {
            Err(DriverError::TaskLost { vm }) => assert_eq!(vm, "vm1"),
            other => panic!("expected TaskLost, got {other:?}"),
        }
    }
}
