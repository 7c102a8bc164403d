//! Where a migration stands, as a type rather than a string, so a controller can `match` on it
//! and a typo in a status name is a compile error instead of a branch that never runs.
//!
//! The names follow QEMU's `MigrationStatus` (QAPI schema, QEMU 7.2), which libvirt's job states
//! and a simulator's phases map onto; a status a newer QEMU invents is kept in [`Other`] with its
//! original text, never a panic, because a driver must keep supervising a migration it half
//! understands rather than abandon it.
//!
//! [`Other`]: MigrationStatus::Other

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The phase of one migration as the hypervisor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum MigrationStatus {
    /// No migration has started yet (QEMU `none`): the value before the first sample.
    #[default]
    NotStarted,
    /// Connecting and negotiating; no guest memory sent yet (`setup`).
    Setup,
    /// Pre-copy passes over guest memory while the guest runs (`active`).
    Active,
    /// Paused before switch-over, waiting for the management layer (`pre-switchover`).
    PreSwitchover,
    /// Guest stopped, device state being sent: the downtime window (`device`).
    Device,
    /// Waiting for the guest to unplug devices before it can move (`wait-unplug`).
    WaitUnplug,
    /// The guest runs on the destination and pulls missing pages from the source
    /// (`postcopy-active`): from here on a source or network failure loses the VM.
    PostcopyActive,
    /// Post-copy lost its connection; the VM's memory is split between hosts (`postcopy-paused`).
    PostcopyPaused,
    /// Post-copy is being recovered after a pause (`postcopy-recover`).
    PostcopyRecover,
    /// The destination runs the VM; the source holds a stopped copy (`completed`).
    Completed,
    /// The migration broke off (`failed`).
    Failed,
    /// A cancel is in progress (`cancelling`).
    Cancelling,
    /// Cancelled; the source still runs the VM (`cancelled`).
    Cancelled,
    /// COLO fault-tolerance mode (`colo`): a migration that never ends by design.
    Colo,
    /// A status this driver does not know, kept verbatim so it can be logged and reported.
    Other(String),
}

/// Every known status with QEMU's spelling, in one table so parsing and printing cannot disagree.
const NAMES: [(MigrationStatus, &str); 14] = [
    (MigrationStatus::NotStarted, "none"),
    (MigrationStatus::Setup, "setup"),
    (MigrationStatus::Active, "active"),
    (MigrationStatus::PreSwitchover, "pre-switchover"),
    (MigrationStatus::Device, "device"),
    (MigrationStatus::WaitUnplug, "wait-unplug"),
    (MigrationStatus::PostcopyActive, "postcopy-active"),
    (MigrationStatus::PostcopyPaused, "postcopy-paused"),
    (MigrationStatus::PostcopyRecover, "postcopy-recover"),
    (MigrationStatus::Completed, "completed"),
    (MigrationStatus::Failed, "failed"),
    (MigrationStatus::Cancelling, "cancelling"),
    (MigrationStatus::Cancelled, "cancelled"),
    (MigrationStatus::Colo, "colo"),
];

impl MigrationStatus {
    /// Reads QEMU's spelling; anything else becomes [`MigrationStatus::Other`]. Infallible on
    /// purpose: an unknown status must not stop the supervision of a running migration.
    pub fn parse(text: &str) -> Self {
        NAMES
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(status, _)| status.clone())
            .unwrap_or_else(|| MigrationStatus::Other(text.to_string()))
    }

    /// QEMU's spelling (the original text for [`MigrationStatus::Other`]), for logs and journals.
    pub fn as_str(&self) -> &str {
        if let MigrationStatus::Other(text) = self {
            return text;
        }
        NAMES
            .iter()
            .find(|(status, _)| status == self)
            .map(|(_, name)| *name)
            .expect("invariant: every variant but Other is in NAMES")
    }

    /// Whether the migration is over (nothing will change without a new migration).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            MigrationStatus::Completed | MigrationStatus::Failed | MigrationStatus::Cancelled
        )
    }

    /// Whether the guest already runs on the destination while memory is still on the source,
    /// the phase in which cancelling is no longer safe.
    pub fn is_postcopy(&self) -> bool {
        matches!(
            self,
            MigrationStatus::PostcopyActive
                | MigrationStatus::PostcopyPaused
                | MigrationStatus::PostcopyRecover
        )
    }
}

impl fmt::Display for MigrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as QEMU's spelling, so journals and JSON reports read like QEMU's own output.
impl Serialize for MigrationStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MigrationStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(MigrationStatus::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_round_trips() {
        for (status, name) in NAMES.iter() {
            assert_eq!(&MigrationStatus::parse(name), status);
            assert_eq!(status.as_str(), *name);
            assert_eq!(status.to_string(), *name);
        }
    }

    #[test]
    fn qemu_spellings_map_to_the_expected_variants() {
        assert_eq!(MigrationStatus::parse("active"), MigrationStatus::Active);
        assert_eq!(
            MigrationStatus::parse("postcopy-active"),
            MigrationStatus::PostcopyActive
        );
        assert_eq!(
            MigrationStatus::parse("completed"),
            MigrationStatus::Completed
        );
        assert_eq!(
            MigrationStatus::parse("cancelled"),
            MigrationStatus::Cancelled
        );
        assert_eq!(MigrationStatus::parse("none"), MigrationStatus::NotStarted);
    }

    #[test]
    fn unknown_or_odd_text_is_kept_not_rejected() {
        for text in ["", "Active", "postcopy-preempt", "completed "] {
            let status = MigrationStatus::parse(text);
            assert_eq!(status, MigrationStatus::Other(text.to_string()));
            assert_eq!(status.as_str(), text);
            assert!(!status.is_final());
        }
    }

    #[test]
    fn final_and_postcopy_phases_are_classified() {
        let finals: Vec<_> = NAMES.iter().filter(|(s, _)| s.is_final()).collect();
        assert_eq!(finals.len(), 3);
        assert!(MigrationStatus::PostcopyPaused.is_postcopy());
        assert!(!MigrationStatus::Active.is_postcopy());
        assert!(!MigrationStatus::Completed.is_postcopy());
    }

    #[test]
    fn serializes_as_qemu_text_and_back() {
        let json = serde_json::to_string(&MigrationStatus::PostcopyActive).unwrap();
        assert_eq!(json, "\"postcopy-active\"");
        let back: MigrationStatus = serde_json::from_str("\"wait-unplug\"").unwrap();
        assert_eq!(back, MigrationStatus::WaitUnplug);
        let other: MigrationStatus = serde_json::from_str("\"teleporting\"").unwrap();
        assert_eq!(other, MigrationStatus::Other("teleporting".into()));
    }
}
