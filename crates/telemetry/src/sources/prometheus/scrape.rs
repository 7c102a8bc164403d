//! Pulling `/metrics` over HTTP: the one-shot [`fetch`] / [`scrape`] building blocks and the
//! [`ScrapeSource`] that scrapes a list of targets on a schedule when the collector polls it.
//!
//! One HTTP/1.0 GET per scrape over a plain TCP socket: HTTP/1.0 responses are never chunked and
//! end when the server closes, so no HTTP client library is needed for this one request shape.

use super::ScrapeConfig;
use crate::TelemetryError;
use crate::sources::Source;
use crate::sources::prometheus::parser::{ingest_text, ingest_text_labelled, render_labels};
use crate::store::{IngestStats, Store};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bodies larger than this are refused by [`scrape`] (counted as oversized), protecting the
/// collector's memory; [`ScrapeSource`] takes its limit from its configuration.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// One answer of an exporter: the raw response, kept whole so the body is not copied again.
#[derive(Debug, Clone)]
pub struct Page {
    raw: Vec<u8>,
    body_start: usize,
}

impl Page {
    /// The exposition text (the response without its status line and headers).
    pub fn body(&self) -> &[u8] {
        &self.raw[self.body_start..]
    }
}

/// Fetches `http://{addr}{path}` once, within `timeout`, refusing bodies over `max_body_bytes`,
/// non-200 answers and pages that are not metrics (exporters answer unknown paths with an HTML
/// landing page and status 200).
pub async fn fetch(
    addr: &str,
    path: &str,
    timeout: Duration,
    max_body_bytes: usize,
) -> Result<Page, TelemetryError> {
    let target = format!("http://{addr}{path}");
    let io = |e| TelemetryError::Io {
        target: target.clone(),
        source: e,
    };
    // Headers come on top of the body; 16 KiB is far more than any exporter sends.
    let limit = max_body_bytes.saturating_add(16 << 10);
    let read = tokio::time::timeout(timeout, async {
        let mut sock = TcpStream::connect(addr).await.map_err(io)?;
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/plain;version=0.0.4\r\nUser-Agent: promig\r\n\r\n"
        );
        sock.write_all(req.as_bytes()).await.map_err(io)?;
        let mut buf = Vec::with_capacity(64 << 10);
        let mut chunk = [0u8; 16 << 10];
        loop {
            let n = sock.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                break;
            }
            if buf.len() + n > limit {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, TelemetryError>(Some(buf))
    })
    .await
    .map_err(|_| TelemetryError::Timeout {
        target: target.clone(),
        timeout,
    })??;
    let Some(raw) = read else {
        return Err(TelemetryError::Oversized {
            target,
            limit_bytes: max_body_bytes,
        });
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| TelemetryError::Http {
            target: target.clone(),
            message: "no HTTP header terminator".into(),
        })?;
    let status_line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let status = String::from_utf8_lossy(status_line);
    if !status.contains(" 200") {
        return Err(TelemetryError::Http {
            target,
            message: format!("status {}", status.trim()),
        });
    }
    let headers = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let content_type = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-type:"))
        .map(str::trim)
        .unwrap_or("");
    if !(content_type.is_empty()
        || content_type.starts_with("text/plain")
        || content_type.contains("openmetrics"))
    {
        return Err(TelemetryError::Http {
            target,
            message: format!("not a metrics page (content-type {content_type})"),
        });
    }
    if raw.len() - (split + 4) > max_body_bytes {
        return Err(TelemetryError::Oversized {
            target,
            limit_bytes: max_body_bytes,
        });
    }
    Ok(Page {
        raw,
        body_start: split + 4,
    })
}

/// Scrapes `http://{addr}{path}` once and ingests it with timestamp `ts_ms` (series keys as the
/// exporter writes them). An oversized body is counted in `stats` and returned as an error.
pub async fn scrape(
    store: &mut Store,
    addr: &str,
    path: &str,
    ts_ms: i64,
    timeout: Duration,
    stats: &mut IngestStats,
) -> Result<(), TelemetryError> {
    match fetch(addr, path, timeout, MAX_BODY_BYTES).await {
        Ok(page) => {
            ingest_text(store, page.body(), ts_ms, stats);
            Ok(())
        }
        Err(e) => {
            if matches!(e, TelemetryError::Oversized { .. }) {
                stats.oversized += 1;
            }
            Err(e)
        }
    }
}

/// What one scrape target did since the source started: what an operator looks at to find the
/// exporter that is down or misbehaving.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TargetStatus {
    /// `host:port` of the exporter.
    pub address: String,
    /// The page scraped.
    pub path: String,
    /// Scrapes attempted.
    pub scrapes: u64,
    /// Scrapes that failed (connection, timeout, HTTP status, not metrics, oversized).
    pub failures: u64,
    /// Whether the last scrape succeeded (Prometheus' `up`).
    pub up: bool,
    /// Time (the poll's, in ms) of the last scrape attempt.
    pub last_scrape_ms: Option<i64>,
    /// The most recent failure, kept after later successes so a flapping target shows why.
    pub last_error: Option<String>,
    /// Time of that failure.
    pub last_error_ms: Option<i64>,
    /// What this target's pages delivered to the store and what the store refused.
    pub ingest: IngestStats,
}

/// Scrapes a list of exporters, each at most once per interval, when polled.
///
/// [`Source::poll`] is synchronous, so the source owns a small single-threaded tokio runtime and
/// blocks on it for at most the configured timeout while every due target is fetched
/// concurrently; the pages are then parsed into the store on the caller's thread (the store never
/// leaves the loop that owns it). A failing target is counted in its [`TargetStatus`] and never
/// fails the poll. Called from inside an async runtime, the fetches run on a scoped helper
/// thread (a runtime cannot block inside another); such callers should still prefer
/// `spawn_blocking`, since the calling thread waits either way.
#[derive(Debug)]
pub struct ScrapeSource {
    name: String,
    interval_ms: i64,
    timeout: Duration,
    max_body_bytes: usize,
    /// Per target: its extra labels, rendered once.
    labels: Vec<Vec<u8>>,
    status: Vec<TargetStatus>,
    /// Always `Some` until dropped (taken there to shut it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
    key: Vec<u8>,
    stats: IngestStats,
}

impl ScrapeSource {
    /// A source for `config`, checked first (see [`ScrapeConfig::validate`]).
    pub fn new(config: ScrapeConfig) -> Result<Self, TelemetryError> {
        config.validate()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|source| TelemetryError::Runtime {
                what: format!("scrape source {}", config.name),
                source,
            })?;
        let labels = config
            .targets
            .iter()
            .map(|t| render_labels(t.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            .collect();
        let status = config
            .targets
            .iter()
            .map(|t| TargetStatus {
                address: t.address.clone(),
                path: t.path.clone(),
                ..TargetStatus::default()
            })
            .collect();
        Ok(ScrapeSource {
            name: config.name,
            interval_ms: i64::try_from(config.interval_ms).unwrap_or(i64::MAX),
            timeout: Duration::from_millis(config.timeout_ms),
            max_body_bytes: config.max_body_bytes,
            labels,
            status,
            runtime: Some(runtime),
            key: Vec::new(),
            stats: IngestStats::default(),
        })
    }

    /// Every target's counters, in configuration order.
    pub fn targets(&self) -> &[TargetStatus] {
        &self.status
    }

    /// Whether target `i` is due at `until_ms`: never scraped, or its interval has passed.
    fn due(&self, i: usize, until_ms: i64) -> bool {
        match self.status[i].last_scrape_ms {
            None => true,
            Some(last) => last
                .checked_add(self.interval_ms)
                .is_some_and(|next| next <= until_ms),
        }
    }

    /// Fetches the given targets concurrently; one result per target, in the same order.
    fn fetch_all(
        &self,
        due: &[usize],
    ) -> Result<Vec<Result<Page, TelemetryError>>, TelemetryError> {
        let jobs: Vec<(String, String)> = due
            .iter()
            .map(|&i| (self.status[i].address.clone(), self.status[i].path.clone()))
            .collect();
        let (timeout, max_body) = (self.timeout, self.max_body_bytes);
        let Some(runtime) = &self.runtime else {
            unreachable!("the runtime is only taken when the source is dropped");
        };
        let run = || {
            runtime.block_on(async move {
                let n = jobs.len();
                let mut set = tokio::task::JoinSet::new();
                for (k, (addr, path)) in jobs.into_iter().enumerate() {
                    set.spawn(async move { (k, fetch(&addr, &path, timeout, max_body).await) });
                }
                let mut out: Vec<Option<Result<Page, TelemetryError>>> =
                    (0..n).map(|_| None).collect();
                while let Some(joined) = set.join_next().await {
                    // A task that panicked leaves its slot empty; reported below.
                    if let Ok((k, result)) = joined {
                        out[k] = Some(result);
                    }
                }
                out
            })
        };
        let results = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| s.spawn(run).join()).map_err(|_| TelemetryError::Runtime {
                what: format!("scrape source {}", self.name),
                source: std::io::Error::other("scrape thread panicked"),
            })?
        } else {
            run()
        };
        Ok(results
            .into_iter()
            .zip(due)
            .map(|(r, &i)| {
                r.unwrap_or_else(|| {
                    Err(TelemetryError::Http {
                        target: format!("http://{}{}", self.status[i].address, self.status[i].path),
                        message: "scrape task ended without an answer".into(),
                    })
                })
            })
            .collect())
    }
}

impl Source for ScrapeSource {
    fn name(&self) -> &str {
        &self.name
    }

    /// Scrapes every target whose interval has passed at `until_ms` (all of them on the first
    /// poll) and stores their samples at `until_ms` (or the exporter's own timestamps). Fails
    /// only when the source's own runtime fails, never because of a target.
    fn poll(&mut self, store: &mut Store, until_ms: i64) -> Result<u64, TelemetryError> {
        let due: Vec<usize> = (0..self.status.len())
            .filter(|&i| self.due(i, until_ms))
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let pages = self.fetch_all(&due)?;
        let mut offered = 0;
        for (&i, page) in due.iter().zip(pages) {
            let status = &mut self.status[i];
            let before = status.ingest.offered();
            status.scrapes += 1;
            status.last_scrape_ms = Some(until_ms);
            match page {
                Ok(page) => {
                    status.up = true;
                    ingest_text_labelled(
                        store,
                        page.body(),
                        until_ms,
                        &self.labels[i],
                        &mut self.key,
                        &mut status.ingest,
                    );
                }
                Err(e) => {
                    status.up = false;
                    status.failures += 1;
                    if matches!(e, TelemetryError::Oversized { .. }) {
                        status.ingest.oversized += 1;
                    }
                    status.last_error = Some(e.to_string());
                    status.last_error_ms = Some(until_ms);
                }
            }
            offered += status.ingest.offered() - before;
        }
        // The source's counters are the sum of its targets' (a handful: recomputing is cheap).
        self.stats = IngestStats::default();
        for status in &self.status {
            self.stats.add(&status.ingest);
        }
        Ok(offered)
    }

    fn stats(&self) -> &IngestStats {
        &self.stats
    }
}

impl Drop for ScrapeSource {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime (a controller may well
        // drop its sources there); no task outlives a poll, so nothing is cut short.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
