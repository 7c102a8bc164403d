//! Step 7: the end. A completed migration is only a success if the destination runs and the
//! source sits in `postmigrate`; a cancelled or failed one must leave the VM running on the
//! source, resumed there if migration had stopped it, unless the destination runs it (resuming
//! then would run the VM twice).

use crate::error::DriverError;
use crate::progress::{Outcome, Progress};
use crate::qemu::client::QmpClient;
use crate::qemu::run_state::RunState;
use crate::status::MigrationStatus;
use serde_json::Value;

/// What the poll loop observed along the way, which QEMU's final reply does not say.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// From the start request to QEMU acknowledging `migrate`.
    pub command_latency_ms: f64,
    /// Whether the deadline action was taken.
    pub deadline_hit: bool,
    /// Whether the caller asked to cancel.
    pub cancel_requested: bool,
    /// Highest vCPU throttle seen.
    pub max_throttle_pct: u64,
}

impl Tally {
    fn outcome(
        &self,
        status: MigrationStatus,
        last: &Progress,
        total_ms: f64,
        downtime_ms: f64,
    ) -> Outcome {
        Outcome {
            status,
            total_ms,
            downtime_ms,
            transferred_kib: last.transferred_bytes as f64 / 1024.0,
            rounds: last.dirty_sync_count,
            command_latency_ms: self.command_latency_ms,
            deadline_hit: self.deadline_hit,
            cancel_requested: self.cancel_requested,
            max_throttle_pct: self.max_throttle_pct,
        }
    }
}

/// How the migration ended, if the latest sample says it did; `None` while it runs.
pub async fn conclude(
    source: &QmpClient,
    destination: &QmpClient,
    last: &Progress,
    reply: &Value,
    tally: &Tally,
) -> Option<Result<Outcome, DriverError>> {
    match &last.status {
        MigrationStatus::Completed => {
            Some(completed(source, destination, last, reply, tally).await)
        }
        MigrationStatus::Failed | MigrationStatus::Cancelled => {
            Some(stopped(source, destination, last, reply, tally).await)
        }
        // The network or the destination broke during post-copy: the VM's state is split
        // between the hosts and cannot be resumed on either without recovery.
        status @ (MigrationStatus::PostcopyPaused | MigrationStatus::PostcopyRecover) => {
            Some(Err(DriverError::MigrationFailed {
                reason: format!("post-copy interrupted ({status})"),
                source_running: false,
                cause: None,
            }))
        }
        _ => None,
    }
}

/// Checks both sides after `completed` and reports QEMU's own figures.
async fn completed(
    source: &QmpClient,
    destination: &QmpClient,
    last: &Progress,
    reply: &Value,
    tally: &Tally,
) -> Result<Outcome, DriverError> {
    let (s, d) = tokio::join!(source.status(), destination.status());
    let (s, d) = (s?, d?);
    if d != RunState::Running || s != RunState::Postmigrate {
        return Err(DriverError::EndState {
            source_status: s,
            destination_status: d,
        });
    }
    let total_ms = reply["total-time"].as_f64().unwrap_or(last.elapsed_ms);
    let downtime_ms = reply["downtime"].as_f64().unwrap_or(0.0);
    Ok(tally.outcome(MigrationStatus::Completed, last, total_ms, downtime_ms))
}

/// After `cancelled` or `failed`: secures the source, then a clean cancel is an outcome and
/// anything else an error saying whether the VM is safe.
async fn stopped(
    source: &QmpClient,
    destination: &QmpClient,
    last: &Progress,
    reply: &Value,
    tally: &Tally,
) -> Result<Outcome, DriverError> {
    let safe = secure_source(source, destination).await;
    if last.status == MigrationStatus::Cancelled && safe {
        return Ok(tally.outcome(MigrationStatus::Cancelled, last, last.elapsed_ms, 0.0));
    }
    let detail = reply["error-desc"].as_str().unwrap_or("");
    Err(DriverError::MigrationFailed {
        reason: format!("QEMU reported {} {detail}", last.status)
            .trim()
            .to_string(),
        source_running: safe,
        cause: None,
    })
}

/// Makes sure the VM runs on the source after a failed or cancelled migration, unless the
/// destination runs it (then resuming the source would duplicate the VM). Returns whether the
/// source runs it now.
pub async fn secure_source(source: &QmpClient, destination: &QmpClient) -> bool {
    // A destination that is gone (it exits after a cancel) or unreachable is not running.
    if matches!(destination.status().await, Ok(RunState::Running)) {
        return false;
    }
    match source.status().await {
        Ok(RunState::Running) => true,
        Ok(state) if state.stopped_by_migration() => {
            source.execute("cont", Value::Null).await.is_ok()
        }
        _ => false,
    }
}
