//! The predictor policies consume: hardware failure from precursors, CPU overload and memory
//! exhaustion from trend forecasts, combined per host.

use crate::features::{self, HostHistory};
use crate::forecast::{Holt, VmForecasts, VmMemoryTrends};
use crate::hardware::HardwareModel;
use promig_model::observation::SERVICE_TIME_MS;
use promig_model::{HORIZONS_S, HostRisk, Observation};

/// Turns a stream of observations into per-host risk. The simulator, the evaluator and (later)
/// the controller call it once per interval, in time order.
pub trait Predictor: Send {
    /// Ingests `obs` and returns the risk of every host.
    fn predict(&mut self, obs: &Observation) -> Vec<HostRisk>;
}

/// The default predictor.
#[derive(Debug, Clone)]
pub struct RiskPredictor {
    /// Horizon in scheduling intervals (hardware label horizon is the model's own).
    pub horizon_steps: f64,
    /// Horizon for memory exhaustion: leaks are slow and a VM needs time to move, so it looks
    /// further ahead than CPU overload.
    pub memory_horizon_steps: f64,
    /// Horizon for a response-time breach: far enough ahead to move a VNF instance first.
    pub response_horizon_steps: f64,
    hardware: Option<HardwareModel>,
    histories: Vec<HostHistory>,
    demand: Vec<Holt>,
    vms: VmForecasts,
    vm_memory: VmMemoryTrends,
    scratch: Vec<f64>,
}

impl RiskPredictor {
    /// A predictor with the given hardware model (None: precursors are ignored) and horizon.
    pub fn new(hardware: Option<HardwareModel>, horizon_steps: f64) -> Self {
        RiskPredictor {
            horizon_steps,
            memory_horizon_steps: 6.0,
            response_horizon_steps: 3.0,
            hardware,
            histories: Vec::new(),
            demand: Vec::new(),
            vms: VmForecasts::default(),
            vm_memory: VmMemoryTrends::default(),
            scratch: Vec::new(),
        }
    }

    /// Features of a host's hardware classifier, as last observed (for training and reports).
    pub fn hardware_features(&mut self, host: usize) -> [f64; 6] {
        features::hardware_features(&self.histories[host], &mut self.scratch)
    }

    /// Ingests an observation without predicting (training data collection).
    pub fn observe(&mut self, obs: &Observation) {
        features::observe(&mut self.histories, obs);
        self.vms.observe(obs);
        self.vm_memory.observe(obs);
        self.demand.resize_with(obs.hosts.len(), Holt::default);
        for (h, host) in obs.hosts.iter().enumerate() {
            if !host.up {
                self.demand[h] = Holt::default();
                continue;
            }
            self.demand[h].update(self.histories[h].demand.latest());
        }
    }
}

impl Predictor for RiskPredictor {
    fn predict(&mut self, obs: &Observation) -> Vec<HostRisk> {
        self.observe(obs);
        let k = self.horizon_steps;
        (0..obs.hosts.len())
            .map(|h| {
                if !obs.hosts[h].up {
                    return HostRisk::default();
                }
                let hardware = match &self.hardware {
                    Some(m) if self.histories[h].corrected_errors.len() >= 3 => {
                        let x = features::hardware_features(&self.histories[h], &mut self.scratch);
                        m.probability(&x)
                    }
                    _ => 0.0,
                };
                let overload = self.vms.p_host_overload(obs, h, k);
                // Response time: in the observation's queueing model the strictest VNF latency
                // bound on the host is a load limit; its breach is forecast like an overload.
                let load_limit = obs
                    .strictest_latency_ms(obs.hosts[h].vms.iter().copied())
                    .map(|ms| (1.0 - SERVICE_TIME_MS / ms).clamp(0.0, 1.0));
                let response_within = |vms: &VmForecasts, steps: f64| {
                    load_limit.map_or(0.0, |l| vms.p_host_demand_above(obs, h, l, steps))
                };
                let response_time = response_within(&self.vms, self.response_horizon_steps.max(k));
                // The same breach probabilities over the standard horizons (5, 15, 30 minutes);
                // the hardware model has a single 30-minute horizon and counts in all three.
                let mut within = [0.0; 3];
                for (slot, horizon_s) in within.iter_mut().zip(HORIZONS_S) {
                    let steps = (horizon_s / obs.interval_s).max(1.0);
                    let (mem, _) = self.vm_memory.p_host_exhaustion(obs, h, steps);
                    *slot = hardware
                        .max(self.vms.p_host_overload(obs, h, steps))
                        .max(mem)
                        .max(response_within(&self.vms, steps));
                }
                let (memory, memory_steps) =
                    self.vm_memory
                        .p_host_exhaustion(obs, h, self.memory_horizon_steps.max(k));
                let steps = [self.demand[h].steps_to(1.0), memory_steps]
                    .into_iter()
                    .flatten()
                    .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.min(b))));
                let z = promig_model::observation::INTERVAL_90_Z;
                let (cpu_mean, cpu_sd) = self.vms.host_demand(obs, h, k);
                let memory_steps_ahead = self.memory_horizon_steps.max(k);
                let (mem_mean, mem_sd, _) =
                    self.vm_memory.host_forecast(obs, h, memory_steps_ahead);
                let physical = obs.hosts[h].physical_memory_mib.max(1.0);
                let interval = |m: f64, sd: f64| [(m - z * sd).max(0.0), m, m + z * sd];
                HostRisk {
                    cpu_demand: interval(cpu_mean, cpu_sd),
                    memory_use: interval(mem_mean / physical, mem_sd / physical),
                    probability: hardware.max(overload).max(memory).max(response_time),
                    time_left_s: steps.map(|s| s * obs.interval_s),
                    hardware,
                    overload,
                    memory,
                    response_time,
                    within,
                }
            })
            .collect()
    }
}
