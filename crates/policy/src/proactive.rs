//! `proactive-greedy`: act on the predictor's output before the breach. VMs leave hosts whose
//! predicted risk exceeds a bound (all of them for a hardware failure, enough of them for an
//! overload or a memory shortage), each to the feasible host with the lowest predicted migration
//! downtime plus risk. It is the simplest policy that uses the prediction path the RL agent and the
//! controller will use.

use crate::registry::{ParamSpec, PolicySpec, Requirements};
use crate::work::Work;
use crate::{Policy, placement};
use promig_migrate::planner::{self, Constraints, RiskPolicy};
use promig_migrate::{MigrationInput, MigrationModel, Profile, QemuModel, Technique};
use promig_model::observation::response_time_ms;
use promig_model::{Decision, Observation};
use std::sync::Arc;

/// The proactive baseline.
#[derive(Debug, Clone)]
pub struct ProactiveGreedy {
    /// Risk above which a host is relieved.
    pub risk_bound: f64,
    /// Hardware-failure probability above which a host is emptied. Lower than `risk_bound`:
    /// moving a VM costs a brief pause, losing it to a crash costs a restart, so a rarer, less
    /// certain alarm is worth acting on (chosen on validation seeds, see the README).
    pub hardware_bound: f64,
    /// CPU load a destination may reach.
    pub destination_limit: f64,
    /// How long a host stays suspect after a hardware alarm, minutes: it is drained and
    /// receives no VM meanwhile. A shorter hold gives capacity back sooner to hosts whose alarm
    /// was background noise; a failing host keeps alarming and so stays suspect anyway.
    pub suspect_min: f64,
    /// When set, each move names the technique `migrate plan`'s rules choose at this risk
    /// appetite (the controller plans `proactive-greedy`'s decisions at `Balanced`) instead of
    /// leaving it to the executor, which in the simulator means pre-copy, Nova's default. Unset
    /// for `proactive-greedy`, set for `proactive-planned`: the pair separates what the
    /// heuristic's choice of moves is worth from what the technique choice is worth.
    pub technique_risk: Option<RiskPolicy>,
    model: QemuModel,
    /// The data centre's migration constants, for the planner.
    profile: Profile,
    work: Work,
    /// Per host, until when it stays suspect after a hardware alarm. Precursor-based risk
    /// flickers from one step to the next; an operator does not move VMs back onto a host that
    /// alarmed an hour ago, and keeps draining it.
    suspect_until_s: Vec<f64>,
}

/// How long a host stays suspect after a hardware alarm by default, minutes (precursors run
/// for hours).
pub const SUSPECT_MIN: f64 = 240.0;

impl Default for ProactiveGreedy {
    fn default() -> Self {
        ProactiveGreedy {
            risk_bound: 0.5,
            hardware_bound: 0.02,
            destination_limit: 0.8,
            suspect_min: SUSPECT_MIN,
            technique_risk: None,
            model: QemuModel::of(Technique::Precopy),
            profile: Profile::tcg(),
            work: Work::default(),
            suspect_until_s: Vec::new(),
        }
    }
}

impl ProactiveGreedy {
    fn risk(obs: &Observation, h: usize) -> f64 {
        obs.risks.get(h).map_or(0.0, |r| r.probability)
    }

    /// Whether `h` alarmed for hardware recently.
    fn suspect(&self, obs: &Observation, h: usize) -> bool {
        self.suspect_until_s.get(h).is_some_and(|&t| obs.time_s < t)
    }

    /// Marks hosts whose hardware risk crosses the bound now.
    fn note_alarms(&mut self, obs: &Observation) {
        self.suspect_until_s
            .resize(obs.hosts.len(), f64::NEG_INFINITY);
        for (h, r) in obs.risks.iter().enumerate() {
            if r.hardware >= self.hardware_bound {
                self.suspect_until_s[h] = obs.time_s + self.suspect_min * 60.0;
            }
        }
    }

    /// Hardware risk of `h` (0 without predictions).
    fn hardware_risk(obs: &Observation, h: usize) -> f64 {
        obs.risks.get(h).map_or(0.0, |r| r.hardware)
    }

    /// Whether `h` may receive a VM: up, not alarming for hardware, not under a recent alarm,
    /// and (except when the VM would otherwise die with its host) not at risk of another
    /// breach. Hardware precursors count from half the bound: a host already showing them
    /// is the last place to move a VM to.
    fn acceptable(&self, obs: &Observation, h: usize, from: usize, evacuate: bool) -> bool {
        h != from
            && obs.hosts[h].up
            && !self.suspect(obs, h)
            && Self::hardware_risk(obs, h) < self.hardware_bound / 2.0
            && (evacuate || Self::risk(obs, h) < self.risk_bound)
    }

    /// Best destination for `vm` leaving `from`: feasible, not risky, lowest downtime + risk.
    ///
    /// An evacuation (the source is about to fail) relaxes what a crash would make worse: any
    /// destination whose memory holds the VM will do, even one predicted to overload or already
    /// busy (the scheduler then shares its CPU), because a slower VNF is better than a dead one.
    /// Among those it prefers the least overloaded after the move, then the lowest downtime.
    fn destination(
        &self,
        obs: &Observation,
        vm: usize,
        from: usize,
        evacuate: bool,
    ) -> Option<usize> {
        let v = &obs.vms[vm];
        let mut best: Option<(f64, usize)> = None;
        for (h, host) in obs.hosts.iter().enumerate() {
            if !self.acceptable(obs, h, from, evacuate) {
                continue;
            }
            let w = &self.work.hosts[h];
            if w.memory_reserved_mib + v.memory_reserved_mib > host.memory_mib {
                continue;
            }
            let rho_after = (w.requested_mips + v.requested_mips) / host.total_mips;
            if !evacuate && rho_after > self.destination_limit {
                continue;
            }
            // Every VNF instance on the destination, and the one arriving, must keep its latency
            // bound in the observation's queueing model.
            let strictest = obs
                .strictest_latency_ms(w.vms.iter().copied().chain([vm]))
                .unwrap_or(f64::INFINITY);
            if !evacuate && response_time_ms(rho_after) > strictest {
                continue;
            }
            let est = self.model.estimate(&migration_input(obs, vm, from, h));
            let downtime = if est.converged { est.downtime_s } else { 10.0 };
            // Overload after the move weighs most (a second per 10 % over capacity), then
            // downtime and risk; at equal cost a loaded host beats an empty one (keeps hosts off).
            let overload = (rho_after - self.destination_limit).max(0.0) * 10.0;
            let score = overload
                + downtime
                + Self::risk(obs, h)
                + 0.01 * (1.0 - w.requested_mips / host.total_mips);
            if best.is_none_or(|(b, _)| score < b) {
                best = Some((score, h));
            }
        }
        best.map(|(_, h)| h)
    }

    /// The decision to move `vm` from `from` to `to`, naming the planner's technique when
    /// [`ProactiveGreedy::technique_risk`] is set. The planner sees what the controller gives it:
    /// the VM's size and dirty rate, the source's migration bandwidth, the VNF's pause bound
    /// (300 ms for plain VMs) and, for a breach still ahead, the time left as the deadline
    /// (at `Balanced`, post-copy only when no pre-copy technique meets it). When nothing fits it takes the
    /// planner's closest candidate, as the controller does. `sharing` is how many moves of this
    /// round share the busier of the two hosts' NICs.
    fn decision(
        &self,
        obs: &Observation,
        vm: usize,
        from: usize,
        to: usize,
        sharing: usize,
    ) -> Decision {
        let d = Decision::migrate(vm, to);
        let Some(risk) = self.technique_risk else {
            return d;
        };
        let v = &obs.vms[vm];
        let mut input = migration_input(obs, vm, from, to);
        input.bandwidth_bps = input.bandwidth_bps.max(1.0) / sharing as f64;
        let constraints = Constraints {
            deadline_s: obs
                .risks
                .get(from)
                .and_then(|r| r.time_left_s)
                .filter(|&t| t > 0.0),
            max_downtime_ms: v
                .vnf
                .and_then(|f| obs.vnf_qos.get(f))
                .map_or(300.0, |q| q.max_downtime_ms),
            risk,
            allow_throttle: true,
        };
        let technique = match planner::plan(&input, &constraints, &self.profile) {
            Ok(p) => Some(p.params.technique),
            Err(planner::PlanError::NoFit { best }) => best.map(|b| b.params.technique),
        };
        match technique {
            Some(t) => d.with_technique(t),
            None => d,
        }
    }
}

/// What the cost model needs to price moving `vm` from `from` to `to`: the VM's size and dirty
/// rate, the slower of the source's migration bandwidth and the destination's NIC, a quarter of
/// memory as the writable working set, and a LAN's latency.
fn migration_input(obs: &Observation, vm: usize, from: usize, to: usize) -> MigrationInput {
    let v = &obs.vms[vm];
    MigrationInput {
        memory_mib: v.memory_mib,
        dirty_pages_per_s: v.dirty_pages_per_s,
        wws_mib: v.memory_mib * 0.25,
        bandwidth_bps: obs
            .migration_bandwidth_bps
            .get(from)
            .copied()
            .unwrap_or(1e9)
            .min(obs.hosts[to].nic_bps),
        latency_ms: 0.05,
        touched_mib: None,
    }
}

impl Policy for ProactiveGreedy {
    fn use_calibration(&mut self, profile: &promig_migrate::Profile) {
        self.model = profile.model(self.model.params);
        self.profile = profile.clone();
    }

    fn name(&self) -> String {
        let d = ProactiveGreedy::default();
        let shared_default = (self.risk_bound, self.destination_limit, self.hardware_bound)
            == (d.risk_bound, d.destination_limit, d.hardware_bound)
            && self.suspect_min == d.suspect_min;
        let base = match self.technique_risk {
            None => "proactive-greedy".to_string(),
            Some(r) if r == PLANNED_RISK && shared_default => return "proactive-planned".into(),
            Some(r) if shared_default => return format!("proactive-planned-{}", appetite(r)),
            Some(r) => format!("proactive-planned-{}", appetite(r)),
        };
        if shared_default {
            base
        } else if self.suspect_min != d.suspect_min {
            format!(
                "{base}-{}-{}-{}-{}",
                self.risk_bound, self.destination_limit, self.hardware_bound, self.suspect_min
            )
        } else {
            format!(
                "{base}-{}-{}-{}",
                self.risk_bound, self.destination_limit, self.hardware_bound
            )
        }
    }

    fn uses_predictions(&self) -> bool {
        true
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        self.work.reset(obs);
        let mut moves: Vec<(usize, usize, usize)> = Vec::new();
        if obs.risks.is_empty() {
            return Vec::new();
        }
        self.note_alarms(obs);
        let mut hosts: Vec<usize> = (0..obs.hosts.len())
            .filter(|&h| {
                obs.hosts[h].up && (Self::risk(obs, h) >= self.risk_bound || self.suspect(obs, h))
            })
            .collect();
        // Hosts about to fail first (they lose every VM), then by risk.
        let failing: Vec<bool> = (0..obs.hosts.len()).map(|h| self.suspect(obs, h)).collect();
        let failing = |h: usize| failing[h];
        hosts.sort_by(|&a, &b| {
            failing(b)
                .cmp(&failing(a))
                .then(Self::risk(obs, b).total_cmp(&Self::risk(obs, a)))
                .then(a.cmp(&b))
        });
        // Hosts about to fail lose every VM they still hold. Their VNF instances go first, all
        // of them before any other VM of any of these hosts: when the room left runs out (a
        // whole rack failing at once), what stays behind should not be a VNF.
        for &h in hosts.iter().filter(|&&h| failing(h)) {
            let vnfs: Vec<usize> = self.work.hosts[h]
                .vms
                .iter()
                .copied()
                .filter(|&v| !obs.vms[v].in_migration && obs.vms[v].vnf.is_some())
                .collect();
            for vm in vnfs {
                if let Some(to) = self.destination(obs, vm, h, true) {
                    self.work.plan_migration(obs, h, to, vm);
                    moves.push((vm, h, to));
                }
            }
        }
        for h in hosts {
            let r = obs.risks[h];
            let mut vms: Vec<usize> = self.work.hosts[h]
                .vms
                .iter()
                .copied()
                .filter(|&v| !obs.vms[v].in_migration)
                .collect();
            if r.memory >= self.risk_bound
                && r.hardware < self.hardware_bound
                && r.overload < self.risk_bound
            {
                // Memory running out: the biggest (growing) consumer goes first, it frees the most.
                vms.sort_by(|&a, &b| {
                    obs.vms[b]
                        .memory_used_mib
                        .total_cmp(&obs.vms[a].memory_used_mib)
                        .then(a.cmp(&b))
                });
            } else {
                // VNF instances first: their outage is what the operator pays for.
                vms.sort_by_key(|&v| (obs.vms[v].vnf.is_none(), v));
            }
            let evacuate = failing(h);
            for vm in vms {
                let host = &obs.hosts[h];
                let w = &self.work.hosts[h];
                let mem_used: f64 = w.vms.iter().map(|&v| obs.vms[v].memory_used_mib).sum();
                let cpu_ok = w.requested_mips <= host.total_mips * self.destination_limit;
                let mem_ok = mem_used <= host.physical_memory_mib * 0.85;
                if !evacuate && cpu_ok && mem_ok {
                    break;
                }
                if let Some(to) = self.destination(obs, vm, h, evacuate) {
                    self.work.plan_migration(obs, h, to, vm);
                    moves.push((vm, h, to));
                }
            }
        }
        // The moves of one round share their source's and destination's NICs (the simulator
        // splits a link among the migrations on it), so each is planned with its share.
        let mut out_of = vec![0usize; obs.hosts.len()];
        let mut into = vec![0usize; obs.hosts.len()];
        for &(_, from, to) in &moves {
            out_of[from] += 1;
            into[to] += 1;
        }
        moves
            .iter()
            .map(|&(vm, from, to)| {
                let sharing = out_of[from].max(into[to]).max(1);
                self.decision(obs, vm, from, to, sharing)
            })
            .collect()
    }

    fn place(&mut self, obs: &Observation, vms: &[usize]) -> Vec<Option<usize>> {
        // VNF instances first, spread over the hosts the predictor trusts, then anywhere up.
        let distrusted = |h: usize| {
            Self::risk(obs, h) >= self.risk_bound
                || self.suspect(obs, h)
                || Self::hardware_risk(obs, h) >= self.hardware_bound / 2.0
        };
        placement::vnf_first(obs, vms, |obs, vms| {
            placement::spread_trusted(obs, vms, |h| !distrusted(h))
        })
    }
}

/// The declaration of `proactive-greedy`: every move by pre-copy, as Nova migrates by default.
pub fn spec() -> PolicySpec {
    declare(
        "proactive-greedy",
        "empty hosts the predictor expects to fail or break a VNF's bounds, before they do",
        false,
    )
}

/// The declaration of `proactive-planned`: the same moves, each by the technique the planner
/// chooses, which is what the controller does with `proactive-greedy`'s decisions; the fair
/// baseline for a policy that chooses techniques itself.
pub fn planned_spec() -> PolicySpec {
    declare(
        "proactive-planned",
        "proactive-greedy with each move's technique chosen by migrate plan's rules, as the controller executes it",
        true,
    )
}

/// The planner's risk appetite `proactive-planned` uses unless told otherwise: the controller's.
pub const PLANNED_RISK: RiskPolicy = RiskPolicy::Balanced;

/// A risk appetite as `proactive-planned`'s first parameter writes it.
fn appetite(r: RiskPolicy) -> u8 {
    match r {
        RiskPolicy::Conservative => 0,
        RiskPolicy::Balanced => 1,
        RiskPolicy::Aggressive => 2,
    }
}

/// The risk appetite a parameter value names (rounded to the nearest of 0, 1, 2).
fn appetite_of(v: f64) -> RiskPolicy {
    match v.round() as i64 {
        i64::MIN..=0 => RiskPolicy::Conservative,
        1 => RiskPolicy::Balanced,
        _ => RiskPolicy::Aggressive,
    }
}

fn declare(name: &str, summary: &str, plan_technique: bool) -> PolicySpec {
    let d = ProactiveGreedy::default();
    let appetite_param = ParamSpec {
        name: "risk_appetite",
        description: "the planner's post-copy rule: 0 never, 1 only when no pre-copy technique \
                      meets the deadline (the controller's), 2 whenever its pause is the shortest",
        default: f64::from(appetite(PLANNED_RISK)),
        range: 0.0..=2.0,
    };
    let first = usize::from(plan_technique);
    PolicySpec {
        name: name.into(),
        summary: summary.into(),
        params: plan_technique.then_some(appetite_param).into_iter().chain([
            ParamSpec::fraction(
                "risk_bound",
                "predicted risk above which a host is relieved",
                d.risk_bound,
            ),
            ParamSpec::fraction(
                "destination_limit",
                "CPU load a destination may reach",
                d.destination_limit,
            ),
            ParamSpec::fraction(
                "hardware_bound",
                "hardware-failure probability above which a host is emptied",
                d.hardware_bound,
            ),
            ParamSpec {
                name: "suspect_min",
                description: "minutes a host stays drained and closed to VMs after a hardware alarm",
                default: d.suspect_min,
                range: 1.0..=1440.0,
            },
        ])
        .collect(),
        requires: Requirements {
            predictions: true,
            full_power_accounting: false,
        },
        build: Arc::new(move |v: &[f64], _| {
            let shared = &v[first..];
            Box::new(ProactiveGreedy {
                technique_risk: plan_technique.then(|| appetite_of(v[0])),
                risk_bound: shared[0],
                destination_limit: shared[1],
                hardware_bound: shared[2],
                suspect_min: shared[3],
                ..ProactiveGreedy::default()
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promig_migrate::Profile;

    #[test]
    fn an_alarm_keeps_a_host_suspect_for_the_hold_only() {
        let mut b = promig_model::ObservationBuilder::new();
        b.hosts(2, promig_model::HostShape::default());
        let mut obs = b.build();
        obs.time_s = 1000.0;
        obs.risks = vec![promig_model::HostRisk::default(); 2];
        obs.risks[1].hardware = 0.5;
        let mut p = ProactiveGreedy {
            suspect_min: 20.0,
            ..ProactiveGreedy::default()
        };
        p.note_alarms(&obs);
        assert!(p.suspect(&obs, 1) && !p.suspect(&obs, 0));
        obs.risks[1].hardware = 0.0;
        obs.time_s = 1000.0 + 19.0 * 60.0;
        p.note_alarms(&obs);
        assert!(p.suspect(&obs, 1), "still within the 20-minute hold");
        obs.time_s = 1000.0 + 20.0 * 60.0;
        assert!(!p.suspect(&obs, 1), "the hold is over");
        assert_eq!(p.name(), "proactive-greedy-0.5-0.8-0.02-20");
        assert_eq!(ProactiveGreedy::default().name(), "proactive-greedy");
    }

    #[test]
    fn migrations_are_priced_with_the_data_centres_constants() {
        let mut p = ProactiveGreedy::default();
        assert_eq!(
            p.model.calibration,
            Profile::tcg().calibration(Technique::Precopy)
        );
        let kvm = Profile::kvm();
        p.use_calibration(&kvm);
        assert_eq!(p.model.calibration, kvm.calibration(Technique::Precopy));
        assert_eq!(p.model.params.technique, Technique::Precopy);
    }
}
