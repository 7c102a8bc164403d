//! A VM's run state as `query-status` reports it, typed: the safety rules ("resume the source
//! only if the destination is not running", "after completion the source is `postmigrate`") are
//! decisions on these values, and a misspelt string there would silently break them.

use serde::{Serialize, Serializer};
use std::fmt;

/// The run state of one QEMU process (QAPI `RunState`), with the states migration cares about
/// named and the rest kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunState {
    /// The guest runs.
    Running,
    /// Stopped by a `stop` command or by migration's switch-over.
    Paused,
    /// The source after a completed migration: a stopped copy that must never be resumed while
    /// the destination runs.
    Postmigrate,
    /// The source during the final stop-and-copy.
    FinishMigrate,
    /// A destination waiting for, or receiving, an incoming migration.
    Inmigrate,
    /// Any other state (`prelaunch`, `shutdown`, `internal-error`...), kept verbatim.
    Other(String),
}

impl RunState {
    /// Reads QEMU's spelling; unknown states are kept, not rejected.
    pub fn parse(text: &str) -> Self {
        match text {
            "running" => RunState::Running,
            "paused" => RunState::Paused,
            "postmigrate" => RunState::Postmigrate,
            "finish-migrate" => RunState::FinishMigrate,
            "inmigrate" => RunState::Inmigrate,
            other => RunState::Other(other.to_string()),
        }
    }

    /// QEMU's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Postmigrate => "postmigrate",
            RunState::FinishMigrate => "finish-migrate",
            RunState::Inmigrate => "inmigrate",
            RunState::Other(text) => text,
        }
    }

    /// Whether a `cont` would resume a guest that migration stopped on this side.
    pub fn stopped_by_migration(&self) -> bool {
        matches!(
            self,
            RunState::Paused | RunState::Postmigrate | RunState::FinishMigrate
        )
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as QEMU's spelling, like [`crate::MigrationStatus`].
impl Serialize for RunState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_ones_are_kept() {
        for text in [
            "running",
            "paused",
            "postmigrate",
            "finish-migrate",
            "inmigrate",
            "prelaunch",
        ] {
            assert_eq!(RunState::parse(text).as_str(), text);
        }
        assert_eq!(
            RunState::parse("internal-error"),
            RunState::Other("internal-error".into())
        );
        assert!(RunState::Postmigrate.stopped_by_migration());
        assert!(!RunState::Running.stopped_by_migration());
        assert!(!RunState::Inmigrate.stopped_by_migration());
    }
}
