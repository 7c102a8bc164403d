//! proactive-greedy empties failing hosts before they crash on every real trace set, not only on
//! the default day: measured side by side with the reactive baseline in the same run.

use promig_eval::evacuation::{EvacuationRow, evacuation, real_trace_sets};

fn total(rows: &[EvacuationRow]) -> (u64, u64, u64) {
    rows.iter().fold((0, 0, 0), |(f, e, l), r| {
        (f + r.failures, e + r.evacuated, l + r.vms_lost)
    })
}

#[test]
fn proactive_greedy_evacuates_failing_hosts_on_every_trace_set() {
    let data = promig_model::data::dir(None).unwrap();
    let sets = real_trace_sets();
    let greedy = evacuation(&data, "proactive-greedy", &sets, 1..=8).unwrap();
    let reactive = evacuation(&data, "reactive", &sets, 1..=8).unwrap();
    let (failures, evacuated, lost) = total(&greedy);
    let (r_failures, r_evacuated, r_lost) = total(&reactive);
    assert_eq!(failures, r_failures, "same seeds, same faults");
    assert!(failures >= 7 * 8 * 3, "{failures} failures struck");
    // 99.9 % over 50 seeds when measured (README); at least 98 % here on fewer.
    assert!(
        evacuated * 100 >= failures * 98,
        "proactive-greedy evacuated {evacuated} of {failures}"
    );
    for r in &greedy {
        assert!(r.rate() >= 0.9, "{}: {:.2}", r.traces, r.rate());
    }
    assert!(
        r_evacuated * 4 < failures,
        "reactive evacuated {r_evacuated}"
    );
    assert!(
        lost * 20 < r_lost,
        "VMs lost: {lost} vs reactive's {r_lost}"
    );
}
