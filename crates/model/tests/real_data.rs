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

#[test]
fn every_zoo_network_loads_with_all_hosts_reachable() {
    let dir = data("topology-zoo");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "graphml"))
        .collect();
    files.sort();
    let (mut loaded, mut disconnected) = (0, 0);
    for f in &files {
        let Ok(t) = Topology::from_graphml(f, 1, 10e9) else {
            continue; // a malformed file is refused with its line; counted below
        };
        loaded += 1;
        disconnected += usize::from(!t.notes.is_empty());
        for h in 1..t.hosts() {
            assert!(
                t.path(0, h).is_some(),
                "{}: host {h} unreachable from host 0",
                f.display()
            );
        }
    }
    assert!(
        loaded * 10 >= files.len() * 9,
        "{loaded} of {} load",
        files.len()
    );
    assert!(
        disconnected >= 10,
        "the Zoo has disconnected networks; {disconnected} noted"
    );
}

#[test]
fn duplicate_graphml_node_ids_are_refused_with_their_line() {
    let path = std::env::temp_dir().join(format!("promig-dup-{}.graphml", std::process::id()));
    std::fs::write(
        &path,
        "<graphml>\n<graph>\n<node id=\"a\"/>\n<node id=\"b\"/>\n<node id=\"a\"/>\n<edge source=\"a\" target=\"b\"/>\n</graph>\n</graphml>\n",
    )
    .unwrap();
    let e = Topology::from_graphml(&path, 1, 10e9)
        .unwrap_err()
        .to_string();
    assert!(e.contains(":5:") && e.contains("duplicate node id"), "{e}");
}
