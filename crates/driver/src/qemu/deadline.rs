//! Step 6: the deadline. A migration still in pre-copy when its deadline passes gets the plan's
//! action once: cancel (the VM stays where it is, safe) or switch to post-copy (it finishes
//! quickly, at the risk of losing the VM if the source fails during post-copy).

use crate::driver::DeadlineAction;
use crate::status::MigrationStatus;
use std::time::Duration;

/// What to send at the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStep {
    /// `migrate_cancel`.
    Cancel,
    /// `migrate-start-postcopy`.
    SwitchToPostcopy,
    /// Nothing: post-copy already runs and will finish on its own.
    Nothing,
}

/// Whether the deadline action is due now: past the deadline, not taken yet, and still in plain
/// pre-copy (in other phases the migration is finishing or already past the point of choice).
pub fn due(
    elapsed: Duration,
    deadline: Duration,
    already_hit: bool,
    status: &MigrationStatus,
) -> bool {
    elapsed > deadline && !already_hit && *status == MigrationStatus::Active
}

/// The step for the plan's action. Once post-copy has started the guest runs on the destination
/// and the source's copy is stale: cancelling then would lose the VM, so nothing is sent.
pub fn step(on_deadline: DeadlineAction, postcopy_started: bool) -> DeadlineStep {
    match (on_deadline, postcopy_started) {
        (_, true) => DeadlineStep::Nothing,
        (DeadlineAction::Cancel, false) => DeadlineStep::Cancel,
        (DeadlineAction::Postcopy, false) => DeadlineStep::SwitchToPostcopy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_past_the_deadline_in_precopy_only() {
        let deadline = Duration::from_secs(3);
        let late = Duration::from_millis(3001);
        assert!(!due(deadline, deadline, false, &MigrationStatus::Active));
        assert!(due(late, deadline, false, &MigrationStatus::Active));
        assert!(!due(late, deadline, true, &MigrationStatus::Active));
        for status in [
            MigrationStatus::Setup,
            MigrationStatus::Device,
            MigrationStatus::PostcopyActive,
        ] {
            assert!(!due(late, deadline, false, &status), "{status}");
        }
    }

    #[test]
    fn never_cancels_once_postcopy_runs() {
        assert_eq!(step(DeadlineAction::Cancel, false), DeadlineStep::Cancel);
        assert_eq!(
            step(DeadlineAction::Postcopy, false),
            DeadlineStep::SwitchToPostcopy
        );
        assert_eq!(step(DeadlineAction::Cancel, true), DeadlineStep::Nothing);
        assert_eq!(step(DeadlineAction::Postcopy, true), DeadlineStep::Nothing);
    }
}
