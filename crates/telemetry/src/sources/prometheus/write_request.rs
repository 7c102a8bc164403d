//! The remote-write wire format: snappy-compressed protobuf `WriteRequest`s (remote-write 1.0),
//! decoded into a [`Batch`] that is stored at once ([`ingest_remote_write`]) or that the HTTP
//! receiver hands to the loop owning the store.
//!
//! A request is all or nothing: it is decoded completely before any sample reaches the store, so
//! a body refused as corrupt (400) or oversized (413) leaves the store exactly as it was. Storing
//! the series decoded before the corruption would make a retry by the sender, or its next batch,
//! land on half a request, and "refused" would not mean "nothing happened".
//!
//! The protobuf decoding is hand-written over borrowed bytes (the message has five fields that
//! matter): generated decoders build a `String` per label and a `Vec` per series, which would make
//! ingestion allocation-bound. Series keys are rebuilt in the exposition form
//! (`name{a="x",b="y"}`) in a reused buffer, so scraped and pushed samples of one series meet.

use crate::store::{IngestStats, SeriesId, Store};

/// Largest compressed body [`ingest_remote_write`] accepts (Prometheus sends about 1-2 MiB at most
/// by default); the receiver takes its limits from its configuration.
pub const MAX_COMPRESSED_BYTES: usize = 32 << 20;
/// Largest decompressed body accepted.
pub const MAX_DECOMPRESSED_BYTES: usize = 128 << 20;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The snappy block is corrupt.
    #[error("snappy: {0}")]
    Snappy(String),
    /// The protobuf is malformed.
    #[error("protobuf: {0}")]
    Protobuf(&'static str),
    /// Too large.
    #[error("body of {0} bytes is over the limit")]
    Oversized(usize),
}

/// Buffers reused across requests.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    raw: Vec<u8>,
    key: Vec<u8>,
    labels: Vec<u8>,
    /// Where [`ingest_remote_write`] stages a request before storing it, kept so that staging
    /// allocates nothing once the buffers have grown to the largest request seen.
    staged: Batch,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf
            .get(*pos)
            .ok_or(DecodeError::Protobuf("truncated varint"))?;
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(DecodeError::Protobuf("varint too long"))
}

/// Reads a field header; returns (field number, wire type).
fn key(buf: &[u8], pos: &mut usize) -> Result<(u64, u8), DecodeError> {
    let k = varint(buf, pos)?;
    Ok((k >> 3, (k & 7) as u8))
}

fn len_delimited<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let n = varint(buf, pos)? as usize;
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= buf.len())
        .ok_or(DecodeError::Protobuf("length past the end"))?;
    let s = &buf[*pos..end];
    *pos = end;
    Ok(s)
}

fn skip(buf: &[u8], pos: &mut usize, wire: u8) -> Result<(), DecodeError> {
    match wire {
        0 => {
            varint(buf, pos)?;
        }
        1 => {
            *pos = pos
                .checked_add(8)
                .filter(|&e| e <= buf.len())
                .ok_or(DecodeError::Protobuf("truncated fixed64"))?
        }
        2 => {
            len_delimited(buf, pos)?;
        }
        5 => {
            *pos = pos
                .checked_add(4)
                .filter(|&e| e <= buf.len())
                .ok_or(DecodeError::Protobuf("truncated fixed32"))?
        }
        _ => return Err(DecodeError::Protobuf("unknown wire type")),
    }
    Ok(())
}

/// Appends `v` escaped as in the exposition format.
fn push_escaped(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Decodes one `TimeSeries` into the batch.
fn time_series(
    ts: &[u8],
    sink: &mut Batch,
    key_buf: &mut Vec<u8>,
    label_block: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    // Pass 1: labels, into the key (Prometheus sends them sorted by name, __name__ first).
    key_buf.clear();
    let mut name: &[u8] = b"";
    let mut pos = 0;
    let mut others = 0;
    label_block.clear();
    while pos < ts.len() {
        let (field, wire) = key(ts, &mut pos)?;
        if field == 1 && wire == 2 {
            let label = len_delimited(ts, &mut pos)?;
            let (mut lname, mut lvalue): (&[u8], &[u8]) = (b"", b"");
            let mut p = 0;
            while p < label.len() {
                let (f, w) = key(label, &mut p)?;
                match (f, w) {
                    (1, 2) => lname = len_delimited(label, &mut p)?,
                    (2, 2) => lvalue = len_delimited(label, &mut p)?,
                    _ => skip(label, &mut p, w)?,
                }
            }
            if lname == b"__name__" {
                name = lvalue;
            } else {
                if others > 0 {
                    label_block.push(b',');
                }
                label_block.extend_from_slice(lname);
                label_block.extend_from_slice(b"=\"");
                push_escaped(label_block, lvalue);
                label_block.push(b'"');
                others += 1;
            }
        } else {
            skip(ts, &mut pos, wire)?;
        }
    }
    key_buf.extend_from_slice(name);
    if others > 0 {
        key_buf.push(b'{');
        key_buf.extend_from_slice(label_block);
        key_buf.push(b'}');
    }
    sink.series(key_buf);
    // Pass 2: samples.
    let mut pos = 0;
    while pos < ts.len() {
        let (field, wire) = key(ts, &mut pos)?;
        if field == 2 && wire == 2 {
            let sample = len_delimited(ts, &mut pos)?;
            let (mut value, mut ts_ms) = (0.0f64, 0i64);
            let mut p = 0;
            while p < sample.len() {
                let (f, w) = key(sample, &mut p)?;
                match (f, w) {
                    (1, 1) => {
                        let bytes: [u8; 8] = sample
                            .get(p..p + 8)
                            .and_then(|b| b.try_into().ok())
                            .ok_or(DecodeError::Protobuf("truncated double"))?;
                        value = f64::from_le_bytes(bytes);
                        p += 8;
                    }
                    // int64 on the wire: a negative time is a ten-byte two's-complement varint.
                    (2, 0) => ts_ms = varint(sample, &mut p)? as i64,
                    _ => skip(sample, &mut p, w)?,
                }
            }
            sink.sample(ts_ms, value);
        } else {
            skip(ts, &mut pos, wire)?;
        }
    }
    Ok(())
}

/// Size limits of one request, compressed and once decompressed (the snappy header announces
/// the second, so an oversized body is refused before anything is allocated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body as received.
    pub compressed_bytes: usize,
    /// Largest body once decompressed.
    pub decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            compressed_bytes: MAX_COMPRESSED_BYTES,
            decompressed_bytes: MAX_DECOMPRESSED_BYTES,
        }
    }
}

/// Decompresses `body` and appends every series and sample to `sink`; on an error `sink` holds
/// a partial request, which callers discard.
fn decode(
    body: &[u8],
    limits: Limits,
    scratch: &mut Scratch,
    sink: &mut Batch,
) -> Result<(), DecodeError> {
    if body.len() > limits.compressed_bytes {
        return Err(DecodeError::Oversized(body.len()));
    }
    let n = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if n > limits.decompressed_bytes {
        return Err(DecodeError::Oversized(n));
    }
    scratch.raw.resize(n, 0);
    snap::raw::Decoder::new()
        .decompress(body, &mut scratch.raw)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    let raw = std::mem::take(&mut scratch.raw);
    let result = (|| {
        let mut pos = 0;
        while pos < raw.len() {
            let (field, wire) = key(&raw, &mut pos)?;
            if field == 1 && wire == 2 {
                let ts = len_delimited(&raw, &mut pos)?;
                time_series(ts, sink, &mut scratch.key, &mut scratch.labels)?;
            } else {
                skip(&raw, &mut pos, wire)?;
            }
        }
        Ok(())
    })();
    scratch.raw = raw;
    result
}

/// Decodes a snappy-compressed `WriteRequest` body into the store (limits: [`Limits::default`]),
/// all or nothing: the whole body is decoded first (into `scratch`), and only a body that
/// decodes completely is stored. An oversized body counts as `oversized`, a corrupt one as one
/// bad line, and neither changes the store.
pub fn ingest_remote_write(
    store: &mut Store,
    body: &[u8],
    scratch: &mut Scratch,
    stats: &mut IngestStats,
) -> Result<(), DecodeError> {
    let mut staged = std::mem::take(&mut scratch.staged);
    staged.clear();
    let result = decode(body, Limits::default(), scratch, &mut staged);
    match &result {
        Ok(()) => {
            staged.ingest_until(store, i64::MAX, stats);
        }
        Err(DecodeError::Oversized(_)) => stats.oversized += 1,
        Err(_) => stats.bad_lines += 1,
    }
    // Empty either way (stored in full, or refused): only its capacity is kept for the next.
    staged.clear();
    scratch.staged = staged;
    result
}

/// One sample of a [`Batch`], pointing at its series' key.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BatchSample {
    series: u32,
    ts_ms: i64,
    value: f64,
}

/// The samples of one request, decoded but not stored yet: what the HTTP receiver hands over
/// its channel to the loop that owns the store. Keys are kept back to back in one buffer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    samples: Vec<BatchSample>,
}

impl Batch {
    /// A new series starts; its samples follow.
    fn series(&mut self, key: &[u8]) {
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len());
    }

    /// A sample of the current series.
    fn sample(&mut self, ts_ms: i64, value: f64) {
        self.samples.push(BatchSample {
            // A request holds far fewer than 2^32 series (the size limits see to it).
            series: (self.key_ends.len() - 1) as u32,
            ts_ms,
            value,
        });
    }

    /// Forgets every series and sample, keeping the buffers.
    fn clear(&mut self) {
        self.keys.clear();
        self.key_ends.clear();
        self.samples.clear();
    }

    /// Decodes a whole request; nothing of a corrupt or oversized one is kept.
    pub fn decode(body: &[u8], limits: Limits, scratch: &mut Scratch) -> Result<Self, DecodeError> {
        let mut batch = Batch::default();
        decode(body, limits, scratch, &mut batch)?;
        Ok(batch)
    }

    /// Samples waiting to be stored.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when no sample waits.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    fn key(&self, series: u32) -> &[u8] {
        let i = series as usize;
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        &self.keys[start..self.key_ends[i]]
    }

    /// Offers the store every sample stamped at or before `until_ms` and keeps the later ones
    /// (a sender whose clock runs ahead) for a later call; returns how many were offered.
    pub fn ingest_until(
        &mut self,
        store: &mut Store,
        until_ms: i64,
        stats: &mut IngestStats,
    ) -> u64 {
        let mut offered = 0;
        let mut current: Option<(u32, Option<SeriesId>)> = None;
        let mut kept = 0;
        for i in 0..self.samples.len() {
            let s = self.samples[i];
            if s.ts_ms > until_ms {
                self.samples[kept] = s;
                kept += 1;
                continue;
            }
            // Samples of one series are contiguous: one lookup per series.
            let id = match current {
                Some((series, id)) if series == s.series => id,
                _ => {
                    let id = store.series(self.key(s.series));
                    current = Some((s.series, id));
                    id
                }
            };
            match id {
                Some(id) => store.append(id, s.ts_ms, s.value, stats),
                None => stats.unknown_series += 1,
            }
            offered += 1;
        }
        self.samples.truncate(kept);
        if kept == 0 {
            self.keys.clear();
            self.key_ends.clear();
        }
        offered
    }
}

/// One series to encode: labels (including `__name__`) and (value, timestamp ms) samples.
pub type SeriesToEncode<'a> = (Vec<(&'a str, &'a str)>, Vec<(f64, i64)>);

/// Encodes a `WriteRequest` (used by tests and benchmarks to produce real-format payloads).
pub fn encode(series: &[SeriesToEncode<'_>]) -> Vec<u8> {
    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn put_len(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        put_varint(out, (field << 3) | 2);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    let mut req = Vec::new();
    for (labels, samples) in series {
        let mut ts = Vec::new();
        for (n, v) in labels {
            let mut l = Vec::new();
            put_len(&mut l, 1, n.as_bytes());
            put_len(&mut l, 2, v.as_bytes());
            put_len(&mut ts, 1, &l);
        }
        for (v, t) in samples {
            let mut s = Vec::new();
            put_varint(&mut s, 1 << 3 | 1);
            s.extend_from_slice(&v.to_le_bytes());
            put_varint(&mut s, 2 << 3);
            put_varint(&mut s, *t as u64);
            put_len(&mut ts, 2, &s);
        }
        put_len(&mut req, 1, &ts);
    }
    snap::raw::Encoder::new()
        .compress_vec(&req)
        .expect("snappy compression of an in-memory buffer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_gives_exposition_keys() {
        let body = encode(&[
            (
                vec![("__name__", "up"), ("instance", "a:1"), ("job", "node")],
                vec![(1.0, 1000), (0.0, 2000)],
            ),
            (vec![("__name__", "temp")], vec![(40.5, 1000)]),
        ]);
        let mut store = Store::new(8, 100);
        let mut stats = IngestStats::default();
        ingest_remote_write(&mut store, &body, &mut Scratch::default(), &mut stats).unwrap();
        let up = store.find(r#"up{instance="a:1",job="node"}"#).unwrap();
        assert_eq!(store.samples(up), vec![(1000, 1.0), (2000, 0.0)]);
        assert_eq!(
            store.latest(store.find("temp").unwrap()),
            Some((1000, 40.5))
        );
        assert_eq!(stats.accepted, 3);
    }

    #[test]
    fn corrupt_bodies_are_refused_without_panics() {
        let mut store = Store::new(8, 100);
        let mut stats = IngestStats::default();
        let mut s = Scratch::default();
        assert!(ingest_remote_write(&mut store, b"not snappy at all", &mut s, &mut stats).is_err());
        let good = encode(&[(vec![("__name__", "x")], vec![(1.0, 1)])]);
        // Truncated protobuf inside valid snappy.
        let raw = snap::raw::Decoder::new().decompress_vec(&good).unwrap();
        let cut = snap::raw::Encoder::new()
            .compress_vec(&raw[..raw.len() - 3])
            .unwrap();
        assert!(ingest_remote_write(&mut store, &cut, &mut s, &mut stats).is_err());
        assert!(Batch::decode(&cut, Limits::default(), &mut s).is_err());
        let small = Limits {
            compressed_bytes: 4,
            decompressed_bytes: 1 << 20,
        };
        assert!(matches!(
            Batch::decode(&good, small, &mut s),
            Err(DecodeError::Oversized(_))
        ));
    }

    #[test]
    fn a_batch_stores_what_is_due_and_keeps_the_rest() {
        let body = encode(&[
            (
                vec![("__name__", "up"), ("job", "node")],
                vec![(1.0, 1000), (0.0, 3000)],
            ),
            (vec![("__name__", "temp")], vec![(40.5, 2000)]),
        ]);
        let mut batch = Batch::decode(&body, Limits::default(), &mut Scratch::default()).unwrap();
        assert_eq!(batch.len(), 3);
        let mut store = Store::new(8, 100);
        let mut stats = IngestStats::default();
        assert_eq!(batch.ingest_until(&mut store, 2000, &mut stats), 2);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.ingest_until(&mut store, 2000, &mut stats), 0);
        assert_eq!(batch.ingest_until(&mut store, i64::MAX, &mut stats), 1);
        assert!(batch.is_empty());
        let up = store.find(r#"up{job="node"}"#).unwrap();
        assert_eq!(store.samples(up), vec![(1000, 1.0), (3000, 0.0)]);
        assert_eq!(stats.accepted, 3);
    }
}
