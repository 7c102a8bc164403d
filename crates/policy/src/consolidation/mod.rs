//! Beloglazov & Buyya's dynamic VM consolidation (CCPE 2012), the field's standard baseline:
//! detect overloaded hosts, select VMs to move off them, place those with power-aware best-fit
//! decreasing (PABFD), then try to empty the least-utilised hosts so they can be switched off.
//!
//! Implemented from the paper and from the documented behaviour of its reference implementation
//! (CloudSim 3.0.3), including its quirks, so that `promig simulate --cloudsim` reproduces the
//! published figures. Quirks kept on purpose are marked "(as published)".

mod detector;
mod selection;

pub use detector::{FALLBACK_THRESHOLD, OverloadDetector};
pub use selection::VmSelection;

use crate::Policy;
use crate::registry::{POSITIVE, ParamSpec, PolicySpec, Requirements};
use crate::work::Work;
use promig_model::{Decision, Observation};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Overload detector + VM selection + PABFD placement + underload consolidation.
#[derive(Debug, Clone)]
pub struct DynamicConsolidation {
    detector: OverloadDetector,
    selection: VmSelection,
    rng: ChaCha8Rng,
    work: Work,
    pools: Pools,
    /// Each host's power at its observed utilisation, computed once per decision round: PABFD
    /// asks for it for every (VM, candidate host) pair.
    watts_now: Vec<f64>,
}

impl DynamicConsolidation {
    /// A policy; `seed` drives random selection (RS) only.
    pub fn new(detector: OverloadDetector, selection: VmSelection, seed: u64) -> Self {
        DynamicConsolidation {
            detector,
            selection,
            rng: ChaCha8Rng::seed_from_u64(seed),
            work: Work::default(),
            pools: Pools::default(),
            watts_now: Vec::new(),
        }
    }
}

/// Hosts split into "active" (some load, scanned one by one) and per-type pools of switched-off,
/// empty hosts, which are interchangeable: best-fit only needs the lowest-numbered one of each type.
/// This keeps placement linear in the active hosts rather than in all hosts, with the same result.
#[derive(Debug, Clone, Default)]
struct Pools {
    active: Vec<usize>,
    /// By host type: its idle hosts in ascending order (sorted vectors: a type holds hundreds
    /// of hosts and a round re-files them all, where tree nodes cost an allocation each).
    idle_by_type: Vec<Vec<usize>>,
    is_active: Vec<bool>,
}

impl Pools {
    fn build(&mut self, obs: &Observation, work: &Work) {
        self.active.clear();
        for pool in &mut self.idle_by_type {
            pool.clear();
        }
        self.is_active.clear();
        for (h, view) in obs.hosts.iter().enumerate() {
            let idle = Self::interchangeable_idle(obs, work, h);
            self.is_active.push(!idle);
            if idle {
                self.idle_pool(view.type_id).push(h); // hosts come in ascending order
            } else if view.up {
                self.active.push(h);
            }
        }
    }

    fn interchangeable_idle(obs: &Observation, work: &Work, h: usize) -> bool {
        let view = &obs.hosts[h];
        let w = &work.hosts[h];
        view.up
            && view.utilization == 0.0
            && w.vms.is_empty()
            && w.migrating_in.is_empty()
            && view.total_mips == view.nominal_mips
            && view.memory_reserved_mib == 0.0
    }

    /// The idle pool of host type `t`, created on first use.
    fn idle_pool(&mut self, t: usize) -> &mut Vec<usize> {
        if self.idle_by_type.len() <= t {
            self.idle_by_type.resize_with(t + 1, Vec::new);
        }
        &mut self.idle_by_type[t]
    }

    /// Re-files host `h` after its tentative VM set changed.
    fn update(&mut self, obs: &Observation, work: &Work, h: usize) {
        let idle = Self::interchangeable_idle(obs, work, h);
        if idle != self.is_active[h] {
            return;
        }
        self.is_active[h] = !idle;
        let t = obs.hosts[h].type_id;
        if idle {
            if let Ok(pos) = self.active.binary_search(&h) {
                self.active.remove(pos);
            }
            let pool = self.idle_pool(t);
            if let Err(pos) = pool.binary_search(&h) {
                pool.insert(pos, h);
            }
        } else {
            let pool = self.idle_pool(t);
            if let Ok(pos) = pool.binary_search(&h) {
                pool.remove(pos);
            }
            if let Err(pos) = self.active.binary_search(&h) {
                self.active.insert(pos, h);
            }
        }
    }
}

impl DynamicConsolidation {
    fn create(&mut self, obs: &Observation, h: usize, vm: usize) {
        self.work.create(obs, h, vm);
        self.pools.update(obs, &self.work, h);
    }

    fn destroy(&mut self, obs: &Observation, h: usize, vm: usize) {
        self.work.destroy(obs, h, vm);
        self.pools.update(obs, &self.work, h);
    }

    /// Can `h` take `vm` at all (one vCPU fits a core, CPU left, memory left, host up)?
    fn suitable(&self, obs: &Observation, h: usize, vm: usize) -> bool {
        let host = &obs.hosts[h];
        let w = &self.work.hosts[h];
        let v = &obs.vms[vm];
        // The spare-MIPS test first: it rejects most hosts of a consolidated data centre without
        // touching their (much larger) observation.
        w.available_mips >= v.requested_mips
            && host.up
            && host.mips_per_core >= v.requested_mips / v.vcpus.max(1) as f64
            && w.memory_reserved_mib + v.memory_reserved_mib <= host.memory_mib
            && w.nic_reserved_bps + v.nic_reserved_bps <= host.nic_bps
    }

    /// Starts a decision round from the observation.
    fn reset(&mut self, obs: &Observation) {
        self.work.reset(obs);
        self.pools.build(obs, &self.work);
        self.watts_now.clear();
        self.watts_now
            .extend(obs.hosts.iter().map(|h| h.power.watts_at(h.utilization)));
    }

    /// Power-aware best fit: the host whose power draw grows least, skipping hosts the VM would
    /// overload. Ties go to the lowest host number.
    fn find_host(
        &self,
        obs: &Observation,
        vm: usize,
        excluded: &[bool],
        allow_idle: bool,
    ) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        let v = &obs.vms[vm];
        let consider = |h: usize, best: &mut Option<(f64, usize)>| {
            if excluded[h] || !self.suitable(obs, h, vm) {
                return;
            }
            let w = &self.work.hosts[h];
            let host = &obs.hosts[h];
            let after = ((w.util_mips + v.requested_mips) / host.total_mips).min(1.0);
            let diff = host.power.watts_at(after) - self.watts_now[h];
            // Only a host that would become the best needs the (costly) overload test; skipping
            // the test for the others cannot change the choice.
            if !best.is_none_or(|(bd, bh)| diff < bd || (diff == bd && h < bh)) {
                return;
            }
            if !obs.instantiating
                && w.util_mips != 0.0
                && self.detector.overloaded(obs, h, w, Some(vm))
            {
                return;
            }
            *best = Some((diff, h));
        };
        for &h in &self.pools.active {
            consider(h, &mut best);
        }
        if allow_idle {
            for pool in &self.pools.idle_by_type {
                if let Some(&h) = pool.iter().find(|&&h| !excluded[h]) {
                    consider(h, &mut best);
                }
            }
        }
        best.map(|(_, h)| h)
    }

    /// Sorts VMs by current CPU request, largest first (stable, like the published code).
    fn sort_by_demand(obs: &Observation, vms: &mut [usize]) {
        vms.sort_by(|a, b| {
            obs.vms[*b]
                .requested_mips
                .total_cmp(&obs.vms[*a].requested_mips)
        });
    }
}

impl Policy for DynamicConsolidation {
    fn name(&self) -> String {
        let d = self.detector.label();
        let (det, param) = d.split_once('-').unwrap_or((&d, ""));
        format!("{det}-{}-{param}", self.selection.label())
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        let n = obs.hosts.len();
        self.reset(obs);
        let mut decisions = Vec::new();

        // 1. Overloaded hosts, judged on the observed allocation.
        let overloaded: Vec<usize> = (0..n)
            .filter(|&h| {
                obs.hosts[h].up && self.detector.overloaded(obs, h, &self.work.hosts[h], None)
            })
            .collect();
        let mut excluded = vec![false; n];
        for &h in &overloaded {
            excluded[h] = true;
        }
        for (h, host) in obs.hosts.iter().enumerate() {
            if !host.up {
                excluded[h] = true;
            }
        }

        // 2. Select VMs off each overloaded host until it no longer is.
        let mut to_move = Vec::new();
        for &h in &overloaded {
            while let Some(vm) = self.selection.pick(obs, &self.work.hosts[h], &mut self.rng) {
                to_move.push(vm);
                self.destroy(obs, h, vm);
                if !self.detector.overloaded(obs, h, &self.work.hosts[h], None) {
                    break;
                }
            }
        }

        // 3. Place them (PABFD); switched-off hosts may be woken for this.
        Self::sort_by_demand(obs, &mut to_move);
        for vm in to_move {
            if let Some(h) = self.find_host(obs, vm, &excluded, true) {
                self.create(obs, h, vm);
                decisions.push(Decision::migrate(vm, h));
            }
        }

        // 4. Underload: try to empty hosts, least utilised first, onto hosts that are on and stay so.
        // (As published, destinations chosen in step 3 are not protected from being emptied.)
        let mut excluded_source = excluded.clone();
        let mut excluded_dest = excluded;
        for (h, host) in obs.hosts.iter().enumerate() {
            if host.utilization == 0.0 {
                excluded_source[h] = true;
                excluded_dest[h] = true;
            }
        }
        let mut by_utilization: Vec<usize> =
            (0..n).filter(|&h| obs.hosts[h].utilization > 0.0).collect();
        by_utilization.sort_by(|&a, &b| {
            obs.hosts[a]
                .utilization
                .total_cmp(&obs.hosts[b].utilization)
                .then(a.cmp(&b))
        });
        let mut placed: Vec<(usize, usize)> = Vec::new();
        // Eligibility as a source only ever goes from yes to no during a round (sources and
        // destinations get excluded, emptied hosts stay empty), so one forward cursor over the
        // utilisation order finds the least-utilised eligible host without rescanning.
        let mut cursor = 0;
        loop {
            while cursor < by_utilization.len() && {
                let h = by_utilization[cursor];
                excluded_source[h]
                    || obs.hosts[h].utilization >= 1.0
                    || all_out_or_any_in(obs, &self.work.hosts[h])
            } {
                cursor += 1;
            }
            let source = by_utilization.get(cursor).copied();
            let Some(source) = source else { break };
            excluded_source[source] = true;
            excluded_dest[source] = true;
            let mut vms: Vec<usize> = self.work.hosts[source]
                .vms
                .iter()
                .copied()
                .filter(|&v| !obs.vms[v].in_migration)
                .collect();
            if vms.is_empty() {
                continue;
            }
            Self::sort_by_demand(obs, &mut vms);
            placed.clear();
            for &vm in &vms {
                match self.find_host(obs, vm, &excluded_dest, false) {
                    Some(h) => {
                        self.create(obs, h, vm);
                        placed.push((vm, h));
                    }
                    None => {
                        for &(pv, ph) in &placed {
                            self.destroy(obs, ph, pv);
                        }
                        placed.clear();
                        break;
                    }
                }
            }
            for &(vm, h) in &placed {
                excluded_source[h] = true;
                decisions.push(Decision::migrate(vm, h));
            }
        }
        decisions
    }

    /// Initial placement and restarts: PABFD with no exclusions.
    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        self.reset(obs);
        let excluded = vec![false; obs.hosts.len()];
        vms.iter()
            .map(|&vm| {
                let h = self.find_host(obs, vm, &excluded, true)?;
                self.create(obs, h, vm);
                Some(h)
            })
            .collect()
    }
}

/// A host whose VMs are all leaving, or that is receiving one, is not a consolidation source.
fn all_out_or_any_in(obs: &Observation, w: &crate::work::HostWork) -> bool {
    if !w.migrating_in.is_empty() {
        return true;
    }
    w.vms.iter().all(|&v| obs.vms[v].in_migration)
}

/// The fifteen declarations `{thr,iqr,mad,lr,lrr}-{mmt,mc,rs}`, each with its detector's parameter
/// and the published default.
pub fn specs() -> Vec<PolicySpec> {
    let detectors: [(&'static str, &str, ParamSpec); 5] = [
        (
            "thr",
            "static utilisation threshold",
            ParamSpec::fraction(
                "threshold",
                "utilisation above which a host is overloaded",
                0.8,
            ),
        ),
        (
            "iqr",
            "adaptive threshold 1 - s x IQR of the host's history",
            ParamSpec {
                name: "safety",
                description: "s: how many interquartile ranges below full load",
                default: 1.5,
                range: 0.0..=10.0,
            },
        ),
        (
            "mad",
            "adaptive threshold 1 - s x MAD of the host's history",
            ParamSpec {
                name: "safety",
                description: "s: how many median absolute deviations below full load",
                default: 2.5,
                range: 0.0..=10.0,
            },
        ),
        (
            "lr",
            "local regression forecast x s reaches full load",
            ParamSpec {
                name: "safety",
                description: "s: safety factor on the forecast",
                default: 1.2,
                range: POSITIVE..=10.0,
            },
        ),
        (
            "lrr",
            "robust local regression forecast x s reaches full load",
            ParamSpec {
                name: "safety",
                description: "s: safety factor on the forecast",
                default: 1.2,
                range: POSITIVE..=10.0,
            },
        ),
    ];
    let selections = [
        ("mmt", "minimum migration time"),
        ("mc", "maximum correlation"),
        ("rs", "random selection"),
    ];
    let mut out = Vec::new();
    for (det, det_summary, param) in &detectors {
        for (sel, sel_summary) in selections {
            let det = *det;
            out.push(PolicySpec {
                name: format!("{det}-{sel}"),
                summary: format!(
                    "Beloglazov & Buyya consolidation: {det_summary}, {sel_summary}, PABFD placement"
                ),
                params: vec![param.clone()],
                requires: Requirements::default(),
                build: Arc::new(move |v: &[f64], seed| {
                    Box::new(DynamicConsolidation::new(
                        OverloadDetector::from_name(det, Some(v[0]))
                            .expect("declared detector names parse"),
                        VmSelection::from_name(sel).expect("declared selection names parse"),
                        seed,
                    ))
                }),
            });
        }
    }
    out
}
