//! Decision latency (observation -> decisions) of a scored policy at 1,000 hosts / 10,000 VMs:
//! candidates, features, mask, linear scores and the greedy choice, against `proactive-greedy`'s
//! decision on the same observation as the baseline. Run with `cargo bench -p promig-agent`.
//!
//! The observation is the synthetic world's after placement (memory overcommitted 2x so ten VMs
//! fit per host), with risks set on 3 % of the hosts
//! (1 % alarming for hardware with 15 minutes left, 2 % at moderate overload risk), the load a
//! decision meets in a bad hour; with no host at risk a decision is just the scan for sources.

use promig_agent::{AgentConfig, LinearScorer, ScoredPolicy};
use promig_model::fault::FaultsConfig;
use promig_model::{HostRisk, Observation};
use promig_policy::Policy;
use promig_sim::{SimConfig, Simulator, synthetic};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

fn main() {
    divan::main();
}

fn observation() -> Observation {
    let world = Arc::new(synthetic::world(
        1_000,
        10_000,
        12,
        1,
        FaultsConfig::default(),
    ));
    let mut p = promig_policy::by_name("none", 1).expect("built-in policy");
    // Ten VMs per 8 GiB host need memory overcommit to place (2x, a common KVM setting).
    let cfg = SimConfig {
        memory_overcommit: 2.0,
        ..SimConfig::nfv(1, 12)
    };
    let sim = Simulator::new(world, cfg, p.as_mut()).expect("synthetic world");
    let mut obs = sim.observation();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    obs.risks = vec![HostRisk::default(); obs.hosts.len()];
    for _ in 0..10 {
        let h = rng.random_range(0..obs.hosts.len());
        obs.risks[h] = HostRisk {
            probability: 0.6,
            hardware: 0.6,
            time_left_s: Some(900.0),
            ..HostRisk::default()
        };
    }
    for _ in 0..20 {
        let h = rng.random_range(0..obs.hosts.len());
        obs.risks[h] = HostRisk {
            probability: 0.3,
            overload: 0.3,
            ..HostRisk::default()
        };
    }
    obs
}

/// One decision of the linear-scored agent policy.
#[divan::bench(sample_count = 200)]
fn rl_linear_1k_hosts_10k_vms(bencher: divan::Bencher) {
    let obs = observation();
    let mut policy = ScoredPolicy::new("rl-linear", LinearScorer::default(), AgentConfig::new());
    policy.use_calibration(&promig_migrate::Profile::kvm());
    let moves = policy.decide(&obs).len();
    eprintln!(
        "rl-linear: {} candidates, {moves} moves picked",
        policy.last_candidates().len()
    );
    bencher.bench_local(|| divan::black_box(policy.decide(divan::black_box(&obs))));
}

/// One decision of the learned agent (`rl`: the committed network, most-likely choice), with
/// its explanations recorded as shipped.
#[divan::bench(sample_count = 200)]
fn rl_1k_hosts_10k_vms(bencher: divan::Bencher) {
    rl(bencher, true);
}

/// The same without explanations: what recording them costs.
#[divan::bench(sample_count = 200)]
fn rl_without_explanations_1k_hosts_10k_vms(bencher: divan::Bencher) {
    rl(bencher, false);
}

fn rl(bencher: divan::Bencher, explain: bool) {
    let obs = observation();
    let model = promig_agent::MlpWeights::from_bytes(promig_agent::COMMITTED_MODEL, "committed")
        .expect("committed model");
    let cfg = AgentConfig {
        rule: promig_agent::ChoiceRule::Probable,
        explain,
        ..AgentConfig::new()
    };
    let mut policy = ScoredPolicy::new("rl", model, cfg);
    policy.use_calibration(&promig_migrate::Profile::kvm());
    let moves = policy.decide(&obs).len();
    eprintln!(
        "rl: {} candidates, {moves} moves picked",
        policy.last_candidates().len()
    );
    bencher.bench_local(|| divan::black_box(policy.decide(divan::black_box(&obs))));
}

/// The baseline: `proactive-greedy`'s decision on the same observation.
#[divan::bench(sample_count = 200)]
fn proactive_greedy_1k_hosts_10k_vms(bencher: divan::Bencher) {
    let obs = observation();
    let mut policy = promig_policy::by_name("proactive-greedy", 1).expect("built-in policy");
    bencher.bench_local(|| divan::black_box(policy.decide(divan::black_box(&obs))));
}
