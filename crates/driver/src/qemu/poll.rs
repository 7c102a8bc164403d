//! Step 4: supervision. Polls `query-migrate` on the source, publishes each sample, and between
//! polls applies the plan: the downtime ramp, the post-copy switch, the deadline action, and a
//! caller's cancel, until [`super::outcome`] says the migration is over.
//!
//! Polling rather than waiting for QMP events: every decision needs the counters anyway
//! (passes done, throttle), and a lost event cannot stall a poll.

use crate::driver::MigrationRequest;
use crate::error::DriverError;
use crate::handle::CancelSignal;
use crate::progress::{Outcome, Progress};
use crate::qemu::deadline::{self, DeadlineStep};
use crate::qemu::outcome::{self, Tally};
use crate::qemu::parameters::RampFollower;
use crate::qemu::{QemuEndpoints, cancel, postcopy};
use crate::status::MigrationStatus;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Reads one `query-migrate` reply; absent counters read as 0 (QEMU omits the `ram` block
/// during setup).
pub fn sample(reply: &Value, elapsed: Duration) -> Progress {
    let ram = &reply["ram"];
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    Progress {
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        status: MigrationStatus::parse(reply["status"].as_str().unwrap_or("")),
        transferred_bytes: count(&ram["transferred"]),
        remaining_bytes: count(&ram["remaining"]),
        dirty_pages_rate: count(&ram["dirty-pages-rate"]),
        dirty_sync_count: count(&ram["dirty-sync-count"]),
        expected_downtime_ms: count(&reply["expected-downtime"]),
        cpu_throttle_pct: count(&reply["cpu-throttle-percentage"]),
        pages_processed: count(&ram["normal"]) + count(&ram["duplicate"]),
        total_pages: count(&ram["total"]) / ram["page-size"].as_u64().unwrap_or(4096).max(1),
    }
}

/// A migration QEMU has accepted, handed to its supervising task.
pub struct Session {
    /// The two QEMU processes.
    pub endpoints: QemuEndpoints,
    /// The plan.
    pub request: MigrationRequest,
    /// Time between two `query-migrate`.
    pub poll_interval: Duration,
    /// When QEMU acknowledged `migrate`: the deadline counts from here.
    pub started: Instant,
    /// The driver's own overhead before that.
    pub command_latency_ms: f64,
}

/// Supervises the migration to its end.
pub async fn supervise(
    session: Session,
    progress: watch::Sender<Progress>,
    mut cancel_signal: CancelSignal,
) -> Result<Outcome, DriverError> {
    let Session {
        endpoints,
        request,
        poll_interval,
        started,
        command_latency_ms,
    } = session;
    let (src, dst) = (&*endpoints.source, &*endpoints.destination);
    let params = &request.params;
    let mut tally = Tally {
        command_latency_ms,
        ..Tally::default()
    };
    let mut ramp = RampFollower::default();
    let mut postcopy_started = false;
    let mut cancel_sent = false;
    loop {
        // A caller's cancel wakes the loop at once instead of waiting out the poll interval.
        tokio::select! {
            () = tokio::time::sleep(poll_interval) => {}
            () = cancel_signal.requested(), if !tally.cancel_requested => {}
        }
        tally.cancel_requested |= cancel_signal.is_requested();
        let reply = src
            .execute("query-migrate", Value::Null)
            .await
            .map_err(|e| DriverError::MigrationFailed {
                reason: "the source stopped answering".into(),
                source_running: false,
                cause: Some(Box::new(e)),
            })?;
        let last = sample(&reply, started.elapsed());
        tally.max_throttle_pct = tally.max_throttle_pct.max(last.cpu_throttle_pct);
        progress.send_replace(last.clone());
        if let Some(end) = outcome::conclude(src, dst, &last, &reply, &tally).await {
            return end;
        }
        ramp.tick(
            src,
            params,
            started.elapsed().as_secs_f64(),
            endpoints.memory_mib,
        )
        .await;
        if postcopy::due(params, &last, postcopy_started) {
            postcopy::switch(src).await?;
            postcopy_started = true;
        }
        if deadline::due(
            started.elapsed(),
            request.deadline,
            tally.deadline_hit,
            &last.status,
        ) {
            tally.deadline_hit = true;
            match deadline::step(request.on_deadline, postcopy_started) {
                DeadlineStep::Cancel => {
                    cancel::send(src).await?;
                    cancel_sent = true;
                }
                DeadlineStep::SwitchToPostcopy => {
                    postcopy::switch(src).await?;
                    postcopy_started = true;
                }
                DeadlineStep::Nothing => {}
            }
        }
        if tally.cancel_requested
            && !cancel_sent
            && cancel::may_send(&last.status, postcopy_started)
        {
            cancel::send(src).await?;
            cancel_sent = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_query_migrate_reply_becomes_a_typed_sample() {
        let reply = json!({
            "status": "active",
            "expected-downtime": 12,
            "cpu-throttle-percentage": 30,
            "ram": {
                "transferred": 1_000_000, "remaining": 2_000_000, "dirty-pages-rate": 4899,
                "dirty-sync-count": 3, "normal": 200, "duplicate": 800,
                "total": 134_217_728, "page-size": 4096
            }
        });
        let s = sample(&reply, Duration::from_millis(1500));
        assert_eq!(s.status, MigrationStatus::Active);
        assert_eq!(s.elapsed_ms, 1500.0);
        assert_eq!(s.dirty_pages_rate, 4899);
        assert_eq!(s.pages_processed, 1000);
        assert_eq!(s.total_pages, 32_768);
        assert_eq!(s.cpu_throttle_pct, 30);
    }

    #[test]
    fn setup_replies_without_counters_read_as_zero() {
        let s = sample(&json!({"status": "setup"}), Duration::ZERO);
        assert_eq!(s.status, MigrationStatus::Setup);
        assert_eq!((s.transferred_bytes, s.total_pages), (0, 0));
        let odd = sample(&json!({}), Duration::ZERO);
        assert_eq!(odd.status, MigrationStatus::Other(String::new()));
    }
}
