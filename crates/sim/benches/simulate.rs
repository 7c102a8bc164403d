//! Simulation speed. Compare with CloudSim 3.0.3: 19.9 s wall and 2,065 MB for the LR-MMT day below
//! (whole process, measured on this machine kind; see the README's Speed section).
//! Run with `cargo bench -p promig-sim`.

use promig_model::fault::FaultsConfig;
use promig_sim::{Report, Simulator, World};
use promig_sim::{SimConfig, cloudsim, synthetic};
use std::sync::Arc;

/// One run of a policy that needs no predictor (the evaluation crate's `run_named` adds that).
fn run(world: &Arc<World>, cfg: SimConfig, policy: &str) -> Report {
    let mut p = promig_policy::by_name(policy, cfg.seed).unwrap();
    let mut sim = Simulator::new(Arc::clone(world), cfg, p.as_mut()).unwrap();
    sim.run(p.as_mut(), &mut |_, _| {})
}

fn main() {
    divan::main();
}

/// CloudSim's PlanetLab day 2011-03-03 with LR-MMT (800 hosts, 1,052 VMs, 24 h).
#[divan::bench(sample_count = 10)]
fn cloudsim_lr_mmt_day(bencher: divan::Bencher) {
    let dir = promig_model::data::dir(None)
        .unwrap()
        .join("planetlab/20110303");
    let world = Arc::new(cloudsim::planetlab_world(&dir, cloudsim::HOSTS).unwrap());
    bencher.bench(|| run(&world, SimConfig::cloudsim(0), "lr-mmt-1.2"));
}

/// A 10,000-host, 15,000-VM synthetic NFV day with faults. (LR-MMT is left out: its underload pass
/// is quadratic in active hosts, as published, and took 20-26 s per run at this scale when timed by
/// hand, too long to repeat here.)
#[divan::bench(args = ["none", "threshold"], sample_count = 2)]
fn synthetic_10k_hosts_day(bencher: divan::Bencher, policy: &str) {
    let faults = FaultsConfig {
        hardware_failures: 20,
        false_alarms: 10,
        memory_leaks: 10,
        degradations: 10,
        ..FaultsConfig::default()
    };
    let world = Arc::new(synthetic::world(10_000, 15_000, 288, 1, faults));
    bencher.bench(|| run(&world, SimConfig::nfv(1, 288), policy));
}
