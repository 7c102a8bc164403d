//! The loaders against the real data sets in `../shared/data`.

use promig_model::Topology;
use promig_model::trace::{TraceFormat, TraceSet};
use std::path::PathBuf;

fn data(p: &str) -> PathBuf {
    promig_model::data::dir(None).unwrap().join(p)
}

#[test]
fn planetlab_day_loads_including_names_with_spaces() {
    let set = TraceSet::load(&data("planetlab/20110303"), TraceFormat::Planetlab, None).unwrap();
    assert_eq!(set.len(), 1052);
    assert!(set.traces.iter().all(|t| t.len() == 288));
    assert!(set.traces.iter().any(|t| t.name.contains(' ')));
}

#[test]
fn google_and_bitbrains_load_with_memory_and_network() {
    let g = TraceSet::load(&data("google-vms"), TraceFormat::Google, Some(5)).unwrap();
    assert!(
        g.traces
            .iter()
            .all(|t| t.memory.is_some() && t.len() == 288)
    );
    let b = TraceSet::load(
        &data("bitbrains-rnd-2013-08"),
        TraceFormat::Bitbrains,
        Some(3),
    )
    .unwrap();
    assert!(
        b.traces
            .iter()
            .all(|t| t.net_kbps.is_some() && t.len() > 8000)
    );
}

#[test]
fn topology_zoo_imports_with_latency_from_coordinates() {
    let t = Topology::from_graphml(&data("topology-zoo/Abilene.graphml"), 4, 10e9).unwrap();
    assert_eq!(t.hosts(), 11 * 4);
    // New York to Los Angeles: several milliseconds of fibre, several links.
    let (ny, la) = (
        t.host_names
            .iter()
            .position(|n| n.starts_with("New York"))
            .unwrap(),
        t.host_names
            .iter()
            .position(|n| n.starts_with("Los Angeles"))
            .unwrap(),
    );
    let path = t.path(ny, la).unwrap();
    assert!(path.len() >= 4);
    let ms = t.path_latency_ms(&path);
    assert!((15.0..40.0).contains(&ms), "{ms} ms");
    // A topology without coordinates still loads, with default latencies.
    assert!(
        Topology::from_graphml(&data("topology-zoo/Ai3.graphml"), 2, 10e9)
            .unwrap()
            .hosts()
            > 0
    );
}
