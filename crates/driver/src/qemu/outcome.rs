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
use std::time::{Duration, Instant};

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

/// Longest a completed migration's source may stay in `finish-migrate` before the end state
/// counts as wrong: QEMU leaves it within milliseconds (one big-lock acquisition).
const FINISHING_TIMEOUT: Duration = Duration::from_secs(2);
/// Time between two looks at a source still finishing.
const FINISHING_POLL: Duration = Duration::from_millis(2);

/// Checks both sides after `completed` and reports QEMU's own figures.
///
/// QEMU's migration thread (7.2: `migration_completion`, then `migration_iteration_finish`)
/// sets the status to `completed` first, and only then takes the big lock to compute
/// `total-time` and `downtime` and move the source to `postmigrate`. A `query-migrate` landing
/// in between reads `completed` with both figures 0, and `query-status` reads `finish-migrate`;
/// under load a 20 ms poll hits that window about once in fifty migrations. So the source is
/// given a moment to leave `finish-migrate`, and the figures are read again once it has (QEMU
/// sets them before `postmigrate`, under the same lock).
async fn completed(
    source: &QmpClient,
    destination: &QmpClient,
    last: &Progress,
    reply: &Value,
    tally: &Tally,
) -> Result<Outcome, DriverError> {
    let finishing_until = Instant::now() + FINISHING_TIMEOUT;
    let (s, d) = loop {
        let (s, d) = tokio::join!(source.status(), destination.status());
        let (s, d) = (s?, d?);
        if s != RunState::FinishMigrate || Instant::now() >= finishing_until {
            break (s, d);
        }
        tokio::time::sleep(FINISHING_POLL).await;
    };
    if d != RunState::Running || s != RunState::Postmigrate {
        return Err(DriverError::EndState {
            source_status: s,
            destination_status: d,
        });
    }
    let settled = source.execute("query-migrate", Value::Null).await?;
    let figure = |key: &str| settled[key].as_f64().or_else(|| reply[key].as_f64());
    let total_ms = figure("total-time").unwrap_or(last.elapsed_ms);
    let downtime_ms = figure("downtime").unwrap_or(0.0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A QMP server on a unix socket answering each command with `answer(command)`.
    async fn fake_qmp(name: &str, answer: impl Fn(&str) -> Value + Send + 'static) -> QmpClient {
        let path = std::env::temp_dir().join(format!(
            "promig-fake-qmp-{}-{name}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (read, mut write) = sock.into_split();
            write
                .write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .await
                .unwrap();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let msg: Value = serde_json::from_str(&line).unwrap();
                let command = msg["execute"].as_str().unwrap_or_default();
                let reply = json!({"return": answer(command), "id": msg["id"]});
                write
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .unwrap();
            }
        });
        let client = QmpClient::connect(&path, name, Duration::from_secs(5))
            .await
            .unwrap();
        let _ = std::fs::remove_file(&path);
        client
    }

    /// QEMU 7.2's finishing window, replayed: the poll saw `completed` with both figures still
    /// 0 and the source still in `finish-migrate` for two more looks; the outcome must carry the
    /// figures QEMU settles on, not the zeros, and not call the end state wrong.
    #[tokio::test]
    async fn a_completed_poll_inside_qemus_finishing_window_waits_for_the_real_figures() {
        let looks = Arc::new(AtomicUsize::new(0));
        let source_looks = Arc::clone(&looks);
        let source = fake_qmp("finishing-src", move |command| match command {
            "query-status" => {
                let finished = source_looks.fetch_add(1, Ordering::SeqCst) >= 2;
                json!({"status": if finished { "postmigrate" } else { "finish-migrate" }})
            }
            "query-migrate" => json!({"status": "completed", "total-time": 571, "downtime": 154}),
            _ => json!({}),
        })
        .await;
        let destination = fake_qmp("finishing-dst", |command| match command {
            "query-status" => json!({"status": "running"}),
            _ => json!({}),
        })
        .await;
        let window = json!({"status": "completed", "total-time": 0, "downtime": 0});
        let last = Progress {
            status: MigrationStatus::Completed,
            elapsed_ms: 580.0,
            ..Progress::default()
        };
        let out = completed(&source, &destination, &last, &window, &Tally::default())
            .await
            .unwrap();
        assert_eq!((out.total_ms, out.downtime_ms), (571.0, 154.0), "{out:?}");
        assert!(looks.load(Ordering::SeqCst) >= 3);
    }
}
