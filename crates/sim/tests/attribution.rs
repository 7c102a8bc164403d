//! The attribution of downtime and packet loss to their causes adds up to the report's figures,
//! charges crash outages to the crash that caused them, and leaves the report unchanged.

use promig_model::FaultCause;
use promig_sim::{SimConfig, Simulator, scenario};
use std::sync::Arc;

fn default_world() -> (Arc<promig_sim::World>, usize) {
    let file = scenario::default_scenario().unwrap();
    let base = promig_model::data::dir(None).unwrap();
    (
        Arc::new(scenario::build_world(&file, &base).unwrap()),
        file.steps,
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn parts_add_up_to_the_report_and_crashes_are_charged_to_their_record() {
    let (world, steps) = default_world();
    for (policy, seed) in [("none", 3), ("reactive", 5)] {
        let mut p = promig_policy::by_name(policy, seed).unwrap();
        let mut sim =
            Simulator::new(Arc::clone(&world), SimConfig::nfv(seed, steps), p.as_mut()).unwrap();
        let r = sim.run(p.as_mut(), &mut |_, _| {});
        let a = sim.attribution();
        assert_eq!(a.faults.len(), r.faults.len());
        let faults_s: f64 = a.faults.iter().map(|c| c.downtime_s).sum();
        let faults_lost: f64 = a.faults.iter().map(|c| c.packets_lost).sum();
        let total_s = faults_s + a.migration_pause_s + a.unattributed_s;
        let total_lost =
            faults_lost + a.migration_pause_lost + a.oversubscribed_lost + a.unattributed_lost;
        assert!(
            close(total_s, r.downtime_s),
            "{policy}: {total_s} vs {}",
            r.downtime_s
        );
        assert!(
            close(total_lost, r.packets_lost),
            "{policy}: {total_lost} vs {}",
            r.packets_lost
        );
        assert_eq!(a.unattributed_s, 0.0, "{policy}: every outage has a cause");
        assert!(
            a.oversubscribed_lost_degraded + a.oversubscribed_lost_surge
                <= a.oversubscribed_lost * (1.0 + 1e-9)
        );
        // The default scenario's surges drive hosts over capacity.
        assert!(a.oversubscribed_lost_surge > 0.0, "{policy}");
        // Only crashes and out-of-memory kills that took VNF instances down cost downtime (the
        // other records slow VMs down, they stop nothing); every one that did, costs.
        for (f, c) in r.faults.iter().zip(&a.faults) {
            let stops = matches!(
                f.cause,
                FaultCause::HardwareFailure | FaultCause::MemoryShortage
            );
            if !stops || f.vnf_vms_hit == 0 {
                assert_eq!(
                    c.downtime_s, 0.0,
                    "{policy}: {f:?} hit no VNF but cost {c:?}"
                );
            } else {
                // At least detection plus boot per instance it hit (a restart cannot be faster).
                assert!(
                    c.downtime_s >= 105.0 - 1e-9,
                    "{policy}: {f:?} cost only {c:?}"
                );
                assert!(c.detection_s > 0.0 && c.boot_s > 0.0 && c.packets_lost > 0.0);
            }
        }
        if policy == "none" {
            // Doing nothing, every hardware failure that struck a VNF instance costs downtime.
            assert!(
                r.faults
                    .iter()
                    .zip(&a.faults)
                    .any(|(f, c)| f.cause == FaultCause::HardwareFailure && c.downtime_s > 0.0)
            );
            assert_eq!(a.migration_pause_s, 0.0);
        } else {
            assert!(a.migration_pause_s > 0.0);
        }
    }
}

#[test]
fn the_fault_plan_is_the_one_drawn_from_the_seed() {
    let (world, steps) = default_world();
    let cfg = SimConfig::nfv(7, steps);
    let mut p = promig_policy::by_name("none", 7).unwrap();
    let sim = Simulator::new(Arc::clone(&world), cfg.clone(), p.as_mut()).unwrap();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
    let drawn = promig_sim::faults::plan(&world, &cfg, &mut rng).unwrap();
    assert_eq!(sim.fault_plan(), &drawn);
    assert_eq!(drawn.crashes.len(), 4);
}
