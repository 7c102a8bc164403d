//! Per-host rolling history and the features derived from it.
//!
//! Fixed-size ring buffers per host and signal: memory stays constant however long the stream runs.

use promig_model::Observation;
use promig_model::stats::slope;

/// Samples kept per host (one hour at 5-minute steps).
pub const WINDOW: usize = 12;

/// A fixed-capacity ring of the most recent samples.
#[derive(Debug, Clone)]
pub struct Ring {
    buf: [f64; WINDOW],
    len: usize,
    head: usize,
}

impl Default for Ring {
    fn default() -> Self {
        Ring {
            buf: [0.0; WINDOW],
            len: 0,
            head: 0,
        }
    }
}

impl Ring {
    /// Adds a sample, dropping the oldest when full.
    pub fn push(&mut self, v: f64) {
        self.buf[self.head] = v;
        self.head = (self.head + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    /// The last `n` samples, oldest first.
    pub fn last(&self, n: usize, out: &mut Vec<f64>) {
        out.clear();
        let n = n.min(self.len);
        for i in 0..n {
            out.push(self.buf[(self.head + WINDOW - n + i) % WINDOW]);
        }
    }

    /// Most recent sample (0 when empty).
    pub fn latest(&self) -> f64 {
        if self.len == 0 {
            0.0
        } else {
            self.buf[(self.head + WINDOW - 1) % WINDOW]
        }
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no sample was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The signals kept per host.
#[derive(Debug, Clone, Default)]
pub struct HostHistory {
    /// Corrected memory errors per hour.
    pub corrected_errors: Ring,
    /// Temperature.
    pub temperature: Ring,
    /// CPU utilisation delivered.
    pub utilization: Ring,
    /// CPU demand over capacity.
    pub demand: Ring,
    /// Memory in use over physical memory.
    pub memory: Ring,
}

/// Names of the hardware-failure features, in the order [`hardware_features`] returns them.
pub const HARDWARE_FEATURES: [&str; 6] = [
    "log1p(corrected errors/h) now",
    "log1p(corrected errors/h) mean over 30 min",
    "corrected errors/h slope over 30 min",
    "temperature minus load-explained part",
    "temperature slope over 30 min",
    "errors present in each of the last 3 samples",
];

/// Features for the hardware-failure classifier.
pub fn hardware_features(h: &HostHistory, scratch: &mut Vec<f64>) -> [f64; 6] {
    h.corrected_errors.last(6, scratch);
    let ce_now = h.corrected_errors.latest();
    let ce_mean = if scratch.is_empty() {
        0.0
    } else {
        scratch.iter().map(|v| v.ln_1p()).sum::<f64>() / scratch.len() as f64
    };
    let ce_slope = slope(scratch);
    let persistent = scratch.iter().rev().take(3).filter(|&&v| v > 0.0).count() as f64 / 3.0;
    h.temperature.last(6, scratch);
    let temp_slope = slope(scratch);
    // Load explains most of the temperature (about 25 degrees from idle to full here, fitted
    // online would be better; the classifier learns the residual's weight).
    let temp_resid = h.temperature.latest() - 25.0 * h.utilization.latest();
    [
        ce_now.ln_1p(),
        ce_mean,
        ce_slope,
        temp_resid,
        temp_slope,
        persistent,
    ]
}

/// Updates every host's history from an observation.
pub fn observe(histories: &mut Vec<HostHistory>, obs: &Observation) {
    histories.resize_with(obs.hosts.len(), HostHistory::default);
    for (h, host) in obs.hosts.iter().enumerate() {
        let hist = &mut histories[h];
        if !host.up {
            *hist = HostHistory::default();
            continue;
        }
        hist.corrected_errors.push(host.corrected_errors_per_h);
        hist.temperature.push(host.temperature_c);
        hist.utilization.push(host.utilization);
        hist.demand
            .push(host.requested_mips / host.total_mips.max(1.0));
        let used: f64 = host.vms.iter().map(|&v| obs.vms[v].memory_used_mib).sum();
        hist.memory.push(used / host.physical_memory_mib.max(1.0));
    }
}
