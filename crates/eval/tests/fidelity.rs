//! CloudSim 3.0.3's PlanetLab table, reproduced within the project's tolerances (energy 5 %,
//! migrations 20 %, SLATAH 15 %), with the same ranking of policies.

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
