//! Telemetry sources, one module (or folder) each, behind one trait so the collector, the
//! simulator and later the controller drive them all the same way.
//!
//! - [`replay`]: trace files replayed as if an exporter reported them.
//! - [`prometheus`]: exporters scraped over HTTP, and Prometheus remote-write pushes.
//! - the simulator (in the `sim` crate, which sits above this one).
//!
//! `conformance` checks what every implementation must do; each source's tests call it.

#[doc(hidden)]
pub mod conformance;
pub mod prometheus;
pub mod replay;

use crate::{IngestStats, Store, TelemetryError};

/// Something that produces samples for the store. Sources are polled rather than left to push,
/// so one loop owns the store (no lock on the hot path) and decides how far time moves: a live
/// collector polls up to "now", a replay or a simulation up to whatever time it is driven to.
pub trait Source {
    /// Name shown next to the source's counters.
    fn name(&self) -> &str;

    /// Moves every sample with a timestamp up to `until_ms` into `store`; returns how many were
    /// offered (accepted or refused, see [`Source::stats`]).
    fn poll(&mut self, store: &mut Store, until_ms: i64) -> Result<u64, TelemetryError>;

    /// What this source delivered and what the store refused, since it started.
    fn stats(&self) -> &IngestStats;
}

/// The canonical series key, `name{label="value",...}` with exposition-format escaping, so a
/// series fed by a replay and the same series scraped from an exporter land in one ring.
pub fn series_key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut key = String::with_capacity(name.len() + 16 * labels.len());
    key.push_str(name);
    if labels.is_empty() {
        return key;
    }
    key.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            key.push(',');
        }
        key.push_str(k);
        key.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => key.push_str("\\\\"),
                '"' => key.push_str("\\\""),
                '\n' => key.push_str("\\n"),
                c => key.push(c),
            }
        }
        key.push('"');
    }
    key.push('}');
    key
}

#[cfg(test)]
mod tests {
    use super::series_key;

    #[test]
    fn keys_escape_label_values_like_the_exposition_format() {
        assert_eq!(series_key("up", &[]), "up");
        assert_eq!(
            series_key("cpu", &[("vm", "a \"b\"\\c"), ("dc", "x")]),
            r#"cpu{vm="a \"b\"\\c",dc="x"}"#
        );
    }
}
