//! The monitoring stage: collect host, VM and link metrics from the sources operators run
//! (Prometheus exposition scrapes, trace replays, the simulator) into one in-memory store with a
//! fixed memory footprint per series, fast enough that ingestion is never the bottleneck.

pub mod sources;
pub mod store;

pub use sources::Source;
pub use store::{IngestStats, SeriesId, Store};

/// What can go wrong collecting telemetry.
#[derive(Debug, thiserror::Error)]
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
}
