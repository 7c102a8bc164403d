//! Telemetry sources, one folder each.

pub mod prometheus;
