//! Decision to migration start at 1,000 hosts / 10,000 VMs: one snapshot through the whole
//! controller (policy, planner, plans, journal writes with fsync, admission) until the driver
//! has accepted every order, against the policy's decision alone on the same snapshot as the
//! baseline. Run with `cargo bench -p promig-controller`.
//!
//! The snapshot is the synthetic world's after placement, with risks on 3 % of the hosts (1 %
//! alarming for hardware with 15 minutes left, 2 % at moderate overload risk), as in the agent's
//! decision benchmark; the driver is the simulator's (`SimDriver`), which queues the start.

use promig_controller::core::Snapshot;
use promig_controller::{ControllerConfig, Core, SimWorld, SqliteJournal, World};
use promig_model::HostRisk;
use promig_model::fault::FaultsConfig;
use promig_sim::{SimConfig, synthetic};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

fn main() {
    divan::main();
}

struct Setup {
    snapshot: Snapshot,
    world: SimWorld,
}

fn setup() -> Setup {
    let world = Arc::new(synthetic::world(
        1_000,
        10_000,
        12,
        1,
        FaultsConfig::default(),
    ));
    let cfg = SimConfig {
        memory_overcommit: 2.0,
        ..SimConfig::nfv(1, 12)
    };
    let mut sim_world = SimWorld::new(world, cfg).expect("synthetic world");
    let mut snapshot = sim_world.next().expect("first snapshot");
    let mut obs = (*snapshot.obs).clone();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    obs.risks = vec![HostRisk::default(); obs.hosts.len()];
    for _ in 0..10 {
        let h = rng.random_range(0..obs.hosts.len());
        obs.risks[h] = HostRisk {
            probability: 0.6,
            hardware: 0.6,
            time_left_s: Some(900.0),
            ..HostRisk::default()
        };
    }
    for _ in 0..20 {
        let h = rng.random_range(0..obs.hosts.len());
        obs.risks[h] = HostRisk {
            probability: 0.3,
            overload: 0.3,
            ..HostRisk::default()
        };
    }
    snapshot.obs = Arc::new(obs);
    Setup {
        snapshot,
        world: sim_world,
    }
}

fn core(dir: &std::path::Path, i: usize) -> Core {
    let path = dir.join(format!("journal-{i}.sqlite"));
    let _ = std::fs::remove_file(&path);
    let mut cfg = ControllerConfig::demo(path.clone());
    cfg.limits.max_concurrent = 64;
    let policy = promig_policy::by_name("proactive-greedy", 1).unwrap();
    let profile =
        Arc::new(promig_migrate::Profile::resolve("kvm", std::path::Path::new("")).unwrap());
    Core::new(
        cfg,
        policy,
        profile,
        Box::new(SqliteJournal::open(&path).unwrap()),
    )
    .unwrap()
}

/// Baseline: the policy's decision alone.
#[divan::bench(sample_count = 10)]
fn policy_decision_only(bencher: divan::Bencher) {
    let s = setup();
    let mut policy = promig_policy::by_name("proactive-greedy", 1).unwrap();
    bencher.bench_local(|| promig_policy::Policy::decide(policy.as_mut(), &s.snapshot.obs));
}

/// The whole round: snapshot in, every order accepted by the driver.
#[divan::bench(sample_count = 10)]
fn snapshot_to_all_migrations_started(bencher: divan::Bencher) {
    let s = setup();
    let dir = std::env::temp_dir().join(format!("promig-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let driver = s.world.driver();
    let mut n = 0;
    let mut started = 0usize;
    bencher
        .with_inputs(|| {
            n += 1;
            core(&dir, n)
        })
        .bench_local_values(|mut core| {
            let orders = core.observe(s.snapshot.clone()).unwrap();
            runtime.block_on(async {
                let mut handles = Vec::new();
                for o in orders {
                    handles.push(driver.start(o.request).await.unwrap());
                    started += 1;
                }
                // Cancelled while queued: the queue is empty again for the next sample.
                for h in handles {
                    h.cancel();
                    h.outcome().await.unwrap();
                }
            });
            core
        });
    assert!(started > 0, "the snapshot must lead to migrations");
    let _ = std::fs::remove_dir_all(&dir);
}
