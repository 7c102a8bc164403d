//! Prometheus sources: exposition text pulled from `/metrics` endpoints ([`ScrapeSource`]) and
//! remote-write requests pushed by a Prometheus server or agent ([`RemoteWriteSource`]).
//!
//! This file holds their configurations (deserialised from the operator's TOML, unknown fields
//! refused so a typo is an error rather than a silently ignored setting) and their checks; the
//! wire formats live beside it in `parser.rs` (text) and `write_request.rs` (protobuf), the
//! sources in `scrape.rs` and `remote_write.rs`.

pub mod parser;
pub mod remote_write;
pub mod scrape;
pub mod write_request;

pub use parser::{ingest_text, ingest_text_labelled, render_labels};
pub use remote_write::{RemoteWriteSource, RemoteWriteStats};
pub use scrape::{ScrapeSource, TargetStatus, fetch, scrape};

use crate::TelemetryError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which exporters to scrape, how often, and within what limits.
///
/// ```toml
/// interval_ms = 15000
/// [[targets]]
/// address = "10.0.0.5:9100"
/// labels = { host = "compute-1" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// Name shown next to the source's counters.
    #[serde(default = "default_scrape_name")]
    pub name: String,
    /// The exporters.
    pub targets: Vec<ScrapeTarget>,
    /// Time between two scrapes of one target, ms (Prometheus' default: 15 s).
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Time a scrape may take before it counts as failed, ms; at most the interval, as in
    /// Prometheus, so scrapes of one target never overlap.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest page accepted, bytes (a node_exporter page is 50-150 KB).
    #[serde(default = "default_scrape_max_body")]
    pub max_body_bytes: usize,
}

/// One exporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeTarget {
    /// `host:port`, without a scheme (plain HTTP only).
    pub address: String,
    /// The metrics page.
    #[serde(default = "default_metrics_path")]
    pub path: String,
    /// Labels appended to every series of this target (e.g. `host = "compute-1"`): with several
    /// targets exposing the same names, they are what keeps the series apart.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ScrapeTarget {
    /// A target at `address` with the default path and no labels.
    pub fn new(address: impl Into<String>) -> Self {
        ScrapeTarget {
            address: address.into(),
            path: default_metrics_path(),
            labels: BTreeMap::new(),
        }
    }
}

impl ScrapeConfig {
    /// Scraping `targets` with the defaults.
    pub fn new(targets: Vec<ScrapeTarget>) -> Self {
        ScrapeConfig {
            name: default_scrape_name(),
            targets,
            interval_ms: default_interval_ms(),
            timeout_ms: default_timeout_ms(),
            max_body_bytes: default_scrape_max_body(),
        }
    }

    /// Refuses settings that could only fail later: no targets, an address that is not
    /// `host:port`, a path that is not absolute, label names Prometheus would refuse, a zero
    /// interval, a timeout longer than the interval, two targets whose series would collide.
    pub fn validate(&self) -> Result<(), TelemetryError> {
        if self.targets.is_empty() {
            return Err(invalid("targets", "no target to scrape"));
        }
        if self.interval_ms == 0 {
            return Err(invalid("interval_ms", "must be positive"));
        }
        if self.timeout_ms == 0 || self.timeout_ms > self.interval_ms {
            return Err(invalid(
                "timeout_ms",
                format!(
                    "must be positive and at most interval_ms ({})",
                    self.interval_ms
                ),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid("max_body_bytes", "must be positive"));
        }
        for (i, t) in self.targets.iter().enumerate() {
            check_address(&t.address).map_err(|r| invalid(format!("targets[{i}].address"), r))?;
            check_path(&t.path).map_err(|r| invalid(format!("targets[{i}].path"), r))?;
            for name in t.labels.keys() {
                check_label_name(name)
                    .map_err(|r| invalid(format!("targets[{i}].labels.{name}"), r))?;
            }
            for (j, u) in self.targets[..i].iter().enumerate() {
                if u.address == t.address && u.path == t.path {
                    return Err(invalid(
                        format!("targets[{i}]"),
                        format!("scrapes the same page as targets[{j}]"),
                    ));
                }
                if u.labels == t.labels {
                    return Err(invalid(
                        format!("targets[{i}].labels"),
                        format!(
                            "same labels as targets[{j}]: their series would share one ring; give each target a distinguishing label such as host"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where the remote-write receiver listens and how much it buffers.
///
/// ```toml
/// listen = "0.0.0.0:9201"
/// channel_capacity = 64
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// Name shown next to the source's counters.
    #[serde(default = "default_remote_write_name")]
    pub name: String,
    /// `address:port` to listen on (port 0: any free port, see
    /// [`RemoteWriteSource::local_addr`]). Loopback by default: exposing it is a decision.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The path Prometheus' `remote_write.url` points at.
    #[serde(default = "default_write_path")]
    pub path: String,
    /// Largest request body accepted, compressed, bytes (Prometheus sends 1-2 MiB at most by
    /// default); larger ones are answered 413.
    #[serde(default = "default_rw_max_body")]
    pub max_body_bytes: usize,
    /// Largest request once decompressed, bytes (snappy announces it, so it is checked first).
    #[serde(default = "default_rw_max_decompressed")]
    pub max_decompressed_bytes: usize,
    /// Decoded requests waiting for the collector's next poll; when full, further requests are
    /// refused with 503 and counted (see [`RemoteWriteSource`]). Also bounds the requests held
    /// back because their samples are ahead of the polled time.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        RemoteWriteConfig {
            name: default_remote_write_name(),
            listen: default_listen(),
            path: default_write_path(),
            max_body_bytes: default_rw_max_body(),
            max_decompressed_bytes: default_rw_max_decompressed(),
            channel_capacity: default_channel_capacity(),
        }
    }
}

impl RemoteWriteConfig {
    /// Refuses a zero capacity or limit and a path that is not plain and absolute (the address
    /// is checked when it is bound).
    pub fn validate(&self) -> Result<(), TelemetryError> {
        check_route(&self.path).map_err(|r| invalid("path", r))?;
        if self.max_body_bytes == 0 {
            return Err(invalid("max_body_bytes", "must be positive"));
        }
        if self.max_decompressed_bytes == 0 {
            return Err(invalid("max_decompressed_bytes", "must be positive"));
        }
        if self.channel_capacity == 0 {
            return Err(invalid("channel_capacity", "must be positive"));
        }
        Ok(())
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> TelemetryError {
    TelemetryError::Config {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_address(address: &str) -> Result<(), String> {
    if address.contains("://") {
        return Err(format!("{address:?}: give host:port, without a scheme"));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("{address:?} is not host:port")),
    }
}

fn check_path(path: &str) -> Result<(), String> {
    // The path goes into a request line verbatim: no spaces or line breaks.
    if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
        return Err(format!("{path:?} is not an absolute path without spaces"));
    }
    Ok(())
}

/// A path served by the receiver: plain characters only, since the router reads `{...}` as a
/// capture and refuses segments starting with `:` or `*`.
fn check_route(path: &str) -> Result<(), String> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.');
    if !path.starts_with('/') || !path.bytes().all(plain) {
        return Err(format!(
            "{path:?} is not an absolute path of letters, digits, '/', '_', '-' and '.'"
        ));
    }
    Ok(())
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__");
    if valid {
        Ok(())
    } else {
        Err("not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)".into())
    }
}

fn default_scrape_name() -> String {
    "scrape".into()
}
fn default_interval_ms() -> u64 {
    15_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_scrape_max_body() -> usize {
    scrape::MAX_BODY_BYTES
}
fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_remote_write_name() -> String {
    "remote_write".into()
}
fn default_listen() -> String {
    "127.0.0.1:9201".into()
}
fn default_write_path() -> String {
    "/api/v1/write".into()
}
fn default_rw_max_body() -> usize {
    write_request::MAX_COMPRESSED_BYTES
}
fn default_rw_max_decompressed() -> usize {
    write_request::MAX_DECOMPRESSED_BYTES
}
fn default_channel_capacity() -> usize {
    64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_config_reads_from_toml_with_defaults() {
        let cfg: ScrapeConfig = toml::from_str(
            r#"
            [[targets]]
            address = "10.0.0.5:9100"
            labels = { host = "compute-1" }
            [[targets]]
            address = "10.0.0.6:9100"
            path = "/node"
            labels = { host = "compute-2" }
            "#,
        )
        .unwrap();
        assert_eq!(cfg.name, "scrape");
        assert_eq!((cfg.interval_ms, cfg.timeout_ms), (15_000, 10_000));
        assert_eq!(cfg.targets[0].path, "/metrics");
        assert_eq!(cfg.targets[1].path, "/node");
        assert_eq!(cfg.targets[1].labels["host"], "compute-2");
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused_with_the_field_named() {
        assert!(
            toml::from_str::<ScrapeConfig>("intervall_ms = 5\ntargets = []").is_err(),
            "typo accepted"
        );
        assert!(
            toml::from_str::<ScrapeConfig>("[[targets]]\naddress = \"a:1\"\nlabel = {}").is_err()
        );
        let field = |cfg: &ScrapeConfig| match cfg.validate() {
            Err(TelemetryError::Config { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut cfg = ScrapeConfig::new(vec![ScrapeTarget::new("http://a:9100")]);
        assert_eq!(field(&cfg), "targets[0].address");
        cfg.targets[0].address = "a:9100".into();
        cfg.validate().unwrap();
        cfg.timeout_ms = 20_000;
        assert_eq!(field(&cfg), "timeout_ms");
        cfg.timeout_ms = 1_000;
        cfg.targets.push(ScrapeTarget::new("b:9100"));
        assert_eq!(field(&cfg), "targets[1].labels");
        cfg.targets[1].labels.insert("host".into(), "b".into());
        cfg.validate().unwrap();
        cfg.targets[1].labels.insert("__x".into(), "b".into());
        assert_eq!(field(&cfg), "targets[1].labels.__x");
        cfg.targets[1].labels.remove("__x");
        cfg.targets[1].path = "metrics".into();
        assert_eq!(field(&cfg), "targets[1].path");
        assert_eq!(field(&ScrapeConfig::new(Vec::new())), "targets");
    }

    #[test]
    fn remote_write_config_defaults_to_loopback() {
        let cfg: RemoteWriteConfig = toml::from_str("channel_capacity = 8").unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:9201");
        assert_eq!(cfg.path, "/api/v1/write");
        assert_eq!(cfg.channel_capacity, 8);
        cfg.validate().unwrap();
        assert!(toml::from_str::<RemoteWriteConfig>("capacity = 8").is_err());
        for path in ["/api/{x}", "/:x", "api/v1/write", "/a b"] {
            let cfg = RemoteWriteConfig {
                path: path.into(),
                ..RemoteWriteConfig::default()
            };
            assert!(cfg.validate().is_err(), "{path}");
        }
        let zero = RemoteWriteConfig {
            channel_capacity: 0,
            ..RemoteWriteConfig::default()
        };
        assert!(matches!(
            zero.validate(),
            Err(TelemetryError::Config { ref field, .. }) if field == "channel_capacity"
        ));
    }
}
