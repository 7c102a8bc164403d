//! `evaluate breakdown` and the oracle bound on the default scenario (a few validation seeds):
//! the causes add up to each policy's downtime and loss, `proactive-greedy` loses no VNF to a
//! failure its predictor warned of, and the oracle, which knows the true failure times, loses no
//! VNF to a hardware failure at all (only leak kills and pauses are left); the oracle that knows
//! only which alarms are false drains fewer healthy hosts.

use promig_eval::breakdown::{Breakdown, breakdown};
use promig_sim::scenario;
use std::sync::Arc;

fn rows(policies: &[&str], seeds: &[u64]) -> Vec<Breakdown> {
    let file = scenario::default_scenario().unwrap();
    let base = promig_model::data::dir(None).unwrap();
    let world = Arc::new(scenario::build_world(&file, &base).unwrap());
    let config = scenario::sim_config(&file, &base, file.seed, file.steps).unwrap();
    let names: Vec<String> = policies.iter().map(|p| p.to_string()).collect();
    breakdown(&world, &config, &names, seeds).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn causes_add_up_and_the_oracle_bounds_the_greedy() {
    let r = rows(
        &["proactive-greedy", "none", "oracle", "oracle-alarms"],
        &[1, 2, 3, 4],
    );
    for b in &r {
        assert_eq!(b.seeds, 4);
        assert!(
            close(
                b.fault_downtime_s() + b.migration_pause_s + b.unattributed_s,
                b.downtime_s
            ),
            "{b:?}"
        );
        let lost = [&b.silent, &b.missed, &b.warned, &b.leak]
            .iter()
            .map(|p| p.packets_lost)
            .sum::<f64>()
            + b.migration_pause_lost
            + b.oversubscribed_lost
            + b.unattributed_lost;
        assert!(close(lost, b.packets_lost), "{b:?}");
        assert_eq!(b.unattributed_s, 0.0);
        // The same seeds strike the same failures whatever the policy.
        assert_eq!(
            b.silent.struck + b.missed.struck + b.warned.struck,
            r[0].silent.struck + r[0].missed.struck + r[0].warned.struck
        );
    }
    let (greedy, none, oracle, alarms) = (&r[0], &r[1], &r[2], &r[3]);
    assert!(greedy.silent.struck > 0.0 && greedy.warned.struck > 0.0);
    // Doing nothing, warned-of failures cost downtime; the greedy empties those hosts in time.
    assert!(none.warned.downtime_s > 0.0);
    assert_eq!(greedy.warned.downtime_s, 0.0);
    // Silent failures cost the greedy about what they cost doing nothing: nothing foresaw them.
    assert!(greedy.silent.downtime_s > 0.5 * none.silent.downtime_s);
    // The oracle empties every failing host, silent or not, and so bounds the greedy.
    assert_eq!(
        oracle.silent.hit_vnf + oracle.missed.hit_vnf + oracle.warned.hit_vnf,
        0.0
    );
    assert!(oracle.downtime_s < greedy.downtime_s);
    assert!(
        oracle.leak.downtime_s > 0.0,
        "leaks are not foreseen by the oracle"
    );
    // Knowing only which alarms are false, the greedy still empties every warned-of host, and
    // drains fewer healthy ones: fewer migrations, fewer packets dropped.
    assert_eq!(alarms.warned.downtime_s, 0.0);
    assert!(alarms.migrations < greedy.migrations, "{alarms:?}");
    assert!(alarms.packets_lost < greedy.packets_lost, "{alarms:?}");
}

#[test]
fn without_silent_failures_leak_kills_are_most_of_what_is_left() {
    let mut file = scenario::default_scenario().unwrap();
    file.faults.precursors.silent_failure_share = 0.0;
    let base = promig_model::data::dir(None).unwrap();
    let world = Arc::new(scenario::build_world(&file, &base).unwrap());
    let config = scenario::sim_config(&file, &base, file.seed, file.steps).unwrap();
    let names = ["proactive-greedy".to_string(), "oracle".to_string()];
    // The README's seeds (1-20): leak kills are whole VMs, 2-3 a seed, so over a handful of
    // seeds one kill more or less is over 10 % of their downtime.
    let seeds: Vec<u64> = (1..=20).collect();
    let r = breakdown(&world, &config, &names, &seeds).unwrap();
    let (greedy, oracle) = (&r[0], &r[1]);
    assert_eq!(greedy.silent.struck, 0.0);
    // Without silent failures most of the greedy's downtime is leak kills, which no migration
    // prevents (a leaking VM takes its leak along) and which cost the oracle as much.
    assert!(
        greedy.leak.downtime_s >= 0.7 * greedy.downtime_s,
        "greedy {greedy:?}"
    );
    assert!(
        (oracle.leak.downtime_s - greedy.leak.downtime_s).abs() <= 0.1 * greedy.leak.downtime_s,
        "oracle {:?}, greedy {:?}",
        oracle.leak,
        greedy.leak
    );
    // What the oracle removes beyond that is the greedy's pauses and the rare missed warning
    // (leak kills aside: one kill more or less between the two is within the bound above).
    let beyond_leaks = |b: &Breakdown| b.downtime_s - b.leak.downtime_s;
    assert!(
        beyond_leaks(greedy) - beyond_leaks(oracle)
            <= greedy.missed.downtime_s + greedy.migration_pause_s + 1e-6,
        "greedy {} s, oracle {} s",
        greedy.downtime_s,
        oracle.downtime_s
    );
}
