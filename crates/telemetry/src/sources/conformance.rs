//! The behaviour every [`Source`] must have, checked the same way for all of them: each source's
//! tests (replay, scrape, remote-write here, the simulator in `sim`) call [`check`] on a source
//! fed with a small fixture, so a new source cannot quietly break the loop that drives them.
//!
//! Public (and hidden from the docs) only so that sources in other crates can be held to it.

use super::Source;
use crate::{IngestStats, Store, TelemetryError};

/// What a passing run saw, for source-specific checks on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Samples the first poll offered.
    pub offered: u64,
    /// Of those, samples the store accepted.
    pub accepted: u64,
    /// Series in the store afterwards.
    pub series: usize,
}

/// The first rule a source broke.
#[derive(Debug, thiserror::Error)]
pub enum Violation {
    /// Counters are shown by name; an empty one cannot be told apart.
    #[error("name() is empty")]
    EmptyName,
    /// A poll failed although the fixture is healthy.
    #[error("poll up to {until_ms} failed")]
    Poll {
        /// The time polled to.
        until_ms: i64,
        /// The source's error.
        #[source]
        source: TelemetryError,
    },
    /// The fixture offers samples up to the polled time, but nothing arrived.
    #[error("poll up to {until_ms} offered {offered} samples and the store accepted {accepted}")]
    NothingMoved {
        /// The time polled to.
        until_ms: i64,
        /// What poll returned.
        offered: u64,
        /// What the store accepted.
        accepted: u64,
    },
    /// What poll returned differs from what the counters say was offered (accepted + refused).
    #[error(
        "poll up to {until_ms} returned {returned} but the counters moved by {counted} (before {before:?}, after {after:?})"
    )]
    CountsDisagree {
        /// The time polled to.
        until_ms: i64,
        /// What poll returned.
        returned: u64,
        /// Growth of `accepted + refused`.
        counted: u64,
        /// Counters before.
        before: Box<IngestStats>,
        /// Counters after.
        after: Box<IngestStats>,
    },
    /// The store holds a different number of new samples than the source says it accepted.
    #[error("the source counted {accepted} samples accepted but the store holds {stored} more")]
    StoreDisagrees {
        /// Growth of `accepted`.
        accepted: u64,
        /// Growth of the samples held by the store.
        stored: u64,
    },
    /// A poll repeated, or moved back in time, changed something.
    #[error(
        "polling again up to {until_ms} (after {after_ms}) offered {offered} samples and moved the counters from {before:?} to {after:?}"
    )]
    NotIdempotent {
        /// The time polled to.
        until_ms: i64,
        /// The time polled to before.
        after_ms: i64,
        /// What poll returned.
        offered: u64,
        /// Counters before.
        before: Box<IngestStats>,
        /// Counters after.
        after: Box<IngestStats>,
    },
}

fn stored(store: &Store) -> u64 {
    (0..store.len() as u32)
        .map(|id| store.sample_count(id) as u64)
        .sum()
}

fn full_ring(store: &Store) -> bool {
    (0..store.len() as u32).any(|id| store.sample_count(id) >= store.capacity_per_series())
}

/// Polls `source` up to `until_ms` (the fixture must hold samples by then, none of them already
/// polled), then again up to the same time and to earlier times, checking that: the name is not
/// empty; the first poll moves samples into the store and returns the count its counters show
/// as offered (`accepted + refused`); the store grew by what was accepted (unless a ring was
/// full); a repeated poll offers nothing and changes nothing; a poll back in time is harmless.
pub fn check(
    source: &mut dyn Source,
    store: &mut Store,
    until_ms: i64,
) -> Result<Summary, Violation> {
    if source.name().is_empty() {
        return Err(Violation::EmptyName);
    }
    let before = source.stats().clone();
    let stored_before = stored(store);
    let offered = source
        .poll(store, until_ms)
        .map_err(|source| Violation::Poll { until_ms, source })?;
    let after = source.stats().clone();
    let counted = after.offered() - before.offered();
    if counted != offered {
        return Err(Violation::CountsDisagree {
            until_ms,
            returned: offered,
            counted,
            before: Box::new(before),
            after: Box::new(after),
        });
    }
    let accepted = after.accepted - before.accepted;
    if offered == 0 || accepted == 0 {
        return Err(Violation::NothingMoved {
            until_ms,
            offered,
            accepted,
        });
    }
    let grown = stored(store) - stored_before;
    if grown != accepted && !full_ring(store) {
        return Err(Violation::StoreDisagrees {
            accepted,
            stored: grown,
        });
    }
    let settled = stored(store);
    for again in [until_ms, until_ms.saturating_sub(1), i64::MIN] {
        let offered = source
            .poll(store, again)
            .map_err(|source| Violation::Poll {
                until_ms: again,
                source,
            })?;
        if offered != 0 || source.stats() != &after || stored(store) != settled {
            return Err(Violation::NotIdempotent {
                until_ms: again,
                after_ms: until_ms,
                offered,
                before: Box::new(after),
                after: Box::new(source.stats().clone()),
            });
        }
    }
    Ok(Summary {
        offered,
        accepted,
        series: store.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that breaks the rules on demand.
    struct Liar {
        report: u64,
        stats: IngestStats,
    }

    impl Source for Liar {
        fn name(&self) -> &str {
            "liar"
        }
        fn poll(&mut self, store: &mut Store, until_ms: i64) -> Result<u64, TelemetryError> {
            let id = store.series(b"x").expect("room for one series");
            store.append(id, until_ms, 1.0, &mut self.stats);
            Ok(self.report)
        }
        fn stats(&self) -> &IngestStats {
            &self.stats
        }
    }

    #[test]
    fn a_source_that_miscounts_or_repeats_itself_is_caught() {
        let mut store = Store::new(8, 8);
        let mut liar = Liar {
            report: 2,
            stats: IngestStats::default(),
        };
        assert!(matches!(
            check(&mut liar, &mut store, 10),
            Err(Violation::CountsDisagree { .. })
        ));
        let mut store = Store::new(8, 8);
        liar.report = 1;
        // Counts right, but polling the same time again appends a duplicate (counted, offered).
        assert!(matches!(
            check(&mut liar, &mut store, 10),
            Err(Violation::NotIdempotent { .. })
        ));
    }
}
