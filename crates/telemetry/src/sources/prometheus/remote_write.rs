//! Prometheus remote-write, pushed: an HTTP receiver for snappy-compressed protobuf
//! `WriteRequest`s, so a Prometheus server, agent or vmagent can stream into promig.
//!
//! The protobuf decoding is hand-written over borrowed bytes (the message has five fields that
//! matter): generated decoders build a `String` per label and a `Vec` per series, which would make
//! ingestion allocation-bound. Series keys are rebuilt in the exposition form
//! (`name{a="x",b="y"}`) in a reused buffer, so scraped and pushed samples of one series meet.

use crate::store::{IngestStats, Store};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use std::sync::{Arc, Mutex};

/// Largest compressed body accepted (Prometheus sends about 1-2 MiB at most by default).
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
#[derive(Debug, Default)]
pub struct Scratch {
    raw: Vec<u8>,
    key: Vec<u8>,
    labels: Vec<u8>,
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

/// Decodes one `TimeSeries` into the store.
fn time_series(
    ts: &[u8],
    store: &mut Store,
    key_buf: &mut Vec<u8>,
    label_block: &mut Vec<u8>,
    stats: &mut IngestStats,
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
    let id = store.series(key_buf);
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
                            .ok_or(DecodeError::Protobuf("truncated double"))?
                            .try_into()
                            .expect("8 bytes");
                        value = f64::from_le_bytes(bytes);
                        p += 8;
                    }
                    (2, 0) => ts_ms = varint(sample, &mut p)? as i64,
                    _ => skip(sample, &mut p, w)?,
                }
            }
            match id {
                Some(id) => store.append(id, ts_ms, value, stats),
                None => stats.unknown_series += 1,
            }
        } else {
            skip(ts, &mut pos, wire)?;
        }
    }
    Ok(())
}

/// Decodes a snappy-compressed `WriteRequest` body into the store.
pub fn ingest_remote_write(
    store: &mut Store,
    body: &[u8],
    scratch: &mut Scratch,
    stats: &mut IngestStats,
) -> Result<(), DecodeError> {
    if body.len() > MAX_COMPRESSED_BYTES {
        stats.oversized += 1;
        return Err(DecodeError::Oversized(body.len()));
    }
    let n = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if n > MAX_DECOMPRESSED_BYTES {
        stats.oversized += 1;
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
                time_series(ts, store, &mut scratch.key, &mut scratch.labels, stats)?;
            } else {
                skip(&raw, &mut pos, wire)?;
            }
        }
        Ok(())
    })();
    scratch.raw = raw;
    if result.is_err() {
        stats.bad_lines += 1;
    }
    result
}

/// What the receiver shares between requests.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// The store samples go to.
    pub store: Arc<Mutex<Store>>,
    /// Counters of this source.
    pub stats: Arc<Mutex<IngestStats>>,
    scratch: Arc<Mutex<Scratch>>,
}

impl Receiver {
    /// A receiver writing into `store`.
    pub fn new(store: Arc<Mutex<Store>>) -> Self {
        Receiver {
            store,
            stats: Arc::default(),
            scratch: Arc::default(),
        }
    }

    /// The HTTP routes (`POST /api/v1/write`), for serving with axum.
    pub fn router(self) -> Router {
        Router::new()
            .route("/api/v1/write", post(write))
            .layer(DefaultBodyLimit::max(MAX_COMPRESSED_BYTES))
            .with_state(self)
    }
}

async fn write(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    let mut scratch = r.scratch.lock().expect("scratch lock");
    let mut store = r.store.lock().expect("store lock");
    let mut stats = r.stats.lock().expect("stats lock");
    match ingest_remote_write(&mut store, &body, &mut scratch, &mut stats) {
        Ok(()) => StatusCode::NO_CONTENT,
        // 400 tells Prometheus not to retry a request that can never succeed.
        Err(_) => StatusCode::BAD_REQUEST,
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
    }
}
