//! `promig train`: learns the RL agent's scorer in the simulator and writes the model
//! (safetensors) and its learning curve (CSV), reproducibly from a seed.

use anyhow::{Context, Result};
use promig_agent::{Env, EnvConfig, EpisodeStats, TrainConfig};
use promig_sim::scenario;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Flags of `promig train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Train on this scenario TOML file alone instead of the training split.
    #[arg(long, conflicts_with = "default_scenario")]
    scenario: Option<PathBuf>,
    /// Train on the built-in NFV scenario alone instead of the training split.
    #[arg(long)]
    default_scenario: bool,
    /// Episodes (simulated days) in all.
    #[arg(long, default_value_t = TrainConfig::default().episodes)]
    episodes: usize,
    /// Episodes per gradient step.
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    batch: usize,
    /// Seeds the initial weights and the sampling of moves.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// First simulation seed of the training split (evaluation uses seeds below 1,000).
    #[arg(long, default_value_t = TrainConfig::default().first_seed)]
    first_episode_seed: u64,
    /// Hidden units per layer.
    #[arg(long, default_value_t = TrainConfig::default().hidden)]
    hidden: usize,
    /// AdamW step size.
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    learning_rate: f64,
    /// Discount per 5-minute interval.
    #[arg(long, default_value_t = TrainConfig::default().gamma)]
    gamma: f64,
    /// Intervals per episode (the scenario's day when absent).
    #[arg(long)]
    steps: Option<usize>,
    /// Reward weight of the interval's loss rate (packets lost over offered), `RewardWeights`'
    /// `loss_rate`; the other weights are in `crates/agent/src/reward.rs`.
    #[arg(long, default_value_t = promig_agent::RewardWeights::default().loss_rate)]
    loss_weight: f64,
    /// Take a checkpoint every this many episodes (0: only the end); each is judged on the
    /// selection days and the best one becomes the model.
    #[arg(long, default_value_t = TrainConfig::default().checkpoint_every)]
    checkpoint_every: usize,
    /// Held-out training days (the seeds after the ones trained on) that judge the checkpoints
    /// (0: keep the last iterate).
    #[arg(long, default_value_t = TrainConfig::default().selection_days)]
    selection_days: u64,
    /// Also write every checkpoint here, as `episode-N.safetensors`.
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// Where to write the model.
    #[arg(long, default_value = "rl.safetensors")]
    out: PathBuf,
    /// Where to write the learning curve (default: the model's path with `.csv`); its chart goes
    /// beside it with `.svg`.
    #[arg(long)]
    curve: Option<PathBuf>,
    /// Ablations (comma-separated): `links` and `predictions` hide those features from the
    /// scorer, `techniques` offers pre-copy only, `greedy-actions` one destination per VM (the
    /// best-ranked) with pre-copy only, the action set of a hand-written greedy policy.
    #[arg(long, value_delimiter = ',')]
    ablate: Vec<String>,
    /// After training, run the new model and proactive-greedy on these episode seeds (first and
    /// last, inclusive; the validation split is 1-20, whose episodes are used unless a single
    /// scenario was trained on) and print both, side by side.
    #[arg(long, num_args = 2, value_names = ["FIRST", "LAST"])]
    validate: Vec<u64>,
}

/// The agent configuration with `--ablate`'s changes.
fn ablated(names: &[String]) -> Result<promig_agent::AgentConfig> {
    use promig_agent::FeatureGroup;
    use promig_model::Technique;
    let mut cfg = promig_agent::AgentConfig::new();
    for name in names {
        match name.as_str() {
            "techniques" => cfg.candidates.techniques = vec![Technique::Precopy],
            "greedy-actions" => {
                cfg.candidates.techniques = vec![Technique::Precopy];
                cfg.candidates.destinations_per_vm = 1;
            }
            other => match FeatureGroup::from_name(other) {
                Some(g) => cfg.candidates.hidden.push(g),
                None => anyhow::bail!(
                    "--ablate: unknown ablation {other:?} (links, predictions, techniques, greedy-actions)"
                ),
            },
        }
    }
    Ok(cfg)
}

/// Runs the trained model (deciding as `rl` does) and proactive-greedy on `episodes` (in
/// parallel) and prints each one's mean and 95 % interval of downtime, loss, migrations and
/// energy.
fn validate(
    episodes: &[(Arc<promig_sim::World>, promig_sim::SimConfig)],
    weights: &promig_agent::MlpWeights,
    agent: &promig_agent::AgentConfig,
    out: &mut impl Write,
) -> Result<()> {
    use promig_eval::compare::{Run, mean_ci95};
    let cfg = promig_agent::AgentConfig {
        rule: promig_agent::ChoiceRule::Probable,
        explain: false,
        ..agent.clone()
    };
    let ran =
        promig_eval::parallel::map_in_order(episodes, |(world, config)| -> Result<(Run, Run)> {
            let mut policy =
                promig_agent::ScoredPolicy::new("trained", weights.clone(), cfg.clone());
            let mut predictor = promig_eval::default_predictor()?;
            let mut sim =
                promig_sim::Simulator::new(Arc::clone(world), config.clone(), &mut policy)?;
            let report = sim.run_with(&mut policy, Some(&mut predictor), &mut |_, _| {});
            let greedy = promig_eval::run_named(world, config, "proactive-greedy", &mut |_, _| {})?;
            Ok((
                Run::from_report("trained", &report),
                Run::from_report("proactive-greedy", &greedy),
            ))
        });
    let mut rows: Vec<(&str, Vec<Run>)> =
        vec![("trained", Vec::new()), ("proactive-greedy", Vec::new())];
    for r in ran {
        let (trained, greedy) = r?;
        rows[0].1.push(trained);
        rows[1].1.push(greedy);
    }
    writeln!(
        out,
        "{:<18} {:>16} {:>16} {:>14} {:>16}",
        "validation", "downtime s", "loss %", "migrations", "energy kWh"
    )?;
    for (name, runs) in &rows {
        let col = |f: fn(&Run) -> f64| {
            let i = mean_ci95(&runs.iter().map(f).collect::<Vec<_>>());
            (i.mean, i.ci95[1] - i.mean)
        };
        let (d, dh) = col(|r| r.downtime_s);
        let (l, lh) = col(|r| r.loss_rate * 100.0);
        let (m, mh) = col(|r| r.migrations as f64);
        let (e, eh) = col(|r| r.energy_kwh);
        writeln!(
            out,
            "{name:<18} {d:>8.1} ± {dh:<5.1} {l:>7.4} ± {lh:<6.4} {m:>6.1} ± {mh:<5.1} {e:>8.2} ± {eh:<5.2}"
        )?;
    }
    Ok(())
}

/// A split episode's world (shared) and run settings.
fn split_episode(
    splits: &promig_sim::split::Splits,
    split: promig_sim::split::SplitName,
    seed: u64,
    data: &Path,
) -> Result<(Arc<promig_sim::World>, promig_sim::SimConfig), promig_sim::SimError> {
    let (world, config) = splits.episode(split, seed, data)?;
    Ok((Arc::new(world), config))
}

/// How the learner gets each episode's environment.
type EnvFor = Box<dyn Fn(u64) -> Result<Env, promig_agent::AgentError> + Sync>;
/// A validation episode: its world and settings.
type Episode = (Arc<promig_sim::World>, promig_sim::SimConfig);

/// Runs `promig train`.
pub fn run(args: TrainArgs, data: Option<&Path>) -> Result<()> {
    let cfg = TrainConfig {
        episodes: args.episodes,
        batch: args.batch,
        seed: args.seed,
        first_seed: args.first_episode_seed,
        hidden: args.hidden,
        learning_rate: args.learning_rate,
        gamma: args.gamma,
        checkpoint_every: args.checkpoint_every,
        selection_days: args.selection_days,
        ..TrainConfig::default()
    };
    anyhow::ensure!(cfg.episodes >= 1, "--episodes: at least 1");
    anyhow::ensure!((1..=4096).contains(&cfg.hidden), "--hidden: 1..=4096");
    anyhow::ensure!(
        cfg.learning_rate.is_finite() && cfg.learning_rate > 0.0 && cfg.learning_rate <= 1.0,
        "--learning-rate: in (0, 1]"
    );
    anyhow::ensure!(
        cfg.gamma.is_finite() && (0.0..=1.0).contains(&cfg.gamma),
        "--gamma: in [0, 1]"
    );
    anyhow::ensure!(
        args.validate.is_empty()
            || (args.validate.len() == 2 && args.validate[0] + 1 < args.validate[1]),
        "--validate FIRST LAST: at least three seeds, FIRST below LAST"
    );
    let agent = ablated(&args.ablate)?;
    anyhow::ensure!(
        args.loss_weight.is_finite() && args.loss_weight >= 0.0,
        "--loss-weight: a finite, non-negative number"
    );
    let env_cfg = EnvConfig {
        agent: agent.clone(),
        reward: promig_agent::RewardWeights {
            loss_rate: args.loss_weight,
            ..promig_agent::RewardWeights::default()
        },
    };
    let single = match (&args.scenario, args.default_scenario) {
        (Some(path), _) => Some((
            promig_model::ScenarioFile::load(path)?,
            promig_model::ScenarioFile::base_dir(path),
        )),
        (None, true) => Some((scenario::default_scenario()?, crate::data_dir(data)?)),
        (None, false) => None,
    };
    let mut cfg = cfg;
    // One scenario, or the training split: each seed its own data centre.
    let (env_for, validation): (EnvFor, Vec<Episode>) = match single {
        Some((file, base)) => {
            let world = Arc::new(scenario::build_world(&file, &base)?);
            let steps = args.steps.unwrap_or(file.steps);
            let sim = scenario::sim_config(&file, &base, cfg.first_seed, steps)?;
            let env = Env::new(Arc::clone(&world), sim.clone(), env_cfg)?;
            let validation = match args.validate[..] {
                [first, last] => (first..=last)
                    .map(|seed| {
                        let config = promig_sim::SimConfig {
                            seed,
                            ..sim.clone()
                        };
                        (Arc::clone(&world), config)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (Box::new(move |_| Ok(env.fresh())), validation)
        }
        None => {
            use promig_sim::split::{SplitName, Splits};
            anyhow::ensure!(
                args.steps.is_none(),
                "--steps: split episodes are whole days (train on --scenario or --default-scenario to change it)"
            );
            let splits = Splits::builtin()?;
            let data = crate::data_dir(data)?;
            let [first, last] = splits.get(SplitName::Train).seeds;
            let days = last - first + 1;
            anyhow::ensure!(
                cfg.selection_days < days,
                "--selection-days: fewer than the training split's {days} seeds"
            );
            cfg.first_seed = first;
            // The split's last seeds are the selection days, never trained on.
            cfg.seed_count = days - cfg.selection_days;
            let validation = match args.validate[..] {
                [a, b] => (a..=b)
                    .map(|seed| split_episode(&splits, SplitName::Validate, seed, &data))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => Vec::new(),
            };
            let env_for = move |seed: u64| -> Result<Env, promig_agent::AgentError> {
                let (world, config) = split_episode(&splits, SplitName::Train, seed, &data)?;
                Env::new(world, config, env_cfg.clone())
            };
            (Box::new(env_for), validation)
        }
    };
    let curve_path = args
        .curve
        .clone()
        .unwrap_or_else(|| args.out.with_extension("csv"));
    let bar = indicatif::ProgressBar::new(cfg.episodes as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} episodes {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let trained = promig_agent::train_with(&env_for, &cfg, |s: &EpisodeStats| {
        bar.set_message(format!(
            "reward {:.0}, downtime {:.0} s, {} migrations",
            s.reward, s.downtime_s, s.migrations
        ));
        bar.inc(1);
        // Judging needs a checkpoint before the final one (roughly: more episodes than one span).
        let judged = cfg.selection_days > 0
            && cfg.checkpoint_every > 0
            && cfg.episodes > cfg.checkpoint_every;
        if s.episode + 1 == cfg.episodes && judged {
            bar.set_message("judging the checkpoints on the selection days");
        }
    })?;
    bar.finish_and_clear();
    let (weights, curve) = (&trained.weights, &trained.curve);
    if let Some(dir) = &args.checkpoints {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for c in &trained.checkpoints {
            let path = dir.join(format!("episode-{}.safetensors", c.episode));
            c.weights
                .save(&path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    weights
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let mut csv = String::from("episode,seed,reward,downtime_s,migrations,choices\n");
    for s in curve {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\n",
            s.episode, s.seed, s.reward, s.downtime_s, s.migrations, s.choices
        ));
    }
    std::fs::write(&curve_path, csv)
        .with_context(|| format!("writing {}", curve_path.display()))?;
    let svg_path = curve_path.with_extension("svg");
    let points: Vec<(f64, f64)> = curve.iter().map(|s| (s.episode as f64, s.reward)).collect();
    std::fs::write(&svg_path, promig_eval::report::learning_curve_svg(&points))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    let mean =
        |xs: &[EpisodeStats]| xs.iter().map(|s| s.reward).sum::<f64>() / xs.len().max(1) as f64;
    let k = (curve.len() / 4).max(1);
    let mut out = std::io::stdout().lock();
    let days = promig_agent::selection_seeds(&cfg);
    for c in &trained.checkpoints {
        if let Some(r) = c.selection_reward {
            let kept = if Some(c) == trained.chosen() {
                "  <- kept"
            } else {
                ""
            };
            writeln!(
                out,
                "checkpoint at episode {:>5}: mean reward {r:>10.1} on selection days {}-{}{kept}",
                c.episode,
                days.start,
                days.end - 1
            )?;
        }
    }
    writeln!(
        out,
        "trained {} episodes in {:.0} s: mean reward of the first {k} {:.1}, of the last {k} {:.1}",
        curve.len(),
        started.elapsed().as_secs_f64(),
        mean(&curve[..k.min(curve.len())]),
        mean(&curve[curve.len().saturating_sub(k)..]),
    )?;
    writeln!(
        out,
        "model written to {} (curve: {}, plotted in {})",
        args.out.display(),
        curve_path.display(),
        svg_path.display()
    )?;
    if !validation.is_empty() {
        validate(&validation, weights, &agent, &mut out)?;
    }
    Ok(())
}
