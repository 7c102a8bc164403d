//! Real live migrations of real QEMU guests: idle, dirtying, over a shaped link, not converging
//! (cancelled), post-copy, and a destination that dies mid-way. Every test ends by checking that
//! the VM runs on exactly one side: never paused, duplicated or lost.
//!
//! Needs `qemu-system-x86_64` (apt-get install -y --no-install-recommends qemu-system-x86) and,
//! for the shaped link, root with iproute2. `PROMIG_SKIP_QEMU=1` skips them locally; CI never sets it.

use promig_driver::testbed::Pair;
use promig_driver::testbed::guest::GuestParams;
use promig_driver::{DeadlineAction, DriverError, MigrationRequest, Outcome, migrate};
use promig_migrate::{Technique, TechniqueParams};
use std::time::Duration;

/// One QEMU pair at a time: timing assertions (downtime, link rate, console stalls) would be
/// disturbed by sixteen emulated CPUs competing for the machine's cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn qemu_available() -> bool {
    if std::env::var("PROMIG_SKIP_QEMU").is_ok_and(|v| v == "1") {
        return false;
    }
    let ok = std::process::Command::new(promig_driver::qemu::vm::qemu_binary())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "qemu-system-x86_64 is missing: apt-get install -y --no-install-recommends qemu-system-x86 (or PROMIG_SKIP_QEMU=1)"
    );
    true
}

fn request(
    pair: &Pair,
    technique: Technique,
    max_bandwidth_bytes_s: f64,
    deadline_s: u64,
    on_deadline: DeadlineAction,
) -> MigrationRequest {
    MigrationRequest {
        params: TechniqueParams {
            max_bandwidth_bps: max_bandwidth_bytes_s * 8.0,
            ..TechniqueParams::of(technique)
        },
        deadline: Duration::from_secs(deadline_s),
        on_deadline,
        listen_ip: pair.listen_ip,
        poll: Duration::from_millis(20),
    }
}

/// Checks QEMU is installed and takes the one-pair-at-a-time lock; `None` when skipped.
async fn exclusive() -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if !qemu_available() {
        return None;
    }
    Some(SERIAL.lock().await)
}

/// A booted source guest and an empty destination, the guest's region written once.
async fn bed(label: &str, memory_mib: u32, guest: &GuestParams, link_mbps: Option<f64>) -> Pair {
    let pair = Pair::start(label, memory_mib, guest, link_mbps)
        .await
        .unwrap();
    settle().await;
    pair
}

/// One migration with the given technique, QEMU max-bandwidth (bytes/s) and deadline.
async fn run(
    pair: &Pair,
    technique: Technique,
    max_bandwidth_bytes_s: f64,
    deadline_s: u64,
    on_deadline: DeadlineAction,
) -> Outcome {
    migrate(
        &pair.src,
        &pair.dst,
        &request(
            pair,
            technique,
            max_bandwidth_bytes_s,
            deadline_s,
            on_deadline,
        ),
        None,
    )
    .await
    .unwrap()
}

/// The VM must run on exactly one side, and keep printing there.
async fn assert_single_live_copy(pair: &mut Pair, expect_on_destination: bool) {
    let src = pair.src.qmp.status().await.ok();
    let dst = if pair.dst.exited() {
        None
    } else {
        pair.dst.qmp.status().await.ok()
    };
    let (live, other) = if expect_on_destination {
        (dst.as_deref(), src.as_deref())
    } else {
        (src.as_deref(), dst.as_deref())
    };
    assert_eq!(live, Some("running"), "source {src:?}, destination {dst:?}");
    assert_ne!(
        other,
        Some("running"),
        "VM running on both sides: source {src:?}, destination {dst:?}"
    );
    let vm = if expect_on_destination {
        &pair.dst
    } else {
        &pair.src
    };
    let before = vm.serial_output().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        vm.serial_output().len() > before,
        "the guest stopped printing after the migration"
    );
}

async fn settle() {
    // Let the guest boot and write its region once.
    tokio::time::sleep(Duration::from_millis(400)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_guest_migrates_over_loopback() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let mut pair = bed("idle", 128, &GuestParams::default(), None).await;
    let mut events = pair.src.qmp.events();
    let out: Outcome = run(&pair, Technique::Precopy, 1e9, 30, DeadlineAction::Cancel).await;
    assert_eq!(out.status, "completed");
    // QEMU's asynchronous events arrive through the same session: passes, the stop, the end.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        let status = e.data["status"].as_str().unwrap_or_default().to_string();
        seen.push(format!("{} {status}", e.name).trim().to_string());
    }
    for want in [
        "MIGRATION setup",
        "MIGRATION active",
        "MIGRATION_PASS",
        "STOP",
        "MIGRATION completed",
    ] {
        assert!(seen.iter().any(|s| s == want), "missing {want} in {seen:?}");
    }
    assert!(out.downtime_ms < 300.0, "{out:?}");
    assert!(
        out.command_latency_ms < 50.0,
        "driver overhead {} ms",
        out.command_latency_ms
    );
    assert_single_live_copy(&mut pair, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirtying_guest_converges_and_qemu_sees_its_dirty_rate() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let guest = GuestParams::dirtying(5000, 48);
    let mut pair = bed("dirty", 128, &guest, None).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // 40 MB/s: the first pass of the 48 MiB region lasts over a second, so QEMU measures the rate.
    let out = migrate(
        &pair.src,
        &pair.dst,
        &request(&pair, Technique::Precopy, 40e6, 60, DeadlineAction::Cancel),
        Some(tx),
    )
    .await
    .unwrap();
    assert_eq!(out.status, "completed");
    assert!(out.rounds >= 2, "{out:?}");
    let mut rates = Vec::new();
    while let Ok(p) = rx.try_recv() {
        if p.dirty_pages_rate > 0 {
            rates.push(p.dirty_pages_rate as f64);
        }
    }
    let best = rates.iter().copied().fold(0.0, f64::max);
    assert!(
        (best - 5000.0).abs() / 5000.0 < 0.2,
        "QEMU measured {rates:?} pages/s for 5000 set"
    );
    assert_single_live_copy(&mut pair, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_limited_migration_takes_memory_over_rate() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let guest = GuestParams::dirtying(0, 48);
    let mut pair = bed("link", 128, &guest, Some(200.0)).await;
    let out = run(&pair, Technique::Precopy, 1e9, 60, DeadlineAction::Cancel).await;
    assert_eq!(out.status, "completed");
    // About 49 MiB of written pages at 200 Mbit/s is about 2 s; zero pages are nearly free.
    let ideal_ms = 49.0 * 1024.0 * 1024.0 * 8.0 / 200e6 * 1000.0;
    assert!(
        out.total_ms > ideal_ms * 0.9 && out.total_ms < ideal_ms * 2.0,
        "{out:?} vs ideal {ideal_ms} ms"
    );
    assert_single_live_copy(&mut pair, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_converging_migration_is_cancelled_and_vm_stays_on_source() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    // 80 MB/s of dirtying against a 20 MB/s cap never converges.
    let guest = GuestParams::dirtying(20_000, 48);
    let mut pair = bed("cancel", 128, &guest, None).await;
    let out = run(&pair, Technique::Precopy, 20e6, 3, DeadlineAction::Cancel).await;
    assert_eq!(out.status, "cancelled");
    assert!(out.deadline_hit);
    assert_single_live_copy(&mut pair, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postcopy_finishes_what_precopy_cannot() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let guest = GuestParams::dirtying(20_000, 48);
    let mut pair = bed("postcopy", 128, &guest, None).await;
    let out = run(&pair, Technique::Postcopy, 20e6, 60, DeadlineAction::Cancel).await;
    assert_eq!(out.status, "completed");
    assert!(out.downtime_ms < 100.0, "{out:?}");
    assert_single_live_copy(&mut pair, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_dying_mid_migration_leaves_vm_running_on_source() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let guest = GuestParams::dirtying(2000, 48);
    let mut pair = bed("dstdies", 128, &guest, None).await;
    let req = request(&pair, Technique::Precopy, 10e6, 60, DeadlineAction::Cancel);
    let (src, dst) = (&pair.src, &pair.dst);
    let migration = migrate(src, dst, &req, None);
    // Kill the destination QEMU (found by its unique serial path) while it receives.
    let pid_kill = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let _ = std::process::Command::new("pkill")
            .args(["-9", "-f", &dst.serial_path().display().to_string()])
            .status();
    };
    let (res, _) = tokio::join!(migration, pid_kill);
    match res {
        Err(DriverError::MigrationFailed { source_running, .. }) => assert!(source_running),
        other => panic!("expected a failed migration, got {other:?}"),
    }
    assert_single_live_copy(&mut pair, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_switches_a_stuck_precopy_to_postcopy_when_planned() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let guest = GuestParams::dirtying(20_000, 48);
    let mut pair = bed("deadline-pc", 128, &guest, None).await;
    let out = run(&pair, Technique::Precopy, 20e6, 2, DeadlineAction::Postcopy).await;
    assert_eq!(out.status, "completed");
    assert!(out.deadline_hit, "{out:?}");
    assert!(out.downtime_ms < 100.0, "{out:?}");
    assert_single_live_copy(&mut pair, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_seen_from_the_serial_console_matches_reported_downtime() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    // One character every 5 ms: a stall in the console stream is the service interruption.
    let guest = GuestParams {
        ticks_per_char: 5,
        ..GuestParams::dirtying(5_000, 48)
    };
    let mut pair = bed("pause", 128, &guest, Some(300.0)).await;
    let (src_log, dst_log) = (
        pair.src.serial_path().to_path_buf(),
        pair.dst.serial_path().to_path_buf(),
    );
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        tokio::spawn(async move {
            let len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let mut last = len(&src_log) + len(&dst_log);
            let mut last_growth = std::time::Instant::now();
            let mut max_gap = Duration::ZERO;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let now = len(&src_log) + len(&dst_log);
                if now > last {
                    max_gap = max_gap.max(last_growth.elapsed());
                    last = now;
                    last_growth = std::time::Instant::now();
                }
            }
            max_gap
        })
    };
    let out = run(&pair, Technique::Precopy, 1e9, 60, DeadlineAction::Cancel).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let gap_ms = watcher.await.unwrap().as_secs_f64() * 1000.0;
    eprintln!(
        "QEMU downtime {} ms, console stalled {gap_ms:.0} ms",
        out.downtime_ms
    );
    assert!(
        out.downtime_ms > 50.0,
        "this setup should pause noticeably: {out:?}"
    );
    assert!(
        (gap_ms - out.downtime_ms).abs() <= 60.0,
        "console stall {gap_ms:.0} ms vs reported downtime {} ms",
        out.downtime_ms
    );
    assert_single_live_copy(&mut pair, true).await;
}
