//! Scraping a real Prometheus node_exporter started on a loopback port.
//! Needs `prometheus-node-exporter` (apt-get install -y --no-install-recommends
//! prometheus-node-exporter); `PROMIG_SKIP_NODE_EXPORTER=1` skips locally (saying so on stderr);
//! `.ci/run` refuses to run with it set.

use promig_telemetry::schema::node_exporter;
use promig_telemetry::sources::prometheus::{ScrapeConfig, ScrapeSource, ScrapeTarget, scrape};
use promig_telemetry::{IngestStats, Source, Store};
use std::time::Duration;

mod common;
use common::{free_port, skip_requested};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_a_real_node_exporter_twice() {
    if skip_requested("PROMIG_SKIP_NODE_EXPORTER", "a real node_exporter") {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address={addr}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus-node-exporter missing: apt-get install -y --no-install-recommends prometheus-node-exporter");
    let mut store = Store::new(64, 100_000);
    let mut stats = IngestStats::default();
    // Wait for it to listen.
    let mut ok = false;
    for _ in 0..100 {
        if scrape(
            &mut store,
            &addr,
            "/metrics",
            1_000,
            Duration::from_secs(2),
            &mut stats,
        )
        .await
        .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "node_exporter never answered on {addr}");
    let first = stats.accepted;
    assert!(first > 300, "{stats:?}");
    assert_eq!(
        stats.bad_lines, 0,
        "a real exporter's output must parse: {stats:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    scrape(
        &mut store,
        &addr,
        "/metrics",
        16_000,
        Duration::from_secs(2),
        &mut stats,
    )
    .await
    .unwrap();
    assert!(stats.accepted > first + 300);
    // CPU time only grows.
    let cpu = (0..store.len() as u32)
        .find(|&id| {
            store.name(id).starts_with("node_cpu_seconds_total{")
                && store.name(id).contains("mode=\"idle\"")
        })
        .expect("node_cpu_seconds_total{mode=\"idle\"} present");
    let s = store.samples(cpu);
    assert_eq!(s.len(), 2);
    assert!(s[1].1 >= s[0].1, "{s:?}");
    // A wrong path is an error, not a crash, and stores nothing.
    let before = store.len();
    assert!(
        scrape(
            &mut store,
            &addr,
            "/nope",
            20_000,
            Duration::from_secs(2),
            &mut stats
        )
        .await
        .is_err()
    );
    assert_eq!(store.len(), before);
    let _ = child.kill().await;
}

/// The scrape source against a real exporter: its names are the schema's, its label is added.
#[test]
fn a_scrape_source_reads_the_schema_names_from_a_real_node_exporter() {
    if skip_requested("PROMIG_SKIP_NODE_EXPORTER", "a real node_exporter") {
        return;
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address={addr}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus-node-exporter missing: apt-get install -y --no-install-recommends prometheus-node-exporter");
    let mut target = ScrapeTarget::new(addr.clone());
    target.labels.insert("host".into(), "local".into());
    let mut cfg = ScrapeConfig::new(vec![target]);
    (cfg.interval_ms, cfg.timeout_ms) = (1_000, 1_000);
    let mut source = ScrapeSource::new(cfg).unwrap();
    let mut store = Store::new(8, 100_000);
    // Until it listens: one poll per interval, failures counted, never fatal.
    let mut t = 0;
    while !source.targets()[0].up {
        t += 1_000;
        assert!(
            t < 100_000,
            "node_exporter never answered: {:?}",
            source.targets()
        );
        source.poll(&mut store, t).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(source.stats().bad_lines, 0, "{:?}", source.stats());
    for name in [
        node_exporter::CPU_SECONDS_TOTAL,
        node_exporter::MEMORY_AVAILABLE_BYTES,
        node_exporter::MEMORY_TOTAL_BYTES,
        node_exporter::NETWORK_TRANSMIT_BYTES_TOTAL,
        node_exporter::NETWORK_RECEIVE_BYTES_TOTAL,
        node_exporter::LOAD1,
        node_exporter::BOOT_TIME_SECONDS,
    ] {
        let found = (0..store.len() as u32).any(|id| {
            let key = store.name(id);
            key.starts_with(&format!("{name}{{")) && key.ends_with(r#"host="local"}"#)
        });
        assert!(found, "{name} with host=\"local\" not scraped");
    }
}
