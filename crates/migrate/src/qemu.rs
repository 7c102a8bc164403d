//! QEMU's live-migration algorithm as a model, one technique at a time.
//!
//! The model replays QEMU's loop round by round instead of using a closed formula, because the
//! techniques differ exactly in what happens between rounds: pre-copy re-sends what was dirtied,
//! auto-converge throttles the vCPUs when dirtying outpaces sending, XBZRLE and compression shrink
//! the bytes of each page, post-copy switches over early and pulls the rest. The constants that
//! depend on the machine (link efficiency, per-round bitmap sync cost, zero-page scan speed,
//! switch-over time) live in [`Calibration`] and are fitted on real migrations
//! (`promig migrate calibrate`).

use crate::{MIB, MigrationEstimate, MigrationInput, MigrationModel, PAGE_BYTES};
pub use promig_model::Technique;
use serde::{Deserialize, Serialize};

/// Rounds after which a migration that has not converged is given up on (QEMU itself has no
/// limit; this keeps the model total on any input).
const MAX_ROUNDS: u32 = 100_000;

/// Nova's downtime ramp (`live_migration_downtime`, `_steps`, `_delay`): start with a small
/// downtime limit and raise it in steps, so short pauses are tried before long ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DowntimeRamp {
    /// Final downtime limit.
    pub max_downtime_ms: f64,
    /// Number of steps.
    pub steps: u32,
    /// Seconds between steps per GiB of guest RAM.
    pub delay_s_per_gib: f64,
}

impl Default for DowntimeRamp {
    /// Nova's defaults: 500 ms, 10 steps, 75 s per GiB.
    fn default() -> Self {
        DowntimeRamp {
            max_downtime_ms: 500.0,
            steps: 10,
            delay_s_per_gib: 75.0,
        }
    }
}

impl DowntimeRamp {
    /// The downtime limit in force `elapsed_s` into a migration of `memory_mib`.
    pub fn limit_at(&self, elapsed_s: f64, memory_mib: f64) -> f64 {
        let steps = self.steps.max(1) as f64;
        let base = self.max_downtime_ms / steps;
        let offset = (self.max_downtime_ms - base) / steps;
        let delay = (self.delay_s_per_gib * memory_mib / 1024.0).max(f64::MIN_POSITIVE);
        let i = (elapsed_s / delay).floor().min(steps);
        base + offset * i
    }
}

/// The knobs QEMU (and Nova) expose for one migration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TechniqueParams {
    /// Technique.
    pub technique: Technique,
    /// QEMU `downtime-limit` (ms); ignored while a ramp is set.
    pub downtime_limit_ms: f64,
    /// QEMU `max-bandwidth` (bits/s) for the pre-copy phase.
    pub max_bandwidth_bps: f64,
    /// Nova-style downtime ramp instead of a fixed limit.
    pub ramp: Option<DowntimeRamp>,
    /// Post-copy: full pre-copy passes before switching over (0 = at once, before any page is
    /// sent, as the driver does with `migrate-start-postcopy` right after the start; 1 = after
    /// the first pass).
    pub postcopy_after_rounds: u32,
    /// XBZRLE cache size (QEMU default 64 MiB).
    pub xbzrle_cache_mib: f64,
    /// Compression threads (QEMU default 8).
    pub compress_threads: u32,
    /// Give up (cancel) after this long without converging.
    pub timeout_s: f64,
}

impl Default for TechniqueParams {
    fn default() -> Self {
        TechniqueParams {
            technique: Technique::Precopy,
            downtime_limit_ms: 300.0,
            max_bandwidth_bps: 128.0 * MIB * 8.0,
            ramp: None,
            postcopy_after_rounds: 1,
            xbzrle_cache_mib: 64.0,
            compress_threads: 8,
            timeout_s: 3600.0,
        }
    }
}

impl TechniqueParams {
    /// Defaults for a technique.
    pub fn of(technique: Technique) -> Self {
        TechniqueParams {
            technique,
            ..TechniqueParams::default()
        }
    }
}

/// Machine-dependent constants, fitted on measured migrations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Share of the link's rate a migration stream achieves (TCP and framing overhead).
    pub link_efficiency: f64,
    /// Fixed start-up cost: connection, capability negotiation, first bitmap.
    pub setup_s: f64,
    /// Cost of one dirty-bitmap sync per GiB of guest RAM (paid every round).
    pub sync_s_per_gib: f64,
    /// Time to scan and send never-written (zero) pages, per GiB.
    pub zero_scan_s_per_gib: f64,
    /// Switch-over cost on top of the last copy (device state, handshake, resume).
    pub switchover_s: f64,
    /// Bytes on the wire per re-sent page under XBZRLE, as a share of a page (cache hits).
    pub xbzrle_ratio: f64,
    /// Bytes on the wire per page under zlib compression, as a share of a page.
    pub compress_ratio: f64,
    /// Pages one compression thread can process per second (input MiB/s).
    pub compress_mib_s_per_thread: f64,
    /// Compression threads that really run in parallel (host cores left to QEMU).
    pub compress_parallelism: f64,
    /// Data a full round leaves queued in socket and link buffers, drained during the downtime.
    pub inflight_mib: f64,
    /// Queueing on the path that grows with the stream's rate: seconds of downtime per MiB/s of
    /// throughput above [`Calibration::queue_free_mib_s`]. Real KVM hosts show it (an idle guest's
    /// pause grows from 20 ms at 55 MiB/s to 145 ms at 115 MiB/s); the TCG test bed does not (0).
    #[serde(default)]
    pub queue_s_per_mib_s: f64,
    /// Throughput up to which the path queues nothing (see `queue_s_per_mib_s`).
    #[serde(default)]
    pub queue_free_mib_s: f64,
    /// Writable working set as a time: a guest re-dirties a hot set of about this many seconds of
    /// its dirty rate, so pages to re-send saturate while the rate stays high. 0 = the hot set is
    /// the input's `wws_mib` and dirtying is uniform (what the TCG test bed's synthetic guest does).
    #[serde(default)]
    pub hot_set_s: f64,
    /// The cluster's orchestrator forces a migration that has not converged to complete (stop and
    /// copy whatever is dirty) once it has sent this many times the guest's memory; 0 = never,
    /// QEMU's own behaviour. Histories from managed clusters show it: the real KVM runs that never
    /// converged all end after 3-5 passes with a pause of seconds.
    #[serde(default)]
    pub force_after_passes: f64,
    /// Whether QEMU's convergence test is modelled as QEMU makes it: the dirty pages still to
    /// send, counted at their full page size, over the throughput it measured on the wire (the
    /// path's rate as the migration achieves it, capped by max-bandwidth), instead of over the
    /// time the stop-and-copy will really take. Pre-copy sends pages as they are at that rate, so
    /// nothing changes there. Compression is bound by the compression threads, not the path: its
    /// pages go through at the threads' rate while the wire carries only the compressed bytes, so
    /// QEMU overstates the stop-and-copy by the inverse of the compression ratio, waits for a
    /// smaller dirty set and pauses for about the limit times the wire rate over the page rate.
    /// Real KVM compression shows it (SoCC 2017, 300 ms limit, guests dirtying 2,000-10,000
    /// pages/s, pages compressed at 57-60 MB/s: median converged pauses of 138 ms at 27 MB/s on
    /// the wire for bzip2, 300 x 27 / 58 = 140; 173 ms at 30 MB/s for a memory writer; where
    /// pre-copy pauses 228-259 ms). `false`, the test bed's fit, compares the stop-and-copy's own
    /// time.
    #[serde(default)]
    pub decide_on_wire_rate: bool,
    /// How full of QEMU's switch-over threshold (the measured rate x `downtime-limit`) the last
    /// dirty set is once the guest has re-dirtied pages after the first pass; 0 = no more than
    /// the round's own dirtying (the test bed). QEMU does not wait for a round to end: it checks
    /// what is left at every rate-limit window (100 ms of sending), syncs the bitmap when that
    /// falls under the threshold, and stops the guest if the rest with the newly dirtied pages
    /// still fits. A busy guest therefore stops with the threshold nearly full, whatever its
    /// dirty rate. Real KVM hosts show it (SoCC 2017, 300 ms limit, 2,000-20,000 pages/s): the
    /// converged pauses sit at 270-285 ms on an uncapped 1 Gbit/s path and at 160-185 ms under
    /// a 50-90 MiB/s cap (whose threshold is smaller and drains at the uncapped rate), where a
    /// round-by-round loop gives pauses that grow with the dirty rate (170-600 ms).
    #[serde(default)]
    pub switch_fill: f64,
}

impl Default for Calibration {
    /// Fitted on `crates/migrate/calibration/sweep.csv` (QEMU 7.2, TCG, this machine class).
    fn default() -> Self {
        crate::calibration::FITTED
    }
}

/// A QEMU migration model: technique parameters plus calibration.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QemuModel {
    /// What is being done.
    pub params: TechniqueParams,
    /// Machine constants.
    pub calibration: Calibration,
}

/// Extra figures beyond [`MigrationEstimate`] that planners care about.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// The common figures.
    pub estimate: MigrationEstimate,
    /// Highest vCPU throttle applied (auto-converge), 0..1.
    pub max_throttle: f64,
    /// Guest CPU lost to throttling, in vCPU-seconds.
    pub throttled_cpu_s: f64,
    /// Host CPU spent compressing, in core-seconds.
    pub compression_cpu_s: f64,
    /// Post-copy phase length: while it lasts a source or network failure loses the VM.
    pub postcopy_s: f64,
}

/// Distinct bytes dirtied in `dt` seconds at `rate` bytes/s, bounded by the writable working set.
/// `rate` is meant as QEMU reports it (`dirty-pages-rate` counts pages newly dirtied per sync
/// period), so re-writes within a period are already discounted and growth is linear up to the set.
fn dirtied(rate: f64, dt: f64, wws: f64) -> f64 {
    if wws <= 0.0 || rate <= 0.0 {
        return 0.0;
    }
    (rate * dt).min(wws)
}

/// Distinct bytes dirtied in `dt` seconds when writes at `rate` bytes/s land at random in a hot set
/// of `hot` bytes: the set fills as `hot (1 - e^(-rate dt / hot))`, so re-writes of pages already
/// dirty count once (a real guest's working set, unlike a uniform sweep).
fn dirtied_in_hot_set(rate: f64, dt: f64, hot: f64) -> f64 {
    if hot <= 0.0 || rate <= 0.0 {
        return 0.0;
    }
    -hot * (-(rate * dt / hot)).exp_m1()
}

impl QemuModel {
    /// A model of `technique` with default parameters and the fitted calibration.
    pub fn of(technique: Technique) -> Self {
        QemuModel {
            params: TechniqueParams::of(technique),
            calibration: Calibration::default(),
        }
    }

    /// Runs the model and returns all figures.
    pub fn detail(&self, input: &MigrationInput) -> Detail {
        // A migration that cannot exist (NaN, infinite, negative or absurd sizes) never
        // converges; answering that keeps the model total instead of panicking or looping.
        if input.validate().is_err() {
            return Detail {
                estimate: MigrationEstimate {
                    total_s: f64::INFINITY,
                    downtime_s: f64::INFINITY,
                    transferred_bytes: 0.0,
                    rounds: 0,
                    converged: false,
                },
                max_throttle: 0.0,
                throttled_cpu_s: 0.0,
                compression_cpu_s: 0.0,
                postcopy_s: 0.0,
            };
        }
        let p = &self.params;
        let c = &self.calibration;
        let link = input.bandwidth_bps.max(1.0) / 8.0 * c.link_efficiency;
        let cap = p.max_bandwidth_bps.max(1.0) / 8.0;
        let precopy_rate = link.min(cap);
        let memory = input.memory_mib.max(0.0) * MIB;
        let gib = input.memory_mib / 1024.0;
        let touched = input.touched_mib.map_or(memory, |t| (t * MIB).min(memory));
        let dirty_rate = input.dirty_pages_per_s.max(0.0) * PAGE_BYTES;
        let wws_input = input.wws_mib.clamp(0.0, input.memory_mib) * MIB;
        let hot_set = c.hot_set_s > 0.0;
        let wws = if hot_set {
            wws_input.min(dirty_rate * c.hot_set_s)
        } else {
            wws_input
        };
        let dirty = |rate: f64, dt: f64| {
            if hot_set {
                dirtied_in_hot_set(rate, dt, wws)
            } else {
                dirtied(rate, dt, wws)
            }
        };
        let rtt = 2.0 * input.latency_ms / 1000.0;
        let threads = p.compress_threads.max(1) as f64;

        // Wire bytes and seconds to send `bytes` of page data in round `round` (1-based).
        // XBZRLE only caches pages re-sent after the first pass, so deltas start in round 3.
        let send = |bytes: f64, round: u32, rate: f64| -> (f64, f64, f64) {
            let resent = if round >= 3 { bytes } else { 0.0 };
            match p.technique {
                Technique::Xbzrle => {
                    let hit = if resent > 0.0 {
                        (p.xbzrle_cache_mib * MIB / wws.max(1.0)).min(1.0)
                    } else {
                        0.0
                    };
                    let wire = bytes - resent * hit + resent * hit * c.xbzrle_ratio;
                    (wire, wire / rate, 0.0)
                }
                Technique::Compress => {
                    let wire = bytes * c.compress_ratio;
                    let cpu_s = bytes / (c.compress_mib_s_per_thread * MIB);
                    let t = (wire / rate).max(cpu_s / threads.min(c.compress_parallelism.max(1.0)));
                    (wire, t, cpu_s)
                }
                _ => (bytes, bytes / rate, 0.0),
            }
        };

        let zero_bytes = memory - touched;
        if p.technique == Technique::Postcopy && p.postcopy_after_rounds == 0 {
            // Switch at once: the source stops, syncs the dirty bitmap (nothing sent yet, so
            // nothing to discard) and hands over the device state; the guest resumes on the
            // destination while every page crosses once, pushed in the background or pulled on a
            // fault, at the full link rate. QEMU times the pause at the source, once the device
            // state is written, so no page data queued on the path is part of it.
            let downtime_s = c.switchover_s + c.sync_s_per_gib * gib + rtt;
            let pull_s = touched / link + zero_bytes / MIB / 1024.0 * c.zero_scan_s_per_gib;
            return Detail {
                estimate: MigrationEstimate {
                    total_s: c.setup_s + downtime_s + pull_s,
                    downtime_s,
                    transferred_bytes: touched,
                    rounds: 1,
                    converged: true,
                },
                max_throttle: 0.0,
                throttled_cpu_s: 0.0,
                compression_cpu_s: 0.0,
                postcopy_s: pull_s,
            };
        }

        let mut t = c.setup_s;
        let mut wire_total = 0.0;
        // Page data sent, before XBZRLE or compression shrink it (what "passes over memory" count).
        let mut pages_total = touched;
        let mut compression_cpu = 0.0;
        let mut throttle: f64 = 0.0;
        let mut max_throttle: f64 = 0.0;
        let mut throttled_cpu = 0.0;
        let mut high_count = 0;
        let mut rounds: u32 = 0;
        let mut last_pending = f64::INFINITY;
        let mut stalled = 0;

        // Round 1: every touched page in full, never-written pages as zero-page markers.
        let (wire, dt, cpu) = send(touched, 1, precopy_rate);
        let dt = dt + zero_bytes / MIB / 1024.0 * c.zero_scan_s_per_gib + c.sync_s_per_gib * gib;
        t += dt;
        wire_total += wire;
        compression_cpu += cpu;
        rounds += 1;
        let mut pending = dirty(dirty_rate, dt);
        // Whether the round before the switch-over ended on real pages (its last bytes may still be
        // queued) rather than on a run of cheap zero pages.
        let mut last_round_full = touched >= memory;
        let mut period_dirty = pending;
        let mut period_sent = wire;

        loop {
            let limit_ms = match p.ramp {
                Some(r) => r.limit_at(t, input.memory_mib),
                None => p.downtime_limit_ms,
            };
            // QEMU decides with its measured (capped) throughput, but the stop-and-copy itself is
            // not rate-limited, and with return-path the downtime also covers what the last round
            // left queued in socket and link buffers.
            let (_, pending_at_cap_s, _) = send(pending, rounds + 1, precopy_rate);
            // QEMU's estimate: page bytes over its measured wire throughput (see
            // `decide_on_wire_rate`); the same as the round's own time for pre-copy.
            let expected_s = if c.decide_on_wire_rate {
                pending / precopy_rate
            } else {
                pending_at_cap_s
            };
            let (pending_wire, pending_s, _) = send(pending, rounds + 1, link);
            // What the last round left in socket buffers, and the path's rate-dependent queue
            // (page data only: post-copy's hand-over does not wait for the latter).
            let (inflight_s, queued_s) = if last_round_full {
                let inflight_s = c.inflight_mib * MIB / link;
                let queue_s =
                    c.queue_s_per_mib_s * (precopy_rate / MIB - c.queue_free_mib_s).max(0.0);
                (inflight_s, inflight_s + queue_s)
            } else {
                (0.0, 0.0)
            };
            let threshold_s = limit_ms / 1000.0;
            if expected_s <= threshold_s {
                // After a re-send, the stop-and-copy carries what was left of the threshold when
                // QEMU checked, not just the last round's dirtying (see `switch_fill`).
                let (pending_wire, pending_s) = if rounds >= 2 && c.switch_fill > 0.0 {
                    let left = pending.max(c.switch_fill * threshold_s * precopy_rate);
                    let (wire, s, _) = send(left, rounds + 1, link);
                    (wire, s)
                } else {
                    (pending_wire, pending_s)
                };
                let downtime_s = pending_s + queued_s + c.switchover_s + rtt;
                return Detail {
                    estimate: MigrationEstimate {
                        total_s: t + downtime_s,
                        downtime_s,
                        transferred_bytes: wire_total + pending_wire,
                        rounds: rounds + 1,
                        converged: true,
                    },
                    max_throttle,
                    throttled_cpu_s: throttled_cpu,
                    compression_cpu_s: compression_cpu,
                    postcopy_s: 0.0,
                };
            }
            if p.technique == Technique::Postcopy && rounds >= p.postcopy_after_rounds {
                // Switch over: device state only; then pull every page not yet current at the
                // full link rate (max-bandwidth does not apply to post-copy).
                // The pause is the device state's hand-over: the path's rate-dependent queue of
                // page data does not delay it (real KVM post-copy pauses 1-3 ms at any rate).
                let unsent = pending;
                let pull_s = unsent / link;
                let downtime_s = inflight_s + c.switchover_s + rtt;
                let total_s = t + downtime_s + pull_s;
                return Detail {
                    estimate: MigrationEstimate {
                        total_s,
                        downtime_s,
                        transferred_bytes: wire_total + unsent,
                        rounds: rounds + 1,
                        converged: true,
                    },
                    max_throttle,
                    throttled_cpu_s: throttled_cpu,
                    compression_cpu_s: compression_cpu,
                    postcopy_s: pull_s,
                };
            }
            // No progress for several rounds and nothing that could change it: QEMU would loop
            // until cancelled.
            if pending >= last_pending * 0.98 {
                stalled += 1;
            } else {
                stalled = 0;
            }
            if c.force_after_passes > 0.0 && pages_total >= c.force_after_passes * memory {
                let downtime_s = pending_s + queued_s + c.switchover_s + rtt;
                return Detail {
                    estimate: MigrationEstimate {
                        total_s: t + downtime_s,
                        downtime_s,
                        transferred_bytes: wire_total + pending_wire,
                        rounds: rounds + 1,
                        converged: false,
                    },
                    max_throttle,
                    throttled_cpu_s: throttled_cpu,
                    compression_cpu_s: compression_cpu,
                    postcopy_s: 0.0,
                };
            }
            let can_change = c.force_after_passes > 0.0
                || p.ramp.is_some()
                || p.technique == Technique::AutoConverge && throttle < 0.99;
            // Bounded whatever the input: a NaN or infinite clock (absurd sizes) ends it too.
            let out_of_time = t.is_nan() || t > p.timeout_s || rounds >= MAX_ROUNDS;
            if (stalled >= 3 && !can_change) || out_of_time {
                return Detail {
                    estimate: MigrationEstimate {
                        total_s: f64::INFINITY,
                        downtime_s: pending_s + c.switchover_s + rtt,
                        transferred_bytes: wire_total,
                        rounds,
                        converged: false,
                    },
                    max_throttle,
                    throttled_cpu_s: throttled_cpu,
                    compression_cpu_s: compression_cpu,
                    postcopy_s: 0.0,
                };
            }
            last_pending = pending;
            // Next round: send the dirty set while the (possibly throttled) guest keeps dirtying.
            let (wire, send_s, cpu) = send(pending, rounds + 1, precopy_rate);
            let dt = send_s + c.sync_s_per_gib * gib;
            let rate_now = dirty_rate * (1.0 - throttle);
            throttled_cpu += throttle * dt;
            t += dt;
            wire_total += wire;
            pages_total += pending;
            compression_cpu += cpu;
            rounds += 1;
            last_round_full = wire > 0.0;
            pending = dirty(rate_now, dt);
            period_dirty += pending;
            period_sent += wire;
            // Auto-converge looks at periods of at least a second: dirtied > 50 % of sent twice
            // in a row raises the throttle (20 % first, then +10 %, at most 99 %).
            if p.technique == Technique::AutoConverge && dt > 0.0 {
                if period_dirty > 0.5 * period_sent {
                    high_count += 1;
                    if high_count >= 2 {
                        throttle = if throttle == 0.0 {
                            0.2
                        } else {
                            (throttle + 0.1).min(0.99)
                        };
                        max_throttle = max_throttle.max(throttle);
                        high_count = 0;
                    }
                } else {
                    high_count = 0;
                }
                period_dirty = 0.0;
                period_sent = 0.0;
            }
        }
    }
}

impl MigrationModel for QemuModel {
    fn name(&self) -> &str {
        self.params.technique.name()
    }

    fn estimate(&self, input: &MigrationInput) -> MigrationEstimate {
        self.detail(input).estimate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(mem: f64, dirty: f64, mbps: f64) -> MigrationInput {
        MigrationInput {
            memory_mib: mem,
            dirty_pages_per_s: dirty,
            wws_mib: mem / 4.0,
            bandwidth_bps: mbps * 1e6,
            latency_ms: 0.1,
            touched_mib: None,
        }
    }

    #[test]
    fn idle_vm_is_one_pass_at_link_speed() {
        let e = QemuModel::of(Technique::Precopy).estimate(&input(1024.0, 0.0, 1000.0));
        assert!(e.converged);
        assert_eq!(e.rounds, 2);
        let ideal = 1024.0 * MIB / 125e6;
        assert!(
            e.total_s > ideal && e.total_s < ideal * 1.3,
            "{}",
            e.total_s
        );
        assert!(e.downtime_s < 0.05);
    }

    #[test]
    fn heavy_dirtying_does_not_converge_with_precopy_but_does_with_help() {
        let i = input(4096.0, 60_000.0, 1000.0);
        assert!(!QemuModel::of(Technique::Precopy).estimate(&i).converged);
        let ac = QemuModel::of(Technique::AutoConverge).detail(&i);
        assert!(ac.estimate.converged && ac.max_throttle >= 0.2, "{ac:?}");
        let pc = QemuModel::of(Technique::Postcopy).detail(&i);
        assert!(pc.estimate.converged && pc.estimate.downtime_s < 0.05 && pc.postcopy_s > 0.0);
    }

    #[test]
    fn more_bandwidth_is_never_slower() {
        for t in Technique::ALL {
            let m = QemuModel::of(t);
            let slow = m.estimate(&input(2048.0, 5000.0, 200.0));
            let fast = m.estimate(&input(2048.0, 5000.0, 800.0));
            assert!(fast.total_s <= slow.total_s, "{t:?}");
        }
    }

    #[test]
    fn compression_and_xbzrle_send_fewer_bytes() {
        let i = input(2048.0, 20_000.0, 500.0);
        let plain = QemuModel::of(Technique::Precopy)
            .estimate(&i)
            .transferred_bytes;
        assert!(
            QemuModel::of(Technique::Compress)
                .estimate(&i)
                .transferred_bytes
                < plain
        );
        assert!(
            QemuModel::of(Technique::Xbzrle)
                .estimate(&i)
                .transferred_bytes
                < plain
        );
    }

    #[test]
    fn postcopy_at_once_sends_each_page_once_and_pauses_only_for_the_hand_over() {
        // A guest dirtying far faster than the link: switching after a pass re-sends what the
        // pass let it dirty; switching at once sends each page once (the SoCC 2017 runs).
        let i = input(2048.0, 30_000.0, 1000.0);
        let after_one = QemuModel::of(Technique::Postcopy).detail(&i);
        let mut at_once = QemuModel::of(Technique::Postcopy);
        at_once.params.postcopy_after_rounds = 0;
        let d = at_once.detail(&i);
        assert!(d.estimate.converged && d.estimate.rounds == 1, "{d:?}");
        assert_eq!(d.estimate.transferred_bytes, 2048.0 * MIB);
        assert!(d.estimate.transferred_bytes < after_one.estimate.transferred_bytes);
        assert!(
            d.estimate.total_s < after_one.estimate.total_s,
            "{d:?} {after_one:?}"
        );
        let c = at_once.calibration;
        let hand_over = c.switchover_s + c.sync_s_per_gib * 2.0 + 2.0 * 0.1 / 1000.0;
        assert!((d.estimate.downtime_s - hand_over).abs() < 1e-12, "{d:?}");
        assert!(d.postcopy_s > 0.0);
    }

    #[test]
    fn deciding_on_the_wire_rate_makes_cpu_bound_compression_pause_shorter() {
        // Compression bound by its threads: 40 MiB/s of pages, a quarter of it on a wire that
        // carries 10 MiB/s. QEMU divides page bytes by the 10 MiB/s it measured on the wire, so
        // it waits for a smaller dirty set than the stop-and-copy needs, runs more rounds and
        // pauses less.
        let i = input(2048.0, 500.0, 1000.0);
        let mut m = QemuModel::of(Technique::Compress);
        m.params.max_bandwidth_bps = 10.0 * MIB * 8.0;
        m.calibration.compress_ratio = 0.25;
        m.calibration.compress_mib_s_per_thread = 20.0;
        m.calibration.compress_parallelism = 2.0;
        let own = m.estimate(&i);
        m.calibration.decide_on_wire_rate = true;
        let wire = m.estimate(&i);
        assert!(own.converged && wire.converged, "{own:?} {wire:?}");
        assert!(wire.rounds >= own.rounds, "{own:?} {wire:?}");
        assert!(wire.downtime_s < own.downtime_s, "{own:?} {wire:?}");
        // Pre-copy sends pages as they are: the two tests agree.
        let mut p = QemuModel::of(Technique::Precopy);
        let a = p.estimate(&i);
        p.calibration.decide_on_wire_rate = true;
        assert_eq!(p.estimate(&i), a);
    }

    #[test]
    fn nova_ramp_steps_up_to_its_maximum() {
        let r = DowntimeRamp::default();
        assert_eq!(r.limit_at(0.0, 1024.0), 50.0);
        assert_eq!(r.limit_at(75.0, 1024.0), 95.0);
        assert_eq!(r.limit_at(1e9, 1024.0), 500.0);
    }
}
