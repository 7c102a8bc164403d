//! The default scenario with every hardware failure giving a precursor (no silent failures):
//! how close proactive-greedy then comes to the oracle. Validation seeds 1-20 by default.
//!
//! `cargo run --release -p promig-eval --example breakdown_no_silent -- [LAST_SEED] [POLICIES]`

use promig_sim::scenario;
use std::sync::Arc;

fn main() {
    let last: u64 = std::env::args().nth(1).map_or(20, |s| s.parse().unwrap());
    let policies: Vec<String> = std::env::args()
        .nth(2)
        .unwrap_or("proactive-greedy,proactive-greedy-0.5-0.8-0.02-20,rl,oracle".into())
        .split(',')
        .map(String::from)
        .collect();
    let mut file = scenario::default_scenario().unwrap();
    file.faults.precursors.silent_failure_share = 0.0;
    let base = promig_model::data::dir(None).unwrap();
    let world = Arc::new(scenario::build_world(&file, &base).unwrap());
    let config = scenario::sim_config(&file, &base, file.seed, file.steps).unwrap();
    let seeds: Vec<u64> = (1..=last).collect();
    let rows = promig_eval::breakdown::breakdown(&world, &config, &policies, &seeds).unwrap();
    println!("default scenario, silent_failure_share = 0, seeds 1..={last}");
    print!("{}", promig_eval::breakdown::table(&rows));
}
