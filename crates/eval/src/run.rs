//! Running a policy by name on a world: the registry builds it, its declared needs decide the
//! accounting (full power for `non-power-aware`) and whether the default predictor is attached.

use crate::EvalError;
use crate::report::{Recording, Timeline};
use promig_policy::{Policy, Registry};
use promig_predict::{HardwareModel, RiskPredictor};
use promig_sim::{Report, SimConfig, Simulator, World};
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

fn run_inner(
    world: &Arc<World>,
    base: &SimConfig,
    policy_name: &str,
    on_step: &mut dyn FnMut(usize, usize),
    timeline: Option<&mut Timeline>,
) -> Result<Report, EvalError> {
    let registry = registry();
    let resolved = registry.resolve(policy_name)?;
    let mut config = base.clone();
    if resolved.spec.requires.full_power_accounting {
        config.power_aware = false;
    }
    let mut built = resolved.build(config.seed);
    let mut recording;
    let policy: &mut dyn Policy = match timeline {
        Some(timeline) => {
            recording = Recording {
                inner: built.as_mut(),
                timeline,
            };
            &mut recording
        }
        None => built.as_mut(),
    };
    let mut sim = Simulator::new(Arc::clone(world), config, policy)?;
    if resolved.spec.requires.predictions {
        let mut predictor = default_predictor()?;
        return Ok(sim.run_with(policy, Some(&mut predictor), on_step));
    }
    Ok(sim.run(policy, on_step))
}
