//! Cancelling, by the deadline or by the caller at any time. QEMU would cancel in any running
//! phase, post-copy included; but once post-copy has begun the guest runs on the destination and
//! the source's memory is stale, so a cancel there would lose the VM. This module says when a
//! cancel is safe and sends it.

use crate::error::DriverError;
use crate::qemu::client::QmpClient;
use crate::status::MigrationStatus;
use serde_json::Value;

/// Whether a requested cancel may be sent now.
///
/// Yes while the source still holds the authoritative VM state and the migration can still be
/// talked out of finishing: setup, pre-copy, waiting for unplug, paused before switch-over. Not
/// in post-copy (never safe) nor in the short device phase or while already cancelling; the
/// loop asks again at the next poll, by which time the migration has usually completed, and
/// the outcome then records the request as too late.
pub fn may_send(status: &MigrationStatus, postcopy_started: bool) -> bool {
    !postcopy_started
        && matches!(
            status,
            MigrationStatus::Setup
                | MigrationStatus::Active
                | MigrationStatus::WaitUnplug
                | MigrationStatus::PreSwitchover
        )
}

/// Sends `migrate_cancel` to the source. QEMU then reports `cancelled`, restarts the guest on
/// the source if the migration had stopped it, and the destination QEMU exits.
pub async fn send(source: &QmpClient) -> Result<(), DriverError> {
    source.execute("migrate_cancel", Value::Null).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancels_only_while_the_source_is_authoritative() {
        for status in [MigrationStatus::Setup, MigrationStatus::Active] {
            assert!(may_send(&status, false), "{status}");
            assert!(!may_send(&status, true), "{status} after post-copy began");
        }
        for status in [
            MigrationStatus::PostcopyActive,
            MigrationStatus::PostcopyPaused,
            MigrationStatus::Device,
            MigrationStatus::Cancelling,
            MigrationStatus::Completed,
            MigrationStatus::Other("new-phase".into()),
        ] {
            assert!(!may_send(&status, false), "{status}");
        }
    }
}
