//! Every telemetry source in this crate passes the same conformance check, each fed a small
//! fixture over its real path: the replay from traces, the scraper from a loopback HTTP server,
//! the remote-write receiver from real HTTP POSTs. (The simulator's check is in `sim`.)

use promig_model::Trace;
use promig_telemetry::sources::conformance::check;
use promig_telemetry::sources::prometheus::remote_write::encode;
use promig_telemetry::sources::prometheus::{
    RemoteWriteSource, ScrapeConfig, ScrapeSource, ScrapeTarget,
};
use promig_telemetry::sources::replay::TraceReplay;
use promig_telemetry::{Source, Store};

mod common;
use common::{free_port, post_remote_write, serve_metrics};

const EXPOSITION: &str = "# HELP up whether\n# TYPE up gauge\nup 1\nnode_load1 0.25\nnode_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5\nnode_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 48\nbroken line here\nnode_memory_MemAvailable_bytes NaN\n";

#[test]
fn the_trace_replay_conforms() {
    let trace = |name: &str, cpu: &[f64]| Trace {
        name: name.into(),
        cpu: cpu.to_vec(),
        memory: Some(vec![0.5; cpu.len()]),
        net_kbps: None,
    };
    let mut store = Store::new(16, 64);
    let mut replay = TraceReplay::new(
        "fixture",
        vec![trace("a", &[0.1, 0.2, 0.3]), trace("b", &[0.4, f64::NAN])],
        &mut store,
        0,
        300_000,
    );
    let summary = check(&mut replay, &mut store, 300_000).unwrap();
    // Two steps of two traces, two columns each; the NaN is offered and refused.
    assert_eq!(summary.offered, 8);
    assert_eq!(summary.accepted, 7);
    assert_eq!(replay.stats().non_finite, 1);
}

#[test]
fn the_scrape_source_conforms_and_counts_a_dead_target_without_failing() {
    let (port, _server) = serve_metrics(EXPOSITION);
    let dead = free_port();
    let cfg: ScrapeConfig = toml::from_str(&format!(
        r#"
        name = "fixture"
        interval_ms = 1000
        timeout_ms = 1000
        [[targets]]
        address = "127.0.0.1:{port}"
        labels = {{ host = "a" }}
        [[targets]]
        address = "127.0.0.1:{dead}"
        labels = {{ host = "b" }}
        "#
    ))
    .unwrap();
    let mut source = ScrapeSource::new(cfg).unwrap();
    let mut store = Store::new(16, 64);
    let summary = check(&mut source, &mut store, 5_000).unwrap();
    // Five samples and one bad line; the NaN is refused.
    assert_eq!(summary.offered, 6);
    assert_eq!(summary.accepted, 4);
    let st = source.stats();
    assert_eq!((st.bad_lines, st.non_finite), (1, 1));
    let [good, bad] = source.targets() else {
        panic!("two targets")
    };
    assert_eq!((good.scrapes, good.failures, good.up), (1, 0, true));
    assert_eq!((bad.scrapes, bad.failures, bad.up), (1, 1, false));
    assert!(
        bad.last_error
            .as_deref()
            .is_some_and(|e| e.contains(&dead.to_string()))
    );
    // The target's label is on every series it delivered.
    let up = store.find(r#"up{host="a"}"#).expect("labelled series");
    assert_eq!(store.samples(up), vec![(5_000, 1.0)]);
    // The next interval scrapes both again; the dead one fails again, nothing panics.
    assert_eq!(source.poll(&mut store, 6_000).unwrap(), 6);
    assert_eq!(source.targets()[1].failures, 2);
    assert_eq!(store.samples(up).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_source_polled_inside_an_async_runtime_still_scrapes() {
    let (port, _server) = serve_metrics(EXPOSITION);
    let mut source = ScrapeSource::new(ScrapeConfig::new(vec![ScrapeTarget::new(format!(
        "127.0.0.1:{port}"
    ))]))
    .unwrap();
    let mut store = Store::new(16, 64);
    assert_eq!(source.poll(&mut store, 1).unwrap(), 6);
    assert!(store.find("up").is_some());
}

#[test]
fn the_remote_write_source_conforms() {
    let mut source =
        RemoteWriteSource::new(toml::from_str(r#"listen = "127.0.0.1:0""#).unwrap()).unwrap();
    let body = encode(&[
        (
            vec![("__name__", "up"), ("instance", "h1:9100"), ("job", "node")],
            vec![(1.0, 1_000), (1.0, 2_000)],
        ),
        (
            vec![("__name__", "node_hwmon_temp_celsius"), ("chip", "c0")],
            vec![(48.0, 1_000), (f64::NAN, 2_000)],
        ),
    ]);
    assert_eq!(
        post_remote_write(source.local_addr(), "/api/v1/write", &body),
        204
    );
    let mut store = Store::new(16, 64);
    let summary = check(&mut source, &mut store, 10_000).unwrap();
    assert_eq!((summary.offered, summary.accepted), (4, 3));
    let up = store.find(r#"up{instance="h1:9100",job="node"}"#).unwrap();
    assert_eq!(store.samples(up), vec![(1_000, 1.0), (2_000, 1.0)]);
    assert_eq!(source.receiver_stats().batches_queued, 1);
}
