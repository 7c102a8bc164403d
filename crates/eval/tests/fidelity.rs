//! CloudSim 3.0.3's PlanetLab table, reproduced at the precision the README states (energy 1 %,
//! migrations 4 %, SLATAH 6 %, PDM 0.01 points, SLAV 8 % on every row), with the same ranking of
//! policies, whatever order the file system lists the trace files in.

use promig_eval::fidelity::compare;

#[test]
fn cloudsim_planetlab_table_is_reproduced() {
    let data = promig_model::data::dir(None).unwrap().join("planetlab");
    let rows = compare(&data).expect("the PlanetLab days load and simulate");
    for r in &rows {
        assert!(r.ok, "{}", r.summary());
    }
    // Same ranking by energy on the day every policy ran.
    let day: Vec<_> = rows
        .iter()
        .filter(|r| r.reference.day == "20110303")
        .collect();
    let mut ours: Vec<_> = day
        .iter()
        .map(|r| (r.energy_kwh, r.reference.policy))
        .collect();
    let mut theirs: Vec<_> = day
        .iter()
        .map(|r| (r.reference.energy_kwh, r.reference.policy))
        .collect();
    ours.sort_by(|a, b| a.0.total_cmp(&b.0));
    theirs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let names = |v: &[(f64, &'static str)]| v.iter().map(|x| x.1).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "policy ranking by energy differs from CloudSim's"
    );
}

#[test]
fn the_cloudsim_world_does_not_depend_on_the_directory_order() {
    // A copy of a day created in reverse name order lists differently on most file systems; the
    // recorded order makes the world (and so the figures) the same.
    let data = promig_model::data::dir(None).unwrap();
    let day = data.join("planetlab/20110306");
    let copy = std::env::temp_dir().join(format!("promig-order-{}/20110306", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names.reverse();
    for n in &names {
        std::fs::copy(day.join(n), copy.join(n)).unwrap();
    }
    let a = promig_sim::cloudsim::planetlab_world(&day, 800).unwrap();
    let b = promig_sim::cloudsim::planetlab_world(&copy, 800).unwrap();
    let order = |w: &promig_sim::World| w.vms.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
    assert_eq!(order(&a), order(&b));
    assert!(a.notes.is_empty() && b.notes.is_empty(), "{:?}", b.notes);
    // An extra file means the data set changed: refused, not silently reordered.
    std::fs::write(copy.join("zz-extra"), "1\n").unwrap();
    let e = promig_sim::cloudsim::planetlab_world(&copy, 800)
        .unwrap_err()
        .to_string();
    assert!(e.contains("zz-extra"), "{e}");
    let _ = std::fs::remove_dir_all(copy.parent().unwrap());
}
