//! Any per-candidate scorer as a `Policy`: at each decision point build the candidates, their
//! features and mask, score them once, and pick greedily the best selectable move until "wait"
//! scores best or the cap is reached, re-masking after each pick so two picks never overbook a
//! host. The learned network and the hand-weighted [`LinearScorer`] both plug in here.

use crate::features::{
    Builder, Candidate, CandidateConfig, Candidates, FEATURE_NAMES, FEATURES, Pricer,
};
use crate::mask::{self, MaskConfig, Round};
use promig_model::{Decision, Explanation, FeatureEffect, Observation, ScoredOption};
use promig_policy::{Policy, PolicySpec, Registry, Requirements, placement};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Rates candidates: one score per candidate (higher is better), wait included.
pub trait Scorer: Send {
    /// Scores of the `n` candidates whose features are `features` (`n x FEATURES`, row-major).
    /// Must return `n` finite scores; a missing or non-finite score makes its candidate unpickable.
    fn scores(&self, features: &[f32], n: usize) -> Vec<f32>;
}

/// What a scored policy (and the environment) enumerates and allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Which candidates are enumerated.
    pub candidates: CandidateConfig,
    /// What the mask allows.
    pub mask: MaskConfig,
    /// Most migrations started per interval: 16 by default, well above what the per-host limits
    /// allow on a small data centre, a bound on the decision's cost on a large one (0: never
    /// move, for ablations).
    pub max_moves: usize,
    /// How scores become picks.
    pub rule: ChoiceRule,
    /// Record why each move was made (options, scores, features that weighed most) for the
    /// run's report. On by default: the few extra scorings per move are small next to the
    /// decision (see the `decide` benchmark), and an operator needs the why.
    pub explain: bool,
}

/// How a scored policy turns scores into picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChoiceRule {
    /// The best-scoring selectable candidate, until "wait" scores best ([`choose`]).
    #[default]
    Greedy,
    /// Scores are a learned policy's logits: move while "wait" holds under half the probability
    /// of the selectable candidates, taking the best-scoring move ([`choose_probable`]). This is
    /// the decision a policy trained by sampling makes in its most likely form: sampling picks
    /// some move whenever their summed probability beats wait's, even when no single move
    /// outscores wait.
    Probable,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            candidates: CandidateConfig::default(),
            mask: MaskConfig::default(),
            max_moves: 16,
            rule: ChoiceRule::Greedy,
            explain: true,
        }
    }
}

impl AgentConfig {
    /// The defaults (same as `Default`, spelled for call sites that read better with it).
    pub fn new() -> Self {
        AgentConfig::default()
    }

    /// The cap on moves per interval.
    pub fn max_moves(&self) -> usize {
        self.max_moves
    }
}

/// Greedy sequential choice: repeatedly takes the selectable candidate with the highest score
/// (ties: lowest index) until wait wins, nothing is selectable or `max_moves` are taken; books
/// each pick in `round` and refreshes `mask` after it. Returns the picked indices in order.
pub fn choose(
    round: &mut Round<'_>,
    candidates: &[Candidate],
    mask: &mut Vec<bool>,
    scores: &[f32],
    max_moves: usize,
) -> Vec<usize> {
    let mut picks = Vec::new();
    while picks.len() < max_moves {
        let mut best: Option<(f32, usize)> = None;
        for (i, &s) in scores.iter().enumerate().take(candidates.len()) {
            if !mask.get(i).copied().unwrap_or(false) || !s.is_finite() {
                continue;
            }
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, i));
            }
        }
        match best.map(|(_, i)| (i, &candidates[i])) {
            Some((i, Candidate::Move(m))) => {
                round.commit(m);
                picks.push(i);
                mask::refresh(round, candidates, mask);
            }
            _ => break,
        }
    }
    picks
}

/// [`ChoiceRule::Probable`]: while the selectable candidates other than wait (index 0) hold more
/// than half the softmax probability, takes the best-scoring one; books and re-masks like
/// [`choose`].
pub fn choose_probable(
    round: &mut Round<'_>,
    candidates: &[Candidate],
    mask: &mut Vec<bool>,
    scores: &[f32],
    max_moves: usize,
) -> Vec<usize> {
    let mut picks = Vec::new();
    let wait = scores.first().copied().filter(|s| s.is_finite());
    let Some(wait) = wait else { return picks };
    while picks.len() < max_moves {
        let selectable = scores
            .iter()
            .enumerate()
            .take(candidates.len())
            .skip(1)
            .filter(|&(i, s)| mask.get(i).copied().unwrap_or(false) && s.is_finite());
        let mut best: Option<(f32, usize)> = None;
        // Probability mass of the moves relative to wait's: sum of e^(s - wait).
        let mut moves_over_wait = 0.0f64;
        for (i, &s) in selectable {
            moves_over_wait += f64::from(s - wait).exp();
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, i));
            }
        }
        let Some((_, i)) = best.filter(|_| moves_over_wait > 1.0) else {
            break;
        };
        if let Candidate::Move(m) = &candidates[i] {
            round.commit(m);
            picks.push(i);
            mask::refresh(round, candidates, mask);
        } else {
            break;
        }
    }
    picks
}

/// A hand-weighted linear scorer: the sanity baseline a learner must beat, and the shape of the
/// simplest learned model (a dot product per row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearScorer {
    /// Weights of a move's features (index as in [`crate::features`]).
    pub move_weights: Vec<f32>,
    /// Weights of the wait row's features (index 0 is its constant).
    pub wait_weights: Vec<f32>,
}

impl Default for LinearScorer {
    /// Moves score the urgency of their source minus what they cost; wait is a constant bar.
    /// - urgency: +20 hardware risk (a crash costs a whole restart: 2 % risk is worth 0.4),
    ///   +2 overall risk, +0.5 each for overload, memory and response-time risk, +0.5 source CPU load;
    /// - destination: -2 load after the move (feature 10, load / 2), -2 response time over the
    ///   VNF's bound, -2 risk, -20 hardware risk, -0.2 per incoming migration already there;
    /// - the move: -1 downtime over the VNF's bound, -0.3 total time, -0.5 post-copy window (a
    ///   source failure then loses the VM), +0.2 slack before the failure, -0.1 across racks;
    /// - +0.1 for a VNF instance (its outage is what the operator pays for), +0.1 more for a chain
    ///   member (its outage interrupts the chain).
    ///
    /// Wait scores 0.3: a move needs a clear reason. On the default scenario (288 steps, seeds
    /// 1-3) the destination terms at -1 and wait at 0.1 moved 700+ VMs a day onto hosts they
    /// then overloaded (QoS violations above `none`'s); these values move 160-260.
    fn default() -> Self {
        let mut m = vec![0.0f32; FEATURES];
        m[1] = 2.0;
        m[2] = 20.0;
        m[3] = 0.5;
        m[4] = 0.5;
        m[5] = 0.5;
        m[8] = 0.5;
        m[10] = -2.0;
        m[12] = -2.0;
        m[13] = -20.0;
        m[15] = -0.1;
        m[16] = -0.3;
        m[17] = -1.0;
        m[19] = 0.2;
        m[20] = -0.5;
        m[26] = 0.1;
        m[28] = -2.0;
        m[29] = -0.2;
        m[32] = 0.1;
        let mut w = vec![0.0f32; FEATURES];
        w[0] = 0.3;
        LinearScorer {
            move_weights: m,
            wait_weights: w,
        }
    }
}

impl Scorer for LinearScorer {
    fn scores(&self, features: &[f32], n: usize) -> Vec<f32> {
        let dot = |w: &[f32], row: &[f32]| -> f32 { w.iter().zip(row).map(|(a, b)| a * b).sum() };
        features
            .chunks_exact(FEATURES)
            .take(n)
            .map(|row| {
                if row[0] > 0.5 {
                    dot(&self.wait_weights, row)
                } else {
                    dot(&self.move_weights, row)
                }
            })
            .collect()
    }
}

/// A `Policy` that decides with a [`Scorer`] over the agent's candidates.
pub struct ScoredPolicy<S: Scorer> {
    scorer: S,
    name: String,
    cfg: AgentConfig,
    pricer: Pricer,
    builder: Builder,
    last: Candidates,
    last_scores: Vec<f32>,
    explained: Vec<Explanation>,
}

/// Options kept per explained move (the one taken and the next best for the same VM).
pub const EXPLAINED_OPTIONS: usize = 4;

/// Features named per option in an explanation.
pub const EXPLAINED_FEATURES: usize = 3;

/// Options whose features are weighed (the one taken and the runner-up: why this one and not
/// the next); the rest carry their scores only, which keeps the cost per move to two batches of
/// occlusion scoring.
pub const WEIGHED_OPTIONS: usize = 2;

impl<S: Scorer> ScoredPolicy<S> {
    /// A policy named `name` deciding with `scorer` under `cfg` (priced with the TCG profile until
    /// the simulator hands over the run's profile).
    pub fn new(name: &str, scorer: S, cfg: AgentConfig) -> Self {
        ScoredPolicy {
            scorer,
            name: name.to_string(),
            cfg,
            pricer: Pricer::default(),
            builder: Builder::default(),
            last: Candidates::default(),
            last_scores: Vec::new(),
            explained: Vec::new(),
        }
    }

    /// The features that moved candidate `i`'s score most: each feature's effect is the score
    /// minus the score with that feature set to zero (occlusion: one batch of `FEATURES` rows
    /// through the scorer, the same for a linear scorer and a network).
    fn weighed_most(&self, i: usize) -> Vec<FeatureEffect> {
        let row = &self.last.features[i * FEATURES..(i + 1) * FEATURES];
        let base = self.last_scores[i];
        let mut rows = Vec::with_capacity(FEATURES * FEATURES);
        for j in 0..FEATURES {
            rows.extend_from_slice(row);
            rows[j * FEATURES + j] = 0.0;
        }
        let occluded = self.scorer.scores(&rows, FEATURES);
        let mut effects: Vec<FeatureEffect> = (0..FEATURES)
            .filter(|&j| row[j] != 0.0)
            .filter_map(|j| {
                let effect = base - occluded.get(j).copied()?;
                effect.is_finite().then(|| FeatureEffect {
                    feature: FEATURE_NAMES[j].to_string(),
                    value: row[j],
                    effect,
                })
            })
            .collect();
        effects.sort_by(|a, b| b.effect.abs().total_cmp(&a.effect.abs()));
        effects.truncate(EXPLAINED_FEATURES);
        effects
    }

    /// The explanation of the move at candidate `pick`: it and the best other options for the
    /// same VM, the first [`WEIGHED_OPTIONS`] with the features that weighed most.
    fn explain(&self, obs: &Observation, pick: usize) -> Option<Explanation> {
        let Candidate::Move(chosen) = &self.last.candidates[pick] else {
            return None;
        };
        let mut others: Vec<usize> = (1..self.last.len())
            .filter(|&i| i != pick)
            .filter(
                |&i| matches!(&self.last.candidates[i], Candidate::Move(m) if m.vm == chosen.vm),
            )
            .filter(|&i| self.last_scores.get(i).is_some_and(|s| s.is_finite()))
            .collect();
        others.sort_by(|&a, &b| self.last_scores[b].total_cmp(&self.last_scores[a]));
        let options = std::iter::once(pick)
            .chain(others)
            .take(EXPLAINED_OPTIONS)
            .enumerate()
            .filter_map(|(k, i)| match &self.last.candidates[i] {
                Candidate::Move(m) => Some(ScoredOption {
                    to: obs.hosts.get(m.to)?.id,
                    technique: m.technique,
                    score: self.last_scores[i],
                    weighed_most: if k < WEIGHED_OPTIONS {
                        self.weighed_most(i)
                    } else {
                        Vec::new()
                    },
                    // Both rules take the best-scoring selectable option, so one scored higher
                    // was not selectable at that pick.
                    unavailable: self.last_scores[i] > self.last_scores[pick],
                }),
                Candidate::Wait => None,
            })
            .collect();
        Some(Explanation {
            time_s: obs.time_s,
            vm: obs.vms.get(chosen.vm)?.id,
            from: obs.hosts.get(chosen.from)?.id,
            wait_score: self.last_scores.first().copied().unwrap_or(f32::NAN),
            options,
        })
    }

    /// The candidates of the last decision (mask as it stood after the picks), for explanations.
    pub fn last_candidates(&self) -> &Candidates {
        &self.last
    }

    /// The scores of the last decision, one per candidate.
    pub fn last_scores(&self) -> &[f32] {
        &self.last_scores
    }

    /// The scorer.
    pub fn scorer(&self) -> &S {
        &self.scorer
    }
}

impl<S: Scorer> Policy for ScoredPolicy<S> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn uses_predictions(&self) -> bool {
        true
    }

    fn use_calibration(&mut self, profile: &promig_migrate::Profile) {
        self.pricer = Pricer::new(profile);
    }

    fn explanations(&mut self) -> Vec<Explanation> {
        std::mem::take(&mut self.explained)
    }

    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        restart_placement(obs, vms, &self.cfg.mask)
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        // Only the latest interval's explanations are kept: a caller that never asks for them
        // (the controller) must not accumulate them.
        self.explained.clear();
        if obs.instantiating {
            return Vec::new();
        }
        let mut round = Round::new(obs, &self.cfg.mask);
        self.builder
            .build(&round, &self.pricer, &self.cfg.candidates, &mut self.last);
        let n = self.last.len();
        self.last_scores = self.scorer.scores(&self.last.features, n);
        let rule = match self.cfg.rule {
            ChoiceRule::Greedy => choose,
            ChoiceRule::Probable => choose_probable,
        };
        let picks = rule(
            &mut round,
            &self.last.candidates,
            &mut self.last.mask,
            &self.last_scores,
            self.cfg.max_moves(),
        );
        if self.cfg.explain {
            let explained: Vec<Explanation> =
                picks.iter().filter_map(|&i| self.explain(obs, i)).collect();
            self.explained = explained;
        }
        picks
            .into_iter()
            .filter_map(|i| match self.last.candidates[i] {
                Candidate::Move(m) => Some(decision(obs, &m)),
                Candidate::Wait => None,
            })
            .collect()
    }
}

/// Where the agent restarts VMs a crash or kill took down (the simulator asks its policy): VNF
/// instances first, spread over the hosts its mask would accept as destinations (risk and
/// hardware risk within the bounds), then over any host that is up. The agent learns which VM
/// moves where before a failure; after one, it restarts as `proactive-greedy` does (VNF
/// instances first, trusted hosts first), so the two differ in what they learn, not in this.
/// The environment places with the same function, so training sees the deployed placement.
pub fn restart_placement(
    obs: &Observation,
    vms: &[usize],
    mask: &MaskConfig,
) -> Vec<Option<usize>> {
    let trusted = |h: usize| {
        obs.risks.get(h).is_none_or(|r| {
            r.probability <= mask.destination_risk_bound
                && r.hardware <= mask.destination_hardware_bound
        })
    };
    placement::vnf_first(obs, vms, |obs, vms| {
        placement::spread_trusted(obs, vms, trusted)
    })
}

/// The simulator's decision for a move: VM, destination, technique and their stable ids.
pub fn decision(obs: &Observation, m: &crate::features::Move) -> Decision {
    let d = Decision::migrate(m.vm, m.to).with_technique(m.technique);
    match (obs.vms.get(m.vm), obs.hosts.get(m.to)) {
        (Some(v), Some(h)) => d.with_ids(v.id, h.id),
        _ => d,
    }
}

/// Environment variable naming a model file `rl` runs instead of the committed one.
pub const RL_MODEL_ENV: &str = "PROMIG_RL_MODEL";

/// Reads the model `PROMIG_RL_MODEL` names, if it names one: a program calls this first, so a
/// missing or corrupt file is an error naming it before any policy is registered.
pub fn check_model_env() -> Result<(), crate::AgentError> {
    model_from_env().map(|_| ())
}

fn model_from_env() -> Result<Option<crate::net::MlpWeights>, crate::AgentError> {
    match std::env::var_os(RL_MODEL_ENV).filter(|v| !v.is_empty()) {
        Some(path) => crate::net::MlpWeights::load(std::path::Path::new(&path))
            .map(Some)
            .map_err(|e| crate::AgentError::Learner(format!("{RL_MODEL_ENV}: {e}"))),
        None => Ok(None),
    }
}

/// Registers the agent's policies (`rl-linear`, the hand-weighted baseline, and `rl`) in
/// `registry`, for the CLI to call: `policy` cannot register them itself, since this crate
/// depends on it.
pub fn register(registry: &mut Registry) -> Result<(), crate::AgentError> {
    registry.register(PolicySpec {
        name: "rl-linear".into(),
        summary: "the RL agent's candidates, mask and greedy choice, scored by fixed hand weights"
            .into(),
        params: Vec::new(),
        requires: Requirements {
            predictions: true,
            full_power_accounting: false,
        },
        build: Arc::new(|_, _| {
            Box::new(ScoredPolicy::new(
                "rl-linear",
                LinearScorer::default(),
                AgentConfig::new(),
            ))
        }),
    })?;
    // The committed model is checked by the crate's tests; a corrupt build of it fails here, at
    // registration, not in the middle of a run. `PROMIG_RL_MODEL` names another model file to
    // run as `rl` (a freshly trained one, judged by `promig evaluate` before it is committed).
    let model = match model_from_env()? {
        Some(model) => model,
        None => {
            crate::net::MlpWeights::from_bytes(crate::net::COMMITTED_MODEL, "<committed rl model>")
                .map_err(|e| crate::AgentError::Learner(e.to_string()))?
        }
    };
    registry.register(PolicySpec {
        name: "rl".into(),
        summary: "the RL agent: the committed network (crates/agent/models/rl.safetensors, `promig train`) scores every feasible (VM, destination, technique) and wait".into(),
        params: Vec::new(),
        requires: Requirements {
            predictions: true,
            full_power_accounting: false,
        },
        build: Arc::new(move |_, _| {
            let cfg = AgentConfig {
                rule: ChoiceRule::Probable,
                ..AgentConfig::new()
            };
            Box::new(ScoredPolicy::new("rl", model.clone(), cfg))
        }),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Restarts go VNF instances first, to hosts the mask would accept as destinations first,
    /// and what they cannot hold to any host that is up.
    #[test]
    fn restarts_put_vnf_instances_first_and_on_trusted_hosts_first() {
        use promig_model::{HostRisk, HostShape, ObservationBuilder, Qos, VmShape};
        let mut b = ObservationBuilder::new();
        b.hosts(
            3,
            HostShape {
                memory_mib: 4_096.0,
                ..HostShape::default()
            },
        );
        b.down(0);
        b.risk(
            1,
            HostRisk {
                probability: 0.5,
                hardware: 0.5,
                ..HostRisk::default()
            },
        );
        let vm = VmShape {
            memory_mib: 4_096.0,
            ..VmShape::default()
        };
        let plain = b.vm(None, vm);
        let f = b.vnf(Qos::default());
        let vnf = b.vm(None, VmShape { vnf: Some(f), ..vm });
        let obs = b.build();
        let placed = restart_placement(&obs, &[plain, vnf], &MaskConfig::default());
        assert_eq!(placed, vec![Some(1), Some(2)]);
    }

    #[test]
    fn registers_once_and_refuses_twice() {
        let mut r = Registry::builtin();
        register(&mut r).unwrap();
        assert!(r.build("rl-linear", 1).is_ok());
        assert!(r.build("rl", 1).is_ok());
        assert!(register(&mut r).is_err());
    }

    #[test]
    fn linear_scorer_returns_one_score_per_row() {
        let s = LinearScorer::default();
        let mut f = vec![0.0f32; 3 * FEATURES];
        f[0] = 1.0;
        let scores = s.scores(&f, 3);
        assert_eq!(scores, vec![0.3, 0.0, 0.0]);
        assert_eq!(
            s.scores(&f[..FEATURES + 3], 2).len(),
            1,
            "partial rows ignored"
        );
    }
}
