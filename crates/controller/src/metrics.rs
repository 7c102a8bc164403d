//! `/metrics` for Prometheus: what an operator alerts on (host risk per cause, plans by state,
//! failed migrations) and what tells whether the cost model can be trusted (predicted against
//! measured downtime and total time, as histograms with the same buckets).

use crate::core::Snapshot;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// Plan state.
    pub state: String,
}

/// `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why.
    pub reason: String,
}

/// `host` and `cause` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostCauseLabel {
    /// Host name.
    pub host: String,
    /// `hardware`, `overload`, `memory`, `response-time` or `any`.
    pub cause: String,
}

/// `host` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostLabel {
    /// Host name.
    pub host: String,
}

/// `kind` label: `predicted` or `measured`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// Which figure.
    pub kind: &'static str,
}

type HistogramFamily = Family<KindLabel, Histogram, fn() -> Histogram>;

fn downtime_histogram() -> Histogram {
    // 1 ms .. about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn total_histogram() -> Histogram {
    // 0.5 s .. about 4.5 h.
    Histogram::new(exponential_buckets(0.5, 2.0, 16))
}

/// Every metric the controller exports. Cheap handles (atomics behind `Arc`s): updating one
/// never blocks a scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Risk per host and cause.
    pub host_risk: Family<HostCauseLabel, Gauge<f64, AtomicU64>>,
    /// Share of each host's prediction inputs that were present and fresh (1: all).
    pub host_confidence: Family<HostLabel, Gauge<f64, AtomicU64>>,
    /// Open plans by state.
    pub plans: Family<StateLabel, Gauge>,
    /// Plans ever recommended.
    pub plans_created: Counter,
    /// Migrations handed to the driver.
    pub migrations_started: Counter,
    /// Migrations that failed (refused at start or broken off).
    pub migrations_failed: Counter,
    /// Pause per migration, predicted and measured.
    pub downtime_seconds: HistogramFamily,
    /// Total time per migration, predicted and measured.
    pub total_seconds: HistogramFamily,
    /// Snapshots of the world taken in.
    pub snapshots: Counter,
    /// Telemetry refused (stale, malformed), by reason.
    pub telemetry_refused: Family<ReasonLabel, Counter>,
    /// Policy decisions the controller did not turn into plans, by reason.
    pub decisions_refused: Family<ReasonLabel, Counter>,
    /// 1 while automatic approval is paused.
    pub kill_switch: Gauge,
    /// World clock of the latest snapshot.
    pub world_time_seconds: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set, registered under `promig_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("promig");
        let host_risk = Family::<HostCauseLabel, Gauge<f64, AtomicU64>>::default();
        let host_confidence = Family::<HostLabel, Gauge<f64, AtomicU64>>::default();
        let plans = Family::<StateLabel, Gauge>::default();
        let plans_created = Counter::default();
        let migrations_started = Counter::default();
        let migrations_failed = Counter::default();
        let downtime_seconds: HistogramFamily = Family::new_with_constructor(downtime_histogram);
        let total_seconds: HistogramFamily = Family::new_with_constructor(total_histogram);
        let snapshots = Counter::default();
        let telemetry_refused = Family::<ReasonLabel, Counter>::default();
        let decisions_refused = Family::<ReasonLabel, Counter>::default();
        let kill_switch = Gauge::default();
        let world_time_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "host_risk",
            "Predicted probability that the host breaks a VNF requirement within the horizon",
            host_risk.clone(),
        );
        registry.register(
            "host_prediction_confidence",
            "Share of the host's prediction inputs present and fresh this round (stale ones count less with age, missing ones nothing)",
            host_confidence.clone(),
        );
        registry.register("plans", "Open action plans by state", plans.clone());
        registry.register(
            "plans_created",
            "Action plans recommended",
            plans_created.clone(),
        );
        registry.register(
            "migrations_started",
            "Migrations handed to the driver",
            migrations_started.clone(),
        );
        registry.register(
            "migrations_failed",
            "Migrations refused or broken off (the VM stayed on its source)",
            migrations_failed.clone(),
        );
        registry.register(
            "migration_downtime_seconds",
            "Pause of the VM per migration, predicted by the cost model and measured",
            downtime_seconds.clone(),
        );
        registry.register(
            "migration_total_seconds",
            "Total time per migration, predicted by the cost model and measured",
            total_seconds.clone(),
        );
        registry.register(
            "telemetry_snapshots",
            "World snapshots taken in",
            snapshots.clone(),
        );
        registry.register(
            "telemetry_refused",
            "Telemetry refused, by reason",
            telemetry_refused.clone(),
        );
        registry.register(
            "decisions_refused",
            "Policy decisions not turned into plans, by reason",
            decisions_refused.clone(),
        );
        registry.register(
            "kill_switch",
            "1 while automatic approval is paused",
            kill_switch.clone(),
        );
        registry.register(
            "world_time_seconds",
            "Clock of the latest snapshot",
            world_time_seconds.clone(),
        );
        Metrics {
            registry,
            host_risk,
            host_confidence,
            plans,
            plans_created,
            migrations_started,
            migrations_failed,
            downtime_seconds,
            total_seconds,
            snapshots,
            telemetry_refused,
            decisions_refused,
            kill_switch,
            world_time_seconds,
        }
    }

    /// Records a snapshot's clock and every host's risk per cause.
    pub fn observe_snapshot(&self, snap: &Snapshot) {
        self.snapshots.inc();
        self.world_time_seconds.set(snap.obs.time_s);
        for (h, name) in snap.host_names.iter().enumerate() {
            let fraction = snap.confidence.get(h).map_or(1.0, |c| c.fraction);
            self.host_confidence
                .get_or_create(&HostLabel { host: name.clone() })
                .set(fraction);
        }
        for (h, r) in snap.obs.risks.iter().enumerate() {
            let Some(name) = snap.host_names.get(h) else {
                continue;
            };
            for (cause, p) in [
                ("any", r.probability),
                ("hardware", r.hardware),
                ("overload", r.overload),
                ("memory", r.memory),
                ("response-time", r.response_time),
            ] {
                self.host_risk
                    .get_or_create(&HostCauseLabel {
                        host: name.clone(),
                        cause: cause.to_string(),
                    })
                    .set(p);
            }
        }
    }

    /// Records one finished migration, predicted beside measured.
    pub fn observe_migration(
        &self,
        predicted_downtime_ms: f64,
        measured_downtime_ms: f64,
        predicted_total_s: f64,
        measured_total_s: f64,
    ) {
        let d = &self.downtime_seconds;
        d.get_or_create(&KindLabel { kind: "predicted" })
            .observe(predicted_downtime_ms / 1000.0);
        d.get_or_create(&KindLabel { kind: "measured" })
            .observe(measured_downtime_ms / 1000.0);
        let t = &self.total_seconds;
        t.get_or_create(&KindLabel { kind: "predicted" })
            .observe(predicted_total_s);
        t.get_or_create(&KindLabel { kind: "measured" })
            .observe(measured_total_s);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
