//! The store read back into an [`Observation`]: what the controller calls every decision
//! interval, so the predictor and the policies see a live data centre through the same struct the
//! simulator fills.
//!
//! What is configuration (hosts, their capacity and power curve, VMs and their size, placement,
//! QoS contracts) comes from an [`Inventory`]: a template observation holding those static
//! fields, plus the label values naming each host and VM in the store. What is telemetry
//! (utilisation, demand, memory in use, temperature, corrected errors, latency, up, CPU history,
//! dirty pages, migration bandwidth) is read from the latest samples of the
//! [`crate::schema`] series. A series that is missing or stale never fails the read: it is
//! reported in a [`Coverage`] so the predictor can lower its confidence and the dashboard can
//! show which exporter went quiet.

use crate::schema::{self, label};
use crate::sources::series_key;
use crate::{Store, TelemetryError};
use promig_model::Observation;
use promig_model::observation::HISTORY_LEN;
use serde::{Deserialize, Serialize};

/// The static side of the data centre, and how its hosts and VMs are named in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Static facts (ids, capacities, placement, QoS, interval); its dynamic fields are
    /// overwritten by each read, or kept where a series is missing.
    pub template: Observation,
    /// Value of the `host` label of each host's series, by host index.
    pub host_names: Vec<String>,
    /// Value of the `vm` label of each VM's series, by VM index.
    pub vm_names: Vec<String>,
    /// Labels every series carries after the host or VM label, in key order (e.g. `dc`).
    pub labels: Vec<(String, String)>,
}

impl Inventory {
    /// Hosts and VMs named by their index, as the simulator's exporter names them.
    pub fn indexed(template: Observation, labels: Vec<(String, String)>) -> Self {
        Inventory {
            host_names: (0..template.hosts.len()).map(|h| h.to_string()).collect(),
            vm_names: (0..template.vms.len()).map(|v| v.to_string()).collect(),
            template,
            labels,
        }
    }
}

/// How old a sample may be and how the CPU history is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderConfig {
    /// A series whose newest sample (at or before the read time) is older than this is stale:
    /// its value is still used, and reported.
    pub max_age_ms: i64,
    /// Spacing of the VM CPU history (the decision interval the policies' detectors assume),
    /// whatever the scrape interval.
    pub history_step_ms: i64,
    /// A history point is the newest sample within this much before its grid time; the history
    /// ends at the first point without one (the VM was down, as the simulator restarts its
    /// history after a crash).
    pub history_tolerance_ms: i64,
}

impl ReaderConfig {
    /// For a decision interval: one missed report tolerated before a series is stale, history
    /// points one interval apart, each within half an interval.
    pub fn for_interval(interval_ms: i64) -> Self {
        let interval_ms = interval_ms.max(1);
        ReaderConfig {
            max_age_ms: 2 * interval_ms,
            history_step_ms: interval_ms,
            history_tolerance_ms: (interval_ms / 2).max(1),
        }
    }
}

/// Which series of one host or VM could not be read fresh.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeriesHealth {
    /// Series with no sample at or before the read time (the field kept its template value).
    pub missing: Vec<&'static str>,
    /// Series whose newest sample is older than [`ReaderConfig::max_age_ms`] (value used anyway).
    pub stale: Vec<&'static str>,
}

impl SeriesHealth {
    /// Every series was present and fresh.
    pub fn is_fresh(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty()
    }
}

/// How complete a read was, per host and per VM (by index); VMs the inventory does not place on
/// a host are not expected to report and are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The time read at.
    pub at_ms: i64,
    /// Per host.
    pub hosts: Vec<SeriesHealth>,
    /// Per VM (empty health for VMs that are not placed).
    pub vms: Vec<SeriesHealth>,
    /// Series expected in all.
    pub expected: usize,
}

impl Coverage {
    /// Every expected series was present and fresh.
    pub fn is_complete(&self) -> bool {
        self.hosts
            .iter()
            .chain(&self.vms)
            .all(SeriesHealth::is_fresh)
    }

    /// Series missing, in all.
    pub fn missing(&self) -> usize {
        self.hosts
            .iter()
            .chain(&self.vms)
            .map(|h| h.missing.len())
            .sum()
    }

    /// Series stale, in all.
    pub fn stale(&self) -> usize {
        self.hosts
            .iter()
            .chain(&self.vms)
            .map(|h| h.stale.len())
            .sum()
    }

    /// Share of expected series read fresh, 0..=1 (1 when nothing was expected): a confidence
    /// factor for the predictor.
    pub fn fresh_fraction(&self) -> f64 {
        if self.expected == 0 {
            return 1.0;
        }
        1.0 - (self.missing() + self.stale()) as f64 / self.expected as f64
    }
}

/// One read: the observation and how much of it came from fresh telemetry.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The data centre at the read time.
    pub observation: Observation,
    /// What was missing or stale.
    pub coverage: Coverage,
}

/// Host series the reader uses (host memory is derived from the VMs', as the simulator does).
const HOST_READ: [&str; 7] = [
    schema::HOST_CPU,
    schema::HOST_DEMAND,
    schema::HOST_TEMPERATURE,
    schema::HOST_CORRECTED_ERRORS,
    schema::HOST_LATENCY,
    schema::HOST_UP,
    schema::HOST_MIGRATION_BPS,
];
const VM_READ: [&str; 3] = schema::VM_METRICS;

/// Reads observations out of a store; keys are built once, series looked up per read (a store
/// gains series as exporters appear, and a lookup is one hash).
#[derive(Debug, Clone)]
pub struct ObservationReader {
    template: Observation,
    config: ReaderConfig,
    host_keys: Vec<[String; HOST_READ.len()]>,
    vm_keys: Vec<[String; VM_READ.len()]>,
}

/// The newest sample at or before the read time, and whether it is stale.
enum Sample {
    Missing,
    Found { value: f64, stale: bool },
}

impl ObservationReader {
    /// A reader for `inventory`; refuses name lists that do not match the template's hosts and
    /// VMs, and a configuration with a non-positive step or negative age.
    pub fn new(inventory: Inventory, config: ReaderConfig) -> Result<Self, TelemetryError> {
        let Inventory {
            mut template,
            host_names,
            vm_names,
            labels,
        } = inventory;
        let mismatch =
            |field: &str, names: usize, items: usize, what: &str| TelemetryError::Config {
                field: field.into(),
                reason: format!("{names} names for {items} {what}"),
            };
        if host_names.len() != template.hosts.len() {
            return Err(mismatch(
                "host_names",
                host_names.len(),
                template.hosts.len(),
                "hosts",
            ));
        }
        if vm_names.len() != template.vms.len() {
            return Err(mismatch(
                "vm_names",
                vm_names.len(),
                template.vms.len(),
                "VMs",
            ));
        }
        if config.history_step_ms <= 0 || config.max_age_ms < 0 || config.history_tolerance_ms < 0 {
            return Err(TelemetryError::Config {
                field: "reader".into(),
                reason: "history_step_ms must be positive, ages not negative".into(),
            });
        }
        let key = |metric: &str, name_label: &str, name: &str| {
            let mut all: Vec<(&str, &str)> = vec![(name_label, name)];
            all.extend(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            series_key(metric, &all)
        };
        let host_keys = host_names
            .iter()
            .map(|n| HOST_READ.map(|m| key(m, label::HOST, n)))
            .collect();
        let vm_keys = vm_names
            .iter()
            .map(|n| VM_READ.map(|m| key(m, label::VM, n)))
            .collect();
        template
            .migration_bandwidth_bps
            .resize(template.hosts.len(), 0.0);
        Ok(ObservationReader {
            template,
            config,
            host_keys,
            vm_keys,
        })
    }

    /// The latest value of `key` at `at_ms`, noting in `health` whether it is missing or stale.
    fn checked(
        &self,
        store: &Store,
        key: &str,
        at_ms: i64,
        metric: &'static str,
        health: &mut SeriesHealth,
    ) -> Option<f64> {
        match self.sample(store, key, at_ms) {
            Sample::Missing => {
                health.missing.push(metric);
                None
            }
            Sample::Found { value, stale } => {
                if stale {
                    health.stale.push(metric);
                }
                Some(value)
            }
        }
    }

    fn sample(&self, store: &Store, key: &str, at_ms: i64) -> Sample {
        match store.find(key).and_then(|id| store.latest_at(id, at_ms)) {
            None => Sample::Missing,
            Some((t, value)) => Sample::Found {
                value,
                stale: at_ms.saturating_sub(t) > self.config.max_age_ms,
            },
        }
    }

    /// The data centre as the store saw it at `at_ms` (samples after it are ignored, so reading
    /// the past is possible while new samples arrive).
    pub fn read(&self, store: &Store, at_ms: i64) -> Reading {
        let mut obs = self.template.clone();
        obs.time_s = at_ms as f64 / 1000.0;
        let mut coverage = Coverage {
            at_ms,
            hosts: vec![SeriesHealth::default(); obs.hosts.len()],
            vms: vec![SeriesHealth::default(); obs.vms.len()],
            expected: 0,
        };
        for (h, keys) in self.host_keys.iter().enumerate() {
            let health = &mut coverage.hosts[h];
            coverage.expected += keys.len();
            for (metric, key) in HOST_READ.iter().zip(keys) {
                let Some(value) = self.checked(store, key, at_ms, metric, health) else {
                    continue;
                };
                let host = &mut obs.hosts[h];
                match *metric {
                    schema::HOST_CPU => host.utilization = value,
                    // Exported over usable capacity; the inventory says what that capacity is.
                    schema::HOST_DEMAND => host.requested_mips = value * host.total_mips.max(1.0),
                    schema::HOST_TEMPERATURE => host.temperature_c = value,
                    schema::HOST_CORRECTED_ERRORS => host.corrected_errors_per_h = value,
                    schema::HOST_LATENCY => host.latency_ms = value,
                    schema::HOST_UP => host.up = value > 0.5,
                    schema::HOST_MIGRATION_BPS => obs.migration_bandwidth_bps[h] = value,
                    _ => unreachable!("HOST_READ lists only the names matched above"),
                }
            }
        }
        for (v, keys) in self.vm_keys.iter().enumerate() {
            if obs.vms[v].host.is_none() {
                continue; // not running: its exporter reports nothing, and that is no gap
            }
            let health = &mut coverage.vms[v];
            coverage.expected += keys.len();
            for (metric, key) in VM_READ.iter().zip(keys) {
                let Some(value) = self.checked(store, key, at_ms, metric, health) else {
                    continue;
                };
                let vm = &mut obs.vms[v];
                match *metric {
                    schema::VM_CPU => {
                        vm.requested_mips = value * vm.total_mips();
                        if let Some(id) = store.find(key) {
                            let (history, len) = self.history(store, id, at_ms);
                            vm.history = history;
                            vm.history_len = len;
                        }
                    }
                    schema::VM_MEMORY => vm.memory_used_mib = value * vm.memory_mib.max(1.0),
                    schema::VM_DIRTY_PAGES => vm.dirty_pages_per_s = value,
                    _ => unreachable!("VM_READ lists only the names matched above"),
                }
            }
        }
        Reading {
            observation: obs,
            coverage,
        }
    }

    /// A VM's CPU history, most recent first, one point per step back from `at_ms`.
    fn history(
        &self,
        store: &Store,
        id: crate::SeriesId,
        at_ms: i64,
    ) -> ([f64; HISTORY_LEN], usize) {
        let mut history = [0.0; HISTORY_LEN];
        let mut len = 0;
        let mut samples = store.newest_first(id).peekable();
        let step = self.config.history_step_ms;
        let tolerance = self.config.history_tolerance_ms;
        for (k, slot) in history.iter_mut().enumerate() {
            let Some(grid) = (k as i64)
                .checked_mul(step)
                .and_then(|back| at_ms.checked_sub(back))
            else {
                break;
            };
            // Skip samples after this grid point (newer than the read, or between points).
            while samples.next_if(|&(t, _)| t > grid).is_some() {}
            match samples.peek() {
                Some(&(t, value)) if grid - t <= tolerance => {
                    *slot = value;
                    len += 1;
                }
                _ => break,
            }
        }
        (history, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IngestStats;
    use promig_model::observation::{HostId, HostView, VmId, VmView};

    fn template() -> Observation {
        let host = HostView {
            id: HostId(0),
            type_id: 0,
            up: false,
            cores: 2,
            mips_per_core: 1000.0,
            total_mips: 2000.0,
            nominal_mips: 2000.0,
            memory_mib: 4096.0,
            memory_reserved_mib: 0.0,
            physical_memory_mib: 4096.0,
            nic_bps: 1e9,
            power: promig_model::PowerCurve::HP_ML110_G4,
            rack: 0,
            utilization: 0.0,
            requested_mips: 0.0,
            vms: vec![0],
            migrating_in: Vec::new(),
            corrected_errors_per_h: 0.0,
            temperature_c: 0.0,
            latency_ms: 0.0,
        };
        let vm = VmView {
            id: VmId(0),
            host: Some(0),
            in_migration: false,
            booting: false,
            vcpus: 1,
            mips_per_vcpu: 1000.0,
            memory_mib: 1024.0,
            memory_reserved_mib: 1024.0,
            nic_reserved_bps: 0.0,
            memory_used_mib: 0.0,
            requested_mips: 0.0,
            allocated_mips: 0.0,
            history: [0.0; HISTORY_LEN],
            history_len: 0,
            dirty_pages_per_s: 0.0,
            vnf: None,
        };
        Observation {
            interval_s: 300.0,
            hosts: vec![host],
            vms: vec![
                vm.clone(),
                VmView {
                    id: VmId(1),
                    host: None,
                    ..vm
                },
            ],
            ..Observation::default()
        }
    }

    fn put(store: &mut Store, metric: &str, l: (&str, &str), samples: &[(i64, f64)]) {
        let id = store
            .series(series_key(metric, &[l, ("dc", "x")]).as_bytes())
            .unwrap();
        let mut stats = IngestStats::default();
        for &(t, v) in samples {
            store.append(id, t, v, &mut stats);
        }
    }

    fn reader() -> ObservationReader {
        let inv = Inventory::indexed(template(), vec![("dc".into(), "x".into())]);
        ObservationReader::new(inv, ReaderConfig::for_interval(300_000)).unwrap()
    }

    #[test]
    fn an_empty_store_reads_as_the_template_with_everything_missing() {
        let r = reader().read(&Store::new(4, 4), 600_000);
        assert_eq!(r.observation.hosts, template().hosts);
        assert_eq!(r.coverage.hosts[0].missing.len(), HOST_READ.len());
        assert_eq!(r.coverage.vms[0].missing.len(), VM_READ.len());
        // The VM that is not placed is not expected to report.
        assert!(r.coverage.vms[1].is_fresh());
        assert_eq!(r.coverage.expected, HOST_READ.len() + VM_READ.len());
        assert_eq!(r.coverage.fresh_fraction(), 0.0);
        assert!(!r.coverage.is_complete());
    }

    #[test]
    fn latest_samples_fill_the_dynamic_fields_and_old_ones_are_flagged() {
        let mut store = Store::new(64, 64);
        let h = ("host", "0");
        let v = ("vm", "0");
        put(
            &mut store,
            schema::HOST_CPU,
            h,
            &[(900_000, 0.2), (1_200_000, 0.4)],
        );
        put(&mut store, schema::HOST_DEMAND, h, &[(1_200_000, 0.5)]);
        put(&mut store, schema::HOST_UP, h, &[(1_200_000, 1.0)]);
        // Stale: last reported five intervals before the read.
        put(&mut store, schema::HOST_TEMPERATURE, h, &[(0, 55.0)]);
        // CPU history with a hole at 600 s, read at 1500 s.
        let cpu: Vec<(i64, f64)> = [0, 300, 900, 1200, 1500]
            .iter()
            .map(|&s| (s * 1000, s as f64 / 10_000.0))
            .collect();
        put(&mut store, schema::VM_CPU, v, &cpu);
        put(&mut store, schema::VM_MEMORY, v, &[(1_500_000, 0.5)]);
        // A sample after the read time is ignored.
        put(&mut store, schema::HOST_CPU, h, &[(2_000_000, 0.9)]);
        let r = reader().read(&store, 1_500_000);
        let host = &r.observation.hosts[0];
        assert_eq!(host.utilization, 0.4);
        assert_eq!(host.requested_mips, 1000.0);
        assert!(host.up);
        assert_eq!(host.temperature_c, 55.0);
        assert_eq!(r.coverage.hosts[0].stale, vec![schema::HOST_TEMPERATURE]);
        assert_eq!(
            r.coverage.hosts[0].missing,
            vec![
                schema::HOST_CORRECTED_ERRORS,
                schema::HOST_LATENCY,
                schema::HOST_MIGRATION_BPS
            ]
        );
        let vm = &r.observation.vms[0];
        assert_eq!(vm.history(), &[0.15, 0.12, 0.09]);
        assert!((vm.requested_mips - 150.0).abs() < 1e-9);
        assert_eq!(vm.memory_used_mib, 512.0);
        assert_eq!(r.coverage.vms[0].missing, vec![schema::VM_DIRTY_PAGES]);
        assert_eq!(r.observation.time_s, 1500.0);
        assert_eq!(r.coverage.stale() + r.coverage.missing(), 5);
        assert!((r.coverage.fresh_fraction() - 5.0 / 10.0).abs() < 1e-12);
    }

    #[test]
    fn name_lists_must_match_the_template() {
        let mut inv = Inventory::indexed(template(), Vec::new());
        inv.vm_names.pop();
        assert!(matches!(
            ObservationReader::new(inv, ReaderConfig::for_interval(1)),
            Err(TelemetryError::Config { ref field, .. }) if field == "vm_names"
        ));
    }
}
