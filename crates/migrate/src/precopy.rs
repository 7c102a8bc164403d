//! QEMU's default pre-copy migration, as an iterative model.
//!
//! Round 1 copies all RAM; each later round copies what the guest dirtied during the previous one;
//! QEMU stops the guest once the rest can be sent within the downtime limit. Dirtying is bounded by
//! the writable working set, because re-dirtying an already dirty page adds nothing to send.

use crate::{MIB, MigrationEstimate, MigrationInput, MigrationModel, PAGE_BYTES};

/// Pre-copy with QEMU's switch-over rule.
#[derive(Debug, Clone, Copy)]
pub struct PreCopy {
    /// QEMU `downtime-limit` (default 300 ms).
    pub downtime_limit_ms: f64,
    /// QEMU `max-bandwidth` (default 128 MiB/s); the path may allow less.
    pub max_bandwidth_bps: f64,
    /// Rounds after which the operator's tooling forces completion (Nova's completion timeout).
    pub max_rounds: u32,
    /// Fixed cost of the switch-over (device state, final handshake), on top of the last copy.
    pub switchover_s: f64,
}

impl Default for PreCopy {
    fn default() -> Self {
        PreCopy {
            downtime_limit_ms: 300.0,
            max_bandwidth_bps: 128.0 * MIB * 8.0,
            max_rounds: 30,
            switchover_s: 0.005,
        }
    }
}

impl MigrationModel for PreCopy {
    fn name(&self) -> &str {
        "precopy"
    }

    fn estimate(&self, input: &MigrationInput) -> MigrationEstimate {
        let rate = input.bandwidth_bps.min(self.max_bandwidth_bps).max(1.0) / 8.0; // bytes/s
        let dirty_rate = input.dirty_pages_per_s.max(0.0) * PAGE_BYTES;
        let wws = input.wws_mib.min(input.memory_mib).max(0.0) * MIB;
        let threshold = rate * self.downtime_limit_ms / 1000.0;
        let rtt = 2.0 * input.latency_ms / 1000.0;
        let mut to_send = input.memory_mib * MIB;
        let mut total_s = 0.0;
        let mut sent = 0.0;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let t = to_send / rate;
            total_s += t;
            sent += to_send;
            let dirtied = (dirty_rate * t).min(wws);
            let converged = dirtied <= threshold;
            if converged || rounds >= self.max_rounds {
                let downtime_s = dirtied / rate + self.switchover_s + rtt;
                return MigrationEstimate {
                    total_s: total_s + downtime_s,
                    downtime_s,
                    transferred_bytes: sent + dirtied,
                    rounds: rounds + 1,
                    converged,
                };
            }
            to_send = dirtied;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(mem: f64, dirty: f64, bw: f64) -> MigrationInput {
        MigrationInput {
            memory_mib: mem,
            dirty_pages_per_s: dirty,
            wws_mib: mem / 4.0,
            bandwidth_bps: bw,
            latency_ms: 0.1,
        }
    }

    #[test]
    fn idle_vm_is_one_pass() {
        let e = PreCopy::default().estimate(&input(1024.0, 0.0, 1e9));
        assert!(e.converged);
        assert_eq!(e.rounds, 2);
        assert!((e.total_s - 1024.0 * MIB / 125e6).abs() < 0.01);
        assert!(e.downtime_s < 0.01);
    }

    #[test]
    fn heavy_dirtying_does_not_converge() {
        let e = PreCopy::default().estimate(&input(4096.0, 100_000.0, 1e9));
        assert!(!e.converged);
        assert!(e.downtime_s > 0.3);
    }

    #[test]
    fn more_bandwidth_is_never_slower() {
        let m = PreCopy::default();
        let slow = m.estimate(&input(2048.0, 5000.0, 200e6));
        let fast = m.estimate(&input(2048.0, 5000.0, 800e6));
        assert!(fast.total_s <= slow.total_s && fast.downtime_s <= slow.downtime_s);
    }
}
