//! Scraping a real Prometheus node_exporter started on a loopback port.
//! Needs `prometheus-node-exporter` (apt-get install -y --no-install-recommends
//! prometheus-node-exporter); `PROMIG_SKIP_NODE_EXPORTER=1` skips locally, CI never sets it.

use promig_telemetry::sources::prometheus::scrape;
use promig_telemetry::{IngestStats, Store};
use std::time::Duration;

mod common;
use common::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_a_real_node_exporter_twice() {
    if std::env::var("PROMIG_SKIP_NODE_EXPORTER").is_ok_and(|v| v == "1") {
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
