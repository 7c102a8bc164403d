//! `promig`: the command-line entry point. Parses arguments, wires the pipeline's crates together
//! and prints; all logic lives in the library crates.

mod controller_cmd;
mod evaluate_cmd;
mod explain_cmd;
mod fidelity;
mod migrate_cmd;
mod predict_cmd;
mod telemetry_cmd;
mod train_cmd;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use promig_model::ScenarioFile;
use promig_sim::{Report, SimConfig, World, scenario};
use std::path::Path;
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
    /// The real data sets (default: $PROMIG_DATA, else ../shared/data). Scenario trace paths,
    /// `--traces` of `predict eval`, CloudSim days and NAB are resolved inside it.
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
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
    /// Reproduce CloudSim 3.0.3's PlanetLab table (the days under DATA/planetlab) and compare
    /// with its published figures.
    Fidelity {
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the policies with their parameters, defaults and what they need.
    Policies,
    /// Compare policies on the same episodes over many seeds: mean and 95 % confidence interval
    /// per metric (shardable, then `evaluate merge`); `evaluate evacuation` scores evacuations
    /// on every real trace set.
    Evaluate(evaluate_cmd::EvaluateArgs),
    /// Train the RL agent's scorer in the simulator (policy gradient); writes the model
    /// (safetensors) and its learning curve (CSV).
    Train(train_cmd::TrainArgs),
    /// Why the RL agent moved a VM: the options it scored, the score of waiting, and the
    /// features that weighed most, from a `simulate --json` report.
    Explain(explain_cmd::ExplainArgs),
    /// The daemon: monitor -> predict -> decide -> migrate, with action plans, a SQLite journal,
    /// an HTTP API and Prometheus metrics. `--demo` runs it on the simulator, no setup.
    Controller(controller_cmd::ControllerArgs),
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Scenario TOML file (the built-in NFV scenario when absent).
    #[arg(long, conflicts_with = "cloudsim")]
    scenario: Option<PathBuf>,
    /// Run one episode of a split (train, validate or test; `crates/sim/scenarios/splits.toml`):
    /// the data centre, traces and faults `--seed` draws there.
    #[arg(long, value_name = "NAME", requires = "seed", conflicts_with_all = ["scenario", "cloudsim", "traces", "steps"])]
    split: Option<String>,
    /// Run CloudSim's PlanetLab experiment on this day folder instead of an NFV scenario.
    #[arg(long)]
    cloudsim: Option<PathBuf>,
    /// Hosts in CloudSim mode (800 as published).
    #[arg(long, default_value_t = promig_sim::cloudsim::HOSTS)]
    hosts: usize,
    /// Policies to compare (repeat or comma-separate), each NAME[-VALUE...] with values for its
    /// parameters in order (`thr-mmt-0.75`); `promig policies` lists them.
    #[arg(long, value_delimiter = ',')]
    policy: Vec<String>,
    /// Replay this trace folder (inside the data folder, e.g. google-vms) instead of the
    /// scenario's; the chains are sized to the VMs it offers.
    #[arg(long, conflicts_with = "cloudsim")]
    traces: Option<String>,
    /// Format of --traces: planetlab, google or bitbrains.
    #[arg(long, default_value = "planetlab", requires = "traces")]
    format: String,
    /// Seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of 5-minute steps (overrides the scenario's).
    #[arg(long)]
    steps: Option<usize>,
    /// Calibration profile of the migration model: a built-in name (kvm, tcg) or a profile TOML
    /// file (overrides the scenario's `calibration`; default kvm). CloudSim mode prices
    /// migrations with its own rule, so it takes none.
    #[arg(long, value_name = "FILE_OR_NAME", conflicts_with = "cloudsim")]
    calibration: Option<String>,
    /// Print one JSON object (one policy) or an array (several) instead of the table.
    #[arg(long)]
    json: bool,
    /// Write the HTML report (DIR/report.html) here: per-policy charts, each troubled host's
    /// predicted risk against its faults, the RL agent's learning curve when `rl` ran. Without
    /// it the table run writes it under the system's temporary directory
    /// (e.g. /tmp/promig-report/report.html) and names it on stderr; --json writes none.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

/// The command line, with `simulate --policy`'s and `evaluate --policies`' long help written from
/// the policy declarations.
fn command_line() -> clap::Command {
    let help = format!(
        "Policies to compare (repeat or comma-separate), each NAME[-VALUE...] with values for \
         its parameters in order, e.g. thr-mmt-0.75.\n\n{}",
        promig_eval::run::registry().help()
    );
    let evaluate_help = format!(
        "Policies to compare (comma-separated), each NAME[-VALUE...] with values for its \
         parameters in order.\n\n{}",
        promig_eval::run::registry().help()
    );
    Cli::command()
        .mut_subcommand("simulate", |c| c.mut_arg("policy", |a| a.long_help(help)))
        .mut_subcommand("evaluate", |c| {
            c.mut_arg("policies", |a| a.long_help(evaluate_help))
        })
}

/// Rust ignores SIGPIPE, so `promig ... | head` would panic on the first write after `head`
/// exits; restoring the default lets the process end quietly, as Unix tools do.
fn restore_default_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    restore_default_sigpipe();
    if let Err(e) = promig_agent::policy::check_model_env() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    let cli = match Cli::from_arg_matches(&command_line().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let data = cli.data;
    let result = match cli.command {
        Command::Simulate(args) => simulate(args, data.as_deref()),
        Command::Fidelity { json } => {
            data_dir(data.as_deref()).and_then(|d| fidelity::run(&d.join("planetlab"), json))
        }
        Command::Policies => {
            print!("{}", promig_eval::run::registry().help());
            Ok(())
        }
        Command::Evaluate(args) => evaluate_cmd::run(args, data.as_deref()),
        Command::Train(args) => train_cmd::run(args, data.as_deref()),
        Command::Explain(args) => explain_cmd::run(args),
        Command::Controller(args) => controller_cmd::run(args, data.as_deref()),
        Command::Migrate { command } => migrate_cmd::run(command),
        Command::Predict { command } => predict_cmd::run(command, data.as_deref()),
        Command::Telemetry { command } => telemetry_cmd::run(command, data.as_deref()),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The data folder: `--data`, else `$PROMIG_DATA`, else `../shared/data` (one rule for every
/// command, in `promig_model::data`).
pub(crate) fn data_dir(flag: Option<&Path>) -> Result<PathBuf> {
    Ok(promig_model::data::dir(flag)?)
}

/// A `--traces DIR --format F` pair, checked.
pub(crate) fn trace_choice(dir: String, format: &str) -> Result<promig_eval::prediction::Traces> {
    let format = promig_model::trace::TraceFormat::from_name(format).with_context(|| {
        format!("--format: unknown trace format {format:?} (planetlab, google, bitbrains)")
    })?;
    Ok(promig_eval::prediction::Traces { dir, format })
}

/// A built world plus the run settings, ready to simulate with any policy.
struct Setup {
    world: Arc<World>,
    config: SimConfig,
    default_policies: Vec<String>,
}

fn setup(args: &SimulateArgs, data: Option<&Path>) -> Result<Setup> {
    let max_hosts = promig_model::scenario::MAX_HOSTS;
    anyhow::ensure!(
        (1..=max_hosts).contains(&args.hosts),
        "--hosts: {} is outside 1..={max_hosts}",
        args.hosts
    );
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
    let (mut file, base) = match (&args.scenario, &args.split) {
        (Some(path), _) => (ScenarioFile::load(path)?, ScenarioFile::base_dir(path)),
        (None, Some(name)) => {
            let split = split_name(name)?;
            let data = data_dir(data)?;
            let seed = args.seed.context("--split needs --seed")?;
            let (file, _) = promig_sim::split::Splits::builtin()?.scenario(split, seed, &data)?;
            (file, data)
        }
        (None, None) => (scenario::default_scenario()?, data_dir(data)?),
    };
    if let Some(dir) = &args.traces {
        let t = trace_choice(dir.clone(), &args.format)?;
        let path = promig_model::data::inside(&data_dir(data)?, &t.dir)?;
        file = file.with_traces(&path.to_string_lossy(), t.format);
    }
    let world = scenario::build_world(&file, &base)?;
    let (seed, steps) = (
        args.seed.unwrap_or(file.seed),
        args.steps.unwrap_or(file.steps),
    );
    // The flag wins over the scenario's `calibration` (a file relative to the working folder,
    // where the scenario's is relative to the scenario).
    let config = match &args.calibration {
        Some(spec) => SimConfig {
            calibration: Arc::new(
                promig_migrate::Profile::resolve(spec, Path::new("")).context("--calibration")?,
            ),
            ..SimConfig::nfv(seed, steps)
        },
        None => scenario::sim_config(&file, &base, seed, steps)
            .with_context(|| format!("{}: key `calibration`", file.source.display()))?,
    };
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
            "proactive-planned-2",
            "rl",
        ]
        .map(String::from)
        .to_vec(),
    })
}

/// Runs one policy on a prepared setup, with a progress bar when it takes more than a second;
/// records the run's timeline for the HTML report when `record` is set.
fn run_policy(
    world: &Arc<World>,
    base: &SimConfig,
    name: &str,
    show_progress: bool,
    record: bool,
) -> Result<(Report, Option<promig_eval::report::Timeline>)> {
    let started = Instant::now();
    let bar = ProgressBar::hidden();
    let mut shown = false;
    let mut on_step = |done: usize, total: usize| {
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
    };
    let result = if record {
        let (r, t) = promig_eval::run_named_recorded(world, base, name, &mut on_step)?;
        (r, Some(t))
    } else {
        (
            promig_eval::run_named(world, base, name, &mut on_step)?,
            None,
        )
    };
    bar.finish_and_clear();
    Ok(result)
}

fn simulate(args: SimulateArgs, data: Option<&Path>) -> Result<()> {
    let s = setup(&args, data)?;
    let policies = if args.policy.is_empty() {
        s.default_policies.clone()
    } else {
        args.policy.clone()
    };
    let registry = promig_eval::run::registry();
    for p in &policies {
        registry.resolve(p)?; // reject typos before spending time on the others
    }
    let mut reports = Vec::new();
    let mut timelines = Vec::new();
    let started = Instant::now();
    // The table run always makes a report (to `--report DIR` or the default place); a --json run
    // only when asked, so a script's JSON run leaves nothing behind.
    let report_dir = args
        .report
        .clone()
        .or_else(|| (!args.json).then(default_report_dir));
    for p in &policies {
        let (r, t) = run_policy(&s.world, &s.config, p, !args.json, report_dir.is_some())?;
        reports.push(r);
        timelines.extend(t);
    }
    let elapsed = started.elapsed();
    match (&args.report, &report_dir) {
        (Some(dir), _) => write_simulate_report(dir, &policies, &reports, &timelines)?,
        (None, Some(dir)) => {
            // The report is a by-product here: failing to write it (a read-only or foreign
            // /tmp) must not cost the table the user asked for.
            if let Err(e) = write_simulate_report(dir, &policies, &reports, &timelines) {
                eprintln!("report: not written ({e:#}); pass --report DIR to choose where");
            }
        }
        (None, None) => {}
    }
    // What was adapted to make the run possible goes to stderr, so JSON stays clean.
    for note in &s.world.notes {
        eprintln!("note: {note}");
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
        elapsed.as_secs_f64()
    );
    print!("{}", promig_eval::table(&reports));
    if reports.iter().any(|r| r.failures_struck > 0) {
        println!("(evacuated = hardware failures that found their host already empty)");
    }
    if policies.is_empty() {
        bail!("no policy given");
    }
    Ok(())
}

/// Where `promig simulate` writes its report without `--report`: `promig-report` under
/// [`std::env::temp_dir`] (`$TMPDIR`, else `/tmp`). Not the current directory: a plain run must
/// not litter a checkout or a read-only working directory, and a user who wants the report kept
/// names a place with `--report`. One fixed name rather than one per run, so repeated runs replace
/// the last report instead of piling up, and the path printed on stderr is always the same one
/// to bookmark. The file is replaced in one rename, so runs in parallel never leave half a page.
fn default_report_dir() -> PathBuf {
    std::env::temp_dir().join("promig-report")
}

/// Writes `promig simulate --report DIR`: the timeline is the first run that had predictions
/// (the risk line is what it shows), else the first run; the learning curve when `rl` ran.
fn write_simulate_report(
    dir: &Path,
    policies: &[String],
    reports: &[Report],
    timelines: &[promig_eval::report::Timeline],
) -> Result<()> {
    use promig_eval::report;
    let pick = timelines
        .iter()
        .position(|t| t.has_risks())
        .or((!timelines.is_empty()).then_some(0));
    let timeline = pick.and_then(|i| Some((timelines.get(i)?, reports.get(i)?)));
    let curve = if policies.iter().any(|p| report::is_committed_rl(p)) {
        Some(report::committed_rl_curve()?)
    } else {
        None
    };
    let html = report::simulate_page(reports, timeline, curve.as_deref());
    // Written beside its final name then renamed: parallel runs sharing the default directory
    // each leave a whole page.
    let path = dir.join(report::REPORT_FILE);
    let part = dir.join(format!(
        ".{}.{}.part",
        report::REPORT_FILE,
        std::process::id()
    ));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&part, &html))
        .and_then(|()| std::fs::rename(&part, &path))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // stderr, so the table (or --json) on stdout stays as it is without --report.
    eprintln!("report: {}", path.display());
    Ok(())
}

/// The split `--split NAME` names, or an error saying which names there are.
pub(crate) fn split_name(name: &str) -> Result<promig_sim::split::SplitName> {
    promig_sim::split::SplitName::parse(name)
        .with_context(|| format!("--split: {name:?} is not train, validate or test"))
}
