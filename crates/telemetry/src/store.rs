//! The time-series store: one ring buffer per series, allocated when the series first appears,
//! never grown afterwards; per-source counters of everything that was refused.

use std::collections::HashMap;

/// Index of a series in the store.
pub type SeriesId = u32;

/// Why samples were refused, counted per source so an operator sees which exporter misbehaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestStats {
    /// Samples stored.
    pub accepted: u64,
    /// Lines that are not valid exposition format.
    pub bad_lines: u64,
    /// NaN or infinite values.
    pub non_finite: u64,
    /// Timestamps older than the series' newest sample.
    pub out_of_order: u64,
    /// Timestamps equal to the series' newest sample.
    pub duplicate: u64,
    /// New series refused because the store is full.
    pub unknown_series: u64,
    /// Bodies over the size limit.
    pub oversized: u64,
}

impl IngestStats {
    /// Everything refused, whatever the reason: what an operator alarms on.
    pub fn refused(&self) -> u64 {
        self.bad_lines
            + self.non_finite
            + self.out_of_order
            + self.duplicate
            + self.unknown_series
            + self.oversized
    }

    /// Everything a source put before the store (`accepted + refused`), so the counters can be
    /// checked against what [`crate::Source::poll`] returned: nothing is lost without a count.
    pub fn offered(&self) -> u64 {
        self.accepted + self.refused()
    }

    /// Adds another set of counters to this one (a source's total over its targets).
    pub fn add(&mut self, other: &IngestStats) {
        self.accepted += other.accepted;
        self.bad_lines += other.bad_lines;
        self.non_finite += other.non_finite;
        self.out_of_order += other.out_of_order;
        self.duplicate += other.duplicate;
        self.unknown_series += other.unknown_series;
        self.oversized += other.oversized;
    }
}

#[derive(Debug, Clone)]
struct Ring {
    ts_ms: Box<[i64]>,
    values: Box<[f64]>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(cap: usize) -> Self {
        Ring {
            ts_ms: vec![0; cap].into_boxed_slice(),
            values: vec![0.0; cap].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    fn newest_ts(&self) -> Option<i64> {
        // A branch instead of `%`: an integer division per sample is measurable at 10 M/s.
        let newest = if self.head == 0 {
            self.ts_ms.len() - 1
        } else {
            self.head - 1
        };
        (self.len > 0).then(|| self.ts_ms[newest])
    }

    fn push(&mut self, ts: i64, v: f64) {
        let cap = self.ts_ms.len();
        self.ts_ms[self.head] = ts;
        self.values[self.head] = v;
        self.head += 1;
        if self.head == cap {
            self.head = 0;
        }
        if self.len < cap {
            self.len += 1;
        }
    }
}

/// Word-at-a-time multiplicative hash (FxHash's mixing over 8-byte words, then a final
/// avalanche): series keys are 20-100 bytes and hashed on every sample, so a byte-at-a-time hash
/// was the parser's largest cost. Deterministic, so runs are reproducible.
pub fn series_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("chunks_exact yields 8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    // Final avalanche (from MurmurHash3's fmix64) so every key bit reaches the low bits.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// The index is keyed by [`series_hash`] already, so its map needs no second hash.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Fixed-memory store of many series.
#[derive(Debug, Clone)]
pub struct Store {
    capacity_per_series: usize,
    max_series: usize,
    index: HashMap<u64, SeriesId, std::hash::BuildHasherDefault<PassThrough>>,
    /// Keys whose fast hash collides with an earlier series' (the fast hash is not
    /// collision-free: `vm="109"` and `vm="184"` once shared one ring). Looked up only after the
    /// key check on the fast path fails, so it costs nothing until a collision happens.
    collided: HashMap<Box<[u8]>, SeriesId>,
    /// Every key's raw bytes back to back (one allocation, so the check on each sample reads
    /// memory near the other keys), and where each ends.
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    rings: Vec<Ring>,
}

impl Store {
    /// A store keeping `capacity_per_series` samples of at most `max_series` series.
    pub fn new(capacity_per_series: usize, max_series: usize) -> Self {
        Store {
            capacity_per_series: capacity_per_series.max(1),
            max_series,
            index: HashMap::default(),
            collided: HashMap::new(),
            keys: Vec::new(),
            key_ends: Vec::new(),
            rings: Vec::new(),
        }
    }

    /// The series for a canonical key (`name{labels}` as exposed), creating it if there is room.
    pub fn series(&mut self, key: &[u8]) -> Option<SeriesId> {
        let h = series_hash(key);
        match self.index.get(&h) {
            Some(&id) if self.key(id) == key => return Some(id),
            Some(_) => {
                if let Some(&id) = self.collided.get(key) {
                    return Some(id);
                }
            }
            None => {}
        }
        if self.rings.len() >= self.max_series {
            return None;
        }
        let id = self.rings.len() as SeriesId;
        match self.index.entry(h) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.into(), id);
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(id);
            }
        }
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len());
        self.rings.push(Ring::new(self.capacity_per_series));
        Some(id)
    }

    /// Looks a series up without creating it.
    pub fn find(&self, key: &str) -> Option<SeriesId> {
        match self.index.get(&series_hash(key.as_bytes())) {
            Some(&id) if self.key(id) == key.as_bytes() => Some(id),
            Some(_) => self.collided.get(key.as_bytes()).copied(),
            None => None,
        }
    }

    /// Appends a sample, refusing non-finite values and timestamps that do not move forward.
    pub fn append(&mut self, id: SeriesId, ts_ms: i64, value: f64, stats: &mut IngestStats) {
        if !value.is_finite() {
            stats.non_finite += 1;
            return;
        }
        let ring = &mut self.rings[id as usize];
        match ring.newest_ts() {
            Some(t) if ts_ms < t => stats.out_of_order += 1,
            Some(t) if ts_ms == t => stats.duplicate += 1,
            _ => {
                ring.push(ts_ms, value);
                stats.accepted += 1;
            }
        }
    }

    /// Samples of a series, oldest first.
    pub fn samples(&self, id: SeriesId) -> Vec<(i64, f64)> {
        let r = &self.rings[id as usize];
        let cap = r.ts_ms.len();
        (0..r.len)
            .map(|i| {
                let k = (r.head + cap - r.len + i) % cap;
                (r.ts_ms[k], r.values[k])
            })
            .collect()
    }

    /// Most recent value of a series.
    pub fn latest(&self, id: SeriesId) -> Option<(i64, f64)> {
        let r = &self.rings[id as usize];
        let cap = r.ts_ms.len();
        (r.len > 0).then(|| {
            let k = (r.head + cap - 1) % cap;
            (r.ts_ms[k], r.values[k])
        })
    }

    /// Newest sample of a series at or before `at_ms`: what a reader asking "what was true at
    /// that time" wants even when later samples have arrived since.
    pub fn latest_at(&self, id: SeriesId, at_ms: i64) -> Option<(i64, f64)> {
        self.newest_first(id).find(|&(t, _)| t <= at_ms)
    }

    /// Samples of a series, newest first, without allocating (readers walk back only as far as
    /// they need, e.g. a VM's utilisation history).
    pub fn newest_first(&self, id: SeriesId) -> impl Iterator<Item = (i64, f64)> + '_ {
        let r = &self.rings[id as usize];
        let cap = r.ts_ms.len();
        (0..r.len).map(move |i| {
            // head - 1 - i, wrapped into the ring.
            let k = (r.head + cap - 1 - i) % cap;
            (r.ts_ms[k], r.values[k])
        })
    }

    /// Number of samples a series holds now (at most the capacity per series).
    pub fn sample_count(&self, id: SeriesId) -> usize {
        self.rings[id as usize].len
    }

    /// Samples each series can hold.
    pub fn capacity_per_series(&self) -> usize {
        self.capacity_per_series
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    /// True when no series exists.
    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// The raw key of a series, as it was first seen.
    pub fn key(&self, id: SeriesId) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.key_ends[id - 1] };
        &self.keys[start..self.key_ends[id]]
    }

    /// Name (key) of a series, for display (bytes that are not UTF-8 shown as U+FFFD).
    pub fn name(&self, id: SeriesId) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.key(id))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn colliding_keys_keep_separate_series() {
        // These two keys share a fast hash; they must still be two series.
        let a = br#"promig_vm_cpu_utilisation{vm="109",dc="default-nfv-pop"}"#;
        let b = br#"promig_vm_cpu_utilisation{vm="184",dc="default-nfv-pop"}"#;
        assert_eq!(super::series_hash(a), super::series_hash(b));
        let mut store = super::Store::new(4, 8);
        let (ia, ib) = (store.series(a).unwrap(), store.series(b).unwrap());
        assert_ne!(ia, ib);
        assert_eq!(store.series(b), Some(ib));
        assert_eq!(store.find(std::str::from_utf8(a).unwrap()), Some(ia));
        assert_eq!(store.find(std::str::from_utf8(b).unwrap()), Some(ib));
        let mut stats = super::IngestStats::default();
        store.append(ia, 1, 1.0, &mut stats);
        store.append(ib, 1, 2.0, &mut stats);
        assert_eq!(stats.accepted, 2);
        assert_eq!(store.samples(ib), vec![(1, 2.0)]);
    }

    #[test]
    fn a_key_that_is_not_utf8_is_still_one_series() {
        let mut store = super::Store::new(4, 8);
        let k = b"m{l=\"\xff\"}";
        let id = store.series(k).unwrap();
        assert_eq!(store.series(k), Some(id));
        assert_eq!(store.len(), 1);
        assert_eq!(store.key(id), k);
    }

    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_refuses_the_past() {
        let mut s = Store::new(3, 10);
        let mut st = IngestStats::default();
        let id = s.series(b"up").unwrap();
        for t in [1, 2, 3, 4] {
            s.append(id, t, t as f64, &mut st);
        }
        s.append(id, 4, 9.0, &mut st);
        s.append(id, 2, 9.0, &mut st);
        s.append(id, 5, f64::NAN, &mut st);
        assert_eq!(s.samples(id), vec![(2, 2.0), (3, 3.0), (4, 4.0)]);
        let back: Vec<_> = s.newest_first(id).collect();
        assert_eq!(back, vec![(4, 4.0), (3, 3.0), (2, 2.0)]);
        assert_eq!(s.latest_at(id, 3), Some((3, 3.0)));
        assert_eq!(s.latest_at(id, 1), None);
        assert_eq!(s.sample_count(id), 3);
        assert_eq!(
            (st.accepted, st.duplicate, st.out_of_order, st.non_finite),
            (4, 1, 1, 1)
        );
    }

    #[test]
    fn full_store_refuses_new_series() {
        let mut s = Store::new(2, 1);
        assert!(s.series(b"a").is_some());
        assert!(s.series(b"a").is_some());
        assert!(s.series(b"b").is_none());
    }
}
