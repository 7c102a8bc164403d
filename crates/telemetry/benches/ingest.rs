//! Ingestion speed, in samples per second on one core, against the machine's memory-bandwidth
//! bound measured in the same run (reading the same bytes once, which any parser must do).
//! Run with `cargo bench -p promig-telemetry`.

use promig_telemetry::sources::prometheus::ingest_text;
use promig_telemetry::{IngestStats, Store};

fn main() {
    divan::main();
}

/// A real node_exporter 1.5 scrape (507 samples, 57 KB), repeated 100 times with advancing
/// timestamps so every sample is accepted.
fn payload() -> (Vec<Vec<u8>>, usize) {
    let text = include_str!("fixtures/node_exporter.prom");
    let samples = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    (vec![text.as_bytes().to_vec(); 100], samples)
}

#[divan::bench]
fn exposition_text(bencher: divan::Bencher) {
    let (bodies, samples) = payload();
    bencher
        .counter(divan::counter::ItemsCount::new(samples * bodies.len()))
        .bench_local(|| {
            let mut store = Store::new(128, 10_000);
            let mut stats = IngestStats::default();
            for (i, b) in bodies.iter().enumerate() {
                ingest_text(&mut store, b, i as i64 * 15_000, &mut stats);
            }
            assert!(stats.accepted > 0);
            stats.accepted
        });
}

/// The bound: reading every byte once, 8 at a time (vectorised by the compiler).
#[divan::bench]
fn memory_read_bound(bencher: divan::Bencher) {
    let (bodies, samples) = payload();
    bencher
        .counter(divan::counter::ItemsCount::new(samples * bodies.len()))
        .bench_local(|| {
            let mut acc = 0u64;
            for b in &bodies {
                for chunk in b.chunks_exact(8) {
                    acc = acc.wrapping_add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
                }
            }
            divan::black_box(acc)
        });
}

/// A metric name, its labels and its value, as read from the fixture.
type ParsedLine = (String, Vec<(String, String)>, f64);

/// The same node_exporter samples as a remote-write stream: 100 requests of 507 series each.
#[divan::bench]
fn remote_write(bencher: divan::Bencher) {
    use promig_telemetry::sources::prometheus::remote_write::{
        Scratch, encode, ingest_remote_write,
    };
    let text = include_str!("fixtures/node_exporter.prom");
    let series: Vec<ParsedLine> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match key.split_once('{') {
                Some((n, rest)) => (n.to_string(), rest.trim_end_matches('}').to_string()),
                None => (key.to_string(), String::new()),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            Some((name, labels, value))
        })
        .collect();
    let bodies: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            let req: Vec<promig_telemetry::sources::prometheus::remote_write::SeriesToEncode> =
                series
                    .iter()
                    .map(|(n, ls, v)| {
                        let mut labels = vec![("__name__", n.as_str())];
                        labels.extend(ls.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                        (labels, vec![(*v, i as i64 * 15_000)])
                    })
                    .collect();
            encode(&req)
        })
        .collect();
    let samples = series.len() * bodies.len();
    bencher
        .counter(divan::counter::ItemsCount::new(samples))
        .bench_local(|| {
            let mut store = Store::new(128, 10_000);
            let mut stats = IngestStats::default();
            let mut scratch = Scratch::default();
            for b in &bodies {
                ingest_remote_write(&mut store, b, &mut scratch, &mut stats).unwrap();
            }
            assert_eq!(stats.accepted as usize, samples);
            stats.accepted
        });
}
