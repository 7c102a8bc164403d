//! The dashboard's link loads add up: a running migration loads its source's and destination's
//! NICs (and both racks' uplinks when it crosses racks) with the bandwidth its source grants
//! until the driver reports bytes sent, then with its measured mean rate; nothing else is loaded.

mod common;

use promig_controller::core::{LinkKind, Snapshot};
use promig_controller::{ControllerConfig, Core, SimWorld, SqliteJournal, World};
use promig_driver::{MigrationStatus, Progress};
use std::sync::Arc;

#[test]
fn a_running_migration_loads_the_links_it_crosses() {
    let dir = std::env::temp_dir().join(format!("promig-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j.sqlite");
    let cfg = ControllerConfig::demo(path.clone());
    let mut core = common::greedy_core(cfg);
    let snap = SimWorld::default_scenario(21, None, None)
        .unwrap()
        .next()
        .unwrap();
    let mut obs = (*snap.obs).clone();
    let h = common::fail_busiest_host(&mut obs);
    let granted = obs.migration_bandwidth_bps[h];
    assert!(granted > 0.0);
    let s = Snapshot {
        obs: Arc::new(obs),
        ..snap.clone()
    };
    let idle = {
        let mut c = Core::new(
            ControllerConfig::demo(dir.join("idle.sqlite")),
            promig_policy::by_name("none", 1).unwrap(),
            Arc::new(promig_migrate::Profile::resolve("kvm", std::path::Path::new("")).unwrap()),
            Box::new(SqliteJournal::open(&dir.join("idle.sqlite")).unwrap()),
        )
        .unwrap();
        c.observe(snap.clone()).unwrap();
        c.links()
    };
    assert!(
        idle.iter()
            .all(|l| l.migrations == 0 && l.migration_bps == 0.0)
    );

    let orders = core.observe(s).unwrap();
    assert_eq!(orders.len(), 1);
    let plan = core.plan(orders[0].plan).unwrap();
    let links = core.links();
    let rack = |name: &str| {
        links
            .iter()
            .find(|l| l.host.as_deref() == Some(name))
            .unwrap()
            .rack
    };
    let (ra, rb) = (rack(&plan.source), rack(&plan.destination));
    for l in &links {
        let crossed = match l.kind {
            LinkKind::HostNic => {
                let n = l.host.as_deref().unwrap();
                n == plan.source || n == plan.destination
            }
            LinkKind::RackUplink => ra != rb && (l.rack == ra || l.rack == rb),
        };
        assert_eq!(l.migrations, usize::from(crossed), "{l:?}");
        let want = if crossed { granted } else { 0.0 };
        assert_eq!(l.migration_bps, want, "{l:?}");
        // The simulated world knows its leaf-spine topology: every link has a capacity.
        assert!(l.capacity_bps.is_some_and(|c| c > 0.0), "{l:?}");
    }

    // Once the driver reports bytes sent, the measured mean rate replaces the estimate.
    core.progress(
        plan.id,
        Progress {
            elapsed_ms: 2000.0,
            status: MigrationStatus::Active,
            transferred_bytes: 250_000_000,
            ..Progress::default()
        },
    );
    let nic = core
        .links()
        .into_iter()
        .find(|l| l.host.as_deref() == Some(plan.source.as_str()))
        .unwrap();
    assert_eq!(nic.migration_bps, 1e9, "250 MB in 2 s is 1 Gb/s");
    let _ = std::fs::remove_dir_all(&dir);
}
