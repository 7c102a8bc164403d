//! The telemetry sources that replay data: real traces from `../shared/data` and the simulator's
//! own stream, read back from the store and compared with what they were fed.

use promig_model::TraceSet;
use promig_model::trace::TraceFormat;
use promig_sim::telemetry::{SimulatorSource, metric};
use promig_telemetry::sources::replay::{TraceReplay, metric as vm_metric};
use promig_telemetry::sources::series_key;
use promig_telemetry::{Source, Store};
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
