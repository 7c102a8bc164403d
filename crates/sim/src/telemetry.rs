//! The simulator as a telemetry source: each decision point's observation is written into the
//! telemetry store under the same metric names a live collector would use, so the controller
//! and the dashboard (next on the roadmap) can be driven by a simulated data centre through the
//! exact path a real one takes.

use crate::{SimConfig, SimError, Simulator, World};
use promig_model::Observation;
use promig_policy::Policy;
use promig_predict::Predictor;
use promig_telemetry::schema::{HOST_METRICS, VM_METRICS};
use promig_telemetry::sources::series_key;
use promig_telemetry::{IngestStats, SeriesId, Source, Store, TelemetryError};
use std::sync::Arc;

/// The metric names, re-exported from the telemetry schema where every source and reader meets.
pub use promig_telemetry::schema as metric;

/// Writes observations into a store; series are registered on first sight, so later exports
/// allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct ObservationExporter {
    dc: String,
    hosts: Vec<[Option<SeriesId>; HOST_METRICS.len()]>,
    vms: Vec<[Option<SeriesId>; VM_METRICS.len()]>,
}

impl ObservationExporter {
    /// An exporter labelling every series with the data centre's name.
    pub fn new(dc: &str) -> Self {
        ObservationExporter {
            dc: dc.to_string(),
            ..Default::default()
        }
    }

    /// Writes one observation; returns the samples offered.
    pub fn export(&mut self, obs: &Observation, store: &mut Store, stats: &mut IngestStats) -> u64 {
        let dc = self.dc.as_str();
        let mut register = |metric: &str, label: &str, index: usize| {
            let id = index.to_string();
            let key = series_key(metric, &[(label, &id), ("dc", dc)]);
            let series = store.series(key.as_bytes());
            if series.is_none() {
                stats.unknown_series += 1;
            }
            series
        };
        while self.hosts.len() < obs.hosts.len() {
            let h = self.hosts.len();
            self.hosts
                .push(HOST_METRICS.map(|metric| register(metric, "host", h)));
        }
        while self.vms.len() < obs.vms.len() {
            let v = self.vms.len();
            self.vms
                .push(VM_METRICS.map(|metric| register(metric, "vm", v)));
        }
        let ts = (obs.time_s * 1000.0).round() as i64;
        let mut offered = 0;
        let mut put = |series: Option<SeriesId>, value: f64, stats: &mut IngestStats| {
            if let Some(id) = series {
                store.append(id, ts, value, stats);
                offered += 1;
            }
        };
        for (h, host) in obs.hosts.iter().enumerate() {
            let memory_used: f64 = host.vms.iter().map(|&v| obs.vms[v].memory_used_mib).sum();
            let values = [
                host.utilization,
                host.requested_mips / host.total_mips.max(1.0),
                memory_used / host.physical_memory_mib.max(1.0),
                host.temperature_c,
                host.corrected_errors_per_h,
                host.latency_ms,
                if host.up { 1.0 } else { 0.0 },
                obs.migration_bandwidth_bps.get(h).copied().unwrap_or(0.0),
            ];
            for (series, value) in self.hosts[h].into_iter().zip(values) {
                put(series, value, stats);
            }
        }
        for (v, vm) in obs.vms.iter().enumerate() {
            if vm.host.is_none() || vm.history_len == 0 {
                continue; // a VM that is down reports nothing, as its exporter would not
            }
            let values = [
                vm.history[0],
                vm.memory_used_mib / vm.memory_mib.max(1.0),
                vm.dirty_pages_per_s,
            ];
            for (series, value) in self.vms[v].into_iter().zip(values) {
                put(series, value, stats);
            }
        }
        offered
    }
}

/// A running simulation polled like any other source: polling up to a time steps the
/// simulator (its policy deciding at every step) until then, exporting each observation.
pub struct SimulatorSource {
    name: String,
    sim: Simulator,
    policy: Box<dyn Policy>,
    predictor: Option<Box<dyn Predictor + Send>>,
    exporter: ObservationExporter,
    done: bool,
    stats: IngestStats,
}

impl SimulatorSource {
    /// Starts a simulation of `world` under `policy`, with `predictor` filling the
    /// observations' risks (the caller decides which one a policy needs: see the evaluation
    /// crate's `run_named`).
    pub fn new(
        world: Arc<World>,
        cfg: SimConfig,
        mut policy: Box<dyn Policy>,
        predictor: Option<Box<dyn Predictor + Send>>,
    ) -> Result<Self, SimError> {
        let name = format!("simulator/{}", world.name);
        let exporter = ObservationExporter::new(&world.name);
        let sim = Simulator::new(world, cfg, policy.as_mut())?;
        Ok(SimulatorSource {
            name,
            sim,
            policy,
            predictor,
            exporter,
            done: false,
            stats: IngestStats::default(),
        })
    }

    /// Whether the simulated horizon has been reached.
    pub fn finished(&self) -> bool {
        self.done
    }

    /// The simulator, for its report and ground truth.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

impl Source for SimulatorSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self, store: &mut Store, until_ms: i64) -> Result<u64, TelemetryError> {
        let mut offered = 0;
        while !self.done && (self.sim.next_decision_s() * 1000.0).round() as i64 <= until_ms {
            let predictor = self
                .predictor
                .as_deref_mut()
                .map(|p| p as &mut dyn Predictor);
            if !self.sim.step_with(self.policy.as_mut(), predictor) {
                self.done = true;
                break;
            }
            let obs = self.sim.observation();
            offered += self.exporter.export(&obs, store, &mut self.stats);
        }
        Ok(offered)
    }

    fn stats(&self) -> &IngestStats {
        &self.stats
    }
}
