//! Step 5: the switch to post-copy, when the plan asks for it after a number of pre-copy passes.
//! (The deadline's switch is in [`super::deadline`]; both send the same command.)

use crate::error::DriverError;
use crate::progress::Progress;
use crate::qemu::client::QmpClient;
use crate::status::MigrationStatus;
use promig_migrate::{Technique, TechniqueParams};
use serde_json::Value;

/// Full passes over guest RAM done so far reach `rounds`.
///
/// "After r rounds" means r full passes over guest RAM, counted from the pages QEMU has
/// processed: QEMU's sync count is no guide, it also syncs mid-pass.
pub fn passes_done(progress: &Progress, rounds: u32) -> bool {
    progress.total_pages > 0 && progress.pages_processed >= progress.total_pages * rounds as u64
}

/// Whether a post-copy plan should switch now: only from plain pre-copy (`active`), once.
pub fn due(params: &TechniqueParams, progress: &Progress, already_started: bool) -> bool {
    params.technique == Technique::Postcopy
        && !already_started
        && progress.status == MigrationStatus::Active
        && passes_done(progress, params.postcopy_after_rounds)
}

/// Tells the source to switch: the guest resumes on the destination and pulls the pages it
/// still lacks. Needs `postcopy-ram` on both sides (see [`super::capabilities`]).
pub async fn switch(source: &QmpClient) -> Result<(), DriverError> {
    source
        .execute("migrate-start-postcopy", Value::Null)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: MigrationStatus, pages_processed: u64) -> Progress {
        Progress {
            status,
            pages_processed,
            total_pages: 1000,
            ..Progress::default()
        }
    }

    #[test]
    fn switches_after_the_planned_full_passes_only() {
        let params = TechniqueParams::of(Technique::Postcopy);
        assert_eq!(params.postcopy_after_rounds, 1);
        assert!(!due(&params, &sample(MigrationStatus::Active, 999), false));
        assert!(due(&params, &sample(MigrationStatus::Active, 1000), false));
        // Once only, from pre-copy only.
        assert!(!due(&params, &sample(MigrationStatus::Active, 1000), true));
        assert!(!due(&params, &sample(MigrationStatus::Setup, 1000), false));
        // Not for other techniques.
        let precopy = TechniqueParams::of(Technique::Precopy);
        assert!(!due(
            &precopy,
            &sample(MigrationStatus::Active, 5000),
            false
        ));
    }

    #[test]
    fn zero_rounds_switches_at_once_but_not_before_qemu_knows_the_ram_size() {
        let params = TechniqueParams {
            postcopy_after_rounds: 0,
            ..TechniqueParams::of(Technique::Postcopy)
        };
        assert!(due(&params, &sample(MigrationStatus::Active, 0), false));
        let unknown = Progress {
            status: MigrationStatus::Active,
            ..Progress::default()
        };
        assert!(!due(&params, &unknown, false));
    }
}
