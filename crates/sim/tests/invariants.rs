//! Properties every run must keep, over random data centres, workloads, faults and policies:
//! no host over its memory, every VM on exactly one host (or down, with its downtime charged),
//! and the same seed giving the same report, bit for bit.

use promig_model::fault::FaultsConfig;
use promig_sim::{SimConfig, Simulator, synthetic};
use proptest::prelude::*;
use std::sync::Arc;

const POLICIES: [&str; 7] = [
    "none",
    "reactive",
    "threshold",
    "thr-mmt-0.8",
    "lr-mmt-1.2",
    "mad-mc-2.5",
    "proactive-greedy",
];

/// The predictor a policy that reads predictions gets (the evaluation crate attaches the same).
fn predictor_for(policy: &dyn promig_policy::Policy) -> Option<promig_predict::RiskPredictor> {
    policy.uses_predictions().then(|| {
        promig_predict::RiskPredictor::new(
            Some(promig_predict::HardwareModel::builtin().unwrap()),
            3.0,
        )
    })
}

fn faults(failures: u32, leaks: u32, degradations: u32) -> FaultsConfig {
    FaultsConfig {
        hardware_failures: failures,
        false_alarms: 1,
        memory_leaks: leaks,
        leak_mib_per_min: 120.0,
        degradations,
        surges: 1,
        ..FaultsConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_at_every_step(
        seed in 0u64..1000,
        hosts in 6usize..30,
        vms_per_host in 1usize..4,
        failures in 0u32..3,
        leaks in 0u32..3,
        degradations in 0u32..2,
        policy in 0usize..POLICIES.len(),
    ) {
        let steps = 60;
        let world = Arc::new(synthetic::world(hosts, hosts * vms_per_host, steps, seed, faults(failures, leaks, degradations)));
        let mut p = promig_policy::by_name(POLICIES[policy], seed).unwrap();
        let mut sim = match Simulator::new(Arc::clone(&world), SimConfig::nfv(seed, steps), p.as_mut()) {
            Ok(s) => s,
            Err(_) => return Err(TestCaseError::reject("the data centre is too small for its VMs")),
        };
        sim.check_invariants()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut predictor = predictor_for(p.as_ref());
        while sim.step_with(p.as_mut(), predictor.as_mut().map(|x| x as &mut dyn promig_predict::Predictor)) {
            sim.check_invariants()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let r = sim.report();
        // Every crashed VNF VM shows up as charged downtime.
        // (Overloads and latency breaches slow VMs down; only crashes and OOM kills stop them.)
        let stops = |c: promig_model::FaultCause| matches!(c, promig_model::FaultCause::HardwareFailure | promig_model::FaultCause::MemoryShortage);
        let vnf_hit: u32 = r.faults.iter().filter(|f| f.strike_s.is_some() && stops(f.cause)).map(|f| f.vnf_vms_hit).sum();
        if vnf_hit > 0 {
            prop_assert!(r.downtime_s > 0.0, "VNF VMs went down but no downtime was charged");
        }
        prop_assert!(r.energy_kwh.is_finite() && r.energy_kwh >= 0.0);
    }

    #[test]
    fn same_seed_same_report(seed in 0u64..1000, policy in 0usize..POLICIES.len()) {
        let run = || {
            let world = Arc::new(synthetic::world(20, 50, 48, seed, faults(2, 1, 1)));
            let mut p = promig_policy::by_name(POLICIES[policy], seed).unwrap();
            let mut sim = Simulator::new(world, SimConfig::nfv(seed, 48), p.as_mut()).unwrap();
            let mut predictor = predictor_for(p.as_ref());
            let predictor = predictor.as_mut().map(|x| x as &mut dyn promig_predict::Predictor);
            serde_json::to_string(&sim.run_with(p.as_mut(), predictor, &mut |_, _| {})).unwrap()
        };
        prop_assert_eq!(run(), run());
    }
}

#[test]
fn cloudsim_mode_keeps_vms_placed() {
    let world = Arc::new(synthetic::world(40, 80, 48, 7, FaultsConfig::default()));
    let mut p = promig_policy::by_name("lr-mmt", 7).unwrap();
    let mut cfg = SimConfig::cloudsim(7);
    cfg.steps = 48;
    let mut sim = Simulator::new(world, cfg, p.as_mut()).unwrap();
    while sim.step(p.as_mut()) {
        sim.check_invariants().unwrap();
    }
    assert!(sim.report().migrations > 0);
}

#[test]
fn crashes_charge_downtime_and_are_recorded() {
    let world = Arc::new(synthetic::world(20, 60, 96, 3, faults(3, 0, 0)));
    let mut p = promig_policy::by_name("none", 3).unwrap();
    let mut sim = Simulator::new(world, SimConfig::nfv(3, 96), p.as_mut()).unwrap();
    let r = sim.run(p.as_mut(), &mut |_, _| {});
    let crashes: Vec<_> = r
        .faults
        .iter()
        .filter(|f| f.cause == promig_model::FaultCause::HardwareFailure)
        .collect();
    assert_eq!(crashes.len(), 3);
    assert!(
        crashes
            .iter()
            .all(|c| c.strike_s.is_some() && c.onset_s < c.strike_s.unwrap())
    );
    assert_eq!(r.failures_struck, 3);
    assert!(r.vms_crashed > 0);
}

#[test]
fn surges_build_up_overloads_and_latency_breaches() {
    use promig_model::FaultCause;
    let count = |surges: u32| {
        let mut file = promig_sim::scenario::default_scenario().unwrap();
        let base = promig_model::data::dir(None).unwrap();
        file.faults.surges = surges;
        let world = Arc::new(promig_sim::scenario::build_world(&file, &base).unwrap());
        let mut p = promig_policy::by_name("none", 42).unwrap();
        let mut sim = Simulator::new(world, SimConfig::nfv(42, file.steps), p.as_mut()).unwrap();
        let r = sim.run(p.as_mut(), &mut |_, _| {});
        let n = |c: FaultCause| r.faults.iter().filter(|f| f.cause == c).count();
        (
            n(FaultCause::Overload),
            n(FaultCause::ResponseDegradation),
            r.slatah_pct,
        )
    };
    let (calm_over, calm_rt, calm_slatah) = count(0);
    let (over, rt, slatah) = count(3);
    assert!(over > calm_over, "{over} vs {calm_over}");
    assert!(rt > calm_rt, "{rt} vs {calm_rt}");
    assert!(slatah > calm_slatah, "{slatah} vs {calm_slatah}");
}

/// Counts the decisions its inner policy returns at each step.
struct Counting {
    inner: Box<dyn promig_policy::Policy>,
    decisions: u64,
}

impl promig_policy::Policy for Counting {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn decide(&mut self, obs: &promig_model::Observation) -> Vec<promig_model::Decision> {
        let d = self.inner.decide(obs);
        self.decisions += d.len() as u64;
        d
    }
    fn place(&mut self, obs: &promig_model::Observation, vms: &[usize]) -> Vec<Option<usize>> {
        self.inner.place(obs, vms)
    }
}

#[test]
fn per_step_outcomes_match_what_happened_in_the_step() {
    for policy in ["none", "reactive", "lr-mmt-1.2"] {
        let world = Arc::new(synthetic::world(30, 90, 96, 5, faults(2, 2, 1)));
        let mut p = Counting {
            inner: promig_policy::by_name(policy, 5).unwrap(),
            decisions: 0,
        };
        let mut sim = Simulator::new(world, SimConfig::nfv(5, 96), &mut p).unwrap();
        let mut last = sim.report();
        let mut step = 0;
        loop {
            // A clone stepped alongside must see exactly the same step (the agent branches so).
            let mut branch = sim.clone();
            let mut branch_policy = Counting {
                inner: promig_policy::by_name(policy, 5).unwrap(),
                decisions: 0,
            };
            let decided_before = p.decisions;
            let more = sim.step(&mut p);
            let now = sim.report();
            let o = now.outcome_since(&last);
            for (name, v) in [
                ("downtime", o.downtime_s),
                ("lost", o.packets_lost),
                ("offered", o.packets_offered),
                ("qos", o.qos_violation_s),
                ("energy", o.energy_kwh),
            ] {
                assert!(v >= -1e-9, "{policy}: {name} went down by {v}");
            }
            // Each step covers one interval of simulated time, the last one up to the horizon.
            assert!(
                (o.elapsed_s - 300.0).abs() < 1e-6,
                "{policy} step {step}: {o:?}"
            );
            // Every decision of the step was either started or refused, nothing else.
            let refused = now.rejected_decisions - last.rejected_decisions;
            assert_eq!(
                o.migrations + refused,
                p.decisions - decided_before,
                "{policy} step {step}"
            );
            if policy == "none" {
                branch.step(&mut branch_policy);
                let b = branch.report().outcome_since(&last);
                assert_eq!(
                    format!("{b:?}"),
                    format!("{o:?}"),
                    "a clone diverged at step {step}"
                );
            }
            last = now;
            step += 1;
            if !more {
                break;
            }
        }
        assert_eq!(step, 96, "{policy}: 96 steps simulate 96 intervals");
    }
}

#[test]
fn vms_that_cannot_be_restarted_wait_without_piling_up_retries() {
    // Two 4 GiB hosts, twelve 1 GiB VMs (placeable with Nova's 1.5 overcommit), one failure:
    // half the VMs have nowhere to go for the rest of the day.
    let mut world = synthetic::world(2, 12, 288, 1, faults(1, 0, 0));
    for h in &mut world.hosts {
        h.memory_mib = 4096.0;
    }
    for v in &mut world.vms {
        v.memory_mib = 1024.0;
    }
    let world = Arc::new(world);
    let mut p = promig_policy::by_name("none", 1).unwrap();
    let mut sim = Simulator::new(world, SimConfig::nfv(1, 288), p.as_mut()).unwrap();
    let mut most = 0;
    while sim.step(p.as_mut()) {
        most = most.max(sim.pending_events());
        assert!(most < 100, "{most} events queued: retries pile up");
    }
    let r = sim.report();
    assert_eq!(r.failures_struck, 1);
    assert!(r.vms_crashed >= 6, "{}", r.vms_crashed);
}

/// Whole racks failing at once (the splits' correlated faults) keep every invariant, under the
/// policy that moves the most: small training-split episodes that draw at least one rack failure.
#[test]
fn rack_failures_keep_every_invariant() {
    use promig_sim::split::{SplitName, Splits};
    let splits = Splits::builtin().unwrap();
    let data = promig_model::data::dir(None).unwrap();
    let mut ran = 0;
    for seed in splits.seeds(SplitName::Train) {
        let (file, summary) = splits.scenario(SplitName::Train, seed, &data).unwrap();
        if file.faults.rack_failures == 0 || summary.hosts > 120 {
            continue;
        }
        let (world, config) = splits.episode(SplitName::Train, seed, &data).unwrap();
        let world = Arc::new(world);
        let mut p = promig_policy::by_name("proactive-greedy", seed).unwrap();
        let mut sim = Simulator::new(Arc::clone(&world), config, p.as_mut()).unwrap();
        let mut predictor = predictor_for(p.as_ref());
        while sim.step_with(
            p.as_mut(),
            predictor
                .as_mut()
                .map(|x| x as &mut dyn promig_predict::Predictor),
        ) {
            sim.check_invariants()
                .unwrap_or_else(|e| panic!("{}: {e}", file.name));
        }
        let r = sim.report();
        // Some instant took down several hosts, all of one rack.
        let mut by_instant: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
        for f in &r.faults {
            if let (promig_model::FaultCause::HardwareFailure, Some(t)) = (f.cause, f.strike_s) {
                by_instant.entry(t.to_bits()).or_default().push(f.host);
            }
        }
        assert!(
            by_instant.values().any(|hosts| hosts.len() >= 2
                && hosts
                    .iter()
                    .all(|&h| world.hosts[h].rack == world.hosts[hosts[0]].rack)),
            "{}: no whole rack went down at once",
            file.name
        );
        ran += 1;
        if ran == 3 {
            break;
        }
    }
    assert_eq!(
        ran, 3,
        "three small episodes with a rack failure in the training split"
    );
}
