//! What can go wrong in the controller, one enum for the crate, each variant naming where.

use crate::plan::{PlanId, PlanState};
use std::path::PathBuf;

/// A controller error.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is malformed or inconsistent.
    #[error("{}:{line}: {field}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The journal (SQLite) refused an operation: nothing is acted upon without its record.
    #[error("journal {}: {source}", path.display())]
    Journal {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A journal row does not parse (written by another version, or edited by hand).
    #[error("journal {}: plan {id}: {message}", path.display())]
    JournalRow {
        /// The database file.
        path: PathBuf,
        /// The row.
        id: u64,
        /// What is wrong.
        message: String,
    },
    /// No plan with this id.
    #[error("{0} does not exist")]
    UnknownPlan(PlanId),
    /// A state change the plan's lifecycle does not allow (approving a finished plan...).
    #[error("{id} is {from}; it cannot become {to}")]
    IllegalTransition {
        /// The plan.
        id: PlanId,
        /// Its state.
        from: PlanState,
        /// The state asked for.
        to: PlanState,
    },
    /// The world (simulator, scenario, policy) could not be set up.
    #[error("{0}")]
    World(String),
}
