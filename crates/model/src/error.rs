//! One error type for everything the model loads, so a user always learns which file, line and field.

use std::path::PathBuf;

/// What went wrong while reading a scenario, a trace or a topology.
///
/// Every variant names the file, and where it makes sense the line and field, because a user fixing
/// a 1,000-file trace folder needs to know exactly where to look.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be opened or read at all.
    #[error("{path}: cannot read")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A value on a given line did not parse or is out of range.
    #[error("{path}:{line}: field `{field}`: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    /// A scenario is syntactically fine but inconsistent (unknown reference, impossible size...).
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ModelError {
    /// Shorthand used by the line-oriented loaders.
    pub fn parse(
        path: impl Into<PathBuf>,
        line: usize,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        ModelError::Parse {
            path: path.into(),
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for consistency errors found after parsing.
    pub fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ModelError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}

/// At most 40 characters of a bad value, so an error never echoes a whole line or file.
pub fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
