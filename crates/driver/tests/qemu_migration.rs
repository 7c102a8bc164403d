//! Real live migrations of real QEMU guests, driven through the `Driver` trait as a controller
//! would: idle, dirtying, over a shaped link, not converging (cancelled at the deadline, or by the
//! caller mid-way), post-copy, and a destination that dies mid-way; plus the progress stream, the
//! console stall against QEMU's reported downtime, and one run against the calibrated cost model.
//! Every test ends by checking that the VM runs on exactly one side: never paused, duplicated or
//! lost.
//!
//! Needs the `testbed` feature, `qemu-system-x86_64` (apt-get install -y --no-install-recommends
//! qemu-system-x86) and, for the shaped link, root with iproute2. `PROMIG_SKIP_QEMU=1` skips them
//! locally, each test saying so on stderr; `.ci/run` refuses to run with it set.

use promig_driver::testbed::Pair;
use promig_driver::testbed::guest::GuestParams;
use promig_driver::testbed::sweep::{self, Point};
use promig_driver::{
    DeadlineAction, Driver, DriverError, MigrationHandle, MigrationRequest, MigrationStatus,
    Outcome, Progress, QemuDriver, RunState,
};
use promig_migrate::{Calibration, MigrationModel, Technique, TechniqueParams};
use std::time::Duration;
use tokio::sync::watch;

/// One QEMU pair at a time: timing assertions (downtime, link rate, console stalls) would be
/// disturbed by sixteen emulated CPUs competing for the machine's cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the local opt-out is set; if so, says on stderr which test it skips and why, so a
/// run that "passed" without QEMU cannot pass for one that ran (`.ci/run` refuses the variable).
fn skip_requested() -> bool {
    if std::env::var("PROMIG_SKIP_QEMU").is_ok_and(|v| v == "1") {
        // libtest names each test's thread after the test; the async body runs on it.
        use std::io::Write as _;
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a QEMU test");
        // Straight to the process's stderr rather than `eprintln!`: libtest captures the macros'
        // output and shows it only for failing tests (or with --nocapture), and a skip passes.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: PROMIG_SKIP_QEMU=1 is set, so no real QEMU migration ran"
        );
        return true;
    }
    false
}

/// False when skipped on request; panics with the install command when QEMU is missing.
fn qemu_available() -> bool {
    if skip_requested() {
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
    technique: Technique,
    max_bandwidth_bytes_s: f64,
    deadline_s: u64,
    on_deadline: DeadlineAction,
) -> MigrationRequest {
    MigrationRequest {
        vm: "guest".into(),
        destination: "destination".into(),
        params: TechniqueParams {
            max_bandwidth_bps: max_bandwidth_bytes_s * 8.0,
            ..TechniqueParams::of(technique)
        },
        deadline: Duration::from_secs(deadline_s),
        on_deadline,
    }
}

/// Starts the migration of the pair's guest through a `dyn Driver`, as the controller holds it.
async fn start(pair: &Pair, request: MigrationRequest) -> MigrationHandle {
    // 20 ms polls: sub-second migrations still get several samples.
    let qemu = QemuDriver::new().with_poll_interval(Duration::from_millis(20));
    pair.prepare(&qemu, &request);
    let driver: &dyn Driver = &qemu;
    driver.start(request).await.unwrap()
}

/// Every sample the progress stream delivers, until the migration is over.
fn collect(mut progress: watch::Receiver<Progress>) -> tokio::task::JoinHandle<Vec<Progress>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while progress.changed().await.is_ok() {
            seen.push(progress.borrow_and_update().clone());
        }
        seen
    })
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
    let req = request(technique, max_bandwidth_bytes_s, deadline_s, on_deadline);
    start(pair, req).await.outcome().await.unwrap()
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
        (dst.as_ref(), src.as_ref())
    } else {
        (src.as_ref(), dst.as_ref())
    };
    assert_eq!(
        live,
        Some(&RunState::Running),
        "source {src:?}, destination {dst:?}"
    );
    assert_ne!(
        other,
        Some(&RunState::Running),
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
    assert_eq!(out.status, MigrationStatus::Completed);
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
    // 40 MB/s: the first pass of the 48 MiB region lasts over a second, so QEMU measures the rate.
    let handle = start(
        &pair,
        request(Technique::Precopy, 40e6, 60, DeadlineAction::Cancel),
    )
    .await;
    let samples = collect(handle.progress());
    let out = handle.outcome().await.unwrap();
    assert_eq!(out.status, MigrationStatus::Completed);
    assert!(out.rounds >= 2, "{out:?}");
    let rates: Vec<f64> = samples
        .await
        .unwrap()
        .iter()
        .filter(|p| p.dirty_pages_rate > 0)
        .map(|p| p.dirty_pages_rate as f64)
        .collect();
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
    assert_eq!(out.status, MigrationStatus::Completed);
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
    assert_eq!(out.status, MigrationStatus::Cancelled);
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
    assert_eq!(out.status, MigrationStatus::Completed);
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
    let handle = start(
        &pair,
        request(Technique::Precopy, 10e6, 60, DeadlineAction::Cancel),
    )
    .await;
    // Kill the destination QEMU (our own child process) while it receives.
    tokio::time::sleep(Duration::from_millis(700)).await;
    pair.dst.kill().await;
    let res = handle.outcome().await;
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
    assert_eq!(out.status, MigrationStatus::Completed);
    assert!(out.deadline_hit, "{out:?}");
    assert!(out.downtime_ms < 100.0, "{out:?}");
    assert_single_live_copy(&mut pair, true).await;
}

/// How far the console stall may sit from `downtime + one character period`. QEMU reports the
/// downtime in whole milliseconds (up to 1 ms lost at each end of the pause), the watcher looks
/// every 0.25 ms, and two busy cores can delay it a little more: over 64 runs on this machine
/// class (other builds sharing its two cores) the residual stayed within -1.3..+0.7 ms, so 3 ms
/// is more than twice the worst seen.
const STALL_TOLERANCE_MS: f64 = 3.0;

/// The longest time neither serial log grew, watched from an OS thread until `done` is set. (A
/// tokio timer ticks at 1 ms at best: watched that way, stall minus downtime spread over
/// 3.3-7.2 ms in 41 runs, against 3.7-5.7 ms from this thread.)
fn watch_console_stall(
    logs: [std::path::PathBuf; 2],
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Duration> {
    std::thread::spawn(move || {
        let len = || -> u64 {
            logs.iter()
                .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .sum()
        };
        let mut last = len();
        let mut last_growth = std::time::Instant::now();
        let mut max_gap = Duration::ZERO;
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_micros(250));
            let now = len();
            if now > last {
                max_gap = max_gap.max(last_growth.elapsed());
                last = now;
                last_growth = std::time::Instant::now();
            }
        }
        max_gap
    })
}

/// The guest's own view of the pause. Its timer runs on QEMU's virtual clock, which stops with
/// the VM, so the downtime is cut into an otherwise even stream of one character per 5 ms: the
/// longest gap a watcher sees is the downtime plus exactly one character period. That identity
/// is what is checked, to the few milliseconds the measurement allows, so a driver or a QEMU
/// whose reported downtime stops meaning "the guest did not run" fails here.
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
    let char_period_ms = 1000.0 / guest.chars_per_s();
    let mut pair = bed("pause", 128, &guest, Some(300.0)).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch_console_stall(
        [
            pair.src.serial_path().to_path_buf(),
            pair.dst.serial_path().to_path_buf(),
        ],
        done.clone(),
    );
    let out = run(&pair, Technique::Precopy, 1e9, 60, DeadlineAction::Cancel).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let gap_ms = watcher.join().unwrap().as_secs_f64() * 1000.0;
    let residual_ms = gap_ms - out.downtime_ms - char_period_ms;
    eprintln!(
        "QEMU downtime {} ms, console stalled {gap_ms:.1} ms (downtime + {char_period_ms:.1} ms character period {residual_ms:+.1} ms)",
        out.downtime_ms
    );
    assert_eq!(out.status, MigrationStatus::Completed);
    assert!(
        out.downtime_ms > 50.0,
        "this setup should pause noticeably: {out:?}"
    );
    assert!(
        residual_ms.abs() <= STALL_TOLERANCE_MS,
        "console stall {gap_ms:.1} ms vs reported downtime {} ms + one {char_period_ms:.1} ms character period: off by {residual_ms:+.1} ms (at most {STALL_TOLERANCE_MS} ms)",
        out.downtime_ms
    );
    assert_single_live_copy(&mut pair, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_cancels_a_running_migration_and_vm_keeps_running_on_source() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    // Never converges (80 MB/s dirtied, 20 MB/s sent) and the deadline is far: only the caller's
    // cancel can end it.
    let guest = GuestParams::dirtying(20_000, 48);
    let mut pair = bed("caller-cancel", 128, &guest, None).await;
    let handle = start(
        &pair,
        request(Technique::Precopy, 20e6, 60, DeadlineAction::Cancel),
    )
    .await;
    // Mid-way: pre-copy running and 10 MB sent.
    let mut progress = handle.progress();
    let midway = progress
        .wait_for(|p| p.status == MigrationStatus::Active && p.transferred_bytes > 10_000_000)
        .await
        .expect("the migration ended before it was half-way")
        .clone();
    // From another task, as an HTTP handler or a fault detector would.
    let canceller = handle.canceller();
    let asked = std::time::Instant::now();
    tokio::spawn(async move { canceller.cancel() });
    let out = handle.outcome().await.unwrap();
    let reaction_ms = asked.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(out.status, MigrationStatus::Cancelled, "{out:?}");
    assert!(out.cancel_requested && !out.deadline_hit, "{out:?}");
    // The stream's last word is the typed final status too.
    assert_eq!(progress.borrow().status, MigrationStatus::Cancelled);
    assert!(midway.elapsed_ms < out.total_ms, "{midway:?} vs {out:?}");
    assert!(
        reaction_ms < 2_000.0,
        "cancel took {reaction_ms:.0} ms to end the migration"
    );
    assert_single_live_copy(&mut pair, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_stream_delivers_typed_samples_until_the_end() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    // About 49 MiB at 40 MB/s: well over a second of pre-copy, dozens of 20 ms polls.
    let guest = GuestParams::dirtying(2000, 48);
    let mut pair = bed("progress", 128, &guest, None).await;
    let handle = start(
        &pair,
        request(Technique::Precopy, 40e6, 60, DeadlineAction::Cancel),
    )
    .await;
    let samples = collect(handle.progress());
    let out = handle.outcome().await.unwrap();
    // The stream ends with the migration, so the collector finishes on its own.
    let samples = tokio::time::timeout(Duration::from_secs(5), samples)
        .await
        .expect("the progress stream did not end with the migration")
        .unwrap();
    assert!(samples.len() >= 10, "only {} samples", samples.len());
    for p in &samples {
        assert!(
            !matches!(p.status, MigrationStatus::Other(_)),
            "QEMU reported a status the driver does not know: {p:?}"
        );
    }
    assert!(samples.iter().any(|p| p.status == MigrationStatus::Active));
    assert_eq!(
        samples.last().map(|p| &p.status),
        Some(&MigrationStatus::Completed)
    );
    for w in samples.windows(2) {
        assert!(w[1].elapsed_ms >= w[0].elapsed_ms, "{w:?}");
        assert!(w[1].transferred_bytes >= w[0].transferred_bytes, "{w:?}");
    }
    assert_eq!(out.status, MigrationStatus::Completed);
    assert_single_live_copy(&mut pair, true).await;
}

/// The cost model's 5-fold cross-validated median errors (README, "Live migration"): total time
/// and downtime (runs with downtime >= 20 ms).
const MODEL_CV_TOTAL_ERROR: f64 = 0.042;
/// See [`MODEL_CV_TOTAL_ERROR`].
const MODEL_CV_DOWNTIME_ERROR: f64 = 0.187;
/// Run-to-run spread of the median of three runs of [`MODEL_CHECK_POINT`], measured here: over
/// 38 runs (total 560-604 ms, median 568; downtime 147-183 ms, median 155; the slow ones when
/// other builds shared the two cores), the median of any three of them stayed within 5.6 % of
/// the median of all 38 for total time.
const MODEL_TOTAL_SPREAD: f64 = 0.056;
/// The same for downtime: within 7.7 %.
const MODEL_DOWNTIME_SPREAD: f64 = 0.077;

/// A point of the calibration sweep the model predicts well and QEMU repeats closely: pre-copy,
/// 10,000 dirty pages/s over a 1 Gbit/s link, about 570 ms in all with about 155 ms of downtime:
/// under QEMU's 300 ms limit, so set by the migration loop rather than by the limit, and far
/// above the 20 ms under which the README counts downtime errors in ms. (The 300 Mbit/s points
/// take 3 s and vary by two dirty syncs from run to run; loopback downtimes are under 20 ms.)
const MODEL_CHECK_POINT: Point = Point {
    technique: Technique::Precopy,
    dirty_pages_per_s: 10_000,
    link_mbps: Some(1000.0),
    max_bandwidth_bytes_s: 1e9,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// QEMU itself against the calibration it was fitted on. The model's constants
/// (`Calibration::default()`) come from a committed sweep of QEMU 7.2 runs; a different QEMU
/// (a distribution update on CI, another version's migration loop) changes total time and
/// downtime, and this test is where that shows up as a failure instead of as a silently stale
/// calibration. Three runs (about 3.5 s), their medians compared with the prediction for the
/// same memory, working set, dirty rate, link, bandwidth cap and technique, built the way the
/// sweep builds it (`Measurement::input` and `Measurement::model`). Bounds: the README's
/// cross-validated error plus the measured spread of a median of three, 9.8 % for total time
/// and 26.4 % for downtime; on this machine a median of three was off the prediction by at most
/// 5.3 % and 9.0 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_total_time_and_downtime_match_the_calibrated_model() {
    let Some(_one_at_a_time) = exclusive().await else {
        return;
    };
    let mut runs = Vec::new();
    for _ in 0..3 {
        let m = sweep::run_point(MODEL_CHECK_POINT)
            .await
            .unwrap()
            .expect("this point converges in well under a second");
        runs.push(m);
    }
    let predicted = runs[0]
        .model(Calibration::default())
        .estimate(&runs[0].input());
    assert!(predicted.converged, "{predicted:?}");
    let (predicted_total_ms, predicted_downtime_ms) =
        (predicted.total_s * 1000.0, predicted.downtime_s * 1000.0);
    let total_ms = median(runs.iter().map(|m| m.total_ms).collect());
    let downtime_ms = median(runs.iter().map(|m| m.downtime_ms).collect());
    let total_error = (predicted_total_ms - total_ms).abs() / total_ms;
    let downtime_error = (predicted_downtime_ms - downtime_ms).abs() / downtime_ms;
    let measured: Vec<(f64, f64)> = runs.iter().map(|m| (m.total_ms, m.downtime_ms)).collect();
    eprintln!(
        "model {predicted_total_ms:.0} / {predicted_downtime_ms:.0} ms, measured (total, downtime) {measured:?}: errors {:.1} % / {:.1} %",
        total_error * 100.0,
        downtime_error * 100.0
    );
    let (total_bound, downtime_bound) = (
        MODEL_CV_TOTAL_ERROR + MODEL_TOTAL_SPREAD,
        MODEL_CV_DOWNTIME_ERROR + MODEL_DOWNTIME_SPREAD,
    );
    assert!(
        downtime_ms >= 20.0,
        "the point should pause well above 20 ms: {measured:?}"
    );
    assert!(
        total_error <= total_bound && downtime_error <= downtime_bound,
        "QEMU no longer behaves as calibrated: total {total_ms:.0} ms against {predicted_total_ms:.0} predicted, error {:.1} % (bound {:.1} %); downtime {downtime_ms:.0} ms against {predicted_downtime_ms:.0} predicted, error {:.1} % (bound {:.1} %). Rerun `promig migrate calibrate --run-sweep OUT.csv` and refit",
        total_error * 100.0,
        total_bound * 100.0,
        downtime_error * 100.0,
        downtime_bound * 100.0
    );
}
