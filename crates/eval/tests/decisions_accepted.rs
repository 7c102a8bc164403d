//! The baselines plan with what the simulator will accept: a VM leaving a host keeps its memory
//! reserved there until its migration ends (as in Nova), and their plans count it so. Before,
//! reactive had 66-293 decisions a day refused for memory the plan thought was free.

use promig_eval::evacuation::real_trace_sets;
use promig_sim::{SimConfig, scenario};
use std::sync::Arc;

#[test]
fn no_decision_of_the_baselines_is_refused_on_any_trace_set() {
    let data = promig_model::data::dir(None).unwrap();
    for set in real_trace_sets() {
        let dir = promig_model::data::inside(&data, &set.dir).unwrap();
        let file = scenario::default_scenario()
            .unwrap()
            .with_traces(&dir.to_string_lossy(), set.format);
        let world = Arc::new(scenario::build_world(&file, &data).unwrap());
        for policy in ["reactive", "threshold", "proactive-greedy"] {
            for seed in [7, 42] {
                let r = promig_eval::run_named(
                    &world,
                    &SimConfig::nfv(seed, 288),
                    policy,
                    &mut |_, _| {},
                )
                .unwrap();
                assert_eq!(r.rejected_decisions, 0, "{} {policy} seed {seed}", set.dir);
            }
        }
    }
}
