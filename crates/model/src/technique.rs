//! Live-migration techniques with QEMU's semantics: a noun every stage shares (a decision names one,
//! the cost model prices it, the planner picks it, the driver executes it), so it lives at the bottom.

use serde::{Deserialize, Serialize};

/// Migration technique, with QEMU's semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Technique {
    /// QEMU's default iterative pre-copy.
    Precopy,
    /// Pre-copy that throttles the guest's vCPUs when it dirties faster than half the send rate.
    AutoConverge,
    /// Pre-copy with XBZRLE delta compression of re-sent pages.
    Xbzrle,
    /// Pre-copy with multi-threaded zlib compression of every page.
    Compress,
    /// Switch over early, pull the remaining pages on demand.
    Postcopy,
}

impl Technique {
    /// Every technique, for planners that try them all.
    pub const ALL: [Technique; 5] = [
        Technique::Precopy,
        Technique::AutoConverge,
        Technique::Xbzrle,
        Technique::Compress,
        Technique::Postcopy,
    ];

    /// Name as used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Technique::Precopy => "precopy",
            Technique::AutoConverge => "auto-converge",
            Technique::Xbzrle => "xbzrle",
            Technique::Compress => "compress",
            Technique::Postcopy => "postcopy",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(s: &str) -> Option<Self> {
        Technique::ALL.into_iter().find(|t| t.name() == s)
    }
}
