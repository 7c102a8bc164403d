//! What a decision carries beyond "VM to host" reaches the simulator: the technique prices the
//! migration with its own cost model, and a migration still running at its deadline is cancelled
//! with the VM left running on its source.

use promig_model::fault::FaultsConfig;
use promig_model::{Decision, Observation, Technique};
use promig_policy::Policy;
use promig_sim::{Report, SimConfig, Simulator, synthetic};
use std::sync::Arc;

/// Moves every VM of host 0 to host 1 at the first decision point, as told.
struct MoveOnce {
    technique: Option<Technique>,
    deadline_after_s: Option<f64>,
    done: bool,
}

impl Policy for MoveOnce {
    fn name(&self) -> String {
        "move-once".into()
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        if std::mem::replace(&mut self.done, true) {
            return Vec::new();
        }
        obs.hosts[0]
            .vms
            .iter()
            .map(|&vm| {
                let mut d = Decision::migrate(vm, 1);
                if let Some(t) = self.technique {
                    d = d.with_technique(t);
                }
                if let Some(s) = self.deadline_after_s {
                    d = d.with_deadline_s(obs.time_s + s);
                }
                d
            })
            .collect()
    }
}

fn run(technique: Option<Technique>, deadline_after_s: Option<f64>) -> (Report, usize) {
    run_with(SimConfig::nfv(5, 24), technique, deadline_after_s)
}

fn run_with(
    config: SimConfig,
    technique: Option<Technique>,
    deadline_after_s: Option<f64>,
) -> (Report, usize) {
    let world = Arc::new(synthetic::world(4, 6, 24, 5, FaultsConfig::default()));
    let mut policy = MoveOnce {
        technique,
        deadline_after_s,
        done: false,
    };
    let mut sim = Simulator::new(world, config, &mut policy).unwrap();
    let on_host0 = sim.observation().hosts[0].vms.len();
    assert!(on_host0 > 0, "the fixture needs VMs on host 0");
    let report = sim.run(&mut policy, &mut |_, _| {});
    let left = sim.observation().hosts[0].vms.len();
    (report, left)
}

#[test]
fn a_migration_past_its_deadline_is_cancelled_and_the_vm_stays() {
    let (done, left_done) = run(None, Some(3600.0));
    assert_eq!(done.deadline_cancelled, 0);
    assert_eq!(left_done, 0, "with an hour to spare every VM arrives");
    let (cut, left_cut) = run(None, Some(0.001));
    assert!(cut.deadline_cancelled > 0, "{cut:?}");
    assert_eq!(left_cut as u64, cut.deadline_cancelled);
    assert!(
        cut.downtime_s < done.downtime_s,
        "a cancelled pre-copy never stops the VM"
    );
}

#[test]
fn the_technique_chosen_prices_the_migration() {
    let (pre, _) = run(None, None);
    let (explicit, _) = run(Some(Technique::Precopy), None);
    assert_eq!(
        serde_json::to_string(&pre).unwrap(),
        serde_json::to_string(&explicit).unwrap(),
        "pre-copy is the default"
    );
    // On the test bed's profile, where this fixture's pre-copy needs more than one pass: QEMU
    // completes a migration as pre-copy when the first pass already converges, even with
    // post-copy requested (its completion test comes first), and under the `kvm` profile this
    // fixture's VMs converge in one pass, so both would pause alike there.
    let tcg = || SimConfig {
        calibration: Arc::new(
            promig_migrate::Profile::resolve("tcg", std::path::Path::new("")).unwrap(),
        ),
        ..SimConfig::nfv(5, 24)
    };
    let (pre, _) = run_with(tcg(), Some(Technique::Precopy), None);
    let (post, _) = run_with(tcg(), Some(Technique::Postcopy), None);
    assert!(
        post.downtime_s < pre.downtime_s,
        "post-copy pauses less than pre-copy: {} vs {}",
        post.downtime_s,
        pre.downtime_s
    );
}

#[test]
fn the_calibration_profile_prices_each_technique() {
    let (base, _) = run(Some(Technique::Xbzrle), None);
    assert!(base.migrations > 0);
    // Two seconds more switch-over for XBZRLE only: its migrations pause the VMs longer, the
    // other techniques' constants are untouched.
    let mut config = SimConfig::nfv(5, 24);
    let mut profile = (*config.calibration).clone();
    let mut slow = profile.calibration(Technique::Xbzrle);
    slow.switchover_s += 2.0;
    profile.techniques.insert(Technique::Xbzrle, slow);
    config.calibration = Arc::new(profile);
    let (slow_xbzrle, _) = run_with(config.clone(), Some(Technique::Xbzrle), None);
    assert_eq!(slow_xbzrle.migrations, base.migrations);
    assert!(
        slow_xbzrle.downtime_s > base.downtime_s + 1.0,
        "{} vs {}",
        slow_xbzrle.downtime_s,
        base.downtime_s
    );
    let (precopy, _) = run_with(config, Some(Technique::Precopy), None);
    assert_eq!(precopy, run(Some(Technique::Precopy), None).0);
}

#[test]
fn an_invalid_profile_is_refused_naming_the_constant() {
    let mut config = SimConfig::nfv(5, 24);
    let mut profile = (*config.calibration).clone();
    let mut bad = profile.calibration(Technique::Compress);
    bad.compress_ratio = f64::NAN;
    profile.techniques.insert(Technique::Compress, bad);
    config.calibration = Arc::new(profile);
    let world = Arc::new(synthetic::world(4, 6, 24, 5, FaultsConfig::default()));
    let mut policy = MoveOnce {
        technique: None,
        deadline_after_s: None,
        done: false,
    };
    let e = Simulator::new(world, config, &mut policy).err().unwrap();
    assert!(
        e.to_string().contains("techniques.compress.compress_ratio"),
        "{e}"
    );
}
