//! Whatever bytes arrive, the parser neither panics nor disturbs what is already stored.

use promig_telemetry::sources::prometheus::ingest_text;
use promig_telemetry::{IngestStats, Store};
use proptest::prelude::*;

const REAL: &str = include_str!("../benches/fixtures/node_exporter.prom");

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_corrupt_stored_series(garbage in proptest::collection::vec(any::<u8>(), 0..2048), cut in 0usize..REAL.len()) {
        let mut store = Store::new(16, 10_000);
        let mut stats = IngestStats::default();
        ingest_text(&mut store, REAL.as_bytes(), 1_000, &mut stats);
        let snapshot: Vec<_> = (0..store.len() as u32).map(|id| store.samples(id)).collect();
        // A truncated real body followed by garbage, all at the same timestamp as before.
        let mut body = REAL.as_bytes()[..cut].to_vec();
        body.extend_from_slice(&garbage);
        ingest_text(&mut store, &body, 1_000, &mut stats);
        // Existing samples are kept (garbage may carry explicit later timestamps and append),
        // and every series stays finite and strictly time-ordered.
        for (id, before) in snapshot.iter().enumerate() {
            let after = store.samples(id as u32);
            prop_assert!(after.len() == 16 || after.starts_with(before));
        }
        for id in 0..store.len() as u32 {
            let s = store.samples(id);
            prop_assert!(s.iter().all(|(_, v)| v.is_finite()));
            prop_assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn mutated_real_lines_are_either_stored_or_counted(pos in 0usize..REAL.len(), byte in any::<u8>()) {
        let mut body = REAL.as_bytes().to_vec();
        body[pos] = byte;
        let mut store = Store::new(4, 10_000);
        let mut stats = IngestStats::default();
        ingest_text(&mut store, &body, 5, &mut stats);
        let lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count() as u64;
        prop_assert!(stats.accepted + stats.bad_lines + stats.non_finite + stats.duplicate + stats.out_of_order <= lines + 1);
        prop_assert!(stats.accepted + 2 >= lines - stats.bad_lines - stats.non_finite - stats.duplicate);
    }
}
