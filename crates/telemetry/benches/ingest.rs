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
