//! Any bytes through the remote-write decoder (snappy + protobuf): no panic, bounded memory;
//! both paths, straight into the store and through the receiver's batches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promig_telemetry::sources::prometheus::remote_write::{
    ingest_remote_write, Batch, Limits, Scratch,
};
use promig_telemetry::{IngestStats, Store};

fuzz_target!(|data: &[u8]| {
    let mut store = Store::new(8, 1_000);
    let mut stats = IngestStats::default();
    let mut scratch = Scratch::default();
    let _ = ingest_remote_write(&mut store, data, &mut scratch, &mut stats);
    // Also through snappy, so the protobuf decoder sees arbitrary (not just mis-compressed) input.
    let compressed = snap::raw::Encoder::new().compress_vec(data).unwrap();
    let _ = ingest_remote_write(&mut store, &compressed, &mut scratch, &mut stats);
    // The receiver's path: a batch, stored in two polls, offers exactly what it decoded.
    if let Ok(mut batch) = Batch::decode(&compressed, Limits::default(), &mut scratch) {
        let total = batch.len() as u64;
        let first = batch.ingest_until(&mut store, 0, &mut stats);
        let rest = batch.ingest_until(&mut store, i64::MAX, &mut stats);
        assert_eq!(first + rest, total);
        assert!(batch.is_empty());
    }
});
