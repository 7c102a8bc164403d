//! The migration stage's cost side: before a migration starts, predict its total time, downtime and
//! traffic. The simulator charges these, the planner chooses techniques with them, and the RL agent
//! sees them as features, all through the one [`MigrationModel`] trait.

pub mod calibration;
pub mod cloudsim;
pub mod planner;
pub mod qemu;

pub use cloudsim::CloudSimRule;
pub use planner::{Constraints, Plan, PlanError, RiskPolicy, plan};
pub use qemu::{Calibration, DowntimeRamp, QemuModel, Technique, TechniqueParams};

use serde::{Deserialize, Serialize};

/// Bytes in a guest page (x86 small pages, what QEMU tracks dirtiness in).
pub const PAGE_BYTES: f64 = 4096.0;
/// Bytes in a MiB.
pub const MIB: f64 = 1024.0 * 1024.0;

/// Everything a model needs to know about one migration before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MigrationInput {
    /// Guest RAM to move.
    pub memory_mib: f64,
    /// Pages the guest dirties per second while it runs.
    pub dirty_pages_per_s: f64,
    /// Writable working set: the most memory that can be dirty at once (bounds re-sends).
    pub wws_mib: f64,
    /// Bandwidth available on the path for this migration.
    pub bandwidth_bps: f64,
    /// One-way latency of the path.
    pub latency_ms: f64,
    /// Memory the guest ever wrote; the rest are zero pages, which QEMU sends as markers.
    /// `None` means all of it (a long-running guest).
    pub touched_mib: Option<f64>,
}

/// What a model predicts about one migration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MigrationEstimate {
    /// From start to the VM running at the destination.
    pub total_s: f64,
    /// Time the VM does not run anywhere (the stop-and-copy phase).
    pub downtime_s: f64,
    /// Bytes sent over the network.
    pub transferred_bytes: f64,
    /// Copy rounds, including the first full pass and the final one.
    pub rounds: u32,
    /// Whether the dirty set shrank below the downtime target on its own.
    pub converged: bool,
}

/// A migration cost model. Implemented per technique; the simulator, planner and agent share it.
pub trait MigrationModel: Send + Sync {
    /// Short name for reports.
    fn name(&self) -> &str;
    /// Predicts one migration.
    fn estimate(&self, input: &MigrationInput) -> MigrationEstimate;
}
