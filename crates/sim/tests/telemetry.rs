//! The telemetry sources that replay data: real traces from `../shared/data` and the simulator's
//! own stream, read back from the store and compared with what they were fed; the simulator
//! source held to the same conformance check as every other source; and an observation written
//! by the simulator's exporter read back by the controller's reader.

use promig_model::trace::TraceFormat;
use promig_model::{FaultsConfig, Observation, TraceSet};
use promig_sim::telemetry::{ObservationExporter, SimulatorSource, metric};
use promig_telemetry::schema as vm_metric;
use promig_telemetry::sources::conformance;
use promig_telemetry::sources::replay::TraceReplay;
use promig_telemetry::sources::series_key;
use promig_telemetry::{IngestStats, Inventory, ObservationReader, ReaderConfig, Source, Store};
use std::sync::Arc;

fn data(rel: &str) -> std::path::PathBuf {
    promig_model::data::dir(None).unwrap().join(rel)
}

#[test]
fn planetlab_and_bitbrains_days_replay_into_the_store_sample_for_sample() {
    for (dir, format, label) in [
        ("planetlab/20110303", TraceFormat::Planetlab, "planetlab"),
        ("bitbrains-rnd-2013-08", TraceFormat::Bitbrains, "bitbrains"),
    ] {
        let set = TraceSet::load(&data(dir), format, Some(10)).unwrap();
        let mut store = Store::new(10_000, 1_000);
        let mut replay = TraceReplay::new(label, set.traces.clone(), &mut store, 0, 300_000);
        // Two polls: half the day, then the rest.
        let half = set.traces[0].len() as i64 / 2 * 300_000;
        let first = replay.poll(&mut store, half).unwrap();
        let rest = replay.poll(&mut store, i64::MAX).unwrap();
        assert!(replay.finished());
        let columns: u64 = set
            .traces
            .iter()
            .map(|t| {
                (t.cpu.len()
                    + t.memory.as_ref().map_or(0, Vec::len)
                    + t.net_kbps.as_ref().map_or(0, Vec::len)) as u64
            })
            .sum();
        assert_eq!(first + rest, columns, "{label}");
        assert_eq!(replay.stats().accepted, columns, "{label}");
        for t in &set.traces {
            let id = store
                .find(&series_key(
                    vm_metric::VM_CPU,
                    &[("vm", &t.name), ("source", label)],
                ))
                .unwrap();
            let stored: Vec<f64> = store.samples(id).into_iter().map(|(_, v)| v).collect();
            assert_eq!(stored, t.cpu, "{label} {}", t.name);
        }
        if format == TraceFormat::Bitbrains {
            let t = &set.traces[0];
            let id = store
                .find(&series_key(
                    vm_metric::VM_MEMORY,
                    &[("vm", &t.name), ("source", label)],
                ))
                .expect("Bitbrains traces carry memory");
            assert_eq!(store.samples(id).len(), t.memory.as_ref().unwrap().len());
        }
    }
}

#[test]
fn the_simulator_streams_what_its_policy_observes() {
    let file = promig_sim::scenario::default_scenario().unwrap();
    let base = promig_model::data::dir(None).unwrap();
    let world = Arc::new(promig_sim::scenario::build_world(&file, &base).unwrap());
    let cfg = promig_sim::SimConfig::nfv(42, file.steps);
    let mut source = SimulatorSource::new(
        Arc::clone(&world),
        cfg.clone(),
        promig_policy::by_name("none", cfg.seed).unwrap(),
        None,
    )
    .unwrap();
    let mut store = Store::new(300, 10_000);
    // One hour: decision points at 5, 10, ..., 60 minutes.
    source.poll(&mut store, 3_600_000).unwrap();
    let host0 = |store: &Store, m: &str| {
        store
            .find(&series_key(m, &[("host", "0"), ("dc", &world.name)]))
            .unwrap()
    };
    assert_eq!(store.samples(host0(&store, metric::HOST_DEMAND)).len(), 12);
    // The same run stepped by hand sees the same values.
    let mut policy = promig_policy::by_name("none", 42).unwrap();
    let mut sim = promig_sim::Simulator::new(Arc::clone(&world), cfg, policy.as_mut()).unwrap();
    let mut expected = Vec::new();
    for _ in 0..12 {
        assert!(sim.step(policy.as_mut()));
        let obs = sim.observation();
        expected.push((
            (obs.time_s * 1000.0) as i64,
            obs.hosts[0].requested_mips / obs.hosts[0].total_mips,
        ));
    }
    assert_eq!(store.samples(host0(&store, metric::HOST_DEMAND)), expected);
    // Polling past the horizon finishes the run; every series stayed within its ring.
    source.poll(&mut store, i64::MAX).unwrap();
    assert!(source.finished());
    // Step 0 is the initial placement; every later step is a decision point.
    assert_eq!(
        store.samples(host0(&store, metric::HOST_UP)).len(),
        file.steps - 1
    );
    assert_eq!(source.stats().non_finite, 0);
    assert_eq!(
        source.stats().out_of_order + source.stats().duplicate,
        0,
        "{:?}",
        source.stats()
    );
}

#[test]
fn the_simulator_source_conforms() {
    let world = Arc::new(promig_sim::synthetic::world(
        4,
        12,
        48,
        3,
        FaultsConfig::default(),
    ));
    let cfg = promig_sim::SimConfig::nfv(3, 48);
    let policy = promig_policy::by_name("none", cfg.seed).unwrap();
    let mut source = SimulatorSource::new(world, cfg, policy, None).unwrap();
    let mut store = Store::new(64, 1_000);
    let summary = conformance::check(&mut source, &mut store, 3_600_000).unwrap();
    // Every decision point up to one hour: four hosts and twelve VMs each.
    assert_eq!(summary.offered % (4 * 8 + 12 * 3), 0, "{summary:?}");
    assert_eq!(summary.offered, summary.accepted);
}

/// The template the controller would hold: the observation's static side, every dynamic field
/// blanked so that only the store can fill it.
fn static_side(obs: &Observation) -> Observation {
    let mut t = obs.clone();
    for h in &mut t.hosts {
        h.up = false;
        h.utilization = 0.0;
        h.requested_mips = 0.0;
        h.corrected_errors_per_h = 0.0;
        h.temperature_c = 0.0;
        h.latency_ms = 0.0;
    }
    for v in &mut t.vms {
        v.requested_mips = 0.0;
        v.memory_used_mib = 0.0;
        v.history = [0.0; promig_model::observation::HISTORY_LEN];
        v.history_len = 0;
        v.dirty_pages_per_s = 0.0;
    }
    t.migration_bandwidth_bps.iter_mut().for_each(|b| *b = 0.0);
    t.time_s = 0.0;
    t
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn an_exported_observation_reads_back_with_its_dynamic_fields() {
    // Surges and leaks make the dynamic fields move; no crashes, so every placed VM reports.
    let faults = FaultsConfig {
        memory_leaks: 2,
        surges: 1,
        ..FaultsConfig::default()
    };
    let world = Arc::new(promig_sim::synthetic::world(6, 20, 60, 11, faults));
    let cfg = promig_sim::SimConfig::nfv(11, 60);
    let interval_ms = (cfg.interval_s * 1000.0).round() as i64;
    let mut policy = promig_policy::by_name("reactive", 11).unwrap();
    let mut sim = promig_sim::Simulator::new(Arc::clone(&world), cfg, policy.as_mut()).unwrap();
    let mut store = Store::new(64, 10_000);
    let mut stats = IngestStats::default();
    let mut exporter = ObservationExporter::new(&world.name);
    let mut compared = 0;
    let mut longest_history = 0;
    while sim.step(policy.as_mut()) {
        let obs = sim.observation();
        exporter.export(&obs, &mut store, &mut stats);
        if obs
            .vms
            .iter()
            .any(|v| v.host.is_some() && v.history_len == 0)
        {
            continue; // the initial placement: VMs report from their first decision point
        }
        let at_ms = (obs.time_s * 1000.0).round() as i64;
        let inventory = Inventory::indexed(
            static_side(&obs),
            vec![("dc".to_string(), world.name.clone())],
        );
        let reader =
            ObservationReader::new(inventory, ReaderConfig::for_interval(interval_ms)).unwrap();
        let read = reader.read(&store, at_ms);
        assert!(
            read.coverage.is_complete(),
            "at {at_ms}: {:?}",
            read.coverage
        );
        assert_eq!(read.coverage.fresh_fraction(), 1.0);
        let got = &read.observation;
        assert!(close(got.time_s, obs.time_s));
        for (h, (a, b)) in got.hosts.iter().zip(&obs.hosts).enumerate() {
            let ctx = format!("host {h} at {at_ms}");
            assert_eq!(a.up, b.up, "{ctx}");
            assert_eq!(a.utilization, b.utilization, "{ctx}");
            assert!(close(a.requested_mips, b.requested_mips), "{ctx}");
            assert_eq!(a.temperature_c, b.temperature_c, "{ctx}");
            assert_eq!(a.corrected_errors_per_h, b.corrected_errors_per_h, "{ctx}");
            assert_eq!(a.latency_ms, b.latency_ms, "{ctx}");
            assert_eq!(
                got.migration_bandwidth_bps[h], obs.migration_bandwidth_bps[h],
                "{ctx}"
            );
        }
        for (v, (a, b)) in got.vms.iter().zip(&obs.vms).enumerate() {
            if b.host.is_none() {
                continue;
            }
            let ctx = format!("vm {v} at {at_ms}");
            assert_eq!(a.history(), b.history(), "{ctx}");
            assert!(close(a.memory_used_mib, b.memory_used_mib), "{ctx}");
            assert_eq!(a.dirty_pages_per_s, b.dirty_pages_per_s, "{ctx}");
            // Requested MIPS is read as utilisation times size: what the simulator charges.
            assert!(close(a.requested_mips, b.requested_mips), "{ctx}");
            longest_history = longest_history.max(a.history_len);
        }
        compared += 1;
    }
    assert!(compared >= 50, "{compared} observations compared");
    assert_eq!(longest_history, promig_model::observation::HISTORY_LEN);
    assert_eq!(
        stats.non_finite + stats.out_of_order + stats.duplicate,
        0,
        "{stats:?}"
    );
    // Read back at a time nothing reported for longer than the staleness limit: values are the
    // last ones, flagged stale, and nothing panics.
    let last = sim.observation();
    let reader = ObservationReader::new(
        Inventory::indexed(static_side(&last), vec![("dc".into(), world.name.clone())]),
        ReaderConfig::for_interval(interval_ms),
    )
    .unwrap();
    let late = reader.read(&store, (last.time_s * 1000.0) as i64 + 10 * interval_ms);
    assert_eq!(late.coverage.missing(), 0);
    assert_eq!(late.coverage.stale(), late.coverage.expected);
    assert_eq!(late.coverage.fresh_fraction(), 0.0);
    assert!(late.observation.vms.iter().all(|v| v.history_len == 0));
}
