//! Runs independent simulations over the cores and gives their results back in job order, so
//! a comparison's output does not depend on the number of threads or on which run ended first.
//!
//! Hand-written on `std::thread::scope` rather than rayon: a strided split over the cores is all
//! it needs, the jobs are few and long (whole simulated days), and it keeps a thread pool out of
//! the library.

/// `f` applied to every job, on all cores (worker w takes jobs w, w + workers, ...), results in
/// the jobs' order. A panicking job is a bug, not bad input: its panic is passed on as it is.
pub fn map_in_order<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len())
        .max(1);
    let mut slots: Vec<Option<R>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let f = &f;
                scope.spawn(move || {
                    (w..jobs.len())
                        .step_by(workers)
                        .map(|j| (j, f(&jobs[j])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            let done = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            for (j, r) in done {
                slots[j] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        // A true invariant: the workers' strides cover every job index exactly once.
        .map(|s| s.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_job_order() {
        let jobs: Vec<u64> = (0..37).collect();
        let out = super::map_in_order(&jobs, |&j| {
            // Later jobs finish first.
            std::thread::sleep(std::time::Duration::from_micros(40 - j));
            j * j
        });
        assert_eq!(out, jobs.iter().map(|j| j * j).collect::<Vec<_>>());
        assert!(super::map_in_order(&[] as &[u64], |&j| j).is_empty());
    }
}
