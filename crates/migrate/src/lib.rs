//! The migration stage's cost side: before a migration starts, predict its total time, downtime and
//! traffic. The simulator charges these, the planner chooses techniques with them, and the RL agent
//! sees them as features, all through the one [`MigrationModel`] trait.

pub mod calibration;
pub mod cloudsim;
pub mod history;
pub mod planner;
pub mod profile;
pub mod qemu;

pub use cloudsim::CloudSimRule;
pub use history::{HistoryError, HistoryRow, read_history};
pub use planner::{Constraints, Plan, PlanError, RiskPolicy, plan};
pub use profile::{Profile, ProfileError};
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

/// Largest guest a migration input may describe (1 PiB): beyond any real VM, small enough that
/// byte counts stay far from overflow.
pub const MAX_MEMORY_MIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Fastest path a migration input may describe (10 Tbit/s).
pub const MAX_BANDWIDTH_BPS: f64 = 1e13;

/// A migration input out of range, named by field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value:?}: must be {expected}")]
pub struct InputError {
    /// The field (`memory_mib`, `latency_ms`...).
    pub field: &'static str,
    /// The value given.
    pub value: f64,
    /// The accepted range, in words.
    pub expected: &'static str,
}

impl MigrationInput {
    /// Checks every field is finite and in range, so a model is only asked about a migration
    /// that can exist (NaN, infinite or negative inputs would give nonsense, not an error).
    pub fn validate(&self) -> Result<(), InputError> {
        let check = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(InputError {
                    field,
                    value,
                    expected,
                })
            }
        };
        let m = self.memory_mib;
        check(
            "memory_mib",
            m,
            m > 0.0 && m <= MAX_MEMORY_MIB,
            "in (0, 1 PiB]",
        )?;
        let d = self.dirty_pages_per_s;
        check(
            "dirty_pages_per_s",
            d,
            (0.0..=1e12).contains(&d),
            "in 0..=1e12",
        )?;
        let w = self.wws_mib;
        check(
            "wws_mib",
            w,
            (0.0..=MAX_MEMORY_MIB).contains(&w),
            "in 0..=1 PiB",
        )?;
        let b = self.bandwidth_bps;
        check(
            "bandwidth_bps",
            b,
            b > 0.0 && b <= MAX_BANDWIDTH_BPS,
            "in (0, 10 Tbit/s]",
        )?;
        let l = self.latency_ms;
        check(
            "latency_ms",
            l,
            (0.0..=60_000.0).contains(&l),
            "in 0..=60000",
        )?;
        if let Some(t) = self.touched_mib {
            check(
                "touched_mib",
                t,
                (0.0..=MAX_MEMORY_MIB).contains(&t),
                "in 0..=1 PiB",
            )?;
        }
        Ok(())
    }
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
