//! The reward: minus a weighted sum of what the interval cost the operator, in seconds of VNF
//! downtime equivalent, so weights read as "one unit of X weighs as this many seconds of outage".

use promig_sim::Outcome;
use serde::{Deserialize, Serialize};

/// Weights of the reward's terms; defaults argued per field. Downtime is the unit and dominates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardWeights {
    /// Per second of VNF-instance downtime: 1, the unit. A VM lost to a crash already costs its
    /// whole reactive recovery here (the simulator charges the outage until it runs again), so
    /// failing to move a VM off a dying host is the most expensive mistake.
    pub downtime_per_s: f64,
    /// Per unit of the interval's loss rate (packets lost over offered): 100, i.e. losing 1 % of
    /// the interval's packets weighs as one second of downtime (the default contract's 0.1 %
    /// budget as 0.1 s). Most loss comes with downtime, which is charged already; this term
    /// prices what overload drops add.
    pub loss_rate: f64,
    /// Per second of QoS violation (a VNF over its latency bound): 0.01, a hundred slow seconds
    /// weigh as one dead second: the service still works, and a day holds about 200 times more
    /// violation time than downtime, so at 0.1 (tried first) it drowned the downtime the agent
    /// is judged on (validation seeds 1-20: 1,039 s of downtime trained with 0.1, 887 s with 0.01).
    pub qos_violation_per_s: f64,
    /// Per migration started: 0.5, so a move must save at least half a second of expected
    /// downtime (its pause is charged as downtime already; this prices churn, the control
    /// plane's work and the risk a real migration carries beyond the model).
    pub per_migration: f64,
    /// Per GiB sent by migrations: 0.05 (a 4 GiB VM adds 0.2 s), for the fabric bandwidth that
    /// VNF traffic shares.
    pub per_gib: f64,
    /// Per kWh: 0 by default; energy is watched as a constraint (no more than 5 % above the
    /// greedy's), not traded against outages.
    pub energy_per_kwh: f64,
}

impl Default for RewardWeights {
    fn default() -> Self {
        RewardWeights {
            downtime_per_s: 1.0,
            loss_rate: 100.0,
            qos_violation_per_s: 0.01,
            per_migration: 0.5,
            per_gib: 0.05,
            energy_per_kwh: 0.0,
        }
    }
}

impl RewardWeights {
    /// The reward of one interval: `outcome` between two reports and the migration traffic
    /// (GiB) sent meanwhile. Non-finite ingredients count as zero so a reward is always finite.
    pub fn reward(&self, outcome: &Outcome, migration_gib: f64) -> f64 {
        let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
        let loss_rate = if outcome.packets_offered > 0.0 {
            outcome.packets_lost / outcome.packets_offered
        } else {
            0.0
        };
        let cost = self.downtime_per_s * finite(outcome.downtime_s)
            + self.loss_rate * finite(loss_rate)
            + self.qos_violation_per_s * finite(outcome.qos_violation_s)
            + self.per_migration * outcome.migrations as f64
            + self.per_gib * finite(migration_gib)
            + self.energy_per_kwh * finite(outcome.energy_kwh);
        -cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_dominates_and_nothing_costs_nothing() {
        let w = RewardWeights::default();
        let mut o = Outcome::default();
        assert_eq!(w.reward(&o, 0.0), 0.0);
        o.downtime_s = 10.0;
        o.migrations = 1;
        let r = w.reward(&o, 4.0);
        assert!((r - -(10.0 + 0.5 + 0.2)).abs() < 1e-12);
        o.packets_offered = f64::NAN;
        assert!(w.reward(&o, f64::INFINITY).is_finite());
    }
}
