//! `promig predict ...`: train the hardware-failure classifier on the simulator's labelled faults,
//! show the features it uses and why, and evaluate the predictor against a reactive detector.

use anyhow::{Context, Result};
use promig_model::FaultCause;
use promig_model::fault::FaultsConfig;
use promig_predict::features::HARDWARE_FEATURES;
use promig_predict::{HardwareModel, Predictor, RiskPredictor};
use promig_sim::{SimConfig, Simulator, World, scenario};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PredictCommand {
    /// Train the hardware-failure classifier on simulated days (training seeds) and save it.
    Train {
        /// First and last training seed.
        #[arg(long, num_args = 2, default_values_t = [1, 30])]
        seeds: Vec<u64>,
        /// Where to write the model.
        #[arg(long, default_value = "crates/predict/models/hardware.json")]
        out: PathBuf,
    },
    /// Rank the hardware features by correlation with the outcome, and show the model's weights.
    Features {
        /// First and last seed to compute correlations on.
        #[arg(long, num_args = 2, default_values_t = [1, 10])]
        seeds: Vec<u64>,
    },
    /// Score the forecast detector and a static-threshold detector on the NAB's labelled real series.
    Nab {
        /// The NAB folder (data/ and labels/).
        #[arg(long, default_value = "../shared/data/nab")]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the predictor on held-out seeds against a reactive (current-value) detector.
    Eval {
        /// First and last evaluation seed (disjoint from the training seeds).
        #[arg(long, num_args = 2, default_values_t = [101, 110])]
        seeds: Vec<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Horizon of the hardware labels: a crash within the next 30 minutes.
const HORIZON_S: f64 = 1800.0;
/// Corrected errors per hour at which an operator's static alert fires (the reactive detector).
const REACTIVE_CE_THRESHOLD: f64 = 20.0;

/// The built-in scenario with more faults for training (labels are rare in one default day).
fn world(seed: u64, training: bool) -> Result<(Arc<World>, SimConfig)> {
    let (mut file, base) = scenario::default_scenario()?;
    if training {
        file.faults = FaultsConfig {
            hardware_failures: 12,
            false_alarms: 12,
            ..file.faults
        };
    }
    let world = scenario::build_world(&file, &base)?;
    Ok((Arc::new(world), SimConfig::nfv(seed, file.steps)))
}

/// One host at one step: features, whether it was up, and its ground truth.
struct Sample {
    time_s: f64,
    host: usize,
    features: [f64; 6],
    hardware_p: f64,
    ce_now: f64,
    overload_p: f64,
    demand_now: f64,
    memory_p: f64,
    memory_now: f64,
    response_p: f64,
}

/// Runs one simulated day with the `none` policy (so faults strike as drawn) and records the
/// predictor's view of every host at every step, plus the ground truth at the end.
fn replay(
    seed: u64,
    training: bool,
    hardware: Option<HardwareModel>,
) -> Result<(Vec<Sample>, Vec<promig_model::FaultRecord>, usize, usize)> {
    let (world, cfg) = world(seed, training)?;
    let mut policy = promig_policy::by_name("none", seed)?;
    let mut sim = Simulator::new(world, cfg, policy.as_mut())?;
    let mut predictor = RiskPredictor::new(hardware, 1.0);
    let mut samples = Vec::new();
    let mut steps = 0;
    while sim.step(policy.as_mut()) {
        steps += 1;
        let obs = sim.observation();
        let risks = predictor.predict(&obs);
        for (h, host) in obs.hosts.iter().enumerate() {
            if !host.up {
                continue;
            }
            samples.push(Sample {
                time_s: obs.time_s,
                host: h,
                features: predictor.hardware_features(h),
                hardware_p: risks[h].hardware,
                ce_now: host.corrected_errors_per_h,
                overload_p: risks[h].overload,
                demand_now: host.requested_mips / host.total_mips,
                memory_p: risks[h].memory,
                memory_now: host
                    .vms
                    .iter()
                    .map(|&v| obs.vms[v].memory_used_mib)
                    .sum::<f64>()
                    / host.physical_memory_mib,
                response_p: risks[h].response_time,
            });
        }
    }
    let hosts = sim.observation().hosts.len();
    Ok((samples, sim.fault_records().to_vec(), hosts, steps))
}

fn crash_within(records: &[promig_model::FaultRecord], host: usize, t: f64, horizon: f64) -> bool {
    records.iter().any(|r| {
        r.cause == FaultCause::HardwareFailure
            && r.host == host
            && r.strike_s.is_some_and(|s| s > t && s <= t + horizon)
    })
}

fn seeds(v: &[u64]) -> Result<std::ops::RangeInclusive<u64>> {
    anyhow::ensure!(
        v.len() == 2 && v[0] <= v[1],
        "--seeds takes FIRST LAST with FIRST <= LAST"
    );
    Ok(v[0]..=v[1])
}

/// Runs a `promig predict` subcommand.
pub fn run(cmd: PredictCommand) -> Result<()> {
    match cmd {
        PredictCommand::Train { seeds: s, out } => {
            let mut data = Vec::new();
            for seed in seeds(&s)? {
                let (samples, records, _, _) = replay(seed, true, None)?;
                for x in samples {
                    data.push((
                        x.features,
                        crash_within(&records, x.host, x.time_s, HORIZON_S),
                    ));
                }
            }
            let model = HardwareModel::train(&data, HORIZON_S)?;
            std::fs::write(&out, serde_json::to_string_pretty(&model)? + "\n")
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "trained on {} host-steps ({} positive) from seeds {}..={}; saved to {}",
                model.trained_on.0,
                model.trained_on.1,
                s[0],
                s[1],
                out.display()
            );
            Ok(())
        }
        PredictCommand::Features { seeds: s } => {
            let mut xs: Vec<[f64; 6]> = Vec::new();
            let mut ys: Vec<f64> = Vec::new();
            for seed in seeds(&s)? {
                let (samples, records, _, _) = replay(seed, true, None)?;
                for x in samples {
                    ys.push(f64::from(u8::from(crash_within(
                        &records, x.host, x.time_s, HORIZON_S,
                    ))));
                    xs.push(x.features);
                }
            }
            let ranked = promig_predict::selection::rank(&xs, &ys, &HARDWARE_FEATURES);
            println!(
                "hardware-failure features, ranked by |correlation| with \"crash within 30 min\":"
            );
            println!(
                "{:<48} {:>8} {:>10} {:>8}",
                "feature", "corr", "redundant", "weight"
            );
            let model = HardwareModel::builtin()?;
            for r in &ranked {
                println!(
                    "{:<48} {:>8.3} {:>10} {:>8.2}",
                    r.name,
                    r.correlation,
                    r.redundant_with.as_deref().unwrap_or("-"),
                    model.weights[r.index]
                );
            }
            println!(
                "(weights: the built-in logistic model's coefficients on standardised features)"
            );
            Ok(())
        }
        PredictCommand::Nab { data, json } => {
            use promig_predict::nab;
            let series = nab::load(&data)?;
            let mut rows = Vec::new();
            for (label, detect) in [
                (
                    "forecast (Holt)",
                    nab::detect_forecast as fn(&[f64]) -> Vec<bool>,
                ),
                ("static threshold", nab::detect_threshold),
            ] {
                let mut by_cat: std::collections::BTreeMap<String, nab::NabScore> =
                    Default::default();
                let mut total = nab::NabScore::default();
                for s in &series {
                    let sc = nab::score(s, &detect(&s.values));
                    let cat = s.name.split('/').next().unwrap_or("").to_string();
                    by_cat.entry(cat).or_default().add(&sc);
                    total.add(&sc);
                }
                by_cat.insert("all".into(), total);
                rows.push((label, by_cat));
            }
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(l, m)| serde_json::json!({"detector": l, "scores": m.iter().map(|(k, s)| (k.clone(), serde_json::json!({"score": s.normalized(), "detail": s}))).collect::<serde_json::Map<_, _>>()}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "NAB ({} series, standard profile; 100 = perfect, 0 = never fires)",
                    series.len()
                );
                println!(
                    "{:<18} {:<20} {:>7} {:>8} {:>13} {:>9} {:>7}",
                    "detector", "series", "score", "windows", "by start", "detected", "FAs"
                );
                for (l, m) in &rows {
                    for (cat, s) in m {
                        println!(
                            "{:<18} {:<20} {:>7.1} {:>8} {:>13} {:>9} {:>7}",
                            l,
                            cat,
                            s.normalized(),
                            s.windows,
                            s.flagged_by_start,
                            s.detected,
                            s.false_alarms
                        );
                    }
                }
            }
            Ok(())
        }
        PredictCommand::Eval { seeds: s, json } => {
            let report = crate::predict_eval::evaluate(seeds(&s)?, HardwareModel::builtin()?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                crate::predict_eval::print(&report);
            }
            Ok(())
        }
    }
}

/// Labelled hardware samples from the training seeds (shared with the evaluation's forest).
pub(crate) fn training_samples(
    seeds: std::ops::RangeInclusive<u64>,
) -> Result<Vec<([f64; 6], bool)>> {
    let mut data = Vec::new();
    for seed in seeds {
        let (samples, records, _, _) = replay(seed, true, None)?;
        for x in samples {
            data.push((
                x.features,
                crash_within(&records, x.host, x.time_s, HORIZON_S),
            ));
        }
    }
    Ok(data)
}

/// Shared with the evaluation module.
pub(crate) fn replay_for_eval(seed: u64, model: &HardwareModel) -> Result<EvalRun> {
    let (samples, records, hosts, steps) = replay(seed, false, Some(model.clone()))?;
    Ok(EvalRun {
        samples: samples
            .into_iter()
            .map(|x| EvalSample {
                time_s: x.time_s,
                host: x.host,
                hardware_p: x.hardware_p,
                ce_now: x.ce_now,
                overload_p: x.overload_p,
                demand_now: x.demand_now,
                memory_p: x.memory_p,
                memory_now: x.memory_now,
                features: x.features,
                response_p: x.response_p,
            })
            .collect(),
        records,
        hosts,
        steps,
    })
}

/// What the evaluation needs of one replayed day.
pub(crate) struct EvalRun {
    pub samples: Vec<EvalSample>,
    pub records: Vec<promig_model::FaultRecord>,
    pub hosts: usize,
    pub steps: usize,
}

/// One host-step of predictions and observed values.
#[derive(Serialize)]
pub(crate) struct EvalSample {
    pub time_s: f64,
    pub host: usize,
    pub hardware_p: f64,
    pub ce_now: f64,
    pub overload_p: f64,
    pub demand_now: f64,
    pub memory_p: f64,
    pub memory_now: f64,
    pub features: [f64; 6],
    pub response_p: f64,
}

/// The reactive detector's hardware threshold (exported for the evaluation table).
pub(crate) const REACTIVE_CE: f64 = REACTIVE_CE_THRESHOLD;
