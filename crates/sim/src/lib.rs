//! The simulator: replays real workload traces on a modelled data centre, injects faults, executes
//! the policy's migrations with a cost model, and charges what they cost (downtime, packet loss,
//! QoS violations, energy, SLA metrics). One core serves the NFV mode and the CloudSim-compatible
//! mode (a configuration), and it can be stepped decision by decision for the RL agent.

pub mod cloudsim;
pub mod config;
pub mod engine;
pub mod error;
pub mod faults;
pub mod fidelity;
pub mod prediction;
pub mod report;
pub mod scenario;
pub mod synthetic;
pub mod telemetry;
pub mod world;

pub use config::{Mode, SimConfig};
pub use engine::Simulator;
pub use error::SimError;
pub use report::{Outcome, Report, VnfReport};
pub use world::World;

/// Runs one policy, by name, on a world from start to end. `non-power-aware` also switches the
/// energy accounting to CloudSim's "every host at full power" baseline.
pub fn run_named(
    world: &std::sync::Arc<World>,
    base: &SimConfig,
    policy_name: &str,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<Report, SimError> {
    let mut config = base.clone();
    let mut policy = promig_policy::by_name(policy_name, config.seed)
        .map_err(|e| SimError::Setup(e.to_string()))?;
    if policy_name.eq_ignore_ascii_case("non-power-aware") {
        config.power_aware = false;
    }
    let mut sim = Simulator::new(std::sync::Arc::clone(world), config, policy.as_mut())?;
    // Policies that act on predictions get the default predictor; the others run without one so
    // their results do not depend on it.
    if policy.uses_predictions() {
        let hardware =
            promig_predict::HardwareModel::builtin().map_err(|e| SimError::Setup(e.to_string()))?;
        let mut predictor = promig_predict::RiskPredictor::new(Some(hardware), 3.0);
        return Ok(sim.run_with(policy.as_mut(), Some(&mut predictor), on_step));
    }
    Ok(sim.run(policy.as_mut(), on_step))
}
