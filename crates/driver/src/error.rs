//! Errors of the driver, one enum, with what went wrong and where. Underlying errors (I/O, JSON,
//! a QMP failure behind a failed migration) are kept as sources, so a log shows the whole chain.

use crate::qemu::run_state::RunState;
use std::time::Duration;

/// What can go wrong talking to QEMU or migrating.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Socket or process I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// QEMU closed the QMP connection (it exited or crashed).
    #[error("QMP connection to {vm} closed")]
    Closed {
        /// VM name.
        vm: String,
    },
    /// QEMU did not answer in time.
    #[error("{vm}: `{command}` got no answer within {timeout:?}")]
    Timeout {
        /// VM name.
        vm: String,
        /// The QMP command.
        command: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// QEMU answered with an error.
    #[error("{vm}: `{command}` failed: {class}: {desc}")]
    Command {
        /// VM name.
        vm: String,
        /// The QMP command.
        command: String,
        /// QMP error class (e.g. `GenericError`).
        class: String,
        /// QEMU's description.
        desc: String,
    },
    /// QEMU sent a line that is not JSON.
    #[error("{vm}: {what} is not JSON")]
    Json {
        /// VM name.
        vm: String,
        /// Which message (e.g. "the QMP greeting").
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// QEMU said something we do not understand.
    #[error("{vm}: unexpected QMP message: {message}")]
    Protocol {
        /// VM name.
        vm: String,
        /// What was wrong.
        message: String,
    },
    /// The migration failed; `source_running` says whether the VM is safe on the source.
    #[error("migration failed ({reason}); VM running on source: {source_running}")]
    MigrationFailed {
        /// Why, in words (QEMU's own description when it gave one).
        reason: String,
        /// The VM is running on the source (nothing lost).
        source_running: bool,
        /// The error that ended supervision, when one did (e.g. the source stopped answering).
        #[source]
        cause: Option<Box<DriverError>>,
    },
    /// After "completed", the two sides were not in the expected states.
    #[error("inconsistent end state: source {source_status}, destination {destination_status}")]
    EndState {
        /// Source run state.
        source_status: RunState,
        /// Destination run state.
        destination_status: RunState,
    },
    /// The driver was asked to migrate a VM it has no hypervisor connections for.
    #[error("no prepared migration of {vm} to {destination}: the driver has no endpoints for it")]
    NotPrepared {
        /// The VM in the request.
        vm: String,
        /// The destination in the request.
        destination: String,
    },
    /// The task supervising a migration ended without reporting (it panicked): the VM's state
    /// is unknown and must be checked by hand.
    #[error("the task supervising the migration of {vm} ended without an outcome")]
    TaskLost {
        /// The VM being migrated.
        vm: String,
    },
    /// A helper program (`ip`, `tc`) ran but failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    ExternalCommand {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
}

impl DriverError {
    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DriverError::Io {
            context: context.into(),
            source,
        }
    }
}
