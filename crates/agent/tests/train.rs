//! The learner learns, reproducibly, and a saved model decides as the one in memory.

use promig_agent::{
    Env, EnvConfig, MlpWeights, TrainConfig, episode_reward, selection_seeds, train, train_with,
};
use promig_sim::scenario::{build_world, default_scenario, sim_config};
use std::path::Path;
use std::sync::Arc;

fn env(steps: usize) -> Env {
    let file = default_scenario().unwrap();
    let data = promig_model::data::dir(None).unwrap();
    let world = Arc::new(build_world(&file, &data).unwrap());
    let cfg = sim_config(&file, Path::new("."), 1, steps).unwrap();
    Env::new(world, cfg, EnvConfig::default()).unwrap()
}

fn small() -> TrainConfig {
    TrainConfig {
        episodes: 24,
        batch: 4,
        first_seed: 5_000,
        seed_count: 6,
        learning_rate: 0.01,
        ..TrainConfig::default()
    }
}

/// Over five weight seeds, 48 episodes of 8 hours (96 decisions each) on the default scenario
/// raise the mean reward on 8 seeds the training never ran, for at least four of the five and on
/// average. Eight-hour episodes hold failures and their precursors; 4-hour ones over 4 held-out
/// seeds left the signal within the episodes' own noise once the action set could relieve
/// overloaded hosts. With the switch-over fill in the KVM profile (longer pauses for busy guests)
/// one seed of five (seed 1) ends 1 % below where it started while the others gain 8-24 %, so
/// the test asks for most seeds and the mean, which a learner that does not learn would miss.
#[test]
fn training_improves_the_reward_on_held_out_seeds() {
    let mut e = env(96);
    // Seeds the training never runs (it cycles through 5,000..5,006).
    let held_out: Vec<u64> = (11..=18).collect();
    let mut gains = Vec::new();
    for seed in 1..=5 {
        let cfg = TrainConfig {
            episodes: 48,
            seed,
            ..small()
        };
        let (trained, curve) = train(&mut e, &cfg, |_| {}).unwrap();
        assert_eq!(curve.len(), cfg.episodes);
        let untrained = MlpWeights::init(cfg.seed, cfg.hidden);
        let mean = |w: &MlpWeights, e: &mut Env| {
            held_out
                .iter()
                .map(|&s| episode_reward(e, w, s).unwrap())
                .sum::<f64>()
                / held_out.len() as f64
        };
        let before = mean(&untrained, &mut e);
        let after = mean(&trained, &mut e);
        eprintln!(
            "weight seed {seed}: mean held-out reward untrained {before:.1}, trained {after:.1}"
        );
        gains.push(after - before);
    }
    let improved = gains.iter().filter(|&&g| g > 0.0).count();
    let mean = gains.iter().sum::<f64>() / gains.len() as f64;
    assert!(
        improved >= 4 && mean > 0.0,
        "gains per weight seed {gains:?}: {improved} of 5 improved, mean {mean:.1}"
    );
}

#[test]
fn the_same_seed_trains_the_same_model_and_a_saved_model_decides_the_same() {
    let cfg = TrainConfig {
        episodes: 4,
        batch: 2,
        ..small()
    };
    let (a, curve_a) = train(&mut env(24), &cfg, |_| {}).unwrap();
    let (b, curve_b) = train(&mut env(24), &cfg, |_| {}).unwrap();
    assert_eq!(a, b);
    assert_eq!(curve_a, curve_b);
    let path =
        std::env::temp_dir().join(format!("promig-train-{}.safetensors", std::process::id()));
    a.save(&path).unwrap();
    let loaded = MlpWeights::load(&path).unwrap();
    let mut e = env(24);
    assert_eq!(
        episode_reward(&mut e, &a, 3).unwrap().to_bits(),
        episode_reward(&mut e, &loaded, 3).unwrap().to_bits()
    );
}

#[test]
fn the_model_does_not_depend_on_the_number_of_threads() {
    // A batch of four episodes runs in parallel; each samples from its own generator.
    let cfg = TrainConfig {
        episodes: 8,
        batch: 4,
        ..small()
    };
    let with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| train(&mut env(24), &cfg, |_| {}).unwrap())
    };
    let (one, curve_one) = with(1);
    let (three, curve_three) = with(3);
    assert_eq!(curve_one, curve_three);
    assert_eq!(one, three);
    assert_ne!(
        one,
        MlpWeights::init(cfg.seed, cfg.hidden),
        "it learned something"
    );
}

#[test]
fn the_checkpoint_that_does_best_on_the_held_out_days_is_the_model() {
    let cfg = TrainConfig {
        episodes: 8,
        batch: 2,
        checkpoint_every: 2,
        selection_days: 2,
        ..small()
    };
    let template = env(24);
    let trained = train_with(&|_| Ok(template.fresh()), &cfg, |_| {}).unwrap();
    let episodes: Vec<usize> = trained.checkpoints.iter().map(|c| c.episode).collect();
    assert_eq!(episodes, [2, 4, 6, 8]);
    // The selection days come right after the training range and are never trained on.
    let days: Vec<u64> = selection_seeds(&cfg).collect();
    assert_eq!(days, [5_006, 5_007]);
    assert!(trained.curve.iter().all(|s| !days.contains(&s.seed)));
    let mut e = env(24);
    let mut best = (f64::NEG_INFINITY, None);
    for c in &trained.checkpoints {
        let again = days
            .iter()
            .map(|&d| episode_reward(&mut e, &c.weights, d).unwrap())
            .sum::<f64>()
            / days.len() as f64;
        assert_eq!(c.selection_reward.map(f64::to_bits), Some(again.to_bits()));
        if again >= best.0 {
            best = (again, Some(&c.weights));
        }
    }
    assert_eq!(
        Some(&trained.weights),
        best.1,
        "the best-judged checkpoint is the model"
    );
    assert_eq!(trained.chosen().map(|c| &c.weights), best.1);
    assert_eq!(trained.checkpoints.last().unwrap().episode, cfg.episodes);
}
