//! CloudSim's migration rule, kept so the CloudSim-compatible mode reproduces its numbers.

use crate::{MIB, MigrationEstimate, MigrationInput, MigrationModel};

/// Migration time = RAM / (half the host bandwidth), no downtime, one round.
///
/// CloudSim reserves half of a host's NIC for VM traffic and gives migrations the other half; it
/// models no dirtying and no stop-and-copy. Useful only to reproduce the field's benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct CloudSimRule;

impl MigrationModel for CloudSimRule {
    fn name(&self) -> &str {
        "cloudsim"
    }

    fn estimate(&self, input: &MigrationInput) -> MigrationEstimate {
        // CloudSim: ram_MB / (bw_kbit_s / (2 * 8000)); with bandwidth in bit/s that is
        // ram_MB * 16e3 / (bw / 1e3) = ram_MB * 16e6 / bw. (CloudSim's "MB" and "kbit" are decimal.)
        let total_s = input.memory_mib * 16e6 / input.bandwidth_bps;
        MigrationEstimate {
            total_s,
            downtime_s: 0.0,
            transferred_bytes: input.memory_mib * MIB,
            rounds: 1,
            converged: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gigabyte_over_one_gigabit_takes_sixteen_seconds() {
        let e = CloudSimRule.estimate(&MigrationInput {
            memory_mib: 1000.0,
            dirty_pages_per_s: 0.0,
            wws_mib: 0.0,
            bandwidth_bps: 1e9,
            latency_ms: 0.0,
            touched_mib: None,
        });
        assert!((e.total_s - 16.0).abs() < 1e-12);
    }
}
