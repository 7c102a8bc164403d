//! Where the controller's snapshots come from and where its migrations go. A world pairs a
//! telemetry side (each call to [`World::next`] yields the data centre as it is now, risks
//! included) with the [`Driver`] that executes migrations in it: the simulator is one world (its
//! clock, its telemetry, its migrations), real hosts with QEMU are another.

use crate::core::Snapshot;
use crate::error::ControllerError;
use promig_driver::Driver;
use std::sync::Arc;

/// A source of snapshots plus the driver that acts in the same world.
pub trait World: Send {
    /// Short name for logs (`sim`, `qemu`...).
    fn name(&self) -> &'static str;

    /// The next snapshot. Blocking: the simulator computes one interval, a real world waits for
    /// its scrape round. The daemon calls it off the async runtime.
    fn next(&mut self) -> Result<Snapshot, ControllerError>;

    /// The driver that executes migrations in this world.
    fn driver(&self) -> Arc<dyn Driver>;

    /// What the world itself measured so far (the simulator's report: VNF downtime, loss,
    /// crashes...), when it keeps such a record; real worlds do not.
    fn report(&self) -> Option<promig_sim::Report> {
        None
    }

    /// How many migrations this world has ended so far (outcomes handed to their handles), when
    /// it ends them inside [`World::next`]: the daemon then waits until the core has taken in
    /// that many outcomes before it decides on the snapshot, so a simulated run decides on the
    /// same facts every time (reproducible bit for bit). Real worlds end migrations on their
    /// own clock and return `None`.
    fn migrations_ended(&self) -> Option<u64> {
        None
    }
}
