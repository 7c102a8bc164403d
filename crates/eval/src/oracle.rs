//! `oracle`: a bound for analysis, NOT a deployable policy. It knows the run's true future
//! hardware failures (the simulator's fault plan, drawn from the seed) and is therefore an upper
//! bound on what any policy acting on hardware failures can achieve with the same mechanics.
//!
//! It is `proactive-greedy` (same destinations, same limits: memory, the per-host work ledger)
//! that picks, for each migration, the technique with the shortest predicted pause, and is fed a
//! predictor whose hardware-failure figure is the truth: 1 on a host whose next
//! crash falls within `window_s` of now (so the greedy empties it just in time), a value between
//! half the greedy's hardware bound and the bound on a host that will crash later (it receives no
//! VM, but is not emptied yet), 0 elsewhere (false alarms and background errors are ignored).
//! Overload, memory and response-time risks come from the shipped predictor, as for the greedy:
//! leaks, surges and degradations are not foreseen by the oracle.
//!
//! `oracle-alarms` knows less: only which hardware alarms are false. It is the plain greedy fed
//! the shipped predictor with the hardware figure of every host that will not fail set to 0;
//! real failures are seen through their precursors, silent ones not at all. Its distance from
//! the greedy is what false alarms cost.
//!
//! It is kept out of the policy registry (so out of `promig simulate`, `promig policies` and the
//! golden fingerprints); `promig evaluate` and `promig evaluate breakdown` accept its name.

use crate::EvalError;
use promig_migrate::{MigrationInput, MigrationModel, QemuModel, TechniqueParams};
use promig_model::{Decision, HostRisk, Observation, Technique};
use promig_policy::Policy;
use promig_policy::proactive::ProactiveGreedy;
use promig_predict::{Predictor, RiskPredictor};
use promig_sim::faults::FaultPlan;

/// The oracle's name on the command line (`oracle`, or `oracle-WINDOW_S`).
pub const NAME: &str = "oracle";

/// The name of the oracle that knows only which alarms are false.
pub const FALSE_ALARMS_NAME: &str = "oracle-alarms";

/// Which oracle a name asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Knows every hardware failure's time; empties hosts `window_s` before.
    Future {
        /// Evacuation window, seconds.
        window_s: f64,
    },
    /// Knows only which hardware alarms are false.
    FalseAlarms,
}

/// Default evacuation window: an hour. A lone host empties in one or two scheduling intervals,
/// but a whole rack that fails at once (a split's correlated failure: up to dozens of hosts
/// behind one uplink and one incoming migration per destination) takes many; with the former
/// 10 minutes the bound left those racks half full and was worse than proactive-greedy on the
/// validation split (7,480 against 6,023 s), while an hour gives 2,918 s there (both before
/// proactive-greedy restarted VNF instances first; since then 2,280 against 4,263 s). On the default
/// scenario it is as good or better (226.0 against 236.7 s on seeds 1-20): emptying a doomed
/// host early costs only its spare room, which the oracle knows it will not need.
pub const DEFAULT_WINDOW_S: f64 = 3600.0;

/// The oracle a name asks for: `oracle` is [`Kind::Future`] with [`DEFAULT_WINDOW_S`],
/// `oracle-1800` with 1800 s, `oracle-alarms` is [`Kind::FalseAlarms`]; `None` when `name` is not
/// an oracle's; an error when its window is not a positive number.
pub fn parse(name: &str) -> Result<Option<Kind>, EvalError> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == NAME {
        return Ok(Some(Kind::Future {
            window_s: DEFAULT_WINDOW_S,
        }));
    }
    if lower == FALSE_ALARMS_NAME {
        return Ok(Some(Kind::FalseAlarms));
    }
    let Some(rest) = lower.strip_prefix("oracle-") else {
        return Ok(None);
    };
    match rest.parse::<f64>() {
        Ok(w) if w.is_finite() && w > 0.0 => Ok(Some(Kind::Future { window_s: w })),
        _ => Err(EvalError::Input(format!(
            "policy {name:?}: an oracle's window is a positive number of seconds (oracle-1800)"
        ))),
    }
}

/// The greedy the oracle drives, with its default bounds.
pub fn policy() -> ProactiveGreedy {
    ProactiveGreedy::default()
}

/// The oracle's policy: the greedy's decisions, each with the technique whose predicted pause is
/// shortest (among those predicted to converge; pre-copy when none is).
#[derive(Debug, Clone)]
pub struct Oracle {
    greedy: ProactiveGreedy,
    models: Vec<(Technique, QemuModel)>,
}

impl Default for Oracle {
    fn default() -> Self {
        Oracle {
            greedy: policy(),
            models: Technique::ALL
                .into_iter()
                .map(|t| (t, QemuModel::of(t)))
                .collect(),
        }
    }
}

impl Oracle {
    /// The technique with the shortest predicted pause for moving `vm` from its host to `to`.
    pub fn cheapest_technique(&self, obs: &Observation, vm: usize, to: usize) -> Technique {
        let v = &obs.vms[vm];
        let from = v.host.unwrap_or(to);
        let bandwidth_bps = obs
            .migration_bandwidth_bps
            .get(from)
            .copied()
            .unwrap_or(1e9)
            .min(obs.hosts.get(to).map_or(1e9, |h| h.nic_bps));
        let input = MigrationInput {
            memory_mib: v.memory_mib,
            dirty_pages_per_s: v.dirty_pages_per_s,
            wws_mib: v.memory_mib * 0.25,
            bandwidth_bps,
            latency_ms: 0.05,
            touched_mib: None,
        };
        self.models
            .iter()
            .map(|(t, m)| (*t, m.estimate(&input)))
            .filter(|(_, e)| e.converged)
            .min_by(|a, b| a.1.downtime_s.total_cmp(&b.1.downtime_s))
            .map_or(Technique::Precopy, |(t, _)| t)
    }
}

impl Policy for Oracle {
    fn name(&self) -> String {
        NAME.into()
    }

    fn uses_predictions(&self) -> bool {
        true
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        let decisions = self.greedy.decide(obs);
        decisions
            .into_iter()
            .map(|d| {
                let t = self.cheapest_technique(obs, d.vm, d.to);
                d.with_technique(t)
            })
            .collect()
    }

    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        self.greedy.place(obs, vms)
    }

    fn use_calibration(&mut self, profile: &promig_migrate::Profile) {
        self.greedy.use_calibration(profile);
        for (t, m) in &mut self.models {
            *m = profile.model(TechniqueParams::of(*t));
        }
    }
}

/// The shipped predictor with the hardware-failure figure replaced by the truth.
#[derive(Debug, Clone)]
pub struct OraclePredictor {
    inner: RiskPredictor,
    /// (host, crash time) of every planned hardware failure.
    crashes: Vec<(usize, f64)>,
    window_s: f64,
    /// What a host that will crash later than the window gets: at or above half the greedy's
    /// hardware bound (no VM is sent there) and below the bound (it is not emptied yet).
    doomed_later: f64,
}

impl OraclePredictor {
    /// The oracle for a run whose fault plan is `plan`, emptying hosts `window_s` before their
    /// crash; `inner` supplies the other risks.
    pub fn new(inner: RiskPredictor, plan: &FaultPlan, window_s: f64) -> OraclePredictor {
        let bound = policy().hardware_bound;
        OraclePredictor {
            inner,
            crashes: plan.crashes.iter().map(|c| (c.host, c.crash_s)).collect(),
            window_s,
            doomed_later: 0.75 * bound,
        }
    }

    /// Seconds until host `h`'s next crash after `t`, if one is planned.
    pub fn time_to_crash_s(&self, h: usize, t: f64) -> Option<f64> {
        self.crashes
            .iter()
            .filter(|&&(host, crash)| host == h && crash > t)
            .map(|&(_, crash)| crash - t)
            .min_by(f64::total_cmp)
    }

    /// The true hardware figure of host `h` at `t` (see the module doc).
    pub fn hardware(&self, h: usize, t: f64) -> f64 {
        match self.time_to_crash_s(h, t) {
            Some(left) if left <= self.window_s => 1.0,
            Some(_) => self.doomed_later,
            None => 0.0,
        }
    }
}

/// The shipped predictor with every false hardware alarm silenced (hosts that will not fail get
/// a hardware figure of 0); what it says of hosts that will fail is left as it is.
#[derive(Debug, Clone)]
pub struct FalseAlarmOracle {
    inner: RiskPredictor,
    /// (host, crash time) of every planned hardware failure.
    crashes: Vec<(usize, f64)>,
}

impl FalseAlarmOracle {
    /// The oracle for a run whose fault plan is `plan`; `inner` supplies every risk.
    pub fn new(inner: RiskPredictor, plan: &FaultPlan) -> FalseAlarmOracle {
        FalseAlarmOracle {
            inner,
            crashes: plan.crashes.iter().map(|c| (c.host, c.crash_s)).collect(),
        }
    }

    /// Whether host `h` fails after `t`.
    pub fn will_fail(&self, h: usize, t: f64) -> bool {
        self.crashes
            .iter()
            .any(|&(host, crash)| host == h && crash > t)
    }
}

impl Predictor for FalseAlarmOracle {
    fn predict(&mut self, obs: &Observation) -> Vec<HostRisk> {
        let mut risks = self.inner.predict(obs);
        for (h, r) in risks.iter_mut().enumerate() {
            if !self.will_fail(h, obs.time_s) {
                r.hardware = 0.0;
                r.probability = r.overload.max(r.memory).max(r.response_time);
            }
        }
        risks
    }
}

impl Predictor for OraclePredictor {
    fn predict(&mut self, obs: &Observation) -> Vec<HostRisk> {
        let mut risks = self.inner.predict(obs);
        for (h, r) in risks.iter_mut().enumerate() {
            r.hardware = self.hardware(h, obs.time_s);
            if let Some(left) = self.time_to_crash_s(h, obs.time_s)
                && left <= self.window_s
            {
                r.time_left_s = Some(left);
            }
            r.probability = r
                .hardware
                .max(r.overload)
                .max(r.memory)
                .max(r.response_time);
        }
        risks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promig_sim::faults::CrashPlan;

    #[test]
    fn names_parse_with_their_window() {
        assert_eq!(
            parse("oracle").unwrap(),
            Some(Kind::Future {
                window_s: DEFAULT_WINDOW_S
            })
        );
        assert_eq!(
            parse("Oracle-1800").unwrap(),
            Some(Kind::Future { window_s: 1800.0 })
        );
        assert_eq!(parse("oracle-alarms").unwrap(), Some(Kind::FalseAlarms));
        assert_eq!(parse("proactive-greedy").unwrap(), None);
        assert!(parse("oracle-0").is_err());
        assert!(parse("oracle-soon").is_err());
    }

    #[test]
    fn hardware_is_the_truth_within_the_window() {
        let plan = FaultPlan {
            crashes: vec![CrashPlan {
                host: 2,
                onset_s: 1000.0,
                crash_s: 10_000.0,
                peak_per_h: 0.0, // silent: the oracle sees it all the same
            }],
            ..FaultPlan::default()
        };
        let o = OraclePredictor::new(crate::default_predictor().unwrap(), &plan, 600.0);
        let bound = policy().hardware_bound;
        assert_eq!(o.hardware(2, 9_500.0), 1.0);
        // (the window is inclusive: 600 s before the crash is inside it)
        assert_eq!(o.hardware(2, 9_400.0), 1.0);
        let later = o.hardware(2, 5_000.0);
        assert!(later >= bound / 2.0 && later < bound, "{later}");
        assert_eq!(o.hardware(2, 10_000.0), 0.0, "after the crash");
        assert_eq!(o.hardware(1, 9_500.0), 0.0, "another host");
        assert_eq!(o.time_to_crash_s(2, 9_500.0), Some(500.0));
        let f = FalseAlarmOracle::new(crate::default_predictor().unwrap(), &plan);
        assert!(f.will_fail(2, 9_999.0) && !f.will_fail(2, 10_000.0) && !f.will_fail(1, 0.0));
    }

    #[test]
    fn the_oracle_picks_a_technique_with_a_shorter_pause_than_precopy_for_a_busy_vm() {
        use promig_model::{HostShape, ObservationBuilder, VmShape};
        let mut b = ObservationBuilder::new();
        b.hosts(2, HostShape::default());
        b.vm(Some(0), VmShape::default());
        let mut obs = b.build();
        obs.vms[0].dirty_pages_per_s = 200_000.0;
        let o = Oracle::default();
        let t = o.cheapest_technique(&obs, 0, 1);
        let pause = |t: Technique| {
            let input = MigrationInput {
                memory_mib: obs.vms[0].memory_mib,
                dirty_pages_per_s: obs.vms[0].dirty_pages_per_s,
                wws_mib: obs.vms[0].memory_mib * 0.25,
                bandwidth_bps: obs.migration_bandwidth_bps[0].min(obs.hosts[1].nic_bps),
                latency_ms: 0.05,
                touched_mib: None,
            };
            QemuModel::of(t).estimate(&input)
        };
        let chosen = pause(t);
        assert!(chosen.converged, "{t:?}");
        for other in Technique::ALL {
            let e = pause(other);
            assert!(
                !e.converged || chosen.downtime_s <= e.downtime_s,
                "{t:?} vs {other:?}"
            );
        }
    }
}
