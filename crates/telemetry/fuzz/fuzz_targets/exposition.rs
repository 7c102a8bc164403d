//! Any bytes through the exposition parser: no panic, and every stored series stays well formed
//! (finite values, strictly increasing timestamps) with its earlier samples kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promig_telemetry::sources::prometheus::{ingest_text, ingest_text_labelled};
use promig_telemetry::{IngestStats, Store};

fuzz_target!(|data: &[u8]| {
    let mut store = Store::new(8, 1_000);
    let mut stats = IngestStats::default();
    ingest_text(&mut store, b"up 1 100\nnode_load1{host=\"a\"} 0.5 100\n", 100, &mut stats);
    let before: Vec<_> = (0..store.len() as u32).map(|id| store.samples(id)).collect();
    ingest_text(&mut store, data, 100, &mut stats);
    // The scrape source's path, with a target label added to every key.
    let mut key = Vec::new();
    ingest_text_labelled(&mut store, data, 100, b"host=\"h\"", &mut key, &mut stats);
    for id in 0..store.len() as u32 {
        let s = store.samples(id);
        assert!(s.iter().all(|(_, v)| v.is_finite()));
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
    }
    for (id, b) in before.iter().enumerate() {
        // Capacity 8: the first sample survives unless at least 8 newer ones arrived.
        let after = store.samples(id as u32);
        assert!(after.len() == 8 || after.starts_with(b));
    }
});
