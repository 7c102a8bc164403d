//! `promig telemetry ...`: drive a telemetry source into the store and report what it delivered
//! and what was refused, per source, with the ingest rate. `scrape` polls live exporters for a
//! quick check of a deployment; the Prometheus sources are also exercised by the telemetry
//! crate's tests against a real node_exporter and Prometheus server.

use anyhow::{Context, Result};
use promig_model::TraceSet;
use promig_model::trace::TraceFormat;
use promig_telemetry::sources::prometheus::{
    ScrapeConfig, ScrapeSource, ScrapeTarget, TargetStatus,
};
use promig_telemetry::sources::replay::TraceReplay;
use promig_telemetry::{IngestStats, Source, Store};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TelemetryCommand {
    /// Replay a trace folder (PlanetLab, Google or Bitbrains) into the store.
    Replay {
        /// The trace folder (default: DATA/planetlab/20110303).
        #[arg(long)]
        traces: Option<PathBuf>,
        /// Its format: planetlab, google or bitbrains.
        #[arg(long, default_value = "planetlab")]
        format: String,
        /// Sampling interval of the traces, seconds.
        #[arg(long, default_value_t = 300)]
        interval_s: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a simulation (the built-in scenario unless --scenario) as a telemetry source.
    Simulate {
        /// Scenario TOML file.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Policy deciding inside the simulation.
        #[arg(long, default_value = "none")]
        policy: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Scrape live exporters (each series labelled with its target's `instance`).
    Scrape {
        /// `host:port` of an exporter; repeat for several.
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// The metrics page.
        #[arg(long, default_value = "/metrics")]
        path: String,
        /// Scrapes of each target.
        #[arg(long, default_value_t = 1)]
        polls: u32,
        /// Time between two scrapes, ms.
        #[arg(long, default_value_t = 15_000)]
        interval_ms: u64,
        /// Time a scrape may take, ms.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What one source delivered.
#[derive(Debug, Serialize)]
struct SourceReport {
    source: String,
    series: usize,
    offered: u64,
    stats: IngestStats,
    seconds: f64,
    samples_per_s: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    targets: Vec<TargetStatus>,
}

fn drain(source: &mut dyn Source, store: &mut Store) -> Result<SourceReport> {
    let start = Instant::now();
    let offered = source.poll(store, i64::MAX)?;
    Ok(report(source, store, offered, start))
}

/// What `source` delivered into `store` since `start`.
fn report(source: &dyn Source, store: &Store, offered: u64, start: Instant) -> SourceReport {
    let seconds = start.elapsed().as_secs_f64();
    SourceReport {
        source: source.name().to_string(),
        series: store.len(),
        offered,
        stats: source.stats().clone(),
        seconds,
        samples_per_s: offered as f64 / seconds.max(1e-9),
        targets: Vec::new(),
    }
}

/// Polls a scrape source `polls` times, one interval apart, stamping samples with the wall clock.
fn scrape(
    source: &mut ScrapeSource,
    store: &mut Store,
    polls: u32,
    interval_ms: u64,
) -> Result<SourceReport> {
    let start = Instant::now();
    let mut offered = 0;
    for i in 0..polls {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(interval_ms));
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_millis() as i64;
        offered += source.poll(store, now_ms)?;
    }
    Ok(SourceReport {
        targets: source.targets().to_vec(),
        ..report(source, store, offered, start)
    })
}

/// Runs a `promig telemetry` subcommand.
pub fn run(cmd: TelemetryCommand, data: Option<&std::path::Path>) -> Result<()> {
    let (report, json) = match cmd {
        TelemetryCommand::Replay {
            traces,
            format,
            interval_s,
            json,
        } => {
            let format = match format.to_ascii_lowercase().as_str() {
                "planetlab" => TraceFormat::Planetlab,
                "google" => TraceFormat::Google,
                "bitbrains" => TraceFormat::Bitbrains,
                other => anyhow::bail!("--format: unknown trace format {other:?}"),
            };
            let traces = match traces {
                Some(t) => t,
                None => crate::data_dir(data)?.join("planetlab/20110303"),
            };
            let set = TraceSet::load(&traces, format, None)?;
            let steps = set.traces.iter().map(|t| t.len()).max().unwrap_or(0);
            let mut store = Store::new(steps.max(1), set.traces.len() * 3 + 1);
            let name = traces
                .file_name()
                .map_or("traces".into(), |n| n.to_string_lossy().into_owned());
            let mut replay = TraceReplay::new(&name, set.traces, &mut store, 0, interval_s * 1000);
            (drain(&mut replay, &mut store)?, json)
        }
        TelemetryCommand::Simulate {
            scenario,
            policy,
            json,
        } => {
            let (file, base) = match &scenario {
                Some(p) => (
                    promig_model::ScenarioFile::load(p)
                        .with_context(|| format!("loading {}", p.display()))?,
                    promig_model::ScenarioFile::base_dir(p),
                ),
                None => (
                    promig_sim::scenario::default_scenario()?,
                    crate::data_dir(data)?,
                ),
            };
            let world = std::sync::Arc::new(promig_sim::scenario::build_world(&file, &base)?);
            let cfg = promig_sim::scenario::sim_config(&file, &base, file.seed, file.steps)?;
            // The ring keeps the last 30 days of each series: a longer run streams through it.
            let mut store = Store::new(file.steps.clamp(1, 8640), 100_000);
            let resolved = promig_eval::run::registry();
            let resolved = resolved.resolve(&policy)?;
            let predictor: Option<Box<dyn promig_predict::Predictor + Send>> =
                if resolved.spec.requires.predictions {
                    Some(Box::new(promig_eval::default_predictor()?))
                } else {
                    None
                };
            let policy = resolved.build(cfg.seed);
            let mut source =
                promig_sim::telemetry::SimulatorSource::new(world, cfg, policy, predictor)?;
            (drain(&mut source, &mut store)?, json)
        }
        TelemetryCommand::Scrape {
            targets,
            path,
            polls,
            interval_ms,
            timeout_ms,
            json,
        } => {
            let targets = targets
                .into_iter()
                .map(|address| {
                    let mut t = ScrapeTarget::new(address.clone());
                    t.path.clone_from(&path);
                    t.labels.insert("instance".into(), address);
                    t
                })
                .collect();
            let cfg = ScrapeConfig {
                interval_ms,
                timeout_ms,
                ..ScrapeConfig::new(targets)
            };
            let mut source =
                ScrapeSource::new(cfg).context("--target/--path/--interval-ms/--timeout-ms")?;
            let mut store = Store::new(polls.max(1) as usize, 1_000_000);
            (
                scrape(&mut source, &mut store, polls.max(1), interval_ms)?,
                json,
            )
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let s = &report.stats;
    println!(
        "{}: {} series, {} samples offered, {} accepted in {:.3} s ({:.1} M samples/s)",
        report.source,
        report.series,
        report.offered,
        s.accepted,
        report.seconds,
        report.samples_per_s / 1e6
    );
    println!(
        "refused: non-finite {}, out of order {}, duplicate {}, unknown series {}, bad lines {}, oversized {}",
        s.non_finite, s.out_of_order, s.duplicate, s.unknown_series, s.bad_lines, s.oversized
    );
    for t in &report.targets {
        println!(
            "{}{}: {} scrapes, {} failed, {} samples accepted{}",
            t.address,
            t.path,
            t.scrapes,
            t.failures,
            t.ingest.accepted,
            t.last_error
                .as_deref()
                .map_or(String::new(), |e| format!(", last error: {e}"))
        );
    }
    Ok(())
}
