//! Step 3: migration parameters on the source before the start, and the downtime ramp that moves
//! the limit while the migration runs (Nova's `live_migration_downtime_steps`).

use crate::error::DriverError;
use crate::qemu::client::QmpClient;
use promig_migrate::{Technique, TechniqueParams};
use serde_json::{Value, json};

/// The downtime limit in force `elapsed_s` into the migration: the ramp's step when there is a
/// ramp, the fixed limit otherwise.
pub fn downtime_limit_ms(params: &TechniqueParams, elapsed_s: f64, memory_mib: u32) -> f64 {
    match params.ramp {
        Some(ramp) => ramp.limit_at(elapsed_s, memory_mib as f64),
        None => params.downtime_limit_ms,
    }
}

/// The `migrate-set-parameters` arguments before the start. QEMU takes max-bandwidth in bytes/s,
/// the plan in bits/s; technique-specific knobs only for their technique, so QEMU's defaults
/// stay in force otherwise.
pub fn initial(params: &TechniqueParams, memory_mib: u32) -> Value {
    let mut args = json!({
        "downtime-limit": downtime_limit_ms(params, 0.0, memory_mib) as u64,
        "max-bandwidth": (params.max_bandwidth_bps / 8.0) as u64,
    });
    if params.technique == Technique::Xbzrle {
        args["xbzrle-cache-size"] = json!((params.xbzrle_cache_mib * 1024.0 * 1024.0) as u64);
    }
    if params.technique == Technique::Compress {
        args["compress-threads"] = json!(params.compress_threads);
    }
    args
}

/// Sets the initial parameters on the source.
pub async fn apply(
    source: &QmpClient,
    params: &TechniqueParams,
    memory_mib: u32,
) -> Result<(), DriverError> {
    source
        .execute("migrate-set-parameters", initial(params, memory_mib))
        .await?;
    Ok(())
}

/// Follows a downtime ramp during the migration, sending a new limit only when the step changes.
#[derive(Debug)]
pub struct RampFollower {
    last_limit_ms: f64,
}

impl Default for RampFollower {
    fn default() -> Self {
        // No limit sent yet: the first tick with a ramp always sends (as the initial one did).
        RampFollower {
            last_limit_ms: -1.0,
        }
    }
}

impl RampFollower {
    /// The limit to send now, if a ramp is set and its step changed since the last call.
    pub fn next_limit_ms(
        &mut self,
        params: &TechniqueParams,
        elapsed_s: f64,
        memory_mib: u32,
    ) -> Option<u64> {
        let ramp = params.ramp?;
        let limit = ramp.limit_at(elapsed_s, memory_mib as f64);
        if limit == self.last_limit_ms {
            return None;
        }
        self.last_limit_ms = limit;
        Some(limit as u64)
    }

    /// Sends the ramp's current step, if it changed. Best effort: a refused update leaves the
    /// previous limit in force, which is safe, so it does not end the migration.
    pub async fn tick(
        &mut self,
        source: &QmpClient,
        params: &TechniqueParams,
        elapsed_s: f64,
        memory_mib: u32,
    ) {
        if let Some(limit) = self.next_limit_ms(params, elapsed_s, memory_mib) {
            let _ = source
                .execute("migrate-set-parameters", json!({"downtime-limit": limit}))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promig_migrate::DowntimeRamp;

    #[test]
    fn initial_parameters_convert_units_and_add_only_the_techniques_knobs() {
        let params = TechniqueParams {
            max_bandwidth_bps: 800e6,
            downtime_limit_ms: 250.0,
            ..TechniqueParams::of(Technique::Xbzrle)
        };
        let args = initial(&params, 1024);
        assert_eq!(args["max-bandwidth"], 100_000_000);
        assert_eq!(args["downtime-limit"], 250);
        assert_eq!(args["xbzrle-cache-size"], 64 * 1024 * 1024);
        assert!(args.get("compress-threads").is_none());
        let compress = initial(&TechniqueParams::of(Technique::Compress), 1024);
        assert_eq!(compress["compress-threads"], 8);
        assert!(compress.get("xbzrle-cache-size").is_none());
    }

    #[test]
    fn ramp_starts_at_its_first_step_and_is_sent_once_per_step() {
        let params = TechniqueParams {
            ramp: Some(DowntimeRamp::default()),
            ..TechniqueParams::default()
        };
        // Nova's default ramp: 500 ms in 10 steps, so 50 ms first; 75 s per GiB, so one step
        // every 75 s for a 1 GiB guest.
        assert_eq!(initial(&params, 1024)["downtime-limit"], 50);
        let mut follower = RampFollower::default();
        assert_eq!(follower.next_limit_ms(&params, 0.0, 1024), Some(50));
        assert_eq!(follower.next_limit_ms(&params, 10.0, 1024), None);
        assert_eq!(follower.next_limit_ms(&params, 76.0, 1024), Some(95));
        let fixed = TechniqueParams::default();
        assert_eq!(
            RampFollower::default().next_limit_ms(&fixed, 0.0, 1024),
            None
        );
    }
}
