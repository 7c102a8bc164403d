//! Pulling `/metrics` over HTTP.
//!
//! One HTTP/1.0 GET per scrape over a plain TCP socket: HTTP/1.0 responses are never chunked and
//! end when the server closes, so no HTTP client library is needed for this one request shape.

use crate::TelemetryError;
use crate::sources::prometheus::parser::ingest_text;
use crate::store::{IngestStats, Store};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bodies larger than this are refused (counted as oversized), protecting the collector's memory.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Scrapes `http://{addr}{path}` once and ingests it with timestamp `ts_ms`.
pub async fn scrape(
    store: &mut Store,
    addr: &str,
    path: &str,
    ts_ms: i64,
    timeout: Duration,
    stats: &mut IngestStats,
) -> Result<(), TelemetryError> {
    let target = format!("http://{addr}{path}");
    let io = |e| TelemetryError::Io {
        target: target.clone(),
        source: e,
    };
    let body = tokio::time::timeout(timeout, async {
        let mut sock = TcpStream::connect(addr).await.map_err(io)?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/plain;version=0.0.4\r\nUser-Agent: promig\r\n\r\n");
        sock.write_all(req.as_bytes()).await.map_err(io)?;
        let mut buf = Vec::with_capacity(64 << 10);
        let mut chunk = [0u8; 16 << 10];
        loop {
            let n = sock.read(&mut chunk).await.map_err(io)?;
            if n == 0 {
                break;
            }
            if buf.len() + n > MAX_BODY_BYTES + (16 << 10) {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, TelemetryError>(Some(buf))
    })
    .await
    .map_err(|_| TelemetryError::Http { target: target.clone(), message: format!("no complete answer within {timeout:?}") })??;
    let Some(resp) = body else {
        stats.oversized += 1;
        return Err(TelemetryError::Http {
            target,
            message: format!("body over {MAX_BODY_BYTES} bytes"),
        });
    };
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| TelemetryError::Http {
            target: target.clone(),
            message: "no HTTP header terminator".into(),
        })?;
    let status_line = resp.split(|&b| b == b'\n').next().unwrap_or_default();
    let status = String::from_utf8_lossy(status_line);
    if !status.contains(" 200") {
        return Err(TelemetryError::Http {
            target,
            message: format!("status {}", status.trim()),
        });
    }
    let headers = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let content_type = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-type:"))
        .map(str::trim)
        .unwrap_or("");
    // Exporters answer unknown paths with an HTML landing page and status 200.
    if !(content_type.is_empty()
        || content_type.starts_with("text/plain")
        || content_type.contains("openmetrics"))
    {
        return Err(TelemetryError::Http {
            target,
            message: format!("not a metrics page (content-type {content_type})"),
        });
    }
    ingest_text(store, &resp[split + 4..], ts_ms, stats);
    Ok(())
}
