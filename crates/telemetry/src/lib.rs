//! The monitoring stage: collect host, VM and link metrics from the sources operators run
//! (Prometheus exposition scrapes, remote-write pushes, trace replays, the simulator) into one
//! in-memory store with a fixed memory footprint per series, and read it back as an observation.

pub mod reader;
pub mod schema;
pub mod sources;
pub mod store;

pub use reader::{Coverage, Inventory, ObservationReader, ReaderConfig, Reading, SeriesHealth};
pub use sources::Source;
pub use store::{IngestStats, SeriesId, Store};

/// What can go wrong collecting telemetry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// Network or socket failure talking to a source.
    #[error("{target}: {source}")]
    Io {
        /// The endpoint.
        target: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint answered, but not with metrics.
    #[error("{target}: {message}")]
    Http {
        /// The endpoint.
        target: String,
        /// What was wrong.
        message: String,
    },
    /// The endpoint did not answer completely in time.
    #[error("{target}: no complete answer within {timeout:?}")]
    Timeout {
        /// The endpoint.
        target: String,
        /// The limit it missed.
        timeout: std::time::Duration,
    },
    /// The endpoint's answer is larger than the configured limit (protecting the collector's
    /// memory from a runaway exporter).
    #[error("{target}: body over {limit_bytes} bytes")]
    Oversized {
        /// The endpoint.
        target: String,
        /// The limit.
        limit_bytes: usize,
    },
    /// A listening source could not open its socket.
    #[error("listening on {address}: {source}")]
    Bind {
        /// The address it was configured with.
        address: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime or thread a source runs its I/O on could not be started (or died).
    #[error("{what}: {source}")]
    Runtime {
        /// Which source's runtime.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A source's configuration is unusable; names the field.
    #[error("{field}: {reason}")]
    Config {
        /// The configuration field, as written in the file (`targets[2].address`).
        field: String,
        /// Why it is refused.
        reason: String,
    },
}
