//! `promig predict ...`: train the hardware-failure classifier on the simulator's labelled faults,
//! show the features it uses and why, and evaluate the predictor against a reactive detector.

use anyhow::{Context, Result};
use promig_eval::prediction::{
    self, EvalReport, HORIZON_S, REACTIVE_CE_THRESHOLD, REACTIVE_LATENCY_RATIO,
};
use promig_predict::HardwareModel;
use promig_predict::evaluation::AlarmStats;
use promig_predict::features::HARDWARE_FEATURES;
use std::path::{Path, PathBuf};

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
    /// Score our detectors and NAB's four published ones (their result files and thresholds) on the
    /// NAB's labelled real series (DATA/nab: data/, labels/, results/, config/), all with the same
    /// scorer, checked against NAB's own scores.
    Nab {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the predictor on held-out seeds against a reactive (current-value) detector.
    Eval {
        /// First and last evaluation seed (disjoint from the training seeds).
        #[arg(long, num_args = 2, default_values_t = [101, 110])]
        seeds: Vec<u64>,
        /// Replay this trace folder (inside the data folder, e.g. planetlab/20110322 or
        /// bitbrains-rnd-2013-08) instead of the scenario's day, to test on a workload the model
        /// was not trained on; the chains are sized to the VMs it offers.
        #[arg(long)]
        traces: Option<String>,
        /// Format of --traces: planetlab, google or bitbrains.
        #[arg(long, default_value = "planetlab", requires = "traces")]
        format: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn seeds(v: &[u64]) -> Result<std::ops::RangeInclusive<u64>> {
    anyhow::ensure!(
        v.len() == 2 && v[0] <= v[1],
        "--seeds takes FIRST LAST with FIRST <= LAST"
    );
    Ok(v[0]..=v[1])
}

/// Runs a `promig predict` subcommand.
pub fn run(cmd: PredictCommand, data: Option<&Path>) -> Result<()> {
    let data = crate::data_dir(data)?;
    match cmd {
        PredictCommand::Train { seeds: s, out } => {
            let samples = prediction::training_samples(&data, seeds(&s)?)?;
            let model = HardwareModel::train(&samples, HORIZON_S)?;
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
            let samples = prediction::training_samples(&data, seeds(&s)?)?;
            let xs: Vec<[f64; 6]> = samples.iter().map(|d| d.0).collect();
            let ys: Vec<f64> = samples.iter().map(|d| f64::from(u8::from(d.1))).collect();
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
        PredictCommand::Nab { json } => nab_table(&data, json),
        PredictCommand::Eval {
            seeds: s,
            traces,
            format,
            json,
        } => {
            let traces = traces
                .map(|dir| crate::trace_choice(dir, &format))
                .transpose()?;
            let report = prediction::evaluate(
                &data,
                seeds(&s)?,
                HardwareModel::builtin()?,
                traces.as_ref(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print(&report);
            }
            Ok(())
        }
    }
}

/// `promig predict nab`: one table, our detectors then NAB's, standard profile.
fn nab_table(data: &Path, json: bool) -> Result<()> {
    use promig_predict::nab::{self, Profile};
    let dir = promig_model::data::inside(data, "nab")?;
    let series = nab::load(&dir)?;
    let profile = Profile::STANDARD;
    type Detector = fn(&[f64]) -> Vec<bool>;
    let ours: [(&str, Detector); 4] = [
        ("new extreme", nab::detect_new_extreme),
        ("forecast (Holt)", nab::detect_forecast),
        ("likelihood z>5", |v: &[f64]| nab::detect_likelihood(v, 5.0)),
        ("static threshold", nab::detect_threshold),
    ];
    // (name, source, NAB's threshold, scores per category)
    let mut rows = Vec::new();
    for (label, detect) in ours {
        let detections: Vec<Vec<bool>> = series.iter().map(|s| detect(&s.values)).collect();
        let scores = nab::score_corpus(&series, &detections, &profile);
        rows.push((label, "promig", None, scores));
    }
    for (name, label) in nab::NAB_DETECTORS {
        let threshold = nab::load_threshold(&dir, name, &profile)?;
        let detections: Vec<Vec<bool>> = nab::load_results(&dir, name, &series)?
            .iter()
            .map(|a| nab::detections_at(a, threshold))
            .collect();
        let scores = nab::score_corpus(&series, &detections, &profile);
        rows.push((label, "NAB result file", Some(threshold), scores));
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(label, source, threshold, by_category)| {
                let scores: serde_json::Map<_, _> = by_category
                    .iter()
                    .map(|(k, s)| {
                        (
                            k.clone(),
                            serde_json::json!({"score": s.normalized(), "detail": s}),
                        )
                    })
                    .collect();
                serde_json::json!({
                    "detector": label,
                    "source": source,
                    "threshold": threshold,
                    "scores": scores,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let windows = rows
        .first()
        .and_then(|r| r.3.get("all"))
        .map_or(0, |s| s.windows);
    println!(
        "NAB: {} series, {windows} windows, {} profile; 100 = perfect, 0 = never fires; the scorer \
         gives NAB's own scores for NAB's detectors",
        series.len(),
        profile.name
    );
    let categories: Vec<&String> = rows
        .first()
        .map(|r| r.3.keys().filter(|k| *k != "all").collect())
        .unwrap_or_default();
    print!("{:<24} {:>6}", "detector", "score");
    for c in &categories {
        print!(" {:>18}", c.as_str());
    }
    println!(" {:>9} {:>9} {:>6}", "by start", "detected", "FAs");
    for (label, _, _, by_category) in &rows {
        let all = &by_category["all"];
        print!("{label:<24} {:>6.1}", all.normalized());
        for c in &categories {
            print!(" {:>18.1}", by_category[*c].normalized());
        }
        println!(
            " {:>9} {:>9} {:>6}",
            all.flagged_by_start, all.detected, all.false_alarms
        );
    }
    Ok(())
}

fn mins(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.0} min", s / 60.0))
}

/// Prints the report as a table.
fn print(r: &EvalReport) {
    println!(
        "held-out seeds {}..={} ({:.0} host-days), {}, policy none",
        r.seeds.0, r.seeds.1, r.host_days, r.overload.traces
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
    row(
        &format!(
            "hardware: predictor (P >= {})",
            promig_policy::proactive::ProactiveGreedy::default().hardware_bound
        ),
        &r.hardware_at_policy_bound,
    );
    row("hardware: random forest", &r.hardware_forest);
    row(
        &format!("hardware: reactive (CE >= {REACTIVE_CE_THRESHOLD}/h)"),
        &r.hardware_reactive,
    );
    row("memory shortage: predictor", &r.memory);
    row("memory shortage: reactive (>= 95 %)", &r.memory_reactive);
    row("response-time breach: predictor", &r.response_time);
    row(
        &format!(
            "response-time: reactive (>= {:.0} % of bound)",
            REACTIVE_LATENCY_RATIO * 100.0
        ),
        &r.response_time_reactive,
    );
    println!(
        "next-step host CPU demand inside the predictor's 90 % interval: {:.1} %",
        r.cpu_interval_coverage * 100.0
    );
    println!(
        "one-step-ahead host overload (predicted before the policy acts; threshold P >= {} chosen on validation seeds 1-10):",
        promig_eval::prediction::OVERLOAD_THRESHOLD
    );
    println!(
        "  {:<28} {:>9} {:>10} {:>7}   {:>10} {:>7}   {:>24}",
        "traces, placement",
        "positives",
        "pred prec",
        "recall",
        "react prec",
        "recall",
        "hindsight recall @ 0.7"
    );
    for t in std::iter::once(&r.overload).chain(&r.overload_real) {
        let best = t
            .best_recall_at_precision_70
            .map_or("-".to_string(), |(rec, thr)| {
                format!("{rec:.2} (P >= {thr:.2})")
            });
        println!(
            "  {:<28} {:>9} {:>10.2} {:>7.2}   {:>10.2} {:>7.2}   {:>24}",
            t.traces,
            t.at_validation_threshold.positives,
            t.at_validation_threshold.precision,
            t.at_validation_threshold.recall,
            t.reactive.precision,
            t.reactive.recall,
            best
        );
    }
}
