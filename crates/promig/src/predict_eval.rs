//! Wiring for `promig predict eval`: replays held-out simulated days and scores the predictor and a
//! reactive detector with the predict crate's evaluation functions.

use crate::predict_cmd::{REACTIVE_CE, replay_for_eval};
use anyhow::Result;
use promig_model::FaultCause;
use promig_predict::HardwareModel;
use promig_predict::evaluation::{AlarmStats, Classification, alarm_stats, classification};
use serde::Serialize;

/// Minimum useful warning: time to migrate a VNF VM away.
const MIN_LEAD_S: f64 = 600.0;
/// An alarm counts as true when the failure follows within this window.
const MATCH_WINDOW_S: f64 = 4.0 * 3600.0;

/// The evaluation, side by side with the reactive detector.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    /// Seeds replayed.
    pub seeds: (u64, u64),
    /// Host-days covered.
    pub host_days: f64,
    /// Hardware failures: predictor.
    pub hardware: AlarmStats,
    /// Hardware failures: static threshold on the current corrected-error rate.
    pub hardware_reactive: AlarmStats,
    /// Hardware failures: random forest trained on the same seeds as the logistic model.
    pub hardware_forest: AlarmStats,
    /// Memory shortages (leaks): predictor.
    pub memory: AlarmStats,
    /// Memory shortages: static threshold (95 % of physical memory in use now).
    pub memory_reactive: AlarmStats,
    /// Response-time breaches (host slowdowns): predictor.
    pub response_time: AlarmStats,
    /// One-step-ahead CPU overload: predictor (P >= 0.5).
    pub overload: Classification,
    /// One-step-ahead CPU overload: "overloaded now" persistence.
    pub overload_reactive: Classification,
    /// One-step-ahead host overload on real traces (PlanetLab days, Google VMs) consolidated by
    /// LR-MMT, predicted before it acts: predictor and reactive, per data set.
    pub overload_real: Vec<TraceOverload>,
}

/// One-step-ahead overload on one real trace set.
#[derive(Debug, Serialize)]
pub struct TraceOverload {
    /// Data set.
    pub traces: String,
    /// Per-VM Holt forecasts combined per host, P >= 0.5.
    pub predictor: Classification,
    /// "Overloaded now" persistence.
    pub reactive: Classification,
}

/// A host's VM set (VM, share of the host) at step t, with the predicted probability and the
/// demand at t, waiting for t + 1's ground truth.
type PendingHost = (Vec<(usize, f64)>, f64, f64);

/// A policy that remembers the observation it was given (before its own decisions), then
/// delegates: overloads are predicted on the VM sets as they stood, the question a policy asks.
struct Recording {
    inner: Box<dyn promig_policy::Policy>,
    seen: Option<promig_policy::Observation>,
}

impl promig_policy::Policy for Recording {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn decide(&mut self, obs: &promig_policy::Observation) -> Vec<promig_policy::Decision> {
        self.seen = Some(obs.clone());
        self.inner.decide(obs)
    }

    fn place(&mut self, obs: &promig_policy::Observation, vms: &[usize]) -> Vec<Option<usize>> {
        self.inner.place(obs, vms)
    }
}

/// Replays a real trace set consolidated by LR-MMT (hosts run hot, as in production) and scores
/// one-step-ahead host overload: the prediction made at step t, before the policy acts, for the
/// host's VM set at t, against that same set's demand at t + 1.
pub fn overload_on_traces(name: &str, world: promig_sim::World) -> Result<TraceOverload> {
    use promig_predict::forecast::VmForecasts;
    let world = std::sync::Arc::new(world);
    let mut policy = Recording {
        inner: promig_policy::by_name("lr-mmt", 0)?,
        seen: None,
    };
    let mut sim =
        promig_sim::Simulator::new(world, promig_sim::SimConfig::cloudsim(0), &mut policy)?;
    let mut forecasts = VmForecasts::default();
    let mut pending: Vec<PendingHost> = Vec::new();
    let (mut pred, mut reac) = (Vec::new(), Vec::new());
    while sim.step(&mut policy) {
        let Some(obs) = policy.seen.take() else {
            continue;
        };
        forecasts.observe(&obs);
        for (set, p, now) in pending.drain(..) {
            if set.iter().any(|(v, _)| obs.vms[*v].host.is_none()) {
                continue; // a VM left the data centre: no fair ground truth
            }
            let next: f64 = set
                .iter()
                .map(|(v, share)| obs.vms[*v].history[0] * share)
                .sum();
            pred.push((p >= 0.5, next > 1.0));
            reac.push((now > 1.0, next > 1.0));
        }
        for (h, host) in obs.hosts.iter().enumerate() {
            // The VMs the host will run: residents not leaving, plus arrivals.
            let set: Vec<(usize, f64)> = host
                .vms
                .iter()
                .filter(|&&v| !obs.vms[v].in_migration)
                .chain(&host.migrating_in)
                .map(|&v| (v, obs.vms[v].total_mips() / host.total_mips))
                .collect();
            if set.is_empty() {
                continue;
            }
            let now: f64 = set
                .iter()
                .map(|(v, share)| obs.vms[*v].history[0] * share)
                .sum();
            pending.push((set, forecasts.p_host_overload(&obs, h, 1.0), now));
        }
    }
    Ok(TraceOverload {
        traces: name.to_string(),
        predictor: classification(pred.into_iter()),
        reactive: classification(reac.into_iter()),
    })
}

/// The real trace sets evaluated: five PlanetLab days and the Google VMs.
pub fn real_trace_overloads() -> Result<Vec<TraceOverload>> {
    let data = promig_sim::scenario::shared_data_dir()
        .ok_or_else(|| anyhow::anyhow!("../shared/data not found"))?;
    let mut out = Vec::new();
    for day in ["20110303", "20110306", "20110309", "20110322", "20110325"] {
        let w = promig_sim::cloudsim::planetlab_world(
            &data.join("planetlab").join(day),
            promig_sim::cloudsim::HOSTS,
        )?;
        out.push(overload_on_traces(&format!("planetlab/{day}"), w)?);
    }
    let google = promig_model::TraceSet::load(
        &data.join("google-vms"),
        promig_model::trace::TraceFormat::Google,
        None,
    )?;
    let w = promig_sim::cloudsim::world_from_traces(
        "google-vms".into(),
        google.traces,
        promig_sim::cloudsim::HOSTS,
    );
    out.push(overload_on_traces("google-vms", w)?);
    Ok(out)
}

/// Replays the seeds and scores everything.
pub fn evaluate(seeds: std::ops::RangeInclusive<u64>, model: HardwareModel) -> Result<EvalReport> {
    let (first, last) = (*seeds.start(), *seeds.end());
    let mut hw_flags = Vec::new();
    let mut hw_reactive = Vec::new();
    let mut hw_features = Vec::new();
    let mut hw_keys = Vec::new();
    let mut mem_flags = Vec::new();
    let mut mem_reactive = Vec::new();
    let mut rt_flags = Vec::new();
    let mut rt_events = Vec::new();
    let mut hw_events = Vec::new();
    let mut mem_events = Vec::new();
    let mut overload_pairs = Vec::new();
    let mut reactive_pairs = Vec::new();
    let mut host_days = 0.0;
    let mut offset = 0.0;
    for seed in seeds {
        let run = replay_for_eval(seed, &model)?;
        host_days += run.hosts as f64 * run.steps as f64 * 300.0 / 86_400.0;
        // Days are laid end to end so episodes of different seeds never merge.
        for s in &run.samples {
            let t = s.time_s + offset;
            hw_flags.push((t, s.host, s.hardware_p >= 0.5));
            hw_reactive.push((t, s.host, s.ce_now >= REACTIVE_CE));
            hw_features.push(s.features);
            hw_keys.push((t, s.host));
            mem_flags.push((t, s.host, s.memory_p >= 0.5));
            mem_reactive.push((t, s.host, s.memory_now >= 0.95));
            rt_flags.push((t, s.host, s.response_p >= 0.5));
        }
        for r in &run.records {
            let Some(strike) = r.strike_s else { continue };
            match r.cause {
                FaultCause::HardwareFailure => hw_events.push((r.host, strike + offset)),
                FaultCause::MemoryShortage => mem_events.push((r.host, strike + offset)),
                FaultCause::ResponseDegradation => rt_events.push((r.host, strike + offset)),
                _ => {}
            }
        }
        // One step ahead: the prediction at t against demand > capacity at t + 1 on the same host.
        let mut by_host: std::collections::BTreeMap<usize, Vec<&crate::predict_cmd::EvalSample>> =
            Default::default();
        for s in &run.samples {
            by_host.entry(s.host).or_default().push(s);
        }
        for series in by_host.values() {
            for w in series.windows(2) {
                if (w[1].time_s - w[0].time_s - 300.0).abs() > 1.0 {
                    continue;
                }
                let actual = w[1].demand_now > 1.0;
                overload_pairs.push((w[0].overload_p >= 0.5, actual));
                reactive_pairs.push((w[0].demand_now > 1.0, actual));
            }
        }
        offset += 10.0 * 86_400.0;
    }
    let forest = promig_predict::forest::HardwareForest::train(
        &crate::predict_cmd::training_samples(1..=30)?,
        300,
        7,
    )?;
    let forest_flags: Vec<(f64, usize, bool)> = hw_keys
        .iter()
        .zip(forest.predict(&hw_features)?)
        .map(|(&(t, h), f)| (t, h, f))
        .collect();
    Ok(EvalReport {
        seeds: (first, last),
        host_days,
        hardware: alarm_stats(
            &hw_flags,
            &hw_events,
            300.0,
            MIN_LEAD_S,
            MATCH_WINDOW_S,
            host_days,
        ),
        hardware_reactive: alarm_stats(
            &hw_reactive,
            &hw_events,
            300.0,
            MIN_LEAD_S,
            MATCH_WINDOW_S,
            host_days,
        ),
        hardware_forest: alarm_stats(
            &forest_flags,
            &hw_events,
            300.0,
            MIN_LEAD_S,
            MATCH_WINDOW_S,
            host_days,
        ),
        memory: alarm_stats(
            &mem_flags,
            &mem_events,
            300.0,
            MIN_LEAD_S,
            MATCH_WINDOW_S,
            host_days,
        ),
        memory_reactive: alarm_stats(
            &mem_reactive,
            &mem_events,
            300.0,
            MIN_LEAD_S,
            MATCH_WINDOW_S,
            host_days,
        ),
        response_time: alarm_stats(
            &rt_flags,
            &rt_events,
            300.0,
            MIN_LEAD_S,
            MATCH_WINDOW_S,
            host_days,
        ),
        overload: classification(overload_pairs.into_iter()),
        overload_reactive: classification(reactive_pairs.into_iter()),
        overload_real: real_trace_overloads()?,
    })
}

fn mins(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.0} min", s / 60.0))
}

/// Prints the report as a table.
pub fn print(r: &EvalReport) {
    println!(
        "held-out seeds {}..={} ({:.0} host-days), default scenario, policy none",
        r.seeds.0, r.seeds.1, r.host_days
    );
    println!(
        "{:<34} {:>7} {:>12} {:>11} {:>9} {:>14} {:>9}",
        "detector", "events", "recall>=10m", "lead med", "lead p10", "FA/100 host-d", "precision"
    );
    let row = |name: &str, s: &AlarmStats| {
        println!(
            "{:<34} {:>7} {:>12.2} {:>11} {:>9} {:>14.2} {:>9.2}",
            name,
            s.events,
            s.recall,
            mins(s.lead_median_s),
            mins(s.lead_p10_s),
            s.false_alarms_per_100_host_days,
            s.precision
        )
    };
    row("hardware: predictor (P >= 0.5)", &r.hardware);
    row("hardware: random forest", &r.hardware_forest);
    row(
        &format!("hardware: reactive (CE >= {REACTIVE_CE}/h)"),
        &r.hardware_reactive,
    );
    row("memory shortage: predictor", &r.memory);
    row("memory shortage: reactive (>= 95 %)", &r.memory_reactive);
    row("response-time breach: predictor", &r.response_time);
    println!(
        "one-step-ahead CPU overload        precision  recall  (positives {})",
        r.overload.positives
    );
    println!(
        "  predictor (Holt, P >= 0.5)        {:>8.2} {:>7.2}",
        r.overload.precision, r.overload.recall
    );
    println!(
        "  reactive (overloaded now)         {:>8.2} {:>7.2}",
        r.overload_reactive.precision, r.overload_reactive.recall
    );
    println!(
        "one-step-ahead host overload on real traces (CloudSim set-up, consolidated by LR-MMT, predicted before it acts):"
    );
    println!(
        "  {:<20} {:>9} {:>10} {:>7}   {:>10} {:>7}",
        "traces", "positives", "pred prec", "recall", "react prec", "recall"
    );
    for t in &r.overload_real {
        println!(
            "  {:<20} {:>9} {:>10.2} {:>7.2}   {:>10.2} {:>7.2}",
            t.traces,
            t.predictor.positives,
            t.predictor.precision,
            t.predictor.recall,
            t.reactive.precision,
            t.reactive.recall
        );
    }
}
