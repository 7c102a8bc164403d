//! Where a policy's VNF downtime and packet loss come from, per seed and averaged over seeds
//! (`promig evaluate breakdown`): outages after hardware failures, split by what warning there
//! was (none at all, a precursor the shipped predictor missed, an alarm the policy did not act on
//! in time), out-of-memory kills after leaks, migration pauses, and packets dropped by
//! oversubscribed hosts. Crash outages are further split into detection, waiting for a host and
//! boot. It answers "how much of the baseline's downtime could any policy remove?", with the
//! [`oracle`](crate::oracle) as the bound.

use crate::EvalError;
use crate::run::{check_name, default_predictor, simulate};
use promig_model::{FaultCause, FaultRecord};
use promig_predict::Predictor;
use promig_sim::split::{SplitName, Splits};
use promig_sim::{Attribution, FaultCost, SimConfig, World};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// How long before a crash an alarm counts as a warning of it: `proactive-greedy` keeps
/// draining a host for this long after a hardware alarm (its default `suspect_min`).
pub const WARNING_WINDOW_S: f64 = 4.0 * 3600.0;

/// What warning a hardware failure gave, as the shipped predictor saw it (the same predictor
/// and bound `proactive-greedy` acts on, whatever policy ran).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Warning {
    /// No precursor at all, and no alarm: nothing could have foreseen it.
    Silent,
    /// A precursor existed but the predictor did not alarm in the window before the crash.
    Missed,
    /// The predictor alarmed in the window before the crash (VMs still on the host were moved
    /// too late, had no destination, or were not moved).
    Warned,
}

/// The warning a hardware failure on `record` gave, from the times the predictor alarmed on its
/// host (`alarms_s`, any order): an alarm within [`WARNING_WINDOW_S`] before the strike makes it
/// `Warned`, even on a failure without precursor (a background-error alarm empties the host
/// just as well).
pub fn warning(record: &FaultRecord, alarms_s: &[f64]) -> Warning {
    let strike = record.strike_s.unwrap_or(f64::INFINITY);
    let warned = alarms_s
        .iter()
        .any(|&t| t < strike && t >= strike - WARNING_WINDOW_S);
    if warned {
        Warning::Warned
    } else if record.silent {
        Warning::Silent
    } else {
        Warning::Missed
    }
}

/// One class of faults: how many struck and what their outages cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Part {
    /// Faults of the class that struck.
    pub struck: f64,
    /// Of those, how many took at least one VNF instance down.
    pub hit_vnf: f64,
    /// VNF downtime.
    pub downtime_s: f64,
    /// Of that, detection.
    pub detection_s: f64,
    /// Of that, waiting for a host (and powering one on).
    pub waiting_s: f64,
    /// Of that, boot.
    pub boot_s: f64,
    /// Packets lost in those outages.
    pub packets_lost: f64,
}

impl Part {
    fn add_fault(&mut self, record: &FaultRecord, cost: &FaultCost) {
        self.struck += 1.0;
        if record.vnf_vms_hit > 0 {
            self.hit_vnf += 1.0;
        }
        self.downtime_s += cost.downtime_s;
        self.detection_s += cost.detection_s;
        self.waiting_s += cost.waiting_s();
        self.boot_s += cost.boot_s;
        self.packets_lost += cost.packets_lost;
    }

    fn add_scaled(&mut self, o: &Part, k: f64) {
        self.struck += o.struck * k;
        self.hit_vnf += o.hit_vnf * k;
        self.downtime_s += o.downtime_s * k;
        self.detection_s += o.detection_s * k;
        self.waiting_s += o.waiting_s * k;
        self.boot_s += o.boot_s * k;
        self.packets_lost += o.packets_lost * k;
    }
}

/// One policy's downtime and loss on one seed (or averaged over seeds), by cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// Policy, as named.
    pub policy: String,
    /// Seeds averaged (1 for one run).
    pub seeds: usize,
    /// VNF downtime (the report's).
    pub downtime_s: f64,
    /// Packets lost (the report's).
    pub packets_lost: f64,
    /// Packets offered.
    pub packets_offered: f64,
    /// Migrations started.
    pub migrations: f64,
    /// Energy.
    pub energy_kwh: f64,
    /// (a) Hardware failures without precursor or alarm.
    pub silent: Part,
    /// (a) Hardware failures whose precursor the predictor missed.
    pub missed: Part,
    /// (b) Hardware failures the predictor warned of.
    pub warned: Part,
    /// Out-of-memory kills (leaks).
    pub leak: Part,
    /// (c) Migration switch-over pauses.
    pub migration_pause_s: f64,
    /// Packets lost in them.
    pub migration_pause_lost: f64,
    /// (e) Packets dropped by oversubscribed hosts (surges, degradations, crowding).
    pub oversubscribed_lost: f64,
    /// Of those, on hosts slowed by a planned degradation.
    pub oversubscribed_lost_degraded: f64,
    /// Of those, elsewhere during a surge on the VNF's chain.
    pub oversubscribed_lost_surge: f64,
    /// Downtime of outages without a cause (expected 0).
    pub unattributed_s: f64,
    /// Packets lost in them.
    pub unattributed_lost: f64,
    /// Hosts the predictor alarmed on for hardware at least once.
    pub alarmed_hosts: f64,
    /// Of those, hosts that did not fail in the run (false positives: a drained host, capacity
    /// lost, for nothing).
    pub alarmed_healthy_hosts: f64,
}

impl Breakdown {
    /// The breakdown of one run from its report's fault records, the attribution, and the
    /// times (per host) the predictor alarmed.
    pub fn of_run(
        policy: &str,
        report: &promig_sim::Report,
        a: &Attribution,
        alarms_s: &[Vec<f64>],
    ) -> Breakdown {
        let mut b = Breakdown {
            policy: policy.to_string(),
            seeds: 1,
            downtime_s: report.downtime_s,
            packets_lost: report.packets_lost,
            packets_offered: report.packets_offered,
            migrations: report.migrations as f64,
            energy_kwh: report.energy_kwh,
            migration_pause_s: a.migration_pause_s,
            migration_pause_lost: a.migration_pause_lost,
            oversubscribed_lost: a.oversubscribed_lost,
            oversubscribed_lost_degraded: a.oversubscribed_lost_degraded,
            oversubscribed_lost_surge: a.oversubscribed_lost_surge,
            unattributed_s: a.unattributed_s,
            unattributed_lost: a.unattributed_lost,
            ..Breakdown::default()
        };
        for (h, alarms) in alarms_s.iter().enumerate() {
            if alarms.is_empty() {
                continue;
            }
            b.alarmed_hosts += 1.0;
            let failed = report
                .faults
                .iter()
                .any(|f| f.cause == FaultCause::HardwareFailure && f.host == h);
            if !failed {
                b.alarmed_healthy_hosts += 1.0;
            }
        }
        for (record, cost) in report.faults.iter().zip(&a.faults) {
            if record.strike_s.is_none() {
                continue;
            }
            match record.cause {
                FaultCause::HardwareFailure => {
                    let alarms = alarms_s.get(record.host).map_or(&[][..], |v| v.as_slice());
                    let part = match warning(record, alarms) {
                        Warning::Silent => &mut b.silent,
                        Warning::Missed => &mut b.missed,
                        Warning::Warned => &mut b.warned,
                    };
                    part.add_fault(record, cost);
                }
                FaultCause::MemoryShortage => b.leak.add_fault(record, cost),
                // Overloads, degradations and false alarms stop nothing: their cost is in the
                // oversubscribed drops.
                _ => {}
            }
        }
        b
    }

    /// The mean of several runs of one policy.
    pub fn mean(policy: &str, runs: &[Breakdown]) -> Breakdown {
        let mut m = Breakdown {
            policy: policy.to_string(),
            seeds: runs.len(),
            ..Breakdown::default()
        };
        if runs.is_empty() {
            return m;
        }
        let k = 1.0 / runs.len() as f64;
        for r in runs {
            m.downtime_s += r.downtime_s * k;
            m.packets_lost += r.packets_lost * k;
            m.packets_offered += r.packets_offered * k;
            m.migrations += r.migrations * k;
            m.energy_kwh += r.energy_kwh * k;
            m.silent.add_scaled(&r.silent, k);
            m.missed.add_scaled(&r.missed, k);
            m.warned.add_scaled(&r.warned, k);
            m.leak.add_scaled(&r.leak, k);
            m.migration_pause_s += r.migration_pause_s * k;
            m.migration_pause_lost += r.migration_pause_lost * k;
            m.oversubscribed_lost += r.oversubscribed_lost * k;
            m.oversubscribed_lost_degraded += r.oversubscribed_lost_degraded * k;
            m.oversubscribed_lost_surge += r.oversubscribed_lost_surge * k;
            m.unattributed_s += r.unattributed_s * k;
            m.unattributed_lost += r.unattributed_lost * k;
            m.alarmed_hosts += r.alarmed_hosts * k;
            m.alarmed_healthy_hosts += r.alarmed_healthy_hosts * k;
        }
        m
    }

    /// Downtime of outages after hardware failures and out-of-memory kills.
    pub fn fault_downtime_s(&self) -> f64 {
        self.silent.downtime_s
            + self.missed.downtime_s
            + self.warned.downtime_s
            + self.leak.downtime_s
    }
}

/// Runs `policy` on one seed and breaks its downtime and loss down. The predictor that decides
/// what counts as a warning runs beside the policy on the observations it gets, without changing
/// the run.
pub fn run_one(world: &Arc<World>, base: &SimConfig, policy: &str) -> Result<Breakdown, EvalError> {
    let mut predictor = default_predictor()?;
    let bound = crate::oracle::policy().hardware_bound;
    let mut alarms_s: Vec<Vec<f64>> = vec![Vec::new(); world.hosts.len()];
    let mut watch = |obs: &promig_model::Observation| {
        for (h, r) in predictor.predict(obs).iter().enumerate() {
            if r.hardware >= bound {
                alarms_s[h].push(obs.time_s);
            }
        }
    };
    let (report, attribution) =
        simulate(world, base, policy, &mut |_, _| {}, None, Some(&mut watch))?;
    Ok(Breakdown::of_run(policy, &report, &attribution, &alarms_s))
}

/// Every policy on every seed of one scenario (in parallel, each run on its own), averaged per
/// policy in the order given.
pub fn breakdown(
    world: &Arc<World>,
    base: &SimConfig,
    policies: &[String],
    seeds: &[u64],
) -> Result<Vec<Breakdown>, EvalError> {
    breakdown_episodes(policies, seeds, |seed| {
        Ok((
            Arc::clone(world),
            SimConfig {
                seed,
                ..base.clone()
            },
        ))
    })
}

/// Every policy on the episodes of a split (each seed its own data centre, traces and faults),
/// averaged per policy: where the downtime comes from over a distribution of scenarios rather
/// than one day, and so how much of it any policy could remove there.
pub fn breakdown_split(
    splits: &Splits,
    split: SplitName,
    data: &Path,
    policies: &[String],
    seeds: &[u64],
) -> Result<Vec<Breakdown>, EvalError> {
    breakdown_episodes(policies, seeds, |seed| {
        let (world, config) = splits.episode(split, seed, data)?;
        Ok((Arc::new(world), config))
    })
}

/// Every policy on every seed's episode (`episode` builds a seed's world and settings; it is
/// called once per run, so a split's episodes are not all held at once).
fn breakdown_episodes(
    policies: &[String],
    seeds: &[u64],
    episode: impl Fn(u64) -> Result<(Arc<World>, SimConfig), EvalError> + Sync,
) -> Result<Vec<Breakdown>, EvalError> {
    if seeds.is_empty() || policies.is_empty() {
        return Err(EvalError::Input(
            "breakdown: at least one policy and one seed".into(),
        ));
    }
    for p in policies {
        check_name(p)?;
    }
    let jobs: Vec<(usize, u64)> = (0..policies.len())
        .flat_map(|p| seeds.iter().map(move |&s| (p, s)))
        .collect();
    let run = |&(p, seed): &(usize, u64)| {
        let (world, config) = episode(seed)?;
        run_one(&world, &config, &policies[p])
    };
    let mut per_policy: Vec<Vec<Breakdown>> = vec![Vec::new(); policies.len()];
    for (result, (p, _)) in crate::parallel::map_in_order(&jobs, run)
        .into_iter()
        .zip(&jobs)
    {
        per_policy[*p].push(result?);
    }
    Ok(policies
        .iter()
        .zip(&per_policy)
        .map(|(p, runs)| Breakdown::mean(p, runs))
        .collect())
}

/// The tables `promig evaluate breakdown` prints: downtime by cause, crash outages by phase,
/// packet loss by cause, and how far each policy is below the first one (the baseline).
pub fn table(rows: &[Breakdown]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "VNF downtime per seed, s: (a) silent failures, (a) precursor missed, (b) warned of, leak kills, (c) migration pauses"
    );
    let _ = writeln!(
        s,
        "{:<22} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>8}",
        "policy",
        "downtime",
        "silent",
        "missed",
        "warned",
        "leak",
        "pauses",
        "other",
        "detect",
        "wait",
        "boot"
    );
    for r in rows {
        let crash = [&r.silent, &r.missed, &r.warned, &r.leak];
        let phase = |f: fn(&Part) -> f64| crash.iter().map(|p| f(p)).sum::<f64>();
        let _ = writeln!(
            s,
            "{:<22} {:>9.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6.1} | {:>8.1} {:>8.1} {:>8.1}",
            r.policy,
            r.downtime_s,
            r.silent.downtime_s,
            r.missed.downtime_s,
            r.warned.downtime_s,
            r.leak.downtime_s,
            r.migration_pause_s,
            r.unattributed_s,
            phase(|p| p.detection_s),
            phase(|p| p.waiting_s),
            phase(|p| p.boot_s),
        );
    }
    let _ = writeln!(
        s,
        "\nPackets lost per seed, millions: by the same causes, plus (e) drops on oversubscribed hosts (of which on degraded hosts / during surges)"
    );
    let _ = writeln!(
        s,
        "{:<22} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} | {:>9}",
        "policy",
        "lost",
        "silent",
        "missed",
        "warned",
        "leak",
        "pauses",
        "oversub",
        "degraded",
        "surge",
        "other",
        "loss rate"
    );
    let m = |x: f64| x / 1e6;
    for r in rows {
        let _ = writeln!(
            s,
            "{:<22} {:>9.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6.2} | {:>8.4}%",
            r.policy,
            m(r.packets_lost),
            m(r.silent.packets_lost),
            m(r.missed.packets_lost),
            m(r.warned.packets_lost),
            m(r.leak.packets_lost),
            m(r.migration_pause_lost),
            m(r.oversubscribed_lost),
            m(r.oversubscribed_lost_degraded),
            m(r.oversubscribed_lost_surge),
            m(r.unattributed_lost),
            if r.packets_offered > 0.0 {
                r.packets_lost / r.packets_offered * 100.0
            } else {
                0.0
            },
        );
    }
    let _ = writeln!(
        s,
        "\nFaults per seed that struck (that hit a VNF instance), hosts alarmed (of which healthy), migrations, energy"
    );
    let _ = writeln!(
        s,
        "{:<22} {:>13} {:>13} {:>13} {:>13} {:>13} {:>10} {:>9}",
        "policy", "silent", "missed", "warned", "leak kills", "alarmed", "migrations", "kWh"
    );
    let n = |p: &Part| format!("{:.2} ({:.2})", p.struck, p.hit_vnf);
    for r in rows {
        let _ = writeln!(
            s,
            "{:<22} {:>13} {:>13} {:>13} {:>13} {:>13} {:>10.1} {:>9.2}",
            r.policy,
            n(&r.silent),
            n(&r.missed),
            n(&r.warned),
            n(&r.leak),
            format!("{:.2} ({:.2})", r.alarmed_hosts, r.alarmed_healthy_hosts),
            r.migrations,
            r.energy_kwh
        );
    }
    if let Some(base) = rows.first() {
        let _ = writeln!(s, "\nAgainst {} (the first policy):", base.policy);
        for r in &rows[1..] {
            // Signed change against the base, so "+" always reads "more than the base".
            let pct = |x: f64, b: f64| if b > 0.0 { (x / b - 1.0) * 100.0 } else { 0.0 };
            let _ = writeln!(
                s,
                "{:<22} downtime {:>+6.1} %, packets lost {:>+6.1} %, migrations {:>+6.1} %, energy {:>+5.1} %",
                r.policy,
                pct(r.downtime_s, base.downtime_s),
                pct(r.packets_lost, base.packets_lost),
                pct(r.migrations, base.migrations),
                pct(r.energy_kwh, base.energy_kwh),
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crash(silent: bool, strike_s: f64) -> FaultRecord {
        FaultRecord {
            cause: FaultCause::HardwareFailure,
            host: 3,
            vm: None,
            onset_s: strike_s - 3600.0,
            strike_s: Some(strike_s),
            vnf_vms_hit: 2,
            vms_hit: 3,
            silent,
        }
    }

    #[test]
    fn a_warning_is_an_alarm_in_the_window_before_the_strike() {
        let r = crash(false, 50_000.0);
        assert_eq!(warning(&r, &[]), Warning::Missed);
        assert_eq!(warning(&r, &[49_700.0]), Warning::Warned);
        // After the strike, or long before it, is no warning of it.
        assert_eq!(warning(&r, &[50_000.0, 60_000.0]), Warning::Missed);
        assert_eq!(
            warning(&r, &[50_000.0 - WARNING_WINDOW_S - 1.0]),
            Warning::Missed
        );
        assert_eq!(warning(&crash(true, 50_000.0), &[]), Warning::Silent);
        assert_eq!(
            warning(&crash(true, 50_000.0), &[45_000.0]),
            Warning::Warned
        );
    }

    #[test]
    fn runs_are_classified_and_averaged() {
        let a = crash(true, 10_000.0);
        let b = crash(false, 20_000.0);
        let report_faults = vec![a, b];
        let cost = |d: f64| FaultCost {
            downtime_s: d,
            detection_s: 60.0,
            boot_s: 45.0,
            packets_lost: d * 10.0,
        };
        let attribution = Attribution {
            faults: vec![cost(200.0), cost(110.0)],
            migration_pause_s: 3.0,
            ..Attribution::default()
        };
        let mut alarms = vec![Vec::new(); 4];
        alarms[3].push(19_000.0);
        alarms[0].push(5_000.0);
        // A minimal report of one run with these two failures.
        let report = promig_sim::Report {
            scenario: String::new(),
            policy: "p".into(),
            seed: 1,
            mode: promig_sim::Mode::Nfv,
            simulated_s: 0.0,
            hosts: 4,
            vms: 0,
            energy_kwh: 2.0,
            migrations: 4,
            migration_traffic_gib: 0.0,
            rejected_decisions: 0,
            deadline_cancelled: 0,
            slatah_pct: 0.0,
            pdm_pct: 0.0,
            slav_pct: 0.0,
            overall_sla_violation_pct: 0.0,
            downtime_s: 313.0,
            interruptions: 0,
            packets_offered: 1e6,
            packets_lost: 3100.0,
            loss_rate: 0.0,
            qos_violation_s: 0.0,
            vms_crashed: 6,
            failures_struck: 2,
            failures_evacuated: 0,
            vnfs: Vec::new(),
            faults: report_faults,
            explanations: Vec::new(),
        };
        let one = Breakdown::of_run("p", &report, &attribution, &alarms);
        assert_eq!(one.silent.downtime_s, 200.0);
        assert_eq!(one.warned.downtime_s, 110.0);
        assert_eq!(one.missed.struck, 0.0);
        assert_eq!((one.alarmed_hosts, one.alarmed_healthy_hosts), (2.0, 1.0));
        assert_eq!(one.warned.waiting_s, 5.0);
        assert_eq!(
            one.fault_downtime_s() + one.migration_pause_s,
            one.downtime_s
        );
        let mut two = one.clone();
        two.downtime_s = 113.0;
        two.silent = Part::default();
        let m = Breakdown::mean("p", &[one, two]);
        assert_eq!(m.seeds, 2);
        assert_eq!(m.downtime_s, 213.0);
        assert_eq!(m.silent.downtime_s, 100.0);
        assert_eq!(m.silent.struck, 0.5);
        let t = table(&[m.clone(), m.clone()]);
        assert!(
            t.contains("silent") && t.contains("downtime   +0.0 %"),
            "{t}"
        );
        // A policy with twice the downtime reads "+100.0 %", not "-100.0 % lower".
        let worse = Breakdown {
            downtime_s: 2.0 * m.downtime_s,
            ..m.clone()
        };
        let t = table(&[m, worse]);
        assert!(t.contains("downtime +100.0 %"), "{t}");
    }
}
