//! How often a policy empties a failing host before it crashes, over many seeds and every real
//! trace set: the figure an operator asks of a pro-active controller first, and the one a
//! policy tuned on one day could not fake on the others.

use crate::EvalError;
use crate::prediction::Traces;
use crate::run::run_named;
use promig_model::FaultCause;
use promig_model::trace::TraceFormat;
use promig_sim::{SimConfig, scenario};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// The real trace sets in the shared data: five PlanetLab days, the Google VMs, Bitbrains Rnd.
pub fn real_trace_sets() -> Vec<Traces> {
    let mut sets: Vec<Traces> = ["20110303", "20110306", "20110309", "20110322", "20110325"]
        .into_iter()
        .map(|d| Traces {
            dir: format!("planetlab/{d}"),
            format: TraceFormat::Planetlab,
        })
        .collect();
    sets.push(Traces {
        dir: "google-vms".into(),
        format: TraceFormat::Google,
    });
    sets.push(Traces {
        dir: "bitbrains-rnd-2013-08".into(),
        format: TraceFormat::Bitbrains,
    });
    sets
}

/// One trace set's results over the seeds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvacuationRow {
    /// Trace folder.
    pub traces: String,
    /// Runs (seeds).
    pub runs: usize,
    /// Hardware failures that struck.
    pub failures: u64,
    /// Of those, how many found their host already empty.
    pub evacuated: u64,
    /// Failures that gave a corrected-error precursor (the others no predictor can foresee).
    pub with_precursor: u64,
    /// Of those, how many found their host already empty.
    pub evacuated_with_precursor: u64,
    /// VMs that went down with a failing host.
    pub vms_lost: u64,
    /// VNF downtime over all runs.
    pub downtime_s: f64,
}

impl EvacuationRow {
    /// Share of failures whose host was empty when they struck (1 when none struck).
    pub fn rate(&self) -> f64 {
        if self.failures == 0 {
            1.0
        } else {
            self.evacuated as f64 / self.failures as f64
        }
    }
}

/// Runs `policy` on the default scenario replaying each trace set, for each seed, and counts
/// hardware failures struck and evacuated.
pub fn evacuation(
    data: &Path,
    policy: &str,
    sets: &[Traces],
    seeds: std::ops::RangeInclusive<u64>,
) -> Result<Vec<EvacuationRow>, EvalError> {
    let mut rows = Vec::new();
    for set in sets {
        let dir = promig_model::data::inside(data, &set.dir)?;
        let file = scenario::default_scenario()?.with_traces(&dir.to_string_lossy(), set.format);
        let world = Arc::new(scenario::build_world(&file, data)?);
        let mut row = EvacuationRow {
            traces: set.dir.clone(),
            ..EvacuationRow::default()
        };
        for seed in seeds.clone() {
            let r = run_named(
                &world,
                &SimConfig::nfv(seed, file.steps),
                policy,
                &mut |_, _| {},
            )?;
            row.runs += 1;
            row.failures += r.failures_struck;
            row.evacuated += r.failures_evacuated;
            for f in &r.faults {
                if f.cause == FaultCause::HardwareFailure && f.strike_s.is_some() && !f.silent {
                    row.with_precursor += 1;
                    row.evacuated_with_precursor += u64::from(f.vms_hit == 0);
                }
            }
            row.vms_lost += r
                .faults
                .iter()
                .filter(|f| f.cause == FaultCause::HardwareFailure && f.strike_s.is_some())
                .map(|f| u64::from(f.vms_hit))
                .sum::<u64>();
            row.downtime_s += r.downtime_s;
        }
        rows.push(row);
    }
    Ok(rows)
}
