//! A real Prometheus server scrapes a real node_exporter and remote-writes into promig's receiver,
//! all on loopback. Needs the Debian packages `prometheus` and `prometheus-node-exporter`;
//! `PROMIG_SKIP_PROMETHEUS=1` skips locally (saying so on stderr); `.ci/run` refuses to run with
//! it set.

use promig_telemetry::sources::prometheus::RemoteWriteSource;
use promig_telemetry::sources::prometheus::remote_write::RemoteWriteStats;
use promig_telemetry::{Source, Store};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, skip_requested};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn spawn(program: &str, args: &[String]) -> tokio::process::Child {
    tokio::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (apt-get install -y --no-install-recommends prometheus prometheus-node-exporter)"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_streams_node_exporter_metrics_into_promig() {
    if skip_requested("PROMIG_SKIP_PROMETHEUS", "a real Prometheus server") {
        return;
    }
    // The receiver serves on its own thread; this test is the loop that owns the store.
    let mut store = Store::new(64, 100_000);
    let mut source = RemoteWriteSource::new(
        toml::from_str(r#"listen = "127.0.0.1:0""#).expect("a valid remote-write config"),
    )
    .unwrap();
    let rw_url = source.url();

    let node = format!("127.0.0.1:{}", free_port());
    let _node = spawn(
        "prometheus-node-exporter",
        &[format!("--web.listen-address={node}")],
    );

    let dir = std::env::temp_dir().join(format!("promig-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{node}']\nremote_write:\n  - url: {rw_url}\n    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n      max_backoff: 1s\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let _prom = spawn(
        "prometheus",
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{}", free_port()),
        ],
    );

    let key = format!(r#"up{{instance="{node}",job="node"}}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Prometheus stamps samples with its own clock, which is ours: poll up to now.
        source.poll(&mut store, now_ms()).unwrap();
        let s = &store;
        let cpu = (0..s.len() as u32).find(|&id| {
            let n = s.name(id);
            n.starts_with("node_cpu_seconds_total{")
                && n.contains(r#"mode="idle""#)
                && n.contains(&node)
        });
        if let (Some(up), Some(cpu)) = (s.find(&key), cpu)
            && s.samples(cpu).len() >= 2
        {
            assert_eq!(s.latest(up).unwrap().1, 1.0);
            let samples = s.samples(cpu);
            assert!(
                samples[1].0 > samples[0].0 && samples[1].1 >= samples[0].1,
                "{samples:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no node_exporter samples arrived via remote-write: {:?} {:?}",
            source.stats(),
            source.receiver_stats()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let st = source.stats().clone();
    assert!(st.accepted > 500, "{st:?}");
    assert_eq!(st.bad_lines, 0, "{st:?}");
    let rw: RemoteWriteStats = source.receiver_stats();
    assert_eq!((rw.bad_requests, rw.oversized_requests), (0, 0), "{rw:?}");
    assert!(rw.batches_queued > 0, "{rw:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
