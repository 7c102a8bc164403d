//! After a crash, a VM the consolidation policies find no running host for is restarted on a
//! switched-off host powered back on (as a real data centre would, in minutes) instead of
//! waiting an interval at a time for room: their outages are no longer an artefact of the
//! simulator, and the comparison with the other baselines is fair.

use promig_sim::{Report, SimConfig, scenario};
use std::sync::Arc;

fn runs(power_on_s: Option<f64>, policy: &str) -> Vec<Report> {
    let data = promig_model::data::dir(None).unwrap();
    let mut file = scenario::default_scenario().unwrap();
    file.recovery.power_on_s = power_on_s;
    let world = Arc::new(scenario::build_world(&file, &data).unwrap());
    (1..=6)
        .map(|seed| {
            promig_eval::run_named(
                &world,
                &SimConfig::nfv(seed, file.steps),
                policy,
                &mut |_, _| {},
            )
            .unwrap()
        })
        .collect()
}

fn downtime(r: &[Report]) -> f64 {
    r.iter().map(|r| r.downtime_s).sum()
}

fn longest_ms(r: &[Report]) -> f64 {
    r.iter()
        .flat_map(|r| &r.vnfs)
        .map(|v| v.longest_incident_ms)
        .fold(0.0, f64::max)
}

#[test]
fn sleeping_hosts_are_powered_on_for_restarts() {
    let none = runs(Some(180.0), "none");
    for policy in ["thr-mmt", "lr-mmt"] {
        let waiting = runs(None, policy);
        let powered = runs(Some(180.0), policy);
        assert!(
            downtime(&powered) < 0.9 * downtime(&waiting),
            "{policy}: {} s with power-on vs {} s waiting",
            downtime(&powered),
            downtime(&waiting)
        );
        assert!(longest_ms(&powered) < longest_ms(&waiting), "{policy}");
        // Within a fifth of no policy at all (it was 26-36 % above when VMs waited).
        assert!(
            downtime(&powered) < 1.2 * downtime(&none),
            "{policy}: {} vs none {}",
            downtime(&powered),
            downtime(&none)
        );
    }
}
