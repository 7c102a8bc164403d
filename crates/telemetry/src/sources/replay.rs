//! Trace replay: the data sets in `../shared/data` (PlanetLab, Google, Bitbrains), loaded by the
//! model crate, fed into the store as if an exporter reported one sample per VM and metric every
//! trace interval. Experiments and tests then read telemetry through the same store a live
//! deployment fills. Series are the schema's VM series ([`crate::schema::VM_CPU`], ...), labelled
//! with the trace's name (`vm`) and the replay's (`source`).

use super::{Source, series_key};
use crate::schema::{self, label};
use crate::{IngestStats, SeriesId, Store, TelemetryError};
use promig_model::Trace;

/// One trace's metric, with its series in the store.
#[derive(Debug, Clone)]
struct Feed {
    trace: usize,
    which: Column,
    series: SeriesId,
}

#[derive(Debug, Clone, Copy)]
enum Column {
    Cpu,
    Memory,
    Network,
}

/// Replays a set of traces from `start_ms`, one sample every `interval_ms`.
#[derive(Debug, Clone)]
pub struct TraceReplay {
    name: String,
    traces: Vec<Trace>,
    feeds: Vec<Feed>,
    start_ms: i64,
    interval_ms: i64,
    /// Index of the next sample to deliver (the same for every trace).
    next: usize,
    len: usize,
    stats: IngestStats,
}

impl TraceReplay {
    /// Registers every series (so polling allocates nothing). Series the store has no room for
    /// are counted as unknown and skipped, as the scrape path does.
    pub fn new(
        name: &str,
        traces: Vec<Trace>,
        store: &mut Store,
        start_ms: i64,
        interval_ms: i64,
    ) -> Self {
        let mut stats = IngestStats::default();
        let mut feeds = Vec::new();
        for (i, t) in traces.iter().enumerate() {
            let labels = [(label::VM, t.name.as_str()), (label::SOURCE, name)];
            let mut add = |metric: &str, which: Column| match store
                .series(series_key(metric, &labels).as_bytes())
            {
                Some(series) => feeds.push(Feed {
                    trace: i,
                    which,
                    series,
                }),
                None => stats.unknown_series += 1,
            };
            add(schema::VM_CPU, Column::Cpu);
            if t.memory.is_some() {
                add(schema::VM_MEMORY, Column::Memory);
            }
            if t.net_kbps.is_some() {
                add(schema::VM_NETWORK_KBPS, Column::Network);
            }
        }
        let len = traces.iter().map(Trace::len).max().unwrap_or(0);
        TraceReplay {
            name: name.to_string(),
            traces,
            feeds,
            start_ms,
            interval_ms: interval_ms.max(1),
            next: 0,
            len,
            stats,
        }
    }

    /// Whether every sample has been delivered.
    pub fn finished(&self) -> bool {
        self.next >= self.len
    }

    /// Timestamp of sample `i`.
    fn ts(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * self.interval_ms
    }
}

impl Source for TraceReplay {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(&mut self, store: &mut Store, until_ms: i64) -> Result<u64, TelemetryError> {
        let mut offered = 0;
        while self.next < self.len && self.ts(self.next) <= until_ms {
            let (i, ts) = (self.next, self.ts(self.next));
            for f in &self.feeds {
                let t = &self.traces[f.trace];
                let column = match f.which {
                    Column::Cpu => Some(&t.cpu),
                    Column::Memory => t.memory.as_ref(),
                    Column::Network => t.net_kbps.as_ref(),
                };
                // Traces of different lengths: a short one simply stops reporting.
                if let Some(&v) = column.and_then(|c| c.get(i)) {
                    store.append(f.series, ts, v, &mut self.stats);
                    offered += 1;
                }
            }
            self.next += 1;
        }
        Ok(offered)
    }

    fn stats(&self) -> &IngestStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(name: &str, cpu: &[f64]) -> Trace {
        Trace {
            name: name.into(),
            cpu: cpu.to_vec(),
            memory: None,
            net_kbps: None,
        }
    }

    #[test]
    fn replays_up_to_the_requested_time_and_no_further() {
        let mut store = Store::new(16, 16);
        let traces = vec![trace("a", &[0.1, 0.2, 0.3]), trace("b", &[0.5, f64::NAN])];
        let mut r = TraceReplay::new("test", traces, &mut store, 1_000, 300_000);
        assert_eq!(r.poll(&mut store, 1_000).unwrap(), 2);
        assert_eq!(r.poll(&mut store, 300_999).unwrap(), 0);
        assert_eq!(r.poll(&mut store, 301_000).unwrap(), 2);
        assert!(!r.finished());
        assert_eq!(r.poll(&mut store, i64::MAX).unwrap(), 1);
        assert!(r.finished());
        let a = store
            .find(&series_key(
                schema::VM_CPU,
                &[("vm", "a"), ("source", "test")],
            ))
            .unwrap();
        assert_eq!(
            store.samples(a),
            vec![(1_000, 0.1), (301_000, 0.2), (601_000, 0.3)]
        );
        // The NaN in b is refused and counted, never stored.
        assert_eq!(r.stats().non_finite, 1);
        assert_eq!(r.stats().accepted, 4);
    }

    #[test]
    fn a_full_store_counts_unknown_series_instead_of_failing() {
        let mut store = Store::new(4, 1);
        let r = TraceReplay::new(
            "t",
            vec![trace("a", &[0.1]), trace("b", &[0.2])],
            &mut store,
            0,
            1,
        );
        assert_eq!(r.stats().unknown_series, 1);
    }
}
