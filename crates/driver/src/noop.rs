//! A driver that migrates nothing: it records each request and reports it completed at once with
//! zero downtime. For dry runs of the controller (see what it would do, touch no VM) and for
//! tests of code above the driver that should not need a hypervisor.

use crate::driver::{Driver, MigrationRequest, StartFuture};
use crate::handle::MigrationHandle;
use crate::progress::{Outcome, Progress};
use crate::status::MigrationStatus;
use std::sync::Mutex;

/// The dry-run driver.
#[derive(Debug, Default)]
pub struct NoopDriver {
    requests: Mutex<Vec<MigrationRequest>>,
}

impl NoopDriver {
    /// A driver with no requests recorded.
    pub fn new() -> Self {
        NoopDriver::default()
    }

    /// Every request started so far, in order: what the controller would have done.
    pub fn requests(&self) -> Vec<MigrationRequest> {
        self.requests
            .lock()
            .expect("invariant: the request log lock is never held across a panic")
            .clone()
    }
}

impl Driver for NoopDriver {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn start(&self, request: MigrationRequest) -> StartFuture<'_> {
        Box::pin(async move {
            let vm = request.vm.clone();
            self.requests
                .lock()
                .expect("invariant: the request log lock is never held across a panic")
                .push(request);
            let last = Progress {
                status: MigrationStatus::Completed,
                ..Progress::default()
            };
            let outcome = Outcome {
                status: MigrationStatus::Completed,
                total_ms: 0.0,
                downtime_ms: 0.0,
                transferred_kib: 0.0,
                rounds: 0,
                command_latency_ms: 0.0,
                deadline_hit: false,
                cancel_requested: false,
                max_throttle_pct: 0,
            };
            Ok(MigrationHandle::finished(vm, last, outcome))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DeadlineAction;
    use promig_migrate::{Technique, TechniqueParams};
    use std::time::Duration;

    fn request(vm: &str) -> MigrationRequest {
        MigrationRequest {
            vm: vm.into(),
            destination: "host-b".into(),
            params: TechniqueParams::of(Technique::Precopy),
            deadline: Duration::from_secs(30),
            on_deadline: DeadlineAction::Cancel,
        }
    }

    #[tokio::test]
    async fn records_requests_and_completes_at_once_without_downtime() {
        let noop = NoopDriver::new();
        // Through the trait object, as a controller holds its configured driver.
        let driver: &dyn Driver = &noop;
        assert_eq!(driver.name(), "noop");
        let handle = driver.start(request("vm-1")).await.unwrap();
        assert_eq!(handle.vm(), "vm-1");
        assert_eq!(
            handle.progress().borrow().status,
            MigrationStatus::Completed
        );
        // Cancelling a finished dry run is harmless.
        handle.cancel();
        let out = handle.outcome().await.unwrap();
        assert_eq!(out.status, MigrationStatus::Completed);
        assert_eq!(out.downtime_ms, 0.0);
        driver.start(request("vm-2")).await.unwrap();
        let seen: Vec<String> = noop.requests().into_iter().map(|r| r.vm).collect();
        assert_eq!(seen, ["vm-1", "vm-2"]);
        assert_eq!(noop.requests()[0], request("vm-1"));
    }
}
