//! proactive-greedy empties failing hosts before they crash on every real trace set, not only on
//! the default day: measured side by side with the reactive baseline in the same run.

use promig_eval::evacuation::{EvacuationRow, evacuation, real_trace_sets};

fn total(rows: &[EvacuationRow]) -> (u64, u64, u64, u64, u64) {
    rows.iter().fold((0, 0, 0, 0, 0), |(f, e, l, w, ew), r| {
        (
            f + r.failures,
            e + r.evacuated,
            l + r.vms_lost,
            w + r.with_precursor,
            ew + r.evacuated_with_precursor,
        )
    })
}

#[test]
fn proactive_greedy_evacuates_failing_hosts_on_every_trace_set() {
    let data = promig_model::data::dir(None).unwrap();
    let sets = real_trace_sets();
    let greedy = evacuation(&data, "proactive-greedy", &sets, 1..=8).unwrap();
    let reactive = evacuation(&data, "reactive", &sets, 1..=8).unwrap();
    let (failures, evacuated, lost, warned, warned_evacuated) = total(&greedy);
    let (r_failures, r_evacuated, r_lost, _, _) = total(&reactive);
    assert_eq!(failures, r_failures, "same seeds, same faults");
    assert!(failures >= 7 * 8 * 3, "{failures} failures struck");
    // About 4 in 10 failures give no warning (the field-calibrated precursor model): those no
    // predictor can foresee. Of the others, nearly all are emptied in time (97 % over the
    // held-out seeds 21-50 when measured; at least 90 % here on seeds 1-8).
    assert!(
        warned * 10 < failures * 8 && warned * 10 > failures * 4,
        "{warned} of {failures} warned"
    );
    assert!(
        warned_evacuated * 10 >= warned * 9,
        "evacuated {warned_evacuated} of {warned} failures that gave a warning"
    );
    assert!(
        evacuated * 2 >= failures,
        "evacuated {evacuated} of {failures}"
    );
    for r in &greedy {
        assert!(r.rate() >= 0.45, "{}: {:.2}", r.traces, r.rate());
    }
    assert!(
        r_evacuated * 4 < failures,
        "reactive evacuated {r_evacuated}"
    );
    assert!(lost * 2 < r_lost, "VMs lost: {lost} vs reactive's {r_lost}");
}
