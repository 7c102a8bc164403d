//! Any bytes through the remote-write decoder (snappy + protobuf): no panic, bounded memory;
//! both paths, straight into the store and through the receiver's batches. A request refused
//! with an error must leave the store exactly as it was (all or nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use promig_telemetry::sources::prometheus::remote_write::{
    Batch, Limits, Scratch, ingest_remote_write,
};
use promig_telemetry::{IngestStats, Store};

/// Everything the store holds (values as bits, so NaN equals NaN).
fn contents(store: &Store) -> Vec<(Vec<u8>, Vec<(i64, u64)>)> {
    (0..store.len() as u32)
        .map(|id| {
            let samples = store
                .samples(id)
                .into_iter()
                .map(|(t, v)| (t, v.to_bits()))
                .collect();
            (store.key(id).to_vec(), samples)
        })
        .collect()
}

/// Ingests `body`; when it is refused, checks that the store did not change.
fn ingest(store: &mut Store, body: &[u8], scratch: &mut Scratch, stats: &mut IngestStats) {
    let before = contents(store);
    if let Err(e) = ingest_remote_write(store, body, scratch, stats) {
        assert!(
            contents(store) == before,
            "a refused request ({e}) changed the store"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut store = Store::new(8, 1_000);
    let mut stats = IngestStats::default();
    let mut scratch = Scratch::default();
    ingest(&mut store, data, &mut scratch, &mut stats);
    // Also through snappy, so the protobuf decoder sees arbitrary (not just mis-compressed) input.
    let compressed = snap::raw::Encoder::new().compress_vec(data).unwrap();
    ingest(&mut store, &compressed, &mut scratch, &mut stats);
    // The receiver's path: a batch, stored in two polls, offers exactly what it decoded.
    if let Ok(mut batch) = Batch::decode(&compressed, Limits::default(), &mut scratch) {
        let total = batch.len() as u64;
        let first = batch.ingest_until(&mut store, 0, &mut stats);
        let rest = batch.ingest_until(&mut store, i64::MAX, &mut stats);
        assert_eq!(first + rest, total);
        assert!(batch.is_empty());
    }
});
