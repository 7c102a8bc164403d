//! The environment and the scored policy on the built-in default scenario: reproducible bit for
//! bit, and never a decision the simulator refuses.

use promig_agent::{
    AgentConfig, Candidate, Env, EnvConfig, LinearScorer, ScoredPolicy, Scorer, choose,
};
use promig_agent::{Round, State};
use promig_predict::{HardwareModel, RiskPredictor};
use promig_sim::scenario::{build_world, default_scenario, sim_config};
use promig_sim::{SimConfig, Simulator, World};
use std::sync::Arc;

const STEPS: usize = 24;

fn setup() -> (Arc<World>, SimConfig) {
    let file = default_scenario().unwrap();
    let base = promig_model::data::dir(None).unwrap();
    let world = Arc::new(build_world(&file, &base).unwrap());
    let cfg = sim_config(&file, &base, 1, STEPS).unwrap();
    (world, cfg)
}

/// The linear scorer's greedy picks in `state`.
fn linear_picks(state: &State, cfg: &AgentConfig) -> Vec<usize> {
    let scores = LinearScorer::default().scores(&state.features, state.candidates.len());
    let mut round = Round::new(&state.observation, &cfg.mask);
    let mut mask = state.mask.clone();
    choose(
        &mut round,
        &state.candidates,
        &mut mask,
        &scores,
        cfg.max_moves(),
    )
}

/// Every move the mask allows first, one per step in turn (exercises many actions).
fn eager_picks(state: &State, cfg: &AgentConfig) -> Vec<usize> {
    let scores: Vec<f32> = state
        .candidates
        .iter()
        .map(|c| match c {
            Candidate::Wait => 0.0,
            Candidate::Move(m) => 1.0 + m.vm as f32 * 1e-3,
        })
        .collect();
    let mut round = Round::new(&state.observation, &cfg.mask);
    let mut mask = state.mask.clone();
    choose(
        &mut round,
        &state.candidates,
        &mut mask,
        &scores,
        cfg.max_moves(),
    )
}

fn episode(
    env: &mut Env,
    seed: u64,
    pick: fn(&State, &AgentConfig) -> Vec<usize>,
) -> Vec<(State, u64, Vec<usize>)> {
    let cfg = env.config().agent.clone();
    let mut out = Vec::new();
    env.reset(seed).unwrap();
    while let Some(state) = env.state().cloned() {
        let picks = pick(&state, &cfg);
        let step = env.step(&picks).unwrap();
        assert_eq!(
            step.rejected, 0,
            "the simulator refused a masked-in decision"
        );
        assert!(step.reward.is_finite() && step.reward <= 0.0);
        out.push((state, step.reward.to_bits(), picks));
        if step.done {
            break;
        }
    }
    out
}

#[test]
fn same_seed_same_states_and_rewards() {
    let (world, cfg) = setup();
    let mut a = Env::new(Arc::clone(&world), cfg.clone(), EnvConfig::default()).unwrap();
    let mut b = Env::new(world, cfg, EnvConfig::default()).unwrap();
    let first = a.reset(7).unwrap().clone();
    assert_eq!(&first, b.reset(7).unwrap());
    let ea = episode(&mut a, 7, eager_picks);
    let eb = episode(&mut b, 7, eager_picks);
    assert_eq!(ea.len(), STEPS - 1, "one step per decision point");
    assert_eq!(ea, eb);
    let moves: usize = ea.iter().map(|(_, _, p)| p.len()).sum();
    eprintln!("eager episode: {moves} migrations picked");
    // A different seed draws a different run.
    let ec = episode(&mut a, 8, eager_picks);
    assert_ne!(ea, ec);
}

#[test]
fn linear_policy_in_the_environment_is_never_refused() {
    let (world, cfg) = setup();
    let mut env = Env::new(world, cfg, EnvConfig::default()).unwrap();
    let e = episode(&mut env, 3, linear_picks);
    let candidates: Vec<usize> = e.iter().map(|(s, _, _)| s.candidates.len()).collect();
    let max = *candidates.iter().max().unwrap();
    let cc = &env.config().agent.candidates;
    assert!(max <= 1 + cc.max_vms * cc.destinations_per_vm * cc.techniques.len());
    eprintln!("candidates per step: {candidates:?}");
}

#[test]
fn scored_policy_runs_the_default_scenario_without_refusals() {
    let (world, cfg) = setup();
    let mut policy = ScoredPolicy::new("rl-linear", LinearScorer::default(), AgentConfig::new());
    let mut sim = Simulator::new(world, cfg, &mut policy).unwrap();
    let mut predictor = RiskPredictor::new(Some(HardwareModel::builtin().unwrap()), 3.0);
    let report = sim.run_with(&mut policy, Some(&mut predictor), &mut |_, _| {});
    assert!(sim.is_finished());
    assert_eq!(report.rejected_decisions, 0);
    eprintln!(
        "rl-linear, {STEPS} steps: {} migrations, downtime {:.1} s",
        report.migrations, report.downtime_s
    );
}

#[test]
fn bad_picks_are_errors_not_panics() {
    let (world, cfg) = setup();
    let mut env = Env::new(world, cfg, EnvConfig::default()).unwrap();
    assert!(env.step(&[]).is_err(), "no episode yet");
    let n = env.reset(1).unwrap().candidates.len();
    assert!(env.step(&[n + 5]).is_err());
    assert!(env.step(&[0]).is_err(), "wait is not a move");
    assert!(
        env.step(&[]).is_ok(),
        "a refused step leaves the episode running"
    );
}

#[test]
fn mask_after_a_pick_hides_the_vm_and_the_booked_slots() {
    let (world, cfg) = setup();
    let mut env = Env::new(world, cfg, EnvConfig::default()).unwrap();
    let agent = env.config().agent.clone();
    let mut state = env.reset(2).unwrap().clone();
    while !state.mask.iter().skip(1).any(|&m| m) {
        assert!(
            !env.step(&[]).unwrap().done,
            "no decision point offered a move"
        );
        state = env.state().unwrap().clone();
    }
    let first = (1..state.mask.len()).find(|&i| state.mask[i]).unwrap();
    let Candidate::Move(m) = state.candidates[first] else {
        unreachable!("index 0 is wait")
    };
    let after = state.mask_after(&[first], &agent).unwrap();
    assert!(after[0], "wait stays selectable");
    for (i, c) in state.candidates.iter().enumerate() {
        if let Candidate::Move(o) = c
            && (o.vm == m.vm || o.from == m.from || o.to == m.to)
        {
            assert!(!after[i], "{o:?} still selectable after {m:?}");
        }
    }
    assert!(state.mask_after(&[first, first], &agent).is_err());
}
