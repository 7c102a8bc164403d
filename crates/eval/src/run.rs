//! Running a policy by name on a world: the registry builds it, its declared needs decide the
//! accounting (full power for `non-power-aware`) and whether the default predictor is attached.

use crate::EvalError;
use crate::report::{Recording, Timeline};
use promig_policy::{Policy, Registry};
use promig_predict::{HardwareModel, RiskPredictor};
use promig_sim::{Attribution, Report, SimConfig, Simulator, World};
use std::sync::Arc;

/// The predictor policies that declare they need predictions get: the shipped hardware model
/// plus the forecasters, with a 3-sigma alarm on corrected errors.
pub fn default_predictor() -> Result<RiskPredictor, EvalError> {
    Ok(RiskPredictor::new(Some(HardwareModel::builtin()?), 3.0))
}

/// The policies [`run_named`] knows by name; whoever checks names before a run (`promig
/// evaluate`) asks this one, so a policy registered here (the RL agent) works everywhere at once.
pub fn registry() -> Registry {
    let mut r = Registry::builtin();
    // The agent's policies (`rl`, `rl-linear`): their names are new, so this cannot clash.
    promig_agent::register(&mut r).expect("the agent's policy names are not built-in names");
    r
}

/// Runs one policy, by its command-line name, on a world from start to end. The policy's
/// declaration decides the rest: `non-power-aware` switches the energy accounting to CloudSim's
/// "every host at full power" baseline; a policy that reads predictions gets
/// [`default_predictor`], the others run without one so their results do not depend on it.
pub fn run_named(
    world: &Arc<World>,
    base: &SimConfig,
    policy_name: &str,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<Report, EvalError> {
    run_inner(world, base, policy_name, on_step, None)
}

/// [`run_named`] that also records the run's [`Timeline`] (the risks the policy was given and the
/// migrations it asked for), for the timeline of an HTML report. The policy is wrapped in a
/// pass-through [`Recording`], so the report equals [`run_named`]'s.
pub fn run_named_recorded(
    world: &Arc<World>,
    base: &SimConfig,
    policy_name: &str,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<(Report, Timeline), EvalError> {
    let mut timeline = Timeline {
        policy: policy_name.to_string(),
        host_names: world.hosts.iter().map(|h| h.name.clone()).collect(),
        ..Timeline::default()
    };
    let report = run_inner(world, base, policy_name, on_step, Some(&mut timeline))?;
    Ok((report, timeline))
}

/// Checks a policy name before a run: a registered policy, or the analysis-only
/// [`oracle`](crate::oracle) (which the registry does not list).
pub fn check_name(policy_name: &str) -> Result<(), EvalError> {
    if crate::oracle::parse(policy_name)?.is_some() {
        return Ok(());
    }
    registry().resolve(policy_name)?;
    Ok(())
}

/// A policy wrapper that passes every call through unchanged (so the run equals an unwrapped
/// one) and lets `watch` see each observation the policy gets (for analysis: which alarms the
/// shipped predictor raised).
pub(crate) struct Watched<'a> {
    pub inner: &'a mut dyn Policy,
    pub watch: &'a mut (dyn FnMut(&promig_model::Observation) + Send),
}

impl Policy for Watched<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn decide(&mut self, obs: &promig_model::Observation) -> Vec<promig_model::Decision> {
        (self.watch)(obs);
        self.inner.decide(obs)
    }

    fn uses_predictions(&self) -> bool {
        self.inner.uses_predictions()
    }

    fn place(&mut self, obs: &promig_model::Observation, vms: &[usize]) -> Vec<Option<usize>> {
        self.inner.place(obs, vms)
    }

    fn use_calibration(&mut self, profile: &promig_migrate::Profile) {
        self.inner.use_calibration(profile)
    }
}

fn run_inner(
    world: &Arc<World>,
    base: &SimConfig,
    policy_name: &str,
    on_step: &mut dyn FnMut(usize, usize),
    timeline: Option<&mut Timeline>,
) -> Result<Report, EvalError> {
    Ok(simulate(world, base, policy_name, on_step, timeline, None)?.0)
}

/// Runs one policy by name (a registered one or an [`oracle`](crate::oracle)), optionally
/// recorded and watched; returns the report and where its downtime and loss came from.
pub(crate) fn simulate(
    world: &Arc<World>,
    base: &SimConfig,
    policy_name: &str,
    on_step: &mut dyn FnMut(usize, usize),
    timeline: Option<&mut Timeline>,
    watch: Option<&mut (dyn FnMut(&promig_model::Observation) + Send)>,
) -> Result<(Report, Attribution), EvalError> {
    use crate::oracle::{FalseAlarmOracle, Kind, Oracle, OraclePredictor};
    let oracle = crate::oracle::parse(policy_name)?;
    let mut config = base.clone();
    let (mut built, wants_predictions): (Box<dyn Policy>, bool) = match oracle {
        Some(Kind::Future { .. }) => (Box::new(Oracle::default()), true),
        Some(Kind::FalseAlarms) => (Box::new(crate::oracle::policy()), true),
        None => {
            let registry = registry();
            let resolved = registry.resolve(policy_name)?;
            if resolved.spec.requires.full_power_accounting {
                config.power_aware = false;
            }
            (
                resolved.build(config.seed),
                resolved.spec.requires.predictions,
            )
        }
    };
    let mut watched;
    let policy: &mut dyn Policy = match watch {
        Some(watch) => {
            watched = Watched {
                inner: built.as_mut(),
                watch,
            };
            &mut watched
        }
        None => built.as_mut(),
    };
    let mut recording;
    let policy: &mut dyn Policy = match timeline {
        Some(timeline) => {
            recording = Recording {
                inner: policy,
                timeline,
            };
            &mut recording
        }
        None => policy,
    };
    let mut sim = Simulator::new(Arc::clone(world), config, policy)?;
    // The true future, for the bounds only: see `oracle`'s module doc.
    let report = match oracle {
        Some(Kind::Future { window_s }) => {
            let mut oracle = OraclePredictor::new(default_predictor()?, sim.fault_plan(), window_s);
            sim.run_with(policy, Some(&mut oracle), on_step)
        }
        Some(Kind::FalseAlarms) => {
            let mut oracle = FalseAlarmOracle::new(default_predictor()?, sim.fault_plan());
            sim.run_with(policy, Some(&mut oracle), on_step)
        }
        None if wants_predictions => {
            let mut predictor = default_predictor()?;
            sim.run_with(policy, Some(&mut predictor), on_step)
        }
        None => sim.run(policy, on_step),
    };
    Ok((report, sim.attribution()))
}
