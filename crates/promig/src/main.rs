//! `promig`: the command-line entry point. Parses arguments, wires the pipeline's crates together
//! and prints; all logic lives in the library crates.

mod fidelity;
mod migrate_cmd;
mod predict_cmd;
mod telemetry_cmd;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use promig_model::ScenarioFile;
use promig_sim::{Report, SimConfig, World, report, scenario};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "promig",
    version,
    about = "Pro-active live migration for NFV data centres"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a data centre replaying real traces with faults, and compare policies.
    Simulate(SimulateArgs),
    /// Live migration: cost model, planner, calibration against real QEMU.
    Migrate {
        #[command(subcommand)]
        command: migrate_cmd::MigrateCommand,
    },
    /// Failure prediction: train, inspect features, evaluate.
    Predict {
        #[command(subcommand)]
        command: predict_cmd::PredictCommand,
    },
    /// Telemetry: replay traces or a simulation into the store, with per-source counters.
    Telemetry {
        #[command(subcommand)]
        command: telemetry_cmd::TelemetryCommand,
    },
    /// Reproduce CloudSim 3.0.3's PlanetLab table and compare with its published figures.
    Fidelity {
        /// Folder holding the PlanetLab day folders.
        #[arg(long, default_value = "../shared/data/planetlab")]
        data: PathBuf,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Scenario TOML file (the built-in NFV scenario when absent).
    #[arg(long, conflicts_with = "cloudsim")]
    scenario: Option<PathBuf>,
    /// Run CloudSim's PlanetLab experiment on this day folder instead of an NFV scenario.
    #[arg(long)]
    cloudsim: Option<PathBuf>,
    /// Hosts in CloudSim mode (800 as published).
    #[arg(long, default_value_t = promig_sim::cloudsim::HOSTS)]
    hosts: usize,
    /// Policies to compare (repeat or comma-separate). Known: none, dvfs, non-power-aware,
    /// reactive, threshold[-T], {thr,iqr,mad,lr,lrr}-{mmt,mc,rs}[-P].
    #[arg(long, value_delimiter = ',')]
    policy: Vec<String>,
    /// Seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of 5-minute steps (overrides the scenario's).
    #[arg(long)]
    steps: Option<usize>,
    /// Print one JSON object (one policy) or an array (several) instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => simulate(args),
        Command::Fidelity { data, json } => fidelity::run(&data, json),
        Command::Migrate { command } => migrate_cmd::run(command),
        Command::Predict { command } => predict_cmd::run(command),
        Command::Telemetry { command } => telemetry_cmd::run(command),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// A built world plus the run settings, ready to simulate with any policy.
struct Setup {
    world: Arc<World>,
    config: SimConfig,
    default_policies: Vec<String>,
}

fn setup(args: &SimulateArgs) -> Result<Setup> {
    if let Some(day) = &args.cloudsim {
        let world = promig_sim::cloudsim::planetlab_world(day, args.hosts)
            .with_context(|| format!("loading the PlanetLab day {}", day.display()))?;
        let mut config = SimConfig::cloudsim(args.seed.unwrap_or(0));
        if let Some(s) = args.steps {
            config.steps = s;
        }
        return Ok(Setup {
            world: Arc::new(world),
            config,
            default_policies: vec!["lr-mmt-1.2".into()],
        });
    }
    let (file, base) = match &args.scenario {
        Some(path) => (ScenarioFile::load(path)?, ScenarioFile::base_dir(path)),
        None => scenario::default_scenario()?,
    };
    let world = scenario::build_world(&file, &base)?;
    let config = SimConfig::nfv(
        args.seed.unwrap_or(file.seed),
        args.steps.unwrap_or(file.steps),
    );
    Ok(Setup {
        world: Arc::new(world),
        config,
        default_policies: [
            "none",
            "reactive",
            "threshold",
            "thr-mmt-0.8",
            "lr-mmt-1.2",
            "proactive-greedy",
        ]
        .map(String::from)
        .to_vec(),
    })
}

/// Runs one policy on a prepared setup, with a progress bar when it takes more than a second.
pub(crate) fn run_policy(
    world: &Arc<World>,
    base: &SimConfig,
    name: &str,
    show_progress: bool,
) -> Result<Report> {
    let started = Instant::now();
    let bar = ProgressBar::hidden();
    let mut shown = false;
    let report = promig_sim::run_named(world, base, name, &mut |done, total| {
        if show_progress && !shown && started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} steps ({eta})")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_message(name.to_string());
            shown = true;
        }
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(report)
}

fn simulate(args: SimulateArgs) -> Result<()> {
    let s = setup(&args)?;
    let policies = if args.policy.is_empty() {
        s.default_policies.clone()
    } else {
        args.policy.clone()
    };
    for p in &policies {
        promig_policy::by_name(p, 0)?; // reject typos before spending time on the others
    }
    let mut reports = Vec::new();
    let started = Instant::now();
    for p in &policies {
        reports.push(run_policy(&s.world, &s.config, p, !args.json)?);
    }
    if args.json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&reports)?
        };
        println!("{text}");
        return Ok(());
    }
    let r0 = &reports[0];
    println!(
        "scenario {} | {} hosts, {} VMs, {:.1} h simulated, seed {} | {} policies in {:.2} s",
        r0.scenario,
        r0.hosts,
        r0.vms,
        r0.simulated_s / 3600.0,
        r0.seed,
        reports.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", report::table(&reports));
    if reports.iter().any(|r| r.failures_struck > 0) {
        println!("(evacuated = hardware failures that found their host already empty)");
    }
    if policies.is_empty() {
        bail!("no policy given");
    }
    Ok(())
}
