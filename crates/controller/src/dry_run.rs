//! The `noop` driver's world: a real world's snapshots (or the simulator's) and the whole
//! decision loop, with a driver that moves nothing. Operators run it first on a new cluster to
//! see what promig would do (every plan is journaled with its reason, then ends `cancelled` with
//! "dry run" in its detail, since the VM stays where it is) before they let it act.

use crate::core::Snapshot;
use crate::error::ControllerError;
use crate::world::World;
use promig_driver::{Driver, NoopDriver};
use std::sync::Arc;

/// Wraps a world so that its migrations are recorded, not executed.
pub struct DryRun<W: World> {
    inner: W,
    driver: Arc<NoopDriver>,
}

impl<W: World> DryRun<W> {
    /// `inner`'s snapshots, the no-op driver.
    pub fn new(inner: W) -> Self {
        DryRun {
            inner,
            driver: Arc::new(NoopDriver::new()),
        }
    }

    /// Every migration the controller asked for so far, in order.
    pub fn requests(&self) -> Vec<promig_driver::MigrationRequest> {
        self.driver.requests()
    }
}

impl<W: World> World for DryRun<W> {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn next(&mut self) -> Result<Snapshot, ControllerError> {
        self.inner.next()
    }

    fn driver(&self) -> Arc<dyn Driver> {
        Arc::clone(&self.driver) as Arc<dyn Driver>
    }

    fn report(&self) -> Option<promig_sim::Report> {
        self.inner.report()
    }
}
