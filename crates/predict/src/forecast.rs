//! Resource exhaustion from a trend forecast: Holt's linear exponential smoothing with a running
//! estimate of its one-step error, giving the probability of crossing a limit within k steps and
//! the expected steps left. Hand-written because it is a dozen lines per update and must run
//! incrementally on every host at every step without refitting.

use promig_model::stats::normal_cdf;

/// Holt's linear trend state for one series.
#[derive(Debug, Clone, Copy)]
pub struct Holt {
    level: f64,
    trend: f64,
    /// Exponentially weighted mean squared one-step error.
    mse: f64,
    /// Samples seen.
    pub n: u32,
}

/// Level smoothing.
const ALPHA: f64 = 0.6;
/// Trend smoothing.
const BETA: f64 = 0.4;
/// Error-variance smoothing.
const GAMMA: f64 = 0.1;
/// Floor on the error standard deviation, so a flat history does not give certainty.
const MIN_SD: f64 = 0.02;

impl Default for Holt {
    fn default() -> Self {
        Holt {
            level: 0.0,
            trend: 0.0,
            mse: 0.01,
            n: 0,
        }
    }
}

impl Holt {
    /// Adds a sample.
    pub fn update(&mut self, y: f64) {
        if self.n == 0 {
            self.level = y;
        } else {
            let predicted = self.level + self.trend;
            let err = y - predicted;
            self.mse = (1.0 - GAMMA) * self.mse + GAMMA * err * err;
            let level = ALPHA * y + (1.0 - ALPHA) * predicted;
            self.trend = BETA * (level - self.level) + (1.0 - BETA) * self.trend;
            self.level = level;
        }
        self.n += 1;
    }

    /// Forecast `k` steps ahead.
    pub fn forecast(&self, k: f64) -> f64 {
        self.level + self.trend * k
    }

    /// Probability that the series exceeds `limit` at some point within `k` steps (approximated by
    /// the k-step-ahead marginal with error growing like sqrt(k)).
    pub fn p_exceeds(&self, limit: f64, k: f64) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let sd = self.mse.sqrt().max(MIN_SD);
        let mut p: f64 = 0.0;
        let mut step = 1.0;
        while step <= k {
            let z = (limit - self.forecast(step)) / (sd * step.sqrt());
            p = p.max(1.0 - normal_cdf(z));
            step += 1.0;
        }
        p
    }

    /// Absolute one-step forecast error of `y` in units of the running error (before updating).
    pub fn surprise(&self, y: f64) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        (y - self.forecast(1.0)).abs() / self.mse.sqrt().max(MIN_SD)
    }

    /// The same state for the negated series (to test a fall like a rise).
    pub fn negated(&self) -> Holt {
        Holt {
            level: -self.level,
            trend: -self.trend,
            ..*self
        }
    }

    /// Steps until the trend reaches `limit`, if it is rising towards it.
    pub fn steps_to(&self, limit: f64) -> Option<f64> {
        if self.level >= limit {
            return Some(0.0);
        }
        (self.trend > 1e-9).then(|| (limit - self.level) / self.trend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_series_is_flagged_before_it_crosses() {
        let mut h = Holt::default();
        for i in 0..10 {
            h.update(0.5 + 0.04 * i as f64);
        }
        // At 0.86 and rising 0.04 per step, the limit is about 3.5 steps away.
        assert!(h.p_exceeds(1.0, 5.0) > 0.5);
        assert!(h.p_exceeds(1.0, 1.0) < h.p_exceeds(1.0, 5.0));
        let steps = h.steps_to(1.0).unwrap();
        assert!(steps > 2.5 && steps < 6.0, "{steps}");
    }

    #[test]
    fn flat_low_series_is_safe() {
        let mut h = Holt::default();
        for _ in 0..12 {
            h.update(0.3);
        }
        assert!(h.p_exceeds(1.0, 3.0) < 0.01);
        assert!(h.steps_to(1.0).is_none());
    }
}

/// Holt forecasts of every VM's CPU utilisation, combined per host. Forecasting VMs rather than
/// hosts keeps the forecast valid when migrations change a host's VM set.
///
/// Instances of one VNF share its traffic (a load balancer spreads it), so their loads move
/// together: a VNF VM's trend is taken from Holt on the mean of all the VNF's instances, where
/// the per-VM noise averages out and a surge's ramp shows a step or two earlier than in any one
/// VM's own series.
#[derive(Debug, Clone, Default)]
pub struct VmForecasts {
    holt: Vec<Holt>,
    seen_len: Vec<usize>,
    vnf_holt: Vec<Holt>,
    vnf_sum: Vec<(f64, u32)>,
}

impl VmForecasts {
    /// Feeds the newest utilisation sample of every VM that has one.
    pub fn observe(&mut self, obs: &promig_model::Observation) {
        self.holt.resize_with(obs.vms.len(), Holt::default);
        self.seen_len.resize(obs.vms.len(), 0);
        for (v, vm) in obs.vms.iter().enumerate() {
            if vm.host.is_none() || vm.history_len == 0 {
                self.holt[v] = Holt::default();
                continue;
            }
            self.holt[v].update(vm.history[0]);
        }
        self.vnf_sum.clear();
        self.vnf_sum.resize(obs.vnf_qos.len(), (0.0, 0));
        for vm in obs
            .vms
            .iter()
            .filter(|vm| vm.host.is_some() && vm.history_len > 0)
        {
            if let Some(slot) = vm.vnf.and_then(|f| self.vnf_sum.get_mut(f)) {
                slot.0 += vm.history[0];
                slot.1 += 1;
            }
        }
        self.vnf_holt.resize_with(obs.vnf_qos.len(), Holt::default);
        for (f, &(sum, n)) in self.vnf_sum.iter().enumerate() {
            if n > 0 {
                self.vnf_holt[f].update(sum / n as f64);
            }
        }
    }

    /// Mean utilisation of `vm` `k` steps ahead: its own smoothed level, plus its VNF's pooled
    /// trend when it is a VNF instance.
    fn vm_forecast(&self, obs: &promig_model::Observation, vm: usize, k: f64) -> f64 {
        let f = &self.holt[vm];
        let pooled = obs.vms[vm]
            .vnf
            .and_then(|x| self.vnf_holt.get(x))
            .filter(|g| g.n >= 2);
        match pooled {
            Some(g) => f.level + g.trend * k,
            // A stand-alone VM's own trend is mostly noise one step ahead (on PlanetLab days it
            // costs 3 to 7 points of recall at precision 0.7): its smoothed level is the forecast.
            None => f.level,
        }
    }

    /// Mean and standard deviation of the host's CPU demand (fraction of capacity) `k` steps ahead,
    /// for its current VMs (and those migrating in).
    pub fn host_demand(&self, obs: &promig_model::Observation, host: usize, k: f64) -> (f64, f64) {
        let h = &obs.hosts[host];
        let cap = h.total_mips.max(1.0);
        let (mut mean, mut var) = (0.0, 0.0);
        for &v in h
            .vms
            .iter()
            .filter(|&&v| !obs.vms[v].in_migration)
            .chain(&h.migrating_in)
        {
            let mips = obs.vms[v].total_mips();
            let f = &self.holt[v];
            let (m, sd) = if f.n >= 2 {
                (
                    self.vm_forecast(obs, v, k).clamp(0.0, 1.0),
                    f.mse.sqrt().max(MIN_SD) * k.sqrt(),
                )
            } else {
                (obs.vms[v].requested_mips / mips.max(1.0), 0.1)
            };
            mean += m * mips / cap;
            var += (sd * mips / cap).powi(2);
        }
        (mean, var.sqrt())
    }

    /// Probability that the host's demand exceeds its capacity at some step within `k`.
    pub fn p_host_overload(&self, obs: &promig_model::Observation, host: usize, k: f64) -> f64 {
        self.p_host_demand_above(obs, host, 1.0, k)
    }

    /// Probability that the host's demand exceeds `limit` (a fraction of capacity) within `k` steps.
    pub fn p_host_demand_above(
        &self,
        obs: &promig_model::Observation,
        host: usize,
        limit: f64,
        k: f64,
    ) -> f64 {
        let mut p: f64 = 0.0;
        let mut step = 1.0;
        while step <= k {
            let (m, sd) = self.host_demand(obs, host, step);
            p = p.max(1.0 - normal_cdf((limit - m) / sd.max(1e-6)));
            step += 1.0;
        }
        p
    }
}

/// Memory of every VM over the last half hour, combined per host: a leak shows as one VM's steady
/// growth, while a VM arriving on the host adds its (flat) memory without faking a trend.
#[derive(Debug, Clone, Default)]
pub struct VmMemoryTrends {
    rings: Vec<crate::features::Ring>,
    scratch: Vec<f64>,
}

impl VmMemoryTrends {
    /// Feeds every VM's memory in use.
    pub fn observe(&mut self, obs: &promig_model::Observation) {
        self.rings.resize_with(obs.vms.len(), Default::default);
        for (v, vm) in obs.vms.iter().enumerate() {
            if vm.host.is_none() {
                self.rings[v] = Default::default();
            } else {
                self.rings[v].push(vm.memory_used_mib);
            }
        }
    }

    /// Forecast of the host's memory in use `k` steps ahead (MiB): mean, standard deviation, and
    /// the summed growth per step of its VMs.
    pub fn host_forecast(
        &mut self,
        obs: &promig_model::Observation,
        host: usize,
        k: f64,
    ) -> (f64, f64, f64) {
        let h = &obs.hosts[host];
        let (mut now, mut growth, mut var) = (0.0, 0.0, 0.0);
        for &v in &h.vms {
            let ring = &self.rings[v];
            now += ring.latest();
            ring.last(6, &mut self.scratch);
            if self.scratch.len() >= 4 {
                let slope = promig_model::stats::slope(&self.scratch);
                let n = self.scratch.len() as f64;
                let mean = self.scratch.iter().sum::<f64>() / n;
                let mid = (n - 1.0) / 2.0;
                let rss: f64 = self
                    .scratch
                    .iter()
                    .enumerate()
                    .map(|(i, y)| (y - (mean + slope * (i as f64 - mid))).powi(2))
                    .sum();
                growth += slope.max(0.0);
                var += rss / (n - 2.0);
            }
        }
        let sd = var.sqrt() * k.sqrt() + 0.01 * h.physical_memory_mib;
        (now + growth * k, sd, growth)
    }

    /// Probability that the host's memory in use exceeds its physical memory within `k` steps,
    /// and the steps left at the current growth.
    pub fn p_host_exhaustion(
        &mut self,
        obs: &promig_model::Observation,
        host: usize,
        k: f64,
    ) -> (f64, Option<f64>) {
        let limit = obs.hosts[host].physical_memory_mib;
        let (forecast, sd, growth) = self.host_forecast(obs, host, k);
        let now = forecast - growth * k;
        let p = 1.0 - normal_cdf((limit - forecast) / sd);
        let steps = (growth > 1e-6).then(|| ((limit - now) / growth).max(0.0));
        (p, steps)
    }
}
