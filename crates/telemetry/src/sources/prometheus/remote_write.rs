//! Prometheus remote-write, pushed: an HTTP receiver for snappy-compressed protobuf
//! `WriteRequest`s, so a Prometheus server, agent or vmagent can stream into promig.
//!
//! The receiver runs on its own thread (a single-threaded tokio runtime serving axum) and never
//! touches the store: it decodes each request into a [`Batch`] and hands it over a bounded
//! channel; [`RemoteWriteSource::poll`], called by the loop that owns the store, drains the
//! channel into it. When the channel is full the request is answered **503 Service
//! Unavailable** and counted as dropped: Prometheus retries every 5xx with backoff and keeps the
//! samples in its WAL meanwhile, so a slow collector loses nothing, whereas 429 is retried only
//! when the sender opts in (`retry_on_http_429`, off by default in Prometheus 2.x) and would
//! otherwise make it discard the batch. Malformed requests get 400 and oversized ones 413, which
//! Prometheus does not retry (they could never succeed).

pub use super::write_request::{
    Batch, DecodeError, Limits, MAX_COMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES, Scratch,
    SeriesToEncode, encode, ingest_remote_write,
};

use super::RemoteWriteConfig;
use crate::TelemetryError;
use crate::sources::Source;
use crate::store::{IngestStats, Store};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long in-flight requests may take to finish once the source is dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the receiver counts, shared with the source (counters only: the store is not shared).
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    batches_queued: AtomicU64,
    batches_dropped: AtomicU64,
    samples_dropped: AtomicU64,
    bad_requests: AtomicU64,
    oversized_requests: AtomicU64,
    server_error: OnceLock<String>,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The receiver's side of the story: requests, what was handed over, what was dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RemoteWriteStats {
    /// Requests received on the write path.
    pub requests: u64,
    /// Decoded requests handed to the collector.
    pub batches_queued: u64,
    /// Requests answered 503 because the channel was full (the sender retries them).
    pub batches_dropped: u64,
    /// Samples in those requests.
    pub samples_dropped: u64,
    /// Requests that were not a valid `WriteRequest` (answered 400).
    pub bad_requests: u64,
    /// Requests over a size limit (answered 413).
    pub oversized_requests: u64,
    /// Samples received but stamped after the last polled time, waiting for a later poll.
    pub held_back: u64,
    /// Held-back requests discarded because more than `channel_capacity` were waiting.
    pub held_back_dropped: u64,
    /// Samples in those requests.
    pub held_back_samples_dropped: u64,
    /// Why the HTTP server stopped, if it did while the source was alive.
    pub server_error: Option<String>,
}

/// What each request handler needs.
#[derive(Debug, Clone)]
struct Handler {
    tx: mpsc::Sender<Batch>,
    counters: Arc<Counters>,
    limits: Limits,
}

async fn write(State(h): State<Handler>, body: Result<Bytes, BytesRejection>) -> Response {
    bump(&h.counters.requests, 1);
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            bump(&h.counters.oversized_requests, 1);
            return rejection.into_response();
        }
        Err(rejection) => {
            bump(&h.counters.bad_requests, 1);
            return rejection.into_response();
        }
    };
    let batch = match Batch::decode(&body, h.limits, &mut Scratch::default()) {
        Ok(batch) => batch,
        Err(e @ DecodeError::Oversized(_)) => {
            bump(&h.counters.oversized_requests, 1);
            return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response();
        }
        // 400 tells Prometheus not to retry a request that can never succeed.
        Err(e) => {
            bump(&h.counters.bad_requests, 1);
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    if batch.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let samples = batch.len() as u64;
    match h.tx.try_send(batch) {
        Ok(()) => {
            bump(&h.counters.batches_queued, 1);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => {
            // Full (the collector is behind) or closed (it is shutting down): either way the
            // sender should keep the samples and try again later.
            bump(&h.counters.batches_dropped, 1);
            bump(&h.counters.samples_dropped, samples);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "promig's ingest queue is full; batch dropped, retry later",
            )
                .into_response()
        }
    }
}

/// The remote-write receiver as a [`Source`]: listens from construction, stops when dropped.
#[derive(Debug)]
pub struct RemoteWriteSource {
    name: String,
    local_addr: SocketAddr,
    path: String,
    rx: mpsc::Receiver<Batch>,
    /// Batches with samples stamped after the last polled time.
    held: VecDeque<Batch>,
    max_held: usize,
    held_back_dropped: u64,
    held_back_samples_dropped: u64,
    counters: Arc<Counters>,
    stats: IngestStats,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RemoteWriteSource {
    /// Binds the listening socket (so a busy port fails here, not later) and starts serving.
    pub fn new(config: RemoteWriteConfig) -> Result<Self, TelemetryError> {
        config.validate()?;
        let bind_error = |source| TelemetryError::Bind {
            address: config.listen.clone(),
            source,
        };
        let listener = std::net::TcpListener::bind(&config.listen).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let runtime_error = |source| TelemetryError::Runtime {
            what: format!("remote-write source {}", config.name),
            source,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(runtime_error)?;
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let counters = Arc::new(Counters::default());
        let handler = Handler {
            tx,
            counters: Arc::clone(&counters),
            limits: Limits {
                compressed_bytes: config.max_body_bytes,
                decompressed_bytes: config.max_decompressed_bytes,
            },
        };
        let router = Router::new()
            .route(&config.path, post(write))
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .with_state(handler);
        let (stop, stopped) = oneshot::channel::<()>();
        let server_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name(format!("promig-rw-{}", local_addr.port()))
            .spawn(move || serve(runtime, listener, router, stopped, server_counters))
            .map_err(runtime_error)?;
        Ok(RemoteWriteSource {
            name: config.name,
            local_addr,
            path: config.path,
            rx,
            held: VecDeque::new(),
            max_held: config.channel_capacity,
            held_back_dropped: 0,
            held_back_samples_dropped: 0,
            counters,
            stats: IngestStats::default(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address actually listened on (the configured one, with the port filled in).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL to give Prometheus' `remote_write.url`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.local_addr, self.path)
    }

    /// The receiver's counters (the store's are in [`Source::stats`]).
    pub fn receiver_stats(&self) -> RemoteWriteStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RemoteWriteStats {
            requests: get(&c.requests),
            batches_queued: get(&c.batches_queued),
            batches_dropped: get(&c.batches_dropped),
            samples_dropped: get(&c.samples_dropped),
            bad_requests: get(&c.bad_requests),
            oversized_requests: get(&c.oversized_requests),
            held_back: self.held.iter().map(|b| b.len() as u64).sum(),
            held_back_dropped: self.held_back_dropped,
            held_back_samples_dropped: self.held_back_samples_dropped,
            server_error: c.server_error.get().cloned(),
        }
    }
}

/// The server thread: serves until told to stop (or the source is gone), then gives in-flight
/// requests a moment before the runtime, and every connection with it, is dropped.
fn serve(
    runtime: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    router: Router,
    stopped: oneshot::Receiver<()>,
    counters: Arc<Counters>,
) {
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = counters.server_error.set(e.to_string());
                return;
            }
        };
        let (stopping, stop_seen) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let graceful = axum::serve(listener, router).with_graceful_shutdown(async move {
                // Ok: told to stop; Err: the source was dropped without a word. Same outcome.
                let _ = stopped.await;
                let _ = stopping.send(());
            });
            if let Err(e) = graceful.await {
                let _ = counters.server_error.set(e.to_string());
            }
        });
        let _ = stop_seen.await;
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, server).await;
    });
}

impl Source for RemoteWriteSource {
    fn name(&self) -> &str {
        &self.name
    }

    /// Moves every received sample stamped at or before `until_ms` into the store (the sender's
    /// timestamps are kept); later ones wait for a later poll, at most `channel_capacity`
    /// requests of them.
    fn poll(&mut self, store: &mut Store, until_ms: i64) -> Result<u64, TelemetryError> {
        while let Ok(batch) = self.rx.try_recv() {
            self.held.push_back(batch);
        }
        let mut offered = 0;
        for batch in &mut self.held {
            offered += batch.ingest_until(store, until_ms, &mut self.stats);
        }
        self.held.retain(|b| !b.is_empty());
        while self.held.len() > self.max_held {
            if let Some(oldest) = self.held.pop_front() {
                self.held_back_dropped += 1;
                self.held_back_samples_dropped += oldest.len() as u64;
            }
        }
        Ok(offered)
    }

    fn stats(&self) -> &IngestStats {
        &self.stats
    }
}

impl Drop for RemoteWriteSource {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has nothing left to report to.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(addr: SocketAddr, path: &str, body: &[u8]) -> u16 {
        use std::io::{Read, Write};
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        sock.write_all(head.as_bytes()).unwrap();
        sock.write_all(body).unwrap();
        // A server refusing a body early may reset the connection after its answer: keep
        // whatever arrived before the error.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while let Ok(n) = sock.read(&mut chunk) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&answer[9..12]).parse().unwrap()
    }

    fn config(capacity: usize) -> RemoteWriteConfig {
        RemoteWriteConfig {
            listen: "127.0.0.1:0".into(),
            channel_capacity: capacity,
            ..RemoteWriteConfig::default()
        }
    }

    #[test]
    fn a_full_channel_answers_503_and_counts_the_drop() {
        let mut source = RemoteWriteSource::new(config(1)).unwrap();
        let addr = source.local_addr();
        let one = |t: i64| encode(&[(vec![("__name__", "up")], vec![(1.0, t)])]);
        assert_eq!(post(addr, "/api/v1/write", &one(1_000)), 204);
        assert_eq!(post(addr, "/api/v1/write", &one(2_000)), 503);
        assert_eq!(post(addr, "/api/v1/write", b"garbage"), 400);
        let st = source.receiver_stats();
        assert_eq!(
            (
                st.requests,
                st.batches_queued,
                st.batches_dropped,
                st.samples_dropped,
                st.bad_requests
            ),
            (3, 1, 1, 1, 1),
            "{st:?}"
        );
        let mut store = Store::new(8, 8);
        assert_eq!(source.poll(&mut store, 10_000).unwrap(), 1);
        // Room again: the retry goes through.
        assert_eq!(post(addr, "/api/v1/write", &one(2_000)), 204);
        assert_eq!(source.poll(&mut store, 10_000).unwrap(), 1);
        assert_eq!(store.samples(store.find("up").unwrap()).len(), 2);
    }

    #[test]
    fn oversized_requests_get_413_and_samples_from_the_future_wait() {
        let mut source = RemoteWriteSource::new(RemoteWriteConfig {
            max_body_bytes: 64,
            ..config(4)
        })
        .unwrap();
        let addr = source.local_addr();
        let big: Vec<SeriesToEncode> = vec![(
            vec![("__name__", "x")],
            (0..50).map(|i| (i as f64, i)).collect(),
        )];
        assert_eq!(post(addr, "/api/v1/write", &encode(&big)), 413);
        assert_eq!(source.receiver_stats().oversized_requests, 1);
        let later = encode(&[(vec![("__name__", "x")], vec![(1.0, 5_000), (2.0, 9_000)])]);
        assert_eq!(post(addr, "/api/v1/write", &later), 204);
        let mut store = Store::new(8, 8);
        assert_eq!(source.poll(&mut store, 6_000).unwrap(), 1);
        assert_eq!(source.receiver_stats().held_back, 1);
        assert_eq!(source.poll(&mut store, 9_000).unwrap(), 1);
        assert_eq!(source.receiver_stats().held_back, 0);
    }

    #[test]
    fn dropping_the_source_stops_the_server() {
        let source = RemoteWriteSource::new(config(4)).unwrap();
        let addr = source.local_addr();
        drop(source);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
