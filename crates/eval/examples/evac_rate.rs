fn main() {
    let data = promig_model::data::dir(None).unwrap();
    let policy = std::env::args().nth(1).unwrap_or("proactive-greedy".into());
    let last: u64 = std::env::args().nth(2).map_or(10, |s| s.parse().unwrap());
    let sets = promig_eval::evacuation::real_trace_sets();
    let rows = promig_eval::evacuation::evacuation(&data, &policy, &sets, 1..=last).unwrap();
    let (mut f, mut e) = (0, 0);
    for r in &rows {
        println!(
            "{:<28} {:>4} {:>4} rate {:.3} lost {:>4} downtime {:.0}",
            r.traces,
            r.failures,
            r.evacuated,
            r.rate(),
            r.vms_lost,
            r.downtime_s
        );
        f += r.failures;
        e += r.evacuated;
    }
    println!("total {e}/{f} = {:.3}", e as f64 / f as f64);
}
