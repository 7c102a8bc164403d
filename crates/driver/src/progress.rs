//! What a running migration reports ([`Progress`]) and how it ended ([`Outcome`]): plain data,
//! the same for every driver, so the controller, the journal and the dashboard need no
//! per-hypervisor code.

use crate::status::MigrationStatus;
use serde::{Deserialize, Serialize};

/// One progress sample, as the hypervisor reports it while the migration runs. Counters are
/// cumulative since the migration started, so a consumer that skips samples loses nothing but
/// resolution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Since the migration command was acknowledged.
    pub elapsed_ms: f64,
    /// The phase the migration is in.
    pub status: MigrationStatus,
    /// RAM bytes sent so far.
    pub transferred_bytes: u64,
    /// RAM bytes still to send.
    pub remaining_bytes: u64,
    /// Guest dirty rate the hypervisor measured (pages/s; 0 until it has measured one).
    pub dirty_pages_rate: u64,
    /// Dirty-bitmap syncs so far (QEMU's rounds).
    pub dirty_sync_count: u64,
    /// Downtime the hypervisor expects if it switched over now.
    pub expected_downtime_ms: u64,
    /// vCPU throttle applied by auto-converge.
    pub cpu_throttle_pct: u64,
    /// Pages processed so far (sent in full or as zero pages), over all passes.
    pub pages_processed: u64,
    /// Guest RAM in pages.
    pub total_pages: u64,
}

/// How a migration ended when it ended cleanly: completed (the VM runs on the destination) or
/// cancelled (the VM runs on the source). Failures that may have hurt the VM are errors instead
/// ([`crate::DriverError::MigrationFailed`]), so they cannot be mistaken for either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// [`MigrationStatus::Completed`] or [`MigrationStatus::Cancelled`].
    pub status: MigrationStatus,
    /// Total time as the hypervisor measured it (QEMU `total-time`).
    pub total_ms: f64,
    /// Time the VM ran nowhere (QEMU `downtime`; with return-path it includes data in flight).
    pub downtime_ms: f64,
    /// RAM sent. QEMU drops its RAM counters once a migration is cancelled, so a cancelled
    /// outcome reads 0 here and 0 rounds; the last progress sample before it has the figures.
    pub transferred_kib: f64,
    /// Dirty-bitmap syncs.
    pub rounds: u64,
    /// From the start request to the hypervisor acknowledging the migration: the driver's own
    /// overhead, which the cost model does not include.
    pub command_latency_ms: f64,
    /// Whether the plan's deadline action (cancel or post-copy) was taken.
    pub deadline_hit: bool,
    /// Whether the caller asked to cancel; with status `Completed` the request came too late
    /// (post-copy had begun, when cancelling would lose the VM).
    pub cancel_requested: bool,
    /// Highest vCPU throttle seen.
    pub max_throttle_pct: u64,
}
