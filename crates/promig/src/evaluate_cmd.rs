//! `promig evaluate ...`: policies scored over many seeds and every real trace set.

use anyhow::{Context, Result};
use promig_eval::compare::{Comparison, DEFAULT_POLICIES, Episodes, Shard, compare};
use promig_eval::evacuation::{EvacuationRow, evacuation, real_trace_sets};
use std::path::{Path, PathBuf};

/// Most seeds one evaluation takes: a guard against a mistyped range (`--seeds 1 10000000000`)
/// that would only fill memory; a larger grid is several evaluations or a sharded one.
const MAX_SEEDS: u64 = 100_000;

/// `promig evaluate`: with no subcommand, every policy on the same episodes, summarised per
/// metric as a mean with its 95 % confidence interval over the seeds.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvaluateArgs {
    #[command(subcommand)]
    command: Option<EvaluateCommand>,
    #[command(flatten)]
    compare: CompareArgs,
}

/// The comparison's flags (they live on `evaluate` itself).
#[derive(clap::Args, Debug)]
struct CompareArgs {
    /// Scenario TOML file (the built-in NFV scenario when absent).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Run the episodes of this split (train, validate or test) of the fixed splits: each seed
    /// its own data centre (20-1,000 hosts, leaf-spine or a Topology Zoo network), trace set and
    /// faults, whole-rack failures included (`crates/sim/scenarios/splits.toml`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["scenario", "traces", "steps", "seeds"])]
    split: Option<String>,
    /// Another splits file in that file's format (the built-in one when absent).
    #[arg(long, value_name = "FILE", requires = "split")]
    splits: Option<PathBuf>,
    /// Replay this trace folder (inside the data folder, e.g. planetlab/20110303) instead of the
    /// scenario's; the chains are sized to the VMs it offers.
    #[arg(long, value_name = "DIR")]
    traces: Option<String>,
    /// Format of --traces: planetlab, google or bitbrains.
    #[arg(long, default_value = "planetlab", requires = "traces")]
    format: String,
    /// Calibration profile of the migration model: a built-in name (kvm, tcg) or a profile TOML
    /// file (overrides the scenario's `calibration`).
    #[arg(long, value_name = "FILE_OR_NAME")]
    calibration: Option<String>,
    /// First and last seed, at least five seeds (21-50 by default: proactive-greedy's hardware
    /// bound was chosen on seeds 1-20).
    #[arg(long, num_args = 2, value_names = ["FIRST", "LAST"], default_values_t = [21, 50])]
    seeds: Vec<u64>,
    /// Policies to compare (comma-separated), each NAME[-VALUE...] as `promig policies` lists.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_POLICIES.map(String::from))]
    policies: Vec<String>,
    /// Number of 5-minute steps per episode (overrides the scenario's).
    #[arg(long)]
    steps: Option<usize>,
    /// Run only the seeds whose position in the list modulo N is I (0-based) and print their raw
    /// figures as JSON, for `promig evaluate merge` (a Slurm array or an indexed Kubernetes Job).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Print one JSON object (summary under "policies", raw figures under "runs").
    #[arg(long)]
    json: bool,
    /// Also write an HTML report (DIR/report.html): per-policy charts with 95 % interval
    /// whiskers, and the RL agent's learning curve when `rl` is compared.
    #[arg(long, value_name = "DIR", conflicts_with = "shard")]
    report: Option<PathBuf>,
}

/// Subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum EvaluateCommand {
    /// Combine the JSON of `promig evaluate --shard I/N` runs into the output of the unsharded run.
    Merge {
        /// Shard files (any order; together they must hold every seed exactly once).
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// Print JSON (as `promig evaluate --json`) instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Where each policy's VNF downtime and packet loss come from (silent, missed or warned-of
    /// hardware failures, leak kills, migration pauses, oversubscribed hosts), averaged over the
    /// seeds, with the analysis-only `oracle` (knows the true failure times) as the bound and
    /// `oracle-alarms` (knows only which hardware alarms are false).
    Breakdown {
        /// First and last seed (1-20 by default: the validation seeds; 21-50 are the test split).
        /// With `--split`, seeds of that split (all of them by default).
        #[arg(long, num_args = 2, value_names = ["FIRST", "LAST"])]
        seeds: Option<Vec<u64>>,
        /// Policies (comma-separated); the first is the baseline the others are compared with.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "proactive-greedy,none,rl,oracle-alarms,oracle"
        )]
        policies: Vec<String>,
        /// Scenario TOML file (the built-in NFV scenario when absent).
        #[arg(long, value_name = "FILE", conflicts_with = "split")]
        scenario: Option<PathBuf>,
        /// Break down the episodes of this split (train, validate or test) instead of one
        /// scenario; `--seeds` then picks among the split's seeds (all of them when absent).
        #[arg(long, value_name = "NAME")]
        split: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Share of hardware failures whose host was already empty when they struck, per real trace
    /// set (five PlanetLab days, Google, Bitbrains) over a range of seeds, for each policy.
    Evacuation {
        /// First and last seed (21-50 by default: proactive-greedy's hardware bound was chosen on
        /// seeds 1-20).
        #[arg(long, num_args = 2, default_values_t = [21, 50])]
        seeds: Vec<u64>,
        /// Policies to compare (comma-separated).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "proactive-greedy,reactive"
        )]
        policy: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `promig evaluate`: the comparison, or one of its subcommands.
pub fn run(args: EvaluateArgs, data: Option<&Path>) -> Result<()> {
    match args.command {
        None => run_compare(args.compare, data),
        Some(EvaluateCommand::Merge { files, json }) => merge(&files, json),
        Some(EvaluateCommand::Breakdown {
            seeds,
            policies,
            scenario: _, // clap refuses it beside --split
            split: Some(split),
            json,
        }) => run_breakdown_split(&split, seeds.as_deref(), &policies, json, data),
        Some(EvaluateCommand::Breakdown {
            seeds,
            policies,
            scenario,
            split: None,
            json,
        }) => run_breakdown(
            seeds.as_deref().unwrap_or(&[1, 20]),
            &policies,
            scenario,
            json,
            data,
        ),
        Some(EvaluateCommand::Evacuation {
            seeds,
            policy,
            json,
        }) => {
            let data = crate::data_dir(data)?;
            anyhow::ensure!(
                seeds.len() == 2 && seeds[0] <= seeds[1],
                "--seeds takes FIRST LAST with FIRST <= LAST"
            );
            for p in &policy {
                promig_eval::run::check_name(p)?;
            }
            let sets = real_trace_sets();
            let mut all = Vec::new();
            for p in &policy {
                let rows = evacuation(&data, p, &sets, seeds[0]..=seeds[1])?;
                all.push((p.clone(), rows));
            }
            if json {
                let out: Vec<_> = all
                    .iter()
                    .map(|(p, rows)| serde_json::json!({ "policy": p, "rows": rows }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!(
                "{:<18} {:<24} {:>8} {:>9} {:>7} {:>15} {:>8} {:>11}",
                "policy",
                "traces",
                "failures",
                "evacuated",
                "rate",
                "with precursor",
                "VMs lost",
                "downtime s"
            );
            for (p, rows) in &all {
                let mut sum = EvacuationRow {
                    traces: "all".into(),
                    ..EvacuationRow::default()
                };
                for r in rows.iter() {
                    print_row(p, r);
                    sum.runs += r.runs;
                    sum.failures += r.failures;
                    sum.evacuated += r.evacuated;
                    sum.with_precursor += r.with_precursor;
                    sum.evacuated_with_precursor += r.evacuated_with_precursor;
                    sum.vms_lost += r.vms_lost;
                    sum.downtime_s += r.downtime_s;
                }
                print_row(p, &sum);
            }
            println!(
                "(seeds {}..={}, default scenario on each trace set)",
                seeds[0], seeds[1]
            );
            Ok(())
        }
    }
}

fn print_row(policy: &str, r: &EvacuationRow) {
    println!(
        "{:<18} {:<24} {:>8} {:>9} {:>6.1}% {:>15} {:>8} {:>11.0}",
        policy,
        r.traces,
        r.failures,
        r.evacuated,
        r.rate() * 100.0,
        format!("{}/{}", r.evacuated_with_precursor, r.with_precursor),
        r.vms_lost,
        r.downtime_s
    );
}

/// Every policy on the same episodes (or one shard's slice of the seeds), printed as the table,
/// the JSON summary, or a shard's raw figures.
fn run_compare(args: CompareArgs, data: Option<&Path>) -> Result<()> {
    if let Some(name) = &args.split {
        return run_split(&args, name, data);
    }
    anyhow::ensure!(
        args.seeds.len() == 2 && args.seeds[0] <= args.seeds[1],
        "--seeds takes FIRST LAST with FIRST <= LAST"
    );
    let (first, last) = (args.seeds[0], args.seeds[1]);
    anyhow::ensure!(
        last - first < MAX_SEEDS,
        "--seeds {first} {last}: more than {MAX_SEEDS} seeds in one evaluation; split the grid"
    );
    let seeds: Vec<u64> = (first..=last).collect();
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let traces = match &args.traces {
        Some(dir) => {
            let t = crate::trace_choice(dir.clone(), &args.format)?;
            Some(format!("{} ({})", t.dir, t.format.name()))
        }
        None => None,
    };
    // The same world and settings `promig simulate` would build from these flags.
    let sim_args = crate::SimulateArgs {
        split: None,
        scenario: args.scenario,
        cloudsim: None,
        hosts: promig_sim::cloudsim::HOSTS,
        policy: args.policies.clone(),
        traces: args.traces,
        format: args.format,
        seed: None,
        steps: args.steps,
        calibration: args.calibration,
        json: args.json,
        report: None,
    };
    let s = crate::setup(&sim_args, data)?;
    let episodes = Episodes::of(&s.world, &s.config, traces);
    let comparison = compare(&s.world, &s.config, episodes, &args.policies, &seeds, shard)?;
    // What was adapted to make the run possible goes to stderr, so JSON stays clean.
    for note in &s.world.notes {
        eprintln!("note: {note}");
    }
    print(&comparison, args.json || shard.is_some());
    if let Some(dir) = &args.report {
        write_report(dir, &comparison)?;
    }
    Ok(())
}

/// `promig evaluate --split NAME`: every policy on the split's episodes.
fn run_split(args: &CompareArgs, name: &str, data: Option<&Path>) -> Result<()> {
    use promig_sim::split::Splits;
    let split = crate::split_name(name)?;
    let splits = match &args.splits {
        Some(path) => Splits::load(path)?,
        None => Splits::builtin()?,
    };
    let data = promig_model::data::dir(data)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let calibration = match &args.calibration {
        Some(spec) => Some(std::sync::Arc::new(
            promig_migrate::Profile::resolve(spec, Path::new("")).context("--calibration")?,
        )),
        None => None,
    };
    let comparison = promig_eval::compare::compare_split(
        &splits,
        split,
        &data,
        &args.policies,
        None,
        shard,
        calibration,
    )?;
    print(&comparison, args.json || shard.is_some());
    if let Some(dir) = &args.report {
        write_report(dir, &comparison)?;
    }
    Ok(())
}

/// `promig evaluate breakdown --split NAME`: the breakdown over a split's episodes (`seeds`:
/// some of them; all by default).
fn run_breakdown_split(
    name: &str,
    seeds: Option<&[u64]>,
    policies: &[String],
    json: bool,
    data: Option<&Path>,
) -> Result<()> {
    use promig_sim::split::Splits;
    let split = crate::split_name(name)?;
    let splits = Splits::builtin()?;
    let data = promig_model::data::dir(data)?;
    let seed_list: Vec<u64> = match seeds {
        None => splits.seeds(split),
        Some(&[a, b]) if a <= b => (a..=b).collect(),
        Some(_) => anyhow::bail!("--seeds takes FIRST LAST with FIRST <= LAST"),
    };
    let rows =
        promig_eval::breakdown::breakdown_split(&splits, split, &data, policies, &seed_list)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{} split, seeds {}..={} (means per episode)",
        split.name(),
        seed_list.first().unwrap_or(&0),
        seed_list.last().unwrap_or(&0)
    );
    print!("{}", promig_eval::breakdown::table(&rows));
    Ok(())
}

/// `promig evaluate breakdown`.
fn run_breakdown(
    seeds: &[u64],
    policies: &[String],
    scenario: Option<PathBuf>,
    json: bool,
    data: Option<&Path>,
) -> Result<()> {
    anyhow::ensure!(
        seeds.len() == 2 && seeds[0] <= seeds[1] && seeds[1] - seeds[0] < MAX_SEEDS,
        "--seeds takes FIRST LAST with FIRST <= LAST"
    );
    let sim_args = crate::SimulateArgs {
        split: None,
        scenario,
        cloudsim: None,
        hosts: promig_sim::cloudsim::HOSTS,
        policy: policies.to_vec(),
        traces: None,
        format: "planetlab".into(),
        seed: None,
        steps: None,
        calibration: None,
        json,
        report: None,
    };
    let s = crate::setup(&sim_args, data)?;
    let seed_list: Vec<u64> = (seeds[0]..=seeds[1]).collect();
    let rows = promig_eval::breakdown::breakdown(&s.world, &s.config, policies, &seed_list)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "scenario {} | {} hosts, {} VMs, {} steps | seeds {}..={} (means per seed)",
        s.world.name,
        s.world.hosts.len(),
        s.world.vms.len(),
        s.config.steps,
        seeds[0],
        seeds[1]
    );
    print!("{}", promig_eval::breakdown::table(&rows));
    Ok(())
}

/// `promig evaluate merge FILES...`.
fn merge(files: &[PathBuf], json: bool) -> Result<()> {
    let mut parts = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the shard file {}", file.display()))?;
        parts.push((file.clone(), Comparison::from_json(&text, file)?));
    }
    let merged = Comparison::merge(&parts)?;
    print(&merged, json);
    Ok(())
}

/// Prints a comparison: JSON, or a heading and the table.
fn print(c: &Comparison, json: bool) {
    if json {
        println!("{}", c.to_json());
        return;
    }
    let e = &c.episodes;
    let first = c.seeds.first().copied().unwrap_or_default();
    let last = c.seeds.last().copied().unwrap_or_default();
    println!(
        "scenario {}{} | {} hosts, {} VMs, {} steps, calibration {} | seeds {first}..={last} ({} runs per policy)",
        e.scenario,
        e.traces
            .as_deref()
            .map(|t| format!(" on {t}"))
            .unwrap_or_default(),
        e.hosts,
        e.vms,
        e.steps,
        e.calibration,
        c.seeds.len()
    );
    print!("{}", c.table());
    println!("(mean ± half-width of the 95 % confidence interval, Student t over the seeds)");
    let paired = c.paired_table();
    if !paired.is_empty() {
        println!();
        print!("{paired}");
    }
}

/// Writes `promig evaluate --report DIR` (the path goes to stderr: stdout stays the table or JSON).
fn write_report(dir: &Path, c: &Comparison) -> Result<()> {
    use promig_eval::report;
    let curve = if c.policy_order.iter().any(|p| report::is_committed_rl(p)) {
        Some(report::committed_rl_curve()?)
    } else {
        None
    };
    let path = report::write(dir, &report::evaluate_page(c, curve.as_deref()))?;
    eprintln!("report: {}", path.display());
    Ok(())
}
