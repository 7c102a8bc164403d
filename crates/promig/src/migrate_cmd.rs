//! `promig migrate ...`: the migration cost model and planner for one migration, for scripts and
//! validation, and the calibration of the model against real QEMU runs or a cluster's history.

use anyhow::{Context, Result};
use promig_migrate::calibration::{self, Errors, Measurement};
use promig_migrate::{
    Calibration, Constraints, MIB, MigrationInput, Profile, RiskPolicy, Technique, TechniqueParams,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The migration to model, as flags.
#[derive(clap::Args, Debug, Clone)]
pub struct MigrationArgs {
    /// Guest RAM.
    #[arg(long)]
    pub memory_mib: f64,
    /// Pages (4 KiB) the guest dirties per second.
    #[arg(long, default_value_t = 0.0)]
    pub dirty_pages_per_s: f64,
    /// Available bandwidth of the path between the hosts.
    #[arg(long)]
    pub bandwidth_mbps: f64,
    /// Writable working set; the whole RAM when absent.
    #[arg(long)]
    pub wws_mib: Option<f64>,
    /// Memory the guest ever wrote (the rest goes as zero pages); all of it when absent.
    #[arg(long)]
    pub touched_mib: Option<f64>,
    /// One-way latency of the path.
    #[arg(long, default_value_t = 0.1)]
    pub latency_ms: f64,
}

impl MigrationArgs {
    fn input(&self) -> Result<MigrationInput> {
        let input = MigrationInput {
            memory_mib: self.memory_mib,
            dirty_pages_per_s: self.dirty_pages_per_s,
            wws_mib: self.wws_mib.unwrap_or(self.memory_mib),
            bandwidth_bps: self.bandwidth_mbps * 1e6,
            latency_ms: self.latency_ms,
            touched_mib: self.touched_mib,
        };
        input.validate().map_err(|e| {
            let flag = match e.field {
                "bandwidth_bps" => "--bandwidth-mbps".to_string(),
                f => format!("--{}", f.replace('_', "-")),
            };
            anyhow::anyhow!("{flag}: {e}")
        })?;
        Ok(input)
    }
}

/// Subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum MigrateCommand {
    /// Predict one migration with one technique.
    Estimate {
        #[command(flatten)]
        migration: MigrationArgs,
        /// precopy, auto-converge, xbzrle, compress or postcopy.
        #[arg(long, default_value = "precopy")]
        technique: String,
        /// QEMU's own rate limit (max-bandwidth).
        #[arg(long, default_value_t = 128.0)]
        max_bandwidth_mib_s: f64,
        /// QEMU's downtime-limit.
        #[arg(long, default_value_t = 300.0)]
        downtime_limit_ms: f64,
        /// Use Nova's downtime ramp (500 ms in 10 steps, 75 s per GiB) instead of a fixed limit.
        #[arg(long)]
        nova_ramp: bool,
        /// Calibration profile: a built-in name (tcg, kvm) or a profile TOML file
        /// (`migrate calibrate --history ... --out FILE` writes one).
        #[arg(long, value_name = "FILE_OR_NAME", default_value = "tcg")]
        calibration: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Choose the technique and parameters for a deadline and a downtime bound.
    Plan {
        #[command(flatten)]
        migration: MigrationArgs,
        /// Must be done within this time (predicted time to failure).
        #[arg(long)]
        deadline_s: Option<f64>,
        /// Longest acceptable pause.
        #[arg(long, default_value_t = 300.0)]
        max_downtime_ms: f64,
        /// conservative (never post-copy), balanced (post-copy only if nothing else fits), aggressive.
        #[arg(long, default_value = "balanced")]
        risk: String,
        /// Forbid auto-converge's vCPU throttling.
        #[arg(long)]
        no_throttle: bool,
        /// Calibration profile: a built-in name (tcg, kvm) or a profile TOML file; each
        /// technique is priced with its own constants from it.
        #[arg(long, value_name = "FILE_OR_NAME", default_value = "tcg")]
        calibration: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fit the model's constants on a sweep of real migrations and report prediction errors;
    /// with --history, fit a calibration profile (one set per technique) on a cluster's own
    /// migrations.
    Calibrate {
        /// Sweep CSV to fit on (the committed one by default); no QEMU needed.
        #[arg(long, default_value = "crates/migrate/calibration/sweep.csv")]
        from_csv: PathBuf,
        /// Run a new sweep on the local QEMU test bed first and write it to this CSV.
        #[arg(long)]
        run_sweep: Option<PathBuf>,
        /// Migration history CSV to fit a profile on: the SoCC 2017 layout
        /// (live-migration/kvm-migrations.csv) or query-migrate columns (technique, memory_mib,
        /// dirty_pages_rate, link_mbps, max_bandwidth_mib_s, downtime_limit_ms, total_time_ms,
        /// downtime_ms, ram_transferred_kib; see promig_migrate::history).
        #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["from_csv", "run_sweep"])]
        history: Option<PathBuf>,
        /// Write the fitted profile here (TOML); without it the profile goes to stdout and the
        /// error report to stderr.
        #[arg(long, value_name = "PROFILE.toml", requires = "history")]
        out: Option<PathBuf>,
        /// The profile's name (default: the output file's stem, else the history file's).
        #[arg(long, requires = "history")]
        name: Option<String>,
        /// Also report leave-one-workload-out errors per technique (fit on the other workloads,
        /// predict the held-out one) beside the naive pre-copy loop on the same runs.
        #[arg(long, requires = "history")]
        cross_validate: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The JSON of `estimate`.
#[derive(Serialize)]
struct EstimateOut {
    technique: &'static str,
    /// The calibration profile's name.
    calibration: String,
    total_ms: Option<f64>,
    downtime_ms: f64,
    transferred_kib: f64,
    rounds: u32,
    converged: bool,
    max_throttle_pct: f64,
    throttled_cpu_s: f64,
    compression_cpu_s: f64,
    postcopy_ms: f64,
}

fn estimate_out(d: &promig_migrate::qemu::Detail, technique: Technique) -> EstimateOut {
    let e = &d.estimate;
    EstimateOut {
        technique: technique.name(),
        calibration: String::new(),
        total_ms: e.total_s.is_finite().then_some(e.total_s * 1000.0),
        downtime_ms: e.downtime_s * 1000.0,
        transferred_kib: e.transferred_bytes / 1024.0,
        rounds: e.rounds,
        converged: e.converged,
        max_throttle_pct: d.max_throttle * 100.0,
        throttled_cpu_s: d.throttled_cpu_s,
        compression_cpu_s: d.compression_cpu_s,
        postcopy_ms: d.postcopy_s * 1000.0,
    }
}

fn print_estimate(o: &EstimateOut) {
    match o.total_ms {
        Some(t) => println!(
            "{}: total {:.0} ms, downtime {:.1} ms, {:.0} KiB sent in {} rounds",
            o.technique, t, o.downtime_ms, o.transferred_kib, o.rounds
        ),
        None => println!(
            "{}: does not converge (QEMU would iterate until cancelled); a forced switch-over would pause the VM {:.0} ms",
            o.technique, o.downtime_ms
        ),
    }
    if o.max_throttle_pct > 0.0 {
        println!(
            "  vCPU throttled up to {:.0} %, {:.1} vCPU-s lost",
            o.max_throttle_pct, o.throttled_cpu_s
        );
    }
    if o.compression_cpu_s > 0.0 {
        println!("  {:.1} core-s spent compressing", o.compression_cpu_s);
    }
    if o.postcopy_ms > 0.0 {
        println!(
            "  post-copy phase {:.0} ms: a source or network failure then loses the VM",
            o.postcopy_ms
        );
    }
}

/// Runs a `promig migrate` subcommand.
pub fn run(cmd: MigrateCommand) -> Result<()> {
    match cmd {
        MigrateCommand::Estimate {
            migration,
            technique,
            max_bandwidth_mib_s,
            downtime_limit_ms,
            nova_ramp,
            calibration,
            json,
        } => {
            let input = migration.input()?;
            let profile = profile(&calibration)?;
            let technique = Technique::from_name(&technique).with_context(|| {
                format!("--technique {technique:?}: expected precopy, auto-converge, xbzrle, compress or postcopy")
            })?;
            anyhow::ensure!(
                max_bandwidth_mib_s.is_finite() && max_bandwidth_mib_s > 0.0,
                "--max-bandwidth-mib-s must be a positive number, got {max_bandwidth_mib_s}"
            );
            anyhow::ensure!(
                downtime_limit_ms.is_finite() && (0.0..=3_600_000.0).contains(&downtime_limit_ms),
                "--downtime-limit-ms must be in 0..=3600000, got {downtime_limit_ms}"
            );
            let model = profile.model(TechniqueParams {
                technique,
                downtime_limit_ms,
                max_bandwidth_bps: max_bandwidth_mib_s * MIB * 8.0,
                ramp: nova_ramp.then(promig_migrate::DowntimeRamp::default),
                ..TechniqueParams::default()
            });
            let mut out = estimate_out(&model.detail(&input), technique);
            out.calibration = profile.name;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_estimate(&out);
            }
            Ok(())
        }
        MigrateCommand::Plan {
            migration,
            deadline_s,
            max_downtime_ms,
            risk,
            no_throttle,
            calibration,
            json,
        } => {
            let input = migration.input()?;
            let profile = profile(&calibration)?;
            if let Some(d) = deadline_s {
                anyhow::ensure!(
                    d.is_finite() && d > 0.0,
                    "--deadline-s must be a positive number, got {d}"
                );
            }
            anyhow::ensure!(
                max_downtime_ms.is_finite() && max_downtime_ms > 0.0,
                "--max-downtime-ms must be a positive number, got {max_downtime_ms}"
            );
            let risk = match risk.as_str() {
                "conservative" => RiskPolicy::Conservative,
                "balanced" => RiskPolicy::Balanced,
                "aggressive" => RiskPolicy::Aggressive,
                other => {
                    anyhow::bail!("--risk {other:?}: expected conservative, balanced or aggressive")
                }
            };
            let constraints = Constraints {
                deadline_s,
                max_downtime_ms,
                risk,
                allow_throttle: !no_throttle,
            };
            match promig_migrate::plan(&input, &constraints, &profile) {
                Ok(p) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&p)?);
                    } else {
                        println!(
                            "plan: {} (downtime-limit {:.0} ms, post-copy after {} round(s))",
                            p.params.technique.name(),
                            p.params.downtime_limit_ms,
                            p.params.postcopy_after_rounds
                        );
                        print_estimate(&estimate_out(&p.expected, p.params.technique));
                    }
                    Ok(())
                }
                Err(e) => anyhow::bail!("{e}"),
            }
        }
        MigrateCommand::Calibrate {
            history: Some(history),
            out,
            name,
            cross_validate,
            json,
            ..
        } => calibrate_history(&history, out.as_deref(), name, cross_validate, json),
        MigrateCommand::Calibrate {
            from_csv,
            run_sweep,
            json,
            ..
        } => {
            let path = match run_sweep {
                Some(out) => {
                    let runs = promig_driver::testbed::sweep::run_default_sweep(
                        &mut |m: &Measurement| {
                            eprintln!(
                                "  {:<13} dirty {:>6} pages/s link {:>5} Mbit/s: total {:>7.0} ms downtime {:>6.1} ms",
                                m.technique.name(),
                                m.dirty_pages_per_s,
                                m.link_mbps,
                                m.total_ms,
                                m.downtime_ms
                            )
                        },
                    )?;
                    std::fs::write(&out, calibration::write_csv(&runs))
                        .with_context(|| format!("writing {}", out.display()))?;
                    out
                }
                None => from_csv,
            };
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let runs = calibration::read_csv(&text).with_context(|| path.display().to_string())?;
            let fitted = calibration::fit(&runs, calibration::START);
            let before = calibration::errors(&runs, Calibration::default());
            let after = calibration::errors(&runs, fitted);
            let cv = calibration::cross_validated_errors(&runs, 5, calibration::START);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"runs": runs.len(), "fitted": fitted, "errors_builtin": before, "errors_fitted": after, "errors_5fold_cv": cv})
                );
            } else {
                println!("{} runs from {}", runs.len(), path.display());
                println!(
                    "{:<14} {:>9} {:>9} {:>10} {:>10}  technique",
                    "dirty pg/s", "link", "total ms", "predicted", "down ms"
                );
                for r in &runs {
                    let e = promig_migrate::MigrationModel::estimate(&r.model(fitted), &r.input());
                    println!(
                        "{:<14} {:>9} {:>9.0} {:>10.0} {:>5.1}/{:<5.1} {}",
                        r.dirty_pages_per_s,
                        r.link_mbps,
                        r.total_ms,
                        e.total_s * 1000.0,
                        r.downtime_ms,
                        e.downtime_s * 1000.0,
                        r.technique.name()
                    );
                }
                println!("errors with the built-in constants: {before:?}");
                println!("errors after fitting:               {after:?}");
                println!("5-fold cross-validated errors:      {cv:?}");
                println!("fitted constants: {fitted:?}");
            }
            Ok(())
        }
    }
}

/// A `--calibration` value: a built-in profile name, else a file relative to the working folder.
fn profile(spec: &str) -> Result<Profile> {
    Profile::resolve(spec, Path::new("")).context("--calibration")
}

/// Neighbours the model-free yardstick of `calibrate --cross-validate` takes the median of: enough
/// to smooth run-to-run noise, few enough to stay local (5 and 20 give the same picture).
const NEAREST_RUNS: usize = 20;

/// How one technique's constants fit its share of the history.
#[derive(Serialize)]
struct TechniqueFit {
    runs: usize,
    errors_fitted: Errors,
    errors_tcg: Errors,
    /// Leave-one-workload-out errors, with `--cross-validate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_cross_validated: Option<Errors>,
    /// The naive pre-copy loop on the same runs, with `--cross-validate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_naive: Option<Errors>,
    /// The model-free yardstick on the same runs (median of the 20 nearest runs of the other
    /// workloads), with `--cross-validate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_nearest_runs: Option<Errors>,
}

/// One fit per technique, each on that technique's runs only; post-copy runs that switched at
/// once borrow the pre-copy fit's round constants (`calibration::with_precopy_rounds`).
fn fit_per_technique(
    runs: &BTreeMap<Technique, Vec<Measurement>>,
) -> BTreeMap<Technique, Calibration> {
    let mut fits: BTreeMap<Technique, Calibration> = runs
        .iter()
        .map(|(&t, runs)| (t, calibration::fit_history(runs)))
        .collect();
    if let (Some(&precopy), Some(&postcopy), Some(runs)) = (
        fits.get(&Technique::Precopy),
        fits.get(&Technique::Postcopy),
        runs.get(&Technique::Postcopy),
    ) {
        let postcopy = calibration::with_precopy_rounds(postcopy, runs, precopy);
        fits.insert(Technique::Postcopy, postcopy);
    }
    fits
}

/// `migrate calibrate --history`: one calibration per technique present (`fit_history`: the real
/// hardware's hot set, path queue and forced completion included); techniques without history
/// share a fit on all of it (`[default]`).
fn calibrate_history(
    history: &Path,
    out: Option<&Path>,
    name: Option<String>,
    cross_validate: bool,
    json: bool,
) -> Result<()> {
    let rows = promig_migrate::read_history(history)?;
    let mut by_technique: BTreeMap<Technique, Vec<Measurement>> = BTreeMap::new();
    for r in &rows {
        by_technique
            .entry(r.measurement.technique)
            .or_default()
            .push(r.measurement.clone());
    }
    let started = Instant::now();
    let techniques = fit_per_technique(&by_technique);
    let default = (by_technique.len() < Technique::ALL.len()).then(|| {
        let all: Vec<Measurement> = rows.iter().map(|r| r.measurement.clone()).collect();
        calibration::fit_history(&all)
    });
    let fit_s = started.elapsed().as_secs_f64();
    let name = name.unwrap_or_else(|| {
        out.unwrap_or(history).file_stem().map_or_else(
            || "fitted".to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    });
    let counts: Vec<String> = by_technique
        .iter()
        .map(|(t, r)| format!("{} {}", t.name(), r.len()))
        .collect();
    let profile = Profile {
        name,
        description: format!(
            "fitted by `promig migrate calibrate --history {}` on {} migrations ({}){}",
            history.display(),
            rows.len(),
            counts.join(", "),
            if default.is_some() {
                "; [default], for the techniques without history, is fitted on all of them"
            } else {
                ""
            }
        ),
        default,
        techniques,
    };
    // The fit keeps every constant inside its bounds; checked anyway before anything is written.
    profile.validate()?;
    let tcg = Profile::tcg();
    let groups_of = |t: Technique| -> Vec<&str> {
        rows.iter()
            .filter(|r| r.measurement.technique == t)
            .map(|r| r.workload.as_str())
            .collect()
    };
    let fits: BTreeMap<&'static str, TechniqueFit> = by_technique
        .iter()
        .map(|(&t, runs)| {
            (
                t.name(),
                TechniqueFit {
                    runs: runs.len(),
                    errors_fitted: calibration::errors(runs, profile.calibration(t)),
                    errors_tcg: calibration::errors(runs, tcg.calibration(t)),
                    errors_cross_validated: cross_validate
                        .then(|| calibration::leave_one_group_out(runs, &groups_of(t))),
                    errors_naive: cross_validate.then(|| calibration::naive_errors(runs)),
                    errors_nearest_runs: cross_validate.then(|| {
                        calibration::nearest_runs_errors(runs, &groups_of(t), NEAREST_RUNS)
                    }),
                },
            )
        })
        .collect();
    let toml = profile.to_toml();
    if let Some(path) = out {
        std::fs::write(path, &toml).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "history": history,
                "runs": rows.len(),
                "techniques": fits,
                "profile": profile,
                "out": out,
            }))?
        );
        return Ok(());
    }
    // The report goes where the profile does not: stdout when the profile is written to a file,
    // stderr when the profile itself is the output (`... > mine.toml`).
    let mut report = format!(
        "{} migrations from {}; {} technique(s) fitted in {:.1} s\n",
        rows.len(),
        history.display(),
        by_technique.len(),
        fit_s
    );
    report.push_str(&format!(
        "{:<14} {:>6}  {:>21}  {:>21}  {:>19}  {:>13}\n",
        "technique",
        "runs",
        "total MdAPE fit/tcg",
        "downtime MdAPE f/t",
        "|downtime<20ms| ms",
        "no-converge"
    ));
    for (t, f) in &fits {
        let (a, b) = (&f.errors_fitted, &f.errors_tcg);
        report.push_str(&format!(
            "{:<14} {:>6}  {:>9.1} % / {:>6.1} %  {:>9.1} % / {:>6.1} %  {:>8.1} / {:>8.1}  {:>5} / {:<5}\n",
            t,
            f.runs,
            a.total_mape * 100.0,
            b.total_mape * 100.0,
            a.downtime_mape * 100.0,
            b.downtime_mape * 100.0,
            a.small_downtime_abs_ms,
            b.small_downtime_abs_ms,
            a.convergence_mismatches,
            b.convergence_mismatches
        ));
    }
    report.push_str("(in-sample errors: fitted profile / built-in tcg profile)\n");
    if cross_validate {
        report.push_str(&format!(
            "\nleave-one-workload-out (fit on the other workloads) / naive pre-copy loop:\n{:<14} {:>21}  {:>21}  {:>19}  {:>11}\n",
            "technique", "total MdAPE cv/naive", "downtime MdAPE cv/n", "|downtime<20ms| ms", "no-converge"
        ));
        for (t, f) in &fits {
            if let (Some(a), Some(b)) = (&f.errors_cross_validated, &f.errors_naive) {
                report.push_str(&format!(
                    "{:<14} {:>9.1} % / {:>6.1} %  {:>9.1} % / {:>6.1} %  {:>8.1} / {:>8.1}  {:>11}\n",
                    t,
                    a.total_mape * 100.0,
                    b.total_mape * 100.0,
                    a.downtime_mape * 100.0,
                    b.downtime_mape * 100.0,
                    a.small_downtime_abs_ms,
                    b.small_downtime_abs_ms,
                    a.convergence_mismatches
                ));
            }
        }
        report.push_str(&format!(
            "\nmodel-free yardstick: median of the {NEAREST_RUNS} nearest runs of the other workloads (what the inputs tell, with no mechanism):\n{:<14} {:>11}  {:>14}  {:>18}\n",
            "technique", "total MdAPE", "downtime MdAPE", "|downtime<20ms| ms"
        ));
        for (t, f) in &fits {
            if let Some(n) = &f.errors_nearest_runs {
                report.push_str(&format!(
                    "{:<14} {:>9.1} %  {:>12.1} %  {:>18.1}\n",
                    t,
                    n.total_mape * 100.0,
                    n.downtime_mape * 100.0,
                    n.small_downtime_abs_ms
                ));
            }
        }
    }
    match out {
        Some(path) => {
            print!("{report}");
            println!("profile `{}` written to {}", profile.name, path.display());
        }
        None => {
            eprint!("{report}");
            print!("{toml}");
        }
    }
    Ok(())
}
