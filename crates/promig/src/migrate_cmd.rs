//! `promig migrate ...`: the migration cost model and planner for one migration, for scripts and
//! validation, and the calibration of the model against real QEMU runs.

use anyhow::{Context, Result};
use promig_migrate::calibration::{self, Measurement};
use promig_migrate::{
    Calibration, Constraints, MIB, MigrationInput, QemuModel, RiskPolicy, Technique,
    TechniqueParams,
};
use serde::Serialize;
use std::path::PathBuf;

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
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fit the model's constants on a sweep of real migrations and report prediction errors.
    Calibrate {
        /// Sweep CSV to fit on (the committed one by default); no QEMU needed.
        #[arg(long, default_value = "crates/migrate/calibration/sweep.csv")]
        from_csv: PathBuf,
        /// Run a new sweep on the local QEMU test bed first and write it to this CSV.
        #[arg(long)]
        run_sweep: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The JSON of `estimate`.
#[derive(Serialize)]
struct EstimateOut {
    technique: &'static str,
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
            json,
        } => {
            let input = migration.input()?;
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
            let model = QemuModel {
                params: TechniqueParams {
                    technique,
                    downtime_limit_ms,
                    max_bandwidth_bps: max_bandwidth_mib_s * MIB * 8.0,
                    ramp: nova_ramp.then(promig_migrate::DowntimeRamp::default),
                    ..TechniqueParams::default()
                },
                calibration: Calibration::default(),
            };
            let out = estimate_out(&model.detail(&input), technique);
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
            json,
        } => {
            let input = migration.input()?;
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
            match promig_migrate::plan(&input, &constraints, Calibration::default()) {
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
            from_csv,
            run_sweep,
            json,
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
