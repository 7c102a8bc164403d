//! Candidate actions at a decision point and one fixed-length feature vector per candidate, so
//! one shared scorer (a linear baseline today, a network later) rates any number of them on any
//! size of data centre.
//!
//! Which VMs are candidates: those on hosts worth acting on, i.e. up and either predicted at risk
//! (any cause at or above `act_risk_bound`, hardware at or above `act_hardware_bound`) or
//! overloaded now (CPU requests or memory in use above `overload_share` of capacity). Moving a VM
//! off a healthy host only costs a pause and traffic, and the goal is VNF downtime and loss, not
//! consolidation; enumerating every VM at 10,000 VMs x 1,000 hosts x 5 techniques (50 million
//! moves) would also break the 1 ms decision budget. Per VM only the `destinations_per_vm` best
//! destinations of one global ranking (least risk, then least CPU load) that pass the mask are
//! priced, each with every technique in `techniques`. Candidate 0 is always "wait".
//!
//! Features (all `f32`, index: meaning, normalisation):
//! - 0 `is_wait`: 1 for the wait candidate, else 0.
//! - 1..=5 source risk: overall probability, hardware, overload, memory, response time (each 0..1).
//! - 6 source time left: `time_left_s / 3600` clipped to 0..1; 1 when the predictor gives none.
//! - 7 source risk within 5 minutes (0..1).
//! - 8 source CPU load: requests / capacity, / 2, clipped to 0..1.
//! - 9 source memory in use / physical memory, / 2, clipped to 0..1.
//! - 10 destination CPU load after the move, / 2, clipped to 0..1.
//! - 11 destination memory headroom after the move: free placeable share, 0..1.
//! - 12 destination risk probability, 13 destination hardware risk (0..1).
//! - 14 path bandwidth: `log10(bps) / 12` (1 Gbit/s = 0.75, 100 Gbit/s = 0.92).
//! - 15 path latency proxy: 0 within a rack, 1 across racks (the observation has no per-path
//!   latency; racks stand for the leaf switch).
//! - 16 predicted total time: `ln(1 + s) / ln(1 + 3600)`, clipped to 0..1.
//! - 17 predicted downtime over the VNF's bound (500 ms without a VNF), / 4, clipped to 0..1.
//! - 18 converged (always 1 for an unmasked move; kept for learners that see masked rows).
//! - 19 slack: `(time left - predicted total) / time left`, -1..1; 1 without a breach ahead
//!   (no time left given, or a breach already under way: see `Round::time_left_s`).
//! - 20 post-copy window: share of the total time during which a source failure loses the VM.
//! - 21..=25 technique one-hot: precopy, auto-converge, xbzrle, compress, postcopy.
//! - 26 VM runs a VNF instance (0/1).
//! - 27 VNF max downtime: `ms / 1000`, clipped to 0..1 (0 without a VNF).
//! - 28 destination response time after the move over the strictest VNF latency bound there,
//!   / 2, clipped to 0..1 (0 without a VNF).
//! - 29 migrations in flight or picked to the destination, / 4, clipped to 0..1.
//! - 30 VM memory: `log2(MiB) / 20`, clipped to 0..1 (1 GiB = 0.5, 64 GiB = 0.8).
//! - 31 dirty rate over path bandwidth (bytes/s over bytes/s), / 2, clipped to 0..1.
//! - 32 the VM's VNF belongs to a service chain (0/1): its outage interrupts the whole chain.
//!
//! The wait candidate carries 1 at index 0 and, at 1..=9, the features of the most urgent source
//! (so a scorer can make waiting cheap when nothing is wrong); the rest are 0.

use crate::mask::{MaskConfig, Round};
use promig_migrate::{MigrationInput, Profile, QemuModel, TechniqueParams};
use promig_model::observation::response_time_ms;
use promig_model::{HostRisk, Observation, Technique};
use serde::{Deserialize, Serialize};

/// Number of features per candidate.
pub const FEATURES: usize = 33;

/// Short names of the features, by index (the module docs give their meaning and scale): what
/// an explanation of a decision calls them.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "is_wait",
    "source_risk",
    "source_hardware_risk",
    "source_overload_risk",
    "source_memory_risk",
    "source_response_time_risk",
    "source_time_left",
    "source_risk_5min",
    "source_cpu_load",
    "source_memory_use",
    "destination_cpu_load_after",
    "destination_memory_headroom_after",
    "destination_risk",
    "destination_hardware_risk",
    "path_bandwidth",
    "path_across_racks",
    "predicted_total_time",
    "predicted_downtime_over_bound",
    "converges",
    "slack_before_failure",
    "postcopy_window",
    "technique_precopy",
    "technique_auto_converge",
    "technique_xbzrle",
    "technique_compress",
    "technique_postcopy",
    "vm_is_vnf",
    "vnf_max_downtime",
    "destination_response_time_over_bound",
    "destination_migrations_in_flight",
    "vm_memory",
    "dirty_rate_over_bandwidth",
    "vnf_in_chain",
];

/// Index of the first technique one-hot feature (see the module docs).
pub const TECHNIQUE_FEATURE: usize = 21;

/// Writable working set as a share of VM memory, as the simulator prices migrations.
const WWS_SHARE: f64 = 0.25;
/// One-way latency assumed within a rack (ms): one leaf switch.
const RACK_LATENCY_MS: f64 = 0.05;
/// One-way latency assumed across racks (ms): leaf, spine, leaf.
const CROSS_RACK_LATENCY_MS: f64 = 0.15;

/// A priced migration: what the scorer rates and what the executor receives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Move {
    /// VM index in the observation.
    pub vm: usize,
    /// Source host index.
    pub from: usize,
    /// Destination host index.
    pub to: usize,
    /// Technique.
    pub technique: Technique,
    /// Cost model's predicted total time on this path.
    pub total_s: f64,
    /// Cost model's predicted downtime.
    pub downtime_s: f64,
    /// Whether the model expects the copy to converge.
    pub converged: bool,
    /// Post-copy phase length (a source failure during it loses the VM).
    pub postcopy_s: f64,
    /// Bytes the model expects on the wire.
    pub transferred_bytes: f64,
}

/// One action the scorer rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Candidate {
    /// Start nothing (more) this interval.
    Wait,
    /// Start this migration.
    Move(Move),
}

/// Which candidates are enumerated; defaults argued per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CandidateConfig {
    /// A source host is worth acting on from this predicted risk (any cause): 0.05, low enough
    /// that the scorer sees a risk rising well before `proactive-greedy` (0.5) acts on it.
    pub act_risk_bound: f64,
    /// ...or from this hardware-failure probability: 0.01, half the greedy's alarm, because a
    /// crash costs a whole restart.
    pub act_hardware_bound: f64,
    /// ...or when CPU requests or memory in use exceed this share of capacity: 0.9.
    pub overload_share: f64,
    /// Most VMs considered per decision (most urgent hosts first, VNF instances first): 64,
    /// which bounds the decision's cost at any scale.
    pub max_vms: usize,
    /// Destinations priced per VM: 8, enough choice of rack and load with a bounded cost.
    pub destinations_per_vm: usize,
    /// Techniques offered per destination: all five.
    pub techniques: Vec<Technique>,
    /// Feature groups the scorer does not see (set to 0 in every row), for ablations: what a
    /// part of the state is worth is what a model trained without it loses. None by default.
    pub hidden: Vec<FeatureGroup>,
}

/// Groups of features an ablation can hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeatureGroup {
    /// The path: bandwidth (14), across racks (15), dirty rate over bandwidth (31).
    Links,
    /// The predictor's output: source risks and time left (1-7), destination risks (12, 13),
    /// slack before the predicted failure (19). The candidate set still comes from the hosts at
    /// risk: this hides what the predictor says from the scorer, not whether it spoke.
    Predictions,
}

impl FeatureGroup {
    /// The feature indices of the group.
    pub fn indices(self) -> &'static [usize] {
        match self {
            FeatureGroup::Links => &[14, 15, 31],
            FeatureGroup::Predictions => &[1, 2, 3, 4, 5, 6, 7, 12, 13, 19],
        }
    }

    /// The group by its command-line name.
    pub fn from_name(name: &str) -> Option<FeatureGroup> {
        match name {
            "links" => Some(FeatureGroup::Links),
            "predictions" => Some(FeatureGroup::Predictions),
            _ => None,
        }
    }
}

impl Default for CandidateConfig {
    fn default() -> Self {
        CandidateConfig {
            act_risk_bound: 0.05,
            act_hardware_bound: 0.01,
            overload_share: 0.9,
            max_vms: 64,
            destinations_per_vm: 8,
            techniques: Technique::ALL.to_vec(),
            hidden: Vec::new(),
        }
    }
}

/// The cost model per technique, with the run's calibration constants: built once per run so a
/// decision prices moves without allocating.
#[derive(Debug, Clone)]
pub struct Pricer {
    models: Vec<QemuModel>,
}

impl Default for Pricer {
    /// Priced with the default (TCG) profile until the run's profile is handed in.
    fn default() -> Self {
        Pricer::new(&Profile::tcg())
    }
}

impl Pricer {
    /// One model per technique, in `Technique::ALL` order, with `profile`'s constants.
    pub fn new(profile: &Profile) -> Self {
        Pricer {
            models: Technique::ALL
                .into_iter()
                .map(|t| profile.model(TechniqueParams::of(t)))
                .collect(),
        }
    }

    /// Prices moving `vm` from `from` to `to` with `technique` (as the simulator will: its dirty
    /// rate, a quarter of its memory as working set, the slower of the two NICs).
    pub fn price(
        &self,
        obs: &Observation,
        vm: usize,
        from: usize,
        to: usize,
        technique: Technique,
    ) -> Move {
        self.price_on(
            obs,
            vm,
            from,
            to,
            technique,
            path_bandwidth_bps(obs, from, to),
            path_latency_ms(obs, from, to),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn price_on(
        &self,
        obs: &Observation,
        vm: usize,
        from: usize,
        to: usize,
        technique: Technique,
        bandwidth_bps: f64,
        latency_ms: f64,
    ) -> Move {
        let v = &obs.vms[vm];
        let input = MigrationInput {
            memory_mib: v.memory_mib,
            dirty_pages_per_s: v.dirty_pages_per_s,
            wws_mib: v.memory_mib * WWS_SHARE,
            bandwidth_bps,
            latency_ms,
            touched_mib: None,
        };
        let index = Technique::ALL
            .iter()
            .position(|&t| t == technique)
            .unwrap_or(0);
        let d = self.models[index].detail(&input);
        Move {
            vm,
            from,
            to,
            technique,
            total_s: d.estimate.total_s,
            downtime_s: d.estimate.downtime_s,
            converged: d.estimate.converged,
            postcopy_s: d.postcopy_s,
            transferred_bytes: d.estimate.transferred_bytes,
        }
    }
}

/// Bandwidth a migration from `from` to `to` can use: the source's migration bandwidth, bounded
/// by the destination's NIC.
pub fn path_bandwidth_bps(obs: &Observation, from: usize, to: usize) -> f64 {
    let src = obs
        .migration_bandwidth_bps
        .get(from)
        .copied()
        .unwrap_or(obs.hosts[from].nic_bps);
    src.min(obs.hosts[to].nic_bps)
}

/// One-way latency assumed between two hosts (a rack proxy; see the module docs).
pub fn path_latency_ms(obs: &Observation, from: usize, to: usize) -> f64 {
    if obs.hosts[from].rack == obs.hosts[to].rack {
        RACK_LATENCY_MS
    } else {
        CROSS_RACK_LATENCY_MS
    }
}

/// Candidates, their features (row-major, `candidates.len() x FEATURES`) and the mask at one
/// decision point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    /// The actions; index 0 is always [`Candidate::Wait`].
    pub candidates: Vec<Candidate>,
    /// `candidates.len() * FEATURES` values.
    pub features: Vec<f32>,
    /// `true` where the candidate may be chosen now.
    pub mask: Vec<bool>,
}

impl Candidates {
    /// Number of candidates (wait included).
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// Never true once built (wait is always there); for clippy's sake and for empty defaults.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// Features of candidate `i`, or an empty slice out of range.
    pub fn row(&self, i: usize) -> &[f32] {
        self.features
            .get(i * FEATURES..(i + 1) * FEATURES)
            .unwrap_or(&[])
    }
}

/// Reusable buffers for [`Builder::build`], so repeated decisions allocate nothing per item.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    ranking: Vec<usize>,
    sources: Vec<usize>,
    vms: Vec<usize>,
    /// Prices of the current VM by (bandwidth, latency, technique): destinations on equal paths
    /// (same NIC speed, same side of the rack) cost the same, so each is priced once.
    prices: Vec<(u64, u64, Technique, Move)>,
}

fn risk_of(obs: &Observation, h: usize) -> HostRisk {
    obs.risks.get(h).copied().unwrap_or_default()
}

fn clip01(x: f64) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0) as f32
    }
}

impl Builder {
    /// Whether host `h` is worth moving VMs off (see the module docs).
    pub fn worth_acting(obs: &Observation, cfg: &CandidateConfig, h: usize) -> bool {
        let host = &obs.hosts[h];
        if !host.up {
            return false;
        }
        let r = risk_of(obs, h);
        let cpu = host.requested_mips / host.total_mips.max(1e-9);
        let mem: f64 = host
            .vms
            .iter()
            .filter_map(|&v| obs.vms.get(v))
            .map(|v| v.memory_used_mib)
            .sum::<f64>()
            / host.physical_memory_mib.max(1e-9);
        r.probability >= cfg.act_risk_bound
            || r.hardware >= cfg.act_hardware_bound
            || cpu > cfg.overload_share
            || mem > cfg.overload_share
    }

    /// Enumerates, prices and masks the candidates at `round`'s observation into `out`, with
    /// the features of `cfg.hidden` zeroed.
    pub fn build(
        &mut self,
        round: &Round<'_>,
        pricer: &Pricer,
        cfg: &CandidateConfig,
        out: &mut Candidates,
    ) {
        self.enumerate(round, pricer, cfg, out);
        for group in &cfg.hidden {
            for row in out.features.chunks_exact_mut(FEATURES) {
                for &j in group.indices() {
                    row[j] = 0.0;
                }
            }
        }
    }

    fn enumerate(
        &mut self,
        round: &Round<'_>,
        pricer: &Pricer,
        cfg: &CandidateConfig,
        out: &mut Candidates,
    ) {
        let obs = round.observation();
        out.candidates.clear();
        out.features.clear();
        out.mask.clear();
        out.candidates.push(Candidate::Wait);
        out.features.resize(FEATURES, 0.0);
        out.features[0] = 1.0;

        // Sources, most urgent first: hosts alarming for hardware (by that risk), then by overall
        // risk, then hardware risk, then index.
        self.sources.clear();
        self.sources
            .extend((0..obs.hosts.len()).filter(|&h| Self::worth_acting(obs, cfg, h)));
        let urgency = |h: usize| {
            let r = risk_of(obs, h);
            let alarm = if r.hardware >= cfg.act_hardware_bound {
                r.hardware
            } else {
                0.0
            };
            (alarm, r.probability, r.hardware)
        };
        self.sources.sort_by(|&a, &b| {
            let (ua, ub) = (urgency(a), urgency(b));
            ub.0.total_cmp(&ua.0)
                .then(ub.1.total_cmp(&ua.1))
                .then(ub.2.total_cmp(&ua.2))
                .then(a.cmp(&b))
        });
        if let Some(&h) = self.sources.first() {
            source_features(obs, h, &mut out.features[1..10]);
        }
        if self.sources.is_empty() {
            out.mask.push(true);
            return;
        }

        // Destinations: one global ranking, least risk then least loaded.
        let mc: &MaskConfig = round.config();
        self.ranking.clear();
        self.ranking.extend((0..obs.hosts.len()).filter(|&h| {
            let r = risk_of(obs, h);
            obs.hosts[h].up
                && r.probability <= mc.destination_risk_bound
                && r.hardware <= mc.destination_hardware_bound
        }));
        let load = |h: usize| obs.hosts[h].requested_mips / obs.hosts[h].total_mips.max(1e-9);
        self.ranking.sort_by(|&a, &b| {
            let (ra, rb) = (risk_of(obs, a), risk_of(obs, b));
            (ra.probability + ra.hardware)
                .total_cmp(&(rb.probability + rb.hardware))
                .then(load(a).total_cmp(&load(b)))
                .then(a.cmp(&b))
        });

        let mut taken = 0usize;
        for si in 0..self.sources.len() {
            if taken >= cfg.max_vms {
                break;
            }
            let from = self.sources[si];
            self.vms.clear();
            self.vms
                .extend(obs.hosts[from].vms.iter().copied().filter(|&v| {
                    obs.vms
                        .get(v)
                        .is_some_and(|vm| !vm.in_migration && !vm.booting)
                }));
            // VNF instances first (their outage is what the operator pays for), then the
            // biggest memory users (they free the most), then index.
            self.vms.sort_by(|&a, &b| {
                let (va, vb) = (&obs.vms[a], &obs.vms[b]);
                va.vnf
                    .is_none()
                    .cmp(&vb.vnf.is_none())
                    .then(vb.memory_used_mib.total_cmp(&va.memory_used_mib))
                    .then(a.cmp(&b))
            });
            for vi in 0..self.vms.len() {
                if taken >= cfg.max_vms {
                    break;
                }
                let vm = self.vms[vi];
                taken += 1;
                self.prices.clear();
                let mut dests = 0usize;
                for &to in &self.ranking {
                    if dests >= cfg.destinations_per_vm {
                        break;
                    }
                    if round.check_placement(vm, from, to).is_err() {
                        continue;
                    }
                    dests += 1;
                    let bw = path_bandwidth_bps(obs, from, to);
                    let lat = path_latency_ms(obs, from, to);
                    let key = (bw.to_bits(), lat.to_bits());
                    for &t in &cfg.techniques {
                        let cached = self
                            .prices
                            .iter()
                            .find(|p| (p.0, p.1, p.2) == (key.0, key.1, t))
                            .map(|p| p.3);
                        let m = match cached {
                            Some(c) => Move { to, ..c },
                            None => {
                                let m = pricer.price_on(obs, vm, from, to, t, bw, lat);
                                self.prices.push((key.0, key.1, t, m));
                                m
                            }
                        };
                        if round.check(&m).is_err() {
                            continue;
                        }
                        out.candidates.push(Candidate::Move(m));
                        let start = out.features.len();
                        out.features.resize(start + FEATURES, 0.0);
                        move_features(round, &m, &mut out.features[start..]);
                    }
                }
            }
        }
        out.mask.resize(out.candidates.len(), true);
    }
}

/// Features 1..=9 (the source's) into `f` (9 values).
fn source_features(obs: &Observation, h: usize, f: &mut [f32]) {
    let r = risk_of(obs, h);
    let host = &obs.hosts[h];
    f[0] = clip01(r.probability);
    f[1] = clip01(r.hardware);
    f[2] = clip01(r.overload);
    f[3] = clip01(r.memory);
    f[4] = clip01(r.response_time);
    f[5] = r.time_left_s.map_or(1.0, |t| clip01(t / 3600.0));
    f[6] = clip01(r.within[0]);
    f[7] = clip01(host.requested_mips / host.total_mips.max(1e-9) / 2.0);
    let used: f64 = host
        .vms
        .iter()
        .filter_map(|&v| obs.vms.get(v))
        .map(|v| v.memory_used_mib)
        .sum();
    f[8] = clip01(used / host.physical_memory_mib.max(1e-9) / 2.0);
}

/// The features of one move into `f` (`FEATURES` values, zeroed by the caller).
fn move_features(round: &Round<'_>, m: &Move, f: &mut [f32]) {
    let obs = round.observation();
    let v = &obs.vms[m.vm];
    let dst = &obs.hosts[m.to];
    source_features(obs, m.from, &mut f[1..10]);
    let load_after = (dst.requested_mips + v.requested_mips) / dst.total_mips.max(1e-9);
    f[10] = clip01(load_after / 2.0);
    let memory = v.memory_mib.max(v.memory_reserved_mib);
    f[11] = clip01((dst.memory_mib - dst.memory_reserved_mib - memory) / dst.memory_mib.max(1e-9));
    let rd = risk_of(obs, m.to);
    f[12] = clip01(rd.probability);
    f[13] = clip01(rd.hardware);
    let bw = path_bandwidth_bps(obs, m.from, m.to);
    f[14] = clip01(bw.max(1.0).log10() / 12.0);
    f[15] = if obs.hosts[m.from].rack == dst.rack {
        0.0
    } else {
        1.0
    };
    f[16] = clip01((1.0 + m.total_s).ln() / 3601.0f64.ln());
    let qos = v.vnf.and_then(|q| obs.vnf_qos.get(q));
    let bound_ms = qos.map_or(500.0, |q| q.max_downtime_ms).max(1e-3);
    f[17] = clip01(m.downtime_s * 1000.0 / bound_ms / 4.0);
    f[18] = if m.converged { 1.0 } else { 0.0 };
    f[19] = match round.time_left_s(m.from) {
        Some(left) => ((left - m.total_s) / left).clamp(-1.0, 1.0) as f32,
        None => 1.0,
    };
    f[20] = clip01(m.postcopy_s / m.total_s.max(1e-9));
    let ti = Technique::ALL
        .iter()
        .position(|&t| t == m.technique)
        .unwrap_or(0);
    f[TECHNIQUE_FEATURE + ti] = 1.0;
    if let Some(q) = qos {
        f[26] = 1.0;
        f[32] = if v.vnf.is_some_and(|i| obs.in_chain(i)) {
            1.0
        } else {
            0.0
        };
        f[27] = clip01(q.max_downtime_ms / 1000.0);
        let strictest = obs
            .strictest_latency_ms(dst.vms.iter().copied().chain([m.vm]))
            .unwrap_or(q.max_latency_ms)
            .max(1e-6);
        f[28] = clip01(response_time_ms(load_after) / strictest / 2.0);
    }
    f[29] = clip01(f64::from(round.incoming(m.to)) / 4.0);
    f[30] = clip01(v.memory_mib.max(1.0).log2() / 20.0);
    f[31] = clip01(v.dirty_pages_per_s * promig_migrate::PAGE_BYTES / (bw / 8.0).max(1.0) / 2.0);
}
