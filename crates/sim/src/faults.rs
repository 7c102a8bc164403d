//! Drawing the fault plan of a run from its seed, or replaying failure times from a real log.

use crate::SimError;
use crate::config::SimConfig;
use crate::world::World;
use promig_model::ModelError;
use rand::RngExt;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use std::path::Path;

/// A hardware failure (or, with `crash_s` as the end of the signs, a false alarm).
#[derive(Debug, Clone, PartialEq)]
pub struct CrashPlan {
    /// Host.
    pub host: usize,
    /// When precursors start.
    pub onset_s: f64,
    /// When the host crashes (false alarm: when the signs fade).
    pub crash_s: f64,
    /// Peak corrected-error rate per hour its precursor reaches (0: a failure without warning).
    pub peak_per_h: f64,
}

/// A memory leak in one VM.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakPlan {
    /// VM.
    pub vm: usize,
    /// Start.
    pub start_s: f64,
    /// Growth rate.
    pub mib_per_s: f64,
}

/// A slowdown of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct DegradePlan {
    /// Host.
    pub host: usize,
    /// Start.
    pub start_s: f64,
    /// Duration.
    pub duration_s: f64,
}

/// A traffic surge on one service chain (a flash crowd, a signalling storm): the utilisation of
/// every instance of its VNFs rises linearly towards `level` over `ramp_s`, stays there for
/// `hold_s`, and falls back over `ramp_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgePlan {
    /// Chain (index into the world's chains).
    pub chain: usize,
    /// Start of the ramp.
    pub start_s: f64,
    /// Build-up (and decay) time.
    pub ramp_s: f64,
    /// Time at the peak.
    pub hold_s: f64,
    /// Peak utilisation of each instance.
    pub level: f64,
}

impl SurgePlan {
    /// How far into the surge `t` is: 0 outside, 1 at the peak.
    pub fn intensity(&self, t: f64) -> f64 {
        let x = t - self.start_s;
        if x <= 0.0 {
            0.0
        } else if x < self.ramp_s {
            x / self.ramp_s
        } else if x <= self.ramp_s + self.hold_s {
            1.0
        } else {
            (1.0 - (x - self.ramp_s - self.hold_s) / self.ramp_s).max(0.0)
        }
    }

    /// A VM's utilisation `u` under the surge at `t`.
    pub fn apply(&self, u: f64, t: f64) -> f64 {
        u + (self.level - u).max(0.0) * self.intensity(t)
    }
}

/// Every fault of a run, fixed before it starts (so the ground truth exists independently of
/// what the policy does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// Hardware failures.
    pub crashes: Vec<CrashPlan>,
    /// Precursors without failure.
    pub false_alarms: Vec<CrashPlan>,
    /// Leaks.
    pub leaks: Vec<LeakPlan>,
    /// Degradations.
    pub degradations: Vec<DegradePlan>,
    /// Traffic surges.
    pub surges: Vec<SurgePlan>,
    /// Corrected errors per hour each host logs while healthy (0 for most; heavy-tailed).
    pub ce_background_per_h: Vec<f64>,
}

/// Draws the plan. Hosts for failures and false alarms are distinct; every draw comes from `rng`.
pub fn plan(world: &World, cfg: &SimConfig, rng: &mut ChaCha8Rng) -> Result<FaultPlan, SimError> {
    let f = &world.faults;
    let horizon = cfg.horizon_s();
    let n_hosts = world.hosts.len();
    let wanted = (f.hardware_failures + f.false_alarms + f.degradations) as usize;
    if wanted > n_hosts {
        return Err(SimError::Setup(format!(
            "{wanted} faulty hosts requested but the data centre has only {n_hosts}"
        )));
    }
    let hosts = sample(rng, n_hosts, wanted).into_vec();
    let lead = LogNormal::new(f.lead_time.median_s.ln(), f.lead_time.sigma)
        .map_err(|e| SimError::Setup(format!("faults.lead_time: {e}")))?;
    let draw_lead = |rng: &mut ChaCha8Rng| lead.sample(rng).max(f.lead_time.min_s);
    let mut out = FaultPlan::default();
    let mut it = hosts.into_iter();
    for _ in 0..f.hardware_failures {
        let host = it.next().expect("enough hosts were sampled");
        // Crashes fall in the middle 80 % of the run so their precursors and consequences fit.
        let crash_s = rng.random_range(0.1 * horizon..0.9 * horizon);
        let onset_s = (crash_s - draw_lead(rng)).max(0.0);
        out.crashes.push(CrashPlan {
            host,
            onset_s,
            crash_s,
            peak_per_h: 0.0, // drawn last, below
        });
    }
    for _ in 0..f.false_alarms {
        let host = it.next().expect("enough hosts were sampled");
        let onset_s = rng.random_range(0.05 * horizon..0.8 * horizon);
        let crash_s = (onset_s + draw_lead(rng)).min(horizon);
        out.false_alarms.push(CrashPlan {
            host,
            onset_s,
            crash_s,
            peak_per_h: 0.0,
        });
    }
    for _ in 0..f.degradations {
        let host = it.next().expect("enough hosts were sampled");
        let start_s = rng.random_range(0.1 * horizon..0.8 * horizon);
        out.degradations.push(DegradePlan {
            host,
            start_s,
            duration_s: f.degradation_s,
        });
    }
    if f.memory_leaks as usize > world.vms.len() {
        return Err(SimError::Setup("more memory leaks than VMs".into()));
    }
    // Leaks go preferably to VNF VMs: those are the ones whose outage we count.
    let mut candidates: Vec<usize> = (0..world.vms.len())
        .filter(|&v| world.vms[v].vnf.is_some())
        .collect();
    if candidates.len() < f.memory_leaks as usize {
        candidates = (0..world.vms.len()).collect();
    }
    for i in sample(rng, candidates.len(), f.memory_leaks as usize) {
        out.leaks.push(LeakPlan {
            vm: candidates[i],
            start_s: rng.random_range(0.05 * horizon..0.5 * horizon),
            mib_per_s: f.leak_mib_per_min / 60.0,
        });
    }
    if let Some(replay) = &f.replay {
        let path = world.base_dir.join(&replay.file);
        for (t, rack, enclosure) in
            replay_failures(&path, &replay.start, replay.time_scale, horizon)?
        {
            let host = (rack * 8 + enclosure) as usize % n_hosts;
            if out.crashes.iter().any(|c| c.host == host) {
                continue; // one crash per host per run
            }
            let onset_s = (t - draw_lead(rng)).max(0.0);
            out.crashes.push(CrashPlan {
                host,
                onset_s,
                crash_s: t,
                peak_per_h: 0.0,
            });
        }
    }
    // Drawn last, so adding surges leaves every other fault of a seed where it was.
    if f.surges > 0 && !world.chains.is_empty() {
        for _ in 0..f.surges {
            let ramp_s = f.surge_ramp_s * rng.random_range(0.5..1.5);
            let hold_s = f.surge_hold_s * rng.random_range(0.5..1.5);
            out.surges.push(SurgePlan {
                chain: rng.random_range(0..world.chains.len()),
                start_s: rng.random_range(0.05 * horizon..0.75 * horizon),
                ramp_s,
                hold_s,
                level: f.surge_level,
            });
        }
    }
    draw_precursors(&f.precursors, n_hosts, &mut out, rng)?;
    // Drawn after everything else, so a scenario without rack failures draws nothing more.
    if f.rack_failures > 0 {
        draw_rack_failures(world, f, horizon, &mut out, rng, &draw_lead)?;
    }
    Ok(out)
}

/// Correlated failures: `rack_failures` distinct racks each lose all their hosts at one instant,
/// after one shared precursor (one onset, one loudness; silent for a `rack_failure_silent_share`
/// of events). Hosts that already fail or alarm on their own keep their own plan.
fn draw_rack_failures(
    world: &World,
    f: &promig_model::FaultsConfig,
    horizon: f64,
    out: &mut FaultPlan,
    rng: &mut ChaCha8Rng,
    draw_lead: &dyn Fn(&mut ChaCha8Rng) -> f64,
) -> Result<(), SimError> {
    let racks: std::collections::BTreeSet<u32> = world.hosts.iter().map(|h| h.rack).collect();
    let racks: Vec<u32> = racks.into_iter().collect();
    if f.rack_failures as usize > racks.len() {
        return Err(SimError::Setup(format!(
            "{} rack failures requested but the data centre has only {} racks",
            f.rack_failures,
            racks.len()
        )));
    }
    let peak = LogNormal::new(f.precursors.peak_median_per_h.ln(), f.precursors.peak_sigma)
        .map_err(|e| SimError::Setup(format!("faults.precursors: {e}")))?;
    let taken: std::collections::BTreeSet<usize> = out
        .crashes
        .iter()
        .chain(&out.false_alarms)
        .map(|c| c.host)
        .collect();
    for i in sample(rng, racks.len(), f.rack_failures as usize) {
        let rack = racks[i];
        let crash_s = rng.random_range(0.1 * horizon..0.9 * horizon);
        let onset_s = (crash_s - draw_lead(rng)).max(0.0);
        let silent = rng.random_range(0.0..1.0) < f.rack_failure_silent_share;
        let loudness = peak.sample(rng);
        for (host, h) in world.hosts.iter().enumerate() {
            if h.rack == rack && !taken.contains(&host) {
                out.crashes.push(CrashPlan {
                    host,
                    onset_s,
                    crash_s,
                    peak_per_h: if silent { 0.0 } else { loudness },
                });
            }
        }
    }
    Ok(())
}

/// The field-calibrated precursor draws (see `PrecursorConfig`): which failures are silent, how
/// loud the others get, and which healthy hosts log corrected errors all day. Drawn after
/// everything else, so the failures, leaks and surges of a seed stay where they were.
fn draw_precursors(
    p: &promig_model::PrecursorConfig,
    n_hosts: usize,
    out: &mut FaultPlan,
    rng: &mut ChaCha8Rng,
) -> Result<(), SimError> {
    let peak = LogNormal::new(p.peak_median_per_h.ln(), p.peak_sigma)
        .map_err(|e| SimError::Setup(format!("faults.precursors: {e}")))?;
    for c in &mut out.crashes {
        let silent = rng.random_range(0.0..1.0) < p.silent_failure_share;
        let loudness = peak.sample(rng);
        c.peak_per_h = if silent { 0.0 } else { loudness };
    }
    out.ce_background_per_h = (0..n_hosts)
        .map(|_| {
            let erring = rng.random_range(0.0..1.0) < p.background_host_share;
            // Pareto by inversion; capped so one host cannot log more than a few thousand an hour.
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            let rate = p.background_scale_per_h / u.powf(1.0 / p.background_shape);
            if erring { rate.min(5_000.0) } else { 0.0 }
        })
        .collect();
    Ok(())
}

/// Failure times (in simulated seconds) with their rack and enclosure, from the Alpine or Campaign
/// disk-failure CSV: the events within `[start, start + horizon * time_scale)`.
pub fn replay_failures(
    path: &Path,
    start: &str,
    time_scale: f64,
    horizon_s: f64,
) -> Result<Vec<(f64, u64, u64)>, SimError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    let start_epoch = promig_model::time::parse_iso(start).ok_or_else(|| {
        SimError::Setup(format!(
            "faults.replay.start: {start:?} is not a date (YYYY-MM-DD[THH:MM:SS])"
        ))
    })?;
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| ModelError::parse(path, 1, "header", "empty file"))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| -> Result<usize, SimError> {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| ModelError::parse(path, 1, name, "column missing").into())
    };
    let (c_ts, c_rack, c_enc) = (col("Timestamp")?, col("Rack id")?, col("Enclosure")?);
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |c: usize, name: &str| -> Result<&str, SimError> {
            f.get(c)
                .copied()
                .ok_or_else(|| ModelError::parse(path, i + 1, name, "missing").into())
        };
        let ts = get(c_ts, "Timestamp")?;
        let epoch = promig_model::time::parse_iso(ts).ok_or_else(|| {
            ModelError::parse(path, i + 1, "Timestamp", format!("not an ISO time: {ts:?}"))
        })?;
        let sim_t = (epoch - start_epoch) / time_scale;
        if !(0.0..horizon_s).contains(&sim_t) {
            continue;
        }
        let num = |c: usize, name: &str| -> Result<u64, SimError> {
            let s = get(c, name)?;
            s.parse::<u64>().map_err(|_| {
                ModelError::parse(path, i + 1, name, format!("not a whole number: {s:?}")).into()
            })
        };
        out.push((sim_t, num(c_rack, "Rack id")?, num(c_enc, "Enclosure")?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_rack_failure_takes_down_every_host_of_its_rack_at_once() {
        let data = promig_model::data::dir(None).unwrap();
        let mut file = crate::scenario::default_scenario().unwrap();
        let cfg = crate::scenario::sim_config(&file, &data, 7, 288).unwrap();
        let world = crate::scenario::build_world(&file, &data).unwrap();
        let plain = plan(&world, &cfg, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
        file.faults.rack_failures = 2;
        let world = crate::scenario::build_world(&file, &data).unwrap();
        let with = plan(&world, &cfg, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
        // Everything the scenario had before is where it was.
        assert_eq!(with.crashes[..plain.crashes.len()], plain.crashes[..]);
        assert_eq!(with.false_alarms, plain.false_alarms);
        assert_eq!(with.ce_background_per_h, plain.ce_background_per_h);
        let extra = &with.crashes[plain.crashes.len()..];
        let racks: std::collections::BTreeSet<u32> =
            extra.iter().map(|c| world.hosts[c.host].rack).collect();
        assert_eq!(racks.len(), 2, "two distinct racks");
        let own: std::collections::BTreeSet<usize> = plain
            .crashes
            .iter()
            .chain(&plain.false_alarms)
            .map(|c| c.host)
            .collect();
        for rack in racks {
            let event: Vec<&CrashPlan> = extra
                .iter()
                .filter(|c| world.hosts[c.host].rack == rack)
                .collect();
            let members = (0..world.hosts.len())
                .filter(|&h| world.hosts[h].rack == rack && !own.contains(&h))
                .count();
            assert_eq!(event.len(), members, "every host of rack {rack}");
            assert!(event.iter().all(|c| c.crash_s == event[0].crash_s
                && c.onset_s == event[0].onset_s
                && c.peak_per_h == event[0].peak_per_h));
        }
        file.faults.rack_failures = 6;
        let world = crate::scenario::build_world(&file, &data).unwrap();
        let e = plan(&world, &cfg, &mut ChaCha8Rng::seed_from_u64(7)).unwrap_err();
        assert!(e.to_string().contains("only 5 racks"), "{e}");
    }

    #[test]
    fn replays_real_alpine_log() {
        let p = promig_model::data::dir(None)
            .unwrap()
            .join("disk-failures/alpine_formatted_data.csv");
        // Ten days of the log squeezed into one simulated day.
        let f = replay_failures(&p, "2019-01-04", 10.0, 86_400.0).unwrap();
        assert!(!f.is_empty());
        assert!(f.iter().all(|(t, _, _)| (0.0..86_400.0).contains(t)));
    }
}
