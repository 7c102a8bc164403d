//! Errors of the driver, one enum, with what went wrong and where.

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
        /// Why.
        reason: String,
        /// The VM is running on the source (nothing lost).
        source_running: bool,
    },
    /// After "completed", the two sides were not in the expected states.
    #[error("inconsistent end state: source {source_status}, destination {destination_status}")]
    EndState {
        /// Source run state.
        source_status: String,
        /// Destination run state.
        destination_status: String,
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
