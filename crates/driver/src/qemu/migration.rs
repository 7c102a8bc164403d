//! One live migration, start to finish, with QEMU's semantics and the driver's safety rules:
//! a migration that misses its deadline is cancelled or switched to post-copy as planned; a
//! cancelled or failed migration leaves the VM running on the source; a VM is never resumed on
//! two hosts; after success the destination must run and the source must be in `postmigrate`.

use crate::error::DriverError;
use crate::qemu::vm::QemuVm;
use promig_migrate::{Technique, TechniqueParams};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What to do when the deadline passes before the migration converges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeadlineAction {
    /// Cancel: the VM stays on the source.
    Cancel,
    /// Switch to post-copy: finishes quickly, at the risk of losing the VM if the source dies.
    Postcopy,
}

/// A planned migration.
#[derive(Debug, Clone, Copy)]
pub struct MigrationRequest {
    /// Technique and QEMU parameters.
    pub params: TechniqueParams,
    /// When it must be over.
    pub deadline: Duration,
    /// What happens at the deadline.
    pub on_deadline: DeadlineAction,
    /// Address the destination listens on (an IP of its host).
    pub listen_ip: std::net::IpAddr,
    /// How often to poll progress.
    pub poll: Duration,
}

/// One progress sample (from `query-migrate` on the source).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    /// Since the `migrate` command.
    pub elapsed_ms: f64,
    /// QEMU status (`active`, `postcopy-active`, `completed`...).
    pub status: String,
    /// RAM bytes sent so far.
    pub transferred_bytes: u64,
    /// RAM bytes still to send.
    pub remaining_bytes: u64,
    /// Guest dirty rate QEMU measured.
    pub dirty_pages_rate: u64,
    /// Bitmap syncs so far (rounds).
    pub dirty_sync_count: u64,
    /// Downtime QEMU expects if it switched over now.
    pub expected_downtime_ms: u64,
    /// vCPU throttle (auto-converge).
    pub cpu_throttle_pct: u64,
    /// Pages processed so far (sent in full or as zero pages), over all passes.
    pub pages_processed: u64,
    /// Guest RAM in pages.
    pub total_pages: u64,
}

/// How a migration ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `completed` or `cancelled`.
    pub status: String,
    /// QEMU's `total-time`.
    pub total_ms: f64,
    /// QEMU's `downtime` (with return-path: includes data still in flight).
    pub downtime_ms: f64,
    /// RAM bytes sent.
    pub transferred_kib: f64,
    /// Bitmap syncs.
    pub rounds: u64,
    /// From the call to the `migrate` command being acknowledged by QEMU: the driver's overhead.
    pub command_latency_ms: f64,
    /// Whether the deadline action was taken.
    pub deadline_hit: bool,
    /// Highest throttle seen.
    pub max_throttle_pct: u64,
}

fn progress_of(v: &Value, elapsed: Duration) -> Progress {
    let ram = &v["ram"];
    Progress {
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        status: v["status"].as_str().unwrap_or("").to_string(),
        transferred_bytes: ram["transferred"].as_u64().unwrap_or(0),
        remaining_bytes: ram["remaining"].as_u64().unwrap_or(0),
        dirty_pages_rate: ram["dirty-pages-rate"].as_u64().unwrap_or(0),
        dirty_sync_count: ram["dirty-sync-count"].as_u64().unwrap_or(0),
        expected_downtime_ms: v["expected-downtime"].as_u64().unwrap_or(0),
        cpu_throttle_pct: v["cpu-throttle-percentage"].as_u64().unwrap_or(0),
        pages_processed: ram["normal"].as_u64().unwrap_or(0)
            + ram["duplicate"].as_u64().unwrap_or(0),
        total_pages: ram["total"].as_u64().unwrap_or(0)
            / ram["page-size"].as_u64().unwrap_or(4096).max(1),
    }
}

async fn set_capabilities(vm: &QemuVm, caps: &[(&str, bool)]) -> Result<(), DriverError> {
    let list: Vec<Value> = caps
        .iter()
        .map(|(c, s)| json!({"capability": c, "state": s}))
        .collect();
    vm.qmp
        .execute("migrate-set-capabilities", json!({ "capabilities": list }))
        .await?;
    Ok(())
}

/// Makes sure the VM runs on the source after a failed or cancelled migration, unless the
/// destination runs it (then resuming the source would duplicate the VM).
async fn secure_source(src: &QemuVm, dst: &QemuVm) -> bool {
    let dst_running = matches!(dst.qmp.status().await.as_deref(), Ok("running"));
    if dst_running {
        return false;
    }
    match src.qmp.status().await.as_deref() {
        Ok("running") => true,
        Ok("paused") | Ok("postmigrate") | Ok("finish-migrate") => {
            src.qmp.execute("cont", Value::Null).await.is_ok()
        }
        _ => false,
    }
}

/// Live-migrates the guest of `src` into `dst` (started with `incoming: true`).
///
/// `progress` receives a sample per poll. The call returns when QEMU reports completion,
/// cancellation or failure, and the end state has been verified.
pub async fn migrate(
    src: &QemuVm,
    dst: &QemuVm,
    req: &MigrationRequest,
    progress: Option<mpsc::UnboundedSender<Progress>>,
) -> Result<Outcome, DriverError> {
    let decided = Instant::now();
    let p = &req.params;
    let postcopy =
        p.technique == Technique::Postcopy || req.on_deadline == DeadlineAction::Postcopy;
    let mut caps = vec![("events", true), ("return-path", true)];
    if postcopy {
        caps.push(("postcopy-ram", true));
    }
    match p.technique {
        Technique::AutoConverge => caps.push(("auto-converge", true)),
        Technique::Xbzrle => caps.push(("xbzrle", true)),
        Technique::Compress => caps.push(("compress", true)),
        _ => {}
    }
    // Both sides must agree on the stream format (post-copy, compression).
    let dst_caps: Vec<(&str, bool)> = caps
        .iter()
        .copied()
        .filter(|(c, _)| matches!(*c, "postcopy-ram" | "compress" | "events" | "return-path"))
        .collect();
    let (a, b) = tokio::join!(
        set_capabilities(src, &caps),
        set_capabilities(dst, &dst_caps)
    );
    a?;
    b?;
    let listen = match req.listen_ip {
        std::net::IpAddr::V4(ip) => format!("tcp:{ip}:0"),
        std::net::IpAddr::V6(ip) => format!("tcp:[{ip}]:0"),
    };
    dst.qmp
        .execute("migrate-incoming", json!({ "uri": listen }))
        .await?;
    let info = dst.qmp.execute("query-migrate", Value::Null).await?;
    let port = info["socket-address"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|s| {
            s["port"]
                .as_str()
                .map(str::to_string)
                .or_else(|| s["port"].as_u64().map(|p| p.to_string()))
        })
        .ok_or_else(|| DriverError::Protocol {
            vm: dst.options.name.clone(),
            message: format!("no listening port in query-migrate: {info}"),
        })?;
    let mut params = json!({
        "downtime-limit": (match p.ramp { Some(r) => r.limit_at(0.0, src.options.memory_mib as f64), None => p.downtime_limit_ms }) as u64,
        "max-bandwidth": (p.max_bandwidth_bps / 8.0) as u64,
    });
    if p.technique == Technique::Xbzrle {
        params["xbzrle-cache-size"] = json!((p.xbzrle_cache_mib * 1024.0 * 1024.0) as u64);
    }
    if p.technique == Technique::Compress {
        params["compress-threads"] = json!(p.compress_threads);
    }
    src.qmp.execute("migrate-set-parameters", params).await?;
    let uri = match req.listen_ip {
        std::net::IpAddr::V4(ip) => format!("tcp:{ip}:{port}"),
        std::net::IpAddr::V6(ip) => format!("tcp:[{ip}]:{port}"),
    };
    let started = Instant::now();
    src.qmp.execute("migrate", json!({ "uri": uri })).await?;
    let command_latency_ms = decided.elapsed().as_secs_f64() * 1000.0;

    let mut deadline_hit = false;
    let mut postcopy_started = false;
    let mut max_throttle = 0;
    let mut last_limit = -1.0;
    loop {
        tokio::time::sleep(req.poll).await;
        let v = match src.qmp.execute("query-migrate", Value::Null).await {
            Ok(v) => v,
            Err(e) => {
                return Err(DriverError::MigrationFailed {
                    reason: format!("source stopped answering: {e}"),
                    source_running: false,
                });
            }
        };
        let pr = progress_of(&v, started.elapsed());
        max_throttle = max_throttle.max(pr.cpu_throttle_pct);
        let status = pr.status.clone();
        if let Some(tx) = &progress {
            let _ = tx.send(pr.clone());
        }
        match status.as_str() {
            "completed" => {
                let (s, d) = tokio::join!(src.qmp.status(), dst.qmp.status());
                let (s, d) = (s?, d?);
                if d != "running" || s != "postmigrate" {
                    return Err(DriverError::EndState {
                        source_status: s,
                        destination_status: d,
                    });
                }
                return Ok(Outcome {
                    status,
                    total_ms: v["total-time"].as_f64().unwrap_or(pr.elapsed_ms),
                    downtime_ms: v["downtime"].as_f64().unwrap_or(0.0),
                    transferred_kib: pr.transferred_bytes as f64 / 1024.0,
                    rounds: pr.dirty_sync_count,
                    command_latency_ms,
                    deadline_hit,
                    max_throttle_pct: max_throttle,
                });
            }
            "failed" | "cancelled" => {
                let safe = secure_source(src, dst).await;
                if status == "cancelled" && safe {
                    return Ok(Outcome {
                        status,
                        total_ms: pr.elapsed_ms,
                        downtime_ms: 0.0,
                        transferred_kib: pr.transferred_bytes as f64 / 1024.0,
                        rounds: pr.dirty_sync_count,
                        command_latency_ms,
                        deadline_hit,
                        max_throttle_pct: max_throttle,
                    });
                }
                let detail = v["error-desc"].as_str().unwrap_or("").to_string();
                return Err(DriverError::MigrationFailed {
                    reason: format!("QEMU reported {status} {detail}")
                        .trim()
                        .to_string(),
                    source_running: safe,
                });
            }
            "postcopy-paused" | "postcopy-recover" => {
                // The network or the destination broke during post-copy: the VM's state is split
                // between the hosts and cannot be resumed on either without recovery.
                return Err(DriverError::MigrationFailed {
                    reason: format!("post-copy interrupted ({status})"),
                    source_running: false,
                });
            }
            _ => {}
        }
        if let Some(r) = p.ramp {
            let limit = r.limit_at(
                started.elapsed().as_secs_f64(),
                src.options.memory_mib as f64,
            );
            if limit != last_limit {
                last_limit = limit;
                let _ = src
                    .qmp
                    .execute(
                        "migrate-set-parameters",
                        json!({"downtime-limit": limit as u64}),
                    )
                    .await;
            }
        }
        // "After r rounds" means r full passes over guest RAM (QEMU's sync count is no guide: it
        // also syncs mid-pass), counted from the pages QEMU has processed.
        let passes_done = pr.total_pages > 0
            && pr.pages_processed >= pr.total_pages * p.postcopy_after_rounds as u64;
        let want_postcopy = p.technique == Technique::Postcopy && passes_done;
        if !postcopy_started && status == "active" && want_postcopy {
            src.qmp
                .execute("migrate-start-postcopy", Value::Null)
                .await?;
            postcopy_started = true;
        }
        if started.elapsed() > req.deadline && !deadline_hit && status == "active" {
            deadline_hit = true;
            match req.on_deadline {
                DeadlineAction::Cancel => {
                    src.qmp.execute("migrate_cancel", Value::Null).await?;
                }
                DeadlineAction::Postcopy if !postcopy_started => {
                    src.qmp
                        .execute("migrate-start-postcopy", Value::Null)
                        .await?;
                    postcopy_started = true;
                }
                DeadlineAction::Postcopy => {}
            }
        }
    }
}
