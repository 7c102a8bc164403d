//! The RL environment over the simulator: `reset(seed)` starts an episode and returns the first
//! decision point's state; `step(picks)` starts the picked migrations at that decision point,
//! simulates the interval that follows and returns its reward and the next state.
//!
//! How a decision point is observed before it is decided: the simulator builds its observation
//! inside `step` and asks a `Policy` there and then. The environment keeps the simulator just
//! before the next decision point and looks ahead on a clone (the simulator and the predictor clone
//! cheaply) whose adapter policy records the observation and starts nothing. `step` then runs the
//! kept simulator to the same point (deterministic, so it sees the same observation) with an
//! adapter that returns the picked decisions, and the look-ahead clone of the next interval gives
//! both the reward (report after minus report before, the picks included) and the next state.
//! Each interval is thus simulated twice; splitting `Simulator::step_with` into observe / apply
//! halves would halve that, at the price of touching the simulator's step.

use crate::error::AgentError;
use crate::features::{Builder, Candidate, Candidates, Pricer};
use crate::mask::{self, Round};
use crate::policy::{AgentConfig, decision};
use crate::reward::RewardWeights;
use promig_model::{Decision, Observation};
use promig_policy::Policy;
use promig_predict::{HardwareModel, Predictor, RiskPredictor};
use promig_sim::{Outcome, Report, SimConfig, Simulator, World};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the environment enumerates, allows and rewards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvConfig {
    /// Candidates, mask and cap on moves per interval (shared with [`crate::ScoredPolicy`], so
    /// training and evaluation see the same action set).
    pub agent: AgentConfig,
    /// Reward weights.
    pub reward: RewardWeights,
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig {
            agent: AgentConfig::new(),
            reward: RewardWeights::default(),
        }
    }
}

/// One decision point as the learner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The observation (with the predictor's risks) the candidates were built from.
    pub observation: Observation,
    /// The actions; index 0 is always [`Candidate::Wait`].
    pub candidates: Vec<Candidate>,
    /// `candidates.len() x FEATURES` values, row-major.
    pub features: Vec<f32>,
    /// `true` where a candidate may be chosen as the first pick.
    pub mask: Vec<bool>,
}

impl State {
    /// The mask after `picks` (candidate indices, in order) were taken: what the next pick of a
    /// sequential choice may be. An index that is out of range or masked when its turn comes is
    /// an error naming it.
    pub fn mask_after(&self, picks: &[usize], cfg: &AgentConfig) -> Result<Vec<bool>, AgentError> {
        let mut round = Round::new(&self.observation, &cfg.mask);
        let mut mask = self.mask.clone();
        book(&mut round, &self.candidates, &mut mask, picks)?;
        Ok(mask)
    }
}

/// Books `picks` in `round` one by one, refreshing `mask` after each; errors on the first pick
/// that is out of range, "wait", or masked at its turn.
fn book(
    round: &mut Round<'_>,
    candidates: &[Candidate],
    mask: &mut Vec<bool>,
    picks: &[usize],
) -> Result<Vec<Decision>, AgentError> {
    let mut out = Vec::with_capacity(picks.len());
    for (position, &index) in picks.iter().enumerate() {
        let bad = |reason: &str| AgentError::BadPick {
            position,
            index,
            reason: reason.to_string(),
        };
        let Some(c) = candidates.get(index) else {
            return Err(bad("out of range"));
        };
        if !mask.get(index).copied().unwrap_or(false) {
            return Err(bad("masked"));
        }
        let Candidate::Move(m) = c else {
            return Err(bad("wait is not a move; leave it out of the picks"));
        };
        if let Err(why) = round.check(m) {
            return Err(bad(&format!("{why:?}")));
        }
        round.commit(m);
        out.push(decision(round.observation(), m));
        mask::refresh(round, candidates, mask);
    }
    Ok(out)
}

/// What one step returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// Minus the weighted cost of the interval after the decision point (see [`RewardWeights`]).
    pub reward: f64,
    /// The episode ended (no further decision point).
    pub done: bool,
    /// The interval's ingredients, as the simulator reports them.
    pub outcome: Outcome,
    /// Migration traffic of the interval, GiB.
    pub migration_gib: f64,
    /// Decisions the simulator refused at this decision point (0 when the mask is right).
    pub rejected: u64,
}

/// The adapter between the environment and the simulator's `Policy` call: returns the decisions
/// it was given, or records the observation and starts nothing.
#[derive(Default)]
struct Scripted {
    decisions: Vec<Decision>,
    captured: Option<Observation>,
    capture: bool,
    /// The mask whose destination bounds decide which hosts restarts trust (as
    /// [`crate::ScoredPolicy`] places them, so training sees the deployed placement).
    mask: crate::mask::MaskConfig,
}

impl Policy for Scripted {
    fn name(&self) -> String {
        "agent-env".into()
    }

    fn uses_predictions(&self) -> bool {
        true
    }

    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        crate::policy::restart_placement(obs, vms, &self.mask)
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        if self.capture {
            self.captured = Some(obs.clone());
        }
        std::mem::take(&mut self.decisions)
    }
}

struct Episode {
    sim: Simulator,
    predictor: Option<RiskPredictor>,
    state: State,
}

/// The environment. Deterministic: the same seed and the same picks give the same states and
/// rewards, bit for bit.
pub struct Env {
    world: Arc<World>,
    base: SimConfig,
    cfg: EnvConfig,
    predictor: Option<RiskPredictor>,
    pricer: Pricer,
    builder: Builder,
    episode: Option<Episode>,
}

impl Env {
    /// An environment over `world` run with `base` (its seed is replaced at each reset), with the
    /// predictor `proactive-greedy` gets in evaluation (the built-in hardware model, a 3-step
    /// horizon) filling the observations' risks.
    pub fn new(world: Arc<World>, base: SimConfig, cfg: EnvConfig) -> Result<Self, AgentError> {
        let predictor = RiskPredictor::new(Some(HardwareModel::builtin()?), 3.0);
        Ok(Env {
            pricer: Pricer::new(&base.calibration),
            world,
            base,
            cfg,
            predictor: Some(predictor),
            builder: Builder::default(),
            episode: None,
        })
    }

    /// A copy with the same world, settings and predictor, and no episode running: what a
    /// parallel learner gives each of its episodes.
    pub fn fresh(&self) -> Env {
        Env {
            world: Arc::clone(&self.world),
            base: self.base.clone(),
            cfg: self.cfg.clone(),
            predictor: self.predictor.clone(),
            pricer: self.pricer.clone(),
            builder: Builder::default(),
            episode: None,
        }
    }

    /// Replaces the predictor (`None`: observations carry no risks; for ablations).
    pub fn set_predictor(&mut self, predictor: Option<RiskPredictor>) {
        self.predictor = predictor;
        self.episode = None;
    }

    /// The configuration.
    pub fn config(&self) -> &EnvConfig {
        &self.cfg
    }

    /// Starts an episode with `seed` (fault plan and everything random in the run) and returns
    /// its first decision point.
    pub fn reset(&mut self, seed: u64) -> Result<&State, AgentError> {
        self.episode = None;
        let mut cfg = self.base.clone();
        cfg.seed = seed;
        let mut adapter = Scripted {
            mask: self.cfg.agent.mask.clone(),
            ..Scripted::default()
        };
        let sim = Simulator::new(Arc::clone(&self.world), cfg, &mut adapter)?;
        let predictor = self.predictor.clone();
        let (more, obs, _) = look_ahead(&sim, &predictor, &self.cfg.agent.mask);
        let Some(obs) = obs.filter(|_| more) else {
            return Err(AgentError::NoDecisionPoint);
        };
        let state = self.state_of(obs);
        let episode = self.episode.insert(Episode {
            sim,
            predictor,
            state,
        });
        Ok(&episode.state)
    }

    /// The current decision point (`None` before a reset and once the episode is over).
    pub fn state(&self) -> Option<&State> {
        self.episode.as_ref().map(|e| &e.state)
    }

    /// Starts the migrations `picks` names (candidate indices of the current state, in the order
    /// of a sequential choice; empty = wait), simulates the next interval and returns its reward.
    /// A pick that is out of range or masked at its turn is an error and nothing is applied.
    pub fn step(&mut self, picks: &[usize]) -> Result<StepOutcome, AgentError> {
        let Some(mut episode) = self.episode.take() else {
            return Err(AgentError::NotReset);
        };
        let decisions = {
            let s = &episode.state;
            let mut round = Round::new(&s.observation, &self.cfg.agent.mask);
            let mut mask = s.mask.clone();
            match book(&mut round, &s.candidates, &mut mask, picks) {
                Ok(d) => d,
                Err(e) => {
                    self.episode = Some(episode);
                    return Err(e);
                }
            }
        };
        let start = episode.sim.report();
        let rejected_before = start.rejected_decisions;
        let mut adapter = Scripted {
            decisions,
            mask: self.cfg.agent.mask.clone(),
            ..Scripted::default()
        };
        episode.sim.step_with(
            &mut adapter,
            episode.predictor.as_mut().map(|p| p as &mut dyn Predictor),
        );
        let before = episode.sim.report();
        let rejected = before.rejected_decisions - rejected_before;
        let (more, obs, after) = look_ahead(&episode.sim, &episode.predictor, &self.cfg.agent.mask);
        let mut outcome = after.outcome_since(&before);
        // The picks start at the decision point, inside `step_with`: count them here, or the
        // per-migration cost would charge the next interval's (none) instead of these.
        outcome.migrations = before.migrations - start.migrations;
        let migration_gib = after.migration_traffic_gib - before.migration_traffic_gib;
        let reward = self.cfg.reward.reward(&outcome, migration_gib);
        let done = !more;
        if let (false, Some(obs)) = (done, obs) {
            episode.state = self.state_of(obs);
            self.episode = Some(episode);
        }
        Ok(StepOutcome {
            reward,
            done,
            outcome,
            migration_gib,
            rejected,
        })
    }

    fn state_of(&mut self, observation: Observation) -> State {
        let round = Round::new(&observation, &self.cfg.agent.mask);
        let mut c = Candidates::default();
        self.builder
            .build(&round, &self.pricer, &self.cfg.agent.candidates, &mut c);
        drop(round);
        State {
            observation,
            candidates: c.candidates,
            features: c.features,
            mask: c.mask,
        }
    }
}

/// Runs a clone of `sim` (and of the predictor) to its next decision point with an adapter that
/// starts nothing: whether there is one, its observation, and the report once there.
fn look_ahead(
    sim: &Simulator,
    predictor: &Option<RiskPredictor>,
    mask: &crate::mask::MaskConfig,
) -> (bool, Option<Observation>, Report) {
    let mut probe = sim.clone();
    let mut p = predictor.clone();
    let mut adapter = Scripted {
        capture: true,
        mask: mask.clone(),
        ..Scripted::default()
    };
    let more = probe.step_with(&mut adapter, p.as_mut().map(|p| p as &mut dyn Predictor));
    (more, adapter.captured, probe.report())
}
