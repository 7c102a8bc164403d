//! A refused body changes nothing: every path that can refuse one (remote-write's free function
//! and its HTTP receiver, scraping's `fetch`, `scrape` and `ScrapeSource`) is fed a corrupt or
//! oversized body over its real path, and must count the refusal and leave the store exactly as
//! it was (same series, same samples). A store holding half a request would make the sender's
//! retry, or its next batch, land on top of data it was told was refused.

use promig_telemetry::sources::prometheus::remote_write::{
    DecodeError, MAX_COMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES, Scratch, encode, ingest_remote_write,
};
use promig_telemetry::sources::prometheus::scrape::MAX_BODY_BYTES;
use promig_telemetry::sources::prometheus::{
    RemoteWriteSource, ScrapeConfig, ScrapeSource, ScrapeTarget, fetch, scrape,
};
use promig_telemetry::{IngestStats, Source, Store, TelemetryError};
use std::time::Duration;

mod common;
use common::{contents, post_remote_write, serve_metrics};

/// What the store holds before each refused body: one series with two samples.
fn prefilled() -> Store {
    let mut store = Store::new(16, 64);
    let body = encode(&[(
        vec![("__name__", "up"), ("job", "node")],
        vec![(1.0, 1_000), (1.0, 2_000)],
    )]);
    ingest_remote_write(
        &mut store,
        &body,
        &mut Scratch::default(),
        &mut IngestStats::default(),
    )
    .unwrap();
    store
}

/// The decompressed protobuf of two series: the first appends to the prefilled one, the second
/// would be new.
fn two_series_raw() -> Vec<u8> {
    let body = encode(&[
        (
            vec![("__name__", "up"), ("job", "node")],
            vec![(0.0, 3_000)],
        ),
        (vec![("__name__", "temp")], vec![(40.5, 3_000)]),
    ]);
    snap::raw::Decoder::new().decompress_vec(&body).unwrap()
}

fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

/// Valid snappy around a protobuf whose second series is cut short (its length runs past the
/// end), the first one complete and valid.
fn second_series_truncated() -> Vec<u8> {
    let raw = two_series_raw();
    compress(&raw[..raw.len() - 3])
}

/// Two complete, valid series followed by a field of wire type 7, which does not exist.
fn garbage_after_two_series() -> Vec<u8> {
    let mut raw = two_series_raw();
    raw.push((1 << 3) | 7);
    compress(&raw)
}

/// A snappy header announcing more than `decompressed` bytes, and nothing behind it: refused
/// from the header alone, before anything is allocated.
fn announcing(decompressed: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut v = decompressed as u64 + 1;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    body.extend_from_slice(&[0; 16]);
    body
}

#[test]
fn a_corrupt_request_stores_none_of_its_series() {
    let mut store = prefilled();
    let before = contents(&store);
    let mut stats = IngestStats::default();
    let mut scratch = Scratch::default();
    for body in [second_series_truncated(), garbage_after_two_series()] {
        let refused = ingest_remote_write(&mut store, &body, &mut scratch, &mut stats);
        assert!(
            matches!(refused, Err(DecodeError::Protobuf(_))),
            "{refused:?}"
        );
        assert_eq!(
            contents(&store),
            before,
            "a refused request changed the store"
        );
    }
    assert_eq!((stats.bad_lines, stats.accepted), (2, 0), "{stats:?}");
    // The same scratch then stores a good request whole: nothing of the refused ones lingers.
    let good = compress(&two_series_raw());
    ingest_remote_write(&mut store, &good, &mut scratch, &mut stats).unwrap();
    assert_eq!(stats.accepted, 2, "{stats:?}");
    let up = store.find(r#"up{job="node"}"#).unwrap();
    assert_eq!(
        store.samples(up),
        vec![(1_000, 1.0), (2_000, 1.0), (3_000, 0.0)]
    );
    assert_eq!(store.len(), 2);
}

#[test]
fn an_oversized_request_is_counted_and_stores_nothing() {
    let mut store = prefilled();
    let before = contents(&store);
    let mut stats = IngestStats::default();
    let mut scratch = Scratch::default();
    // Over the compressed limit (checked on the length alone) and over the decompressed one
    // (checked on the snappy header).
    let too_long = vec![0u8; MAX_COMPRESSED_BYTES + 1];
    for body in [too_long, announcing(MAX_DECOMPRESSED_BYTES)] {
        let refused = ingest_remote_write(&mut store, &body, &mut scratch, &mut stats);
        assert!(
            matches!(refused, Err(DecodeError::Oversized(_))),
            "{refused:?}"
        );
        assert_eq!(contents(&store), before);
    }
    assert_eq!((stats.oversized, stats.bad_lines), (2, 0), "{stats:?}");
}

/// A receiver on a free loopback port with the given limits.
fn receiver(max_body_bytes: usize, max_decompressed_bytes: usize) -> RemoteWriteSource {
    RemoteWriteSource::new(
        toml::from_str(&format!(
            "listen = \"127.0.0.1:0\"\nmax_body_bytes = {max_body_bytes}\nmax_decompressed_bytes = {max_decompressed_bytes}"
        ))
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn the_receiver_answers_400_to_a_corrupt_request_and_stores_none_of_it() {
    let mut source = receiver(MAX_COMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES);
    let mut store = prefilled();
    let before = contents(&store);
    for body in [second_series_truncated(), garbage_after_two_series()] {
        assert_eq!(
            post_remote_write(source.local_addr(), "/api/v1/write", &body),
            400
        );
    }
    assert_eq!(source.poll(&mut store, i64::MAX).unwrap(), 0);
    assert_eq!(contents(&store), before);
    let st = source.receiver_stats();
    assert_eq!(
        (st.requests, st.bad_requests, st.batches_queued),
        (2, 2, 0),
        "{st:?}"
    );
}

#[test]
fn the_receiver_answers_413_over_either_limit_and_stores_nothing() {
    // 4 KiB compressed, 1 KiB decompressed.
    let mut source = receiver(4 << 10, 1 << 10);
    let mut store = prefilled();
    let before = contents(&store);
    let addr = source.local_addr();
    // Over the body limit: 8 KiB of incompressible-looking bytes, refused on its length.
    let long: Vec<u8> = (0..8u32 << 10)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    assert_eq!(post_remote_write(addr, "/api/v1/write", &long), 413);
    // Under the body limit but over the decompressed one: a real request of 200 samples
    // (about 4 KiB of protobuf, far less once compressed).
    let samples: Vec<(f64, i64)> = (0..200).map(|i| (1.0, 3_000 + i)).collect();
    let wide = encode(&[(vec![("__name__", "up"), ("job", "node")], samples)]);
    assert!(wide.len() < 4 << 10, "{} bytes", wide.len());
    assert_eq!(post_remote_write(addr, "/api/v1/write", &wide), 413);
    assert_eq!(source.poll(&mut store, i64::MAX).unwrap(), 0);
    assert_eq!(contents(&store), before);
    let st = source.receiver_stats();
    assert_eq!(
        (st.requests, st.oversized_requests, st.batches_queued),
        (2, 2, 0),
        "{st:?}"
    );
}

/// An exposition page of `lines` samples of one series each (about 30 bytes a line).
fn page(lines: usize) -> &'static str {
    let text: String = (0..lines)
        .map(|i| format!("node_filler_total{{n=\"{i}\"}} {i}\n"))
        .collect();
    // The test server serves `'static` text; a few MiB leaked per test process.
    Box::leak(text.into_boxed_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_refuses_a_page_over_its_limit_both_while_reading_and_after() {
    let (port, _server) = serve_metrics(page(1_000));
    let addr = format!("127.0.0.1:{port}");
    let timeout = Duration::from_secs(5);
    let whole = fetch(&addr, "/metrics", timeout, 1 << 20).await.unwrap();
    let body_bytes = whole.body().len();
    // Just under the body: read to the end (headers fit in the slack), refused on the body.
    let just_under = fetch(&addr, "/metrics", timeout, body_bytes - 1).await;
    // Far under it: refused while reading, before the page is all in memory.
    let far_under = fetch(&addr, "/metrics", timeout, 1_000).await;
    for refused in [just_under, far_under] {
        assert!(
            matches!(refused, Err(TelemetryError::Oversized { .. })),
            "{refused:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_counts_a_page_over_16_mib_and_stores_nothing() {
    // About 17.5 MiB of exposition text.
    let (port, _server) = serve_metrics(page(600_000));
    let mut store = prefilled();
    let before = contents(&store);
    let mut stats = IngestStats::default();
    let refused = scrape(
        &mut store,
        &format!("127.0.0.1:{port}"),
        "/metrics",
        5_000,
        Duration::from_secs(10),
        &mut stats,
    )
    .await;
    match refused {
        Err(TelemetryError::Oversized { limit_bytes, .. }) => {
            assert_eq!(limit_bytes, MAX_BODY_BYTES);
        }
        other => panic!("expected an oversized page, got {other:?}"),
    }
    assert_eq!((stats.oversized, stats.accepted), (1, 0), "{stats:?}");
    assert_eq!(contents(&store), before);
}

#[test]
fn a_scrape_source_counts_an_oversized_page_against_its_target_and_stores_nothing() {
    let (port, _server) = serve_metrics(page(1_000));
    let mut cfg = ScrapeConfig::new(vec![ScrapeTarget::new(format!("127.0.0.1:{port}"))]);
    cfg.max_body_bytes = 4_096;
    let mut source = ScrapeSource::new(cfg).unwrap();
    let mut store = prefilled();
    let before = contents(&store);
    // A failing target never fails the poll; the page counts once, as refused for its size.
    assert_eq!(source.poll(&mut store, 5_000).unwrap(), 1);
    assert_eq!(contents(&store), before);
    let target = &source.targets()[0];
    assert_eq!(
        (target.scrapes, target.failures, target.up),
        (1, 1, false),
        "{target:?}"
    );
    assert_eq!(target.ingest.oversized, 1, "{target:?}");
    assert!(
        target
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("4096")),
        "{target:?}"
    );
    assert_eq!(source.stats().oversized, 1);
}
