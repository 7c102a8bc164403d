//! `threshold`: OpenStack Watcher's workload-balance strategy. When a host's CPU utilisation crosses
//! a threshold, move the VM whose demand best matches the excess to the least-loaded host that stays
//! under the threshold afterwards. Predictable and easy to explain, which is why operators use it.

use crate::Policy;
use crate::placement::least_loaded;
use crate::registry::{ParamSpec, PolicySpec, Requirements};
use crate::work::Work;
use promig_model::{Decision, Observation};
use std::sync::Arc;

/// The Watcher-style threshold baseline.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// CPU utilisation above which a host is relieved (Watcher's default is 25 % of an average
    /// workload; 0.8 is the usual production setting and what we compare with).
    pub cpu_threshold: f64,
    /// Memory utilisation above which a host is relieved.
    pub memory_threshold: f64,
    work: Work,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold {
            cpu_threshold: 0.8,
            memory_threshold: 0.9,
            work: Work::default(),
        }
    }
}

impl Policy for Threshold {
    fn name(&self) -> String {
        if self.memory_threshold == Threshold::default().memory_threshold {
            format!("threshold-{}", self.cpu_threshold)
        } else {
            format!("threshold-{}-{}", self.cpu_threshold, self.memory_threshold)
        }
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        self.work.reset(obs);
        let mut out = Vec::new();
        for (h, host) in obs.hosts.iter().enumerate() {
            if !host.up {
                continue;
            }
            // A bounded number of moves per host and interval, as Watcher's action plans are.
            for _ in 0..4 {
                let w = &self.work.hosts[h];
                let util = w.requested_mips / host.total_mips;
                let mem: f64 = w
                    .vms
                    .iter()
                    .map(|&v| obs.vms[v].memory_used_mib)
                    .sum::<f64>()
                    / host.memory_mib;
                if util <= self.cpu_threshold && mem <= self.memory_threshold {
                    break;
                }
                let excess_mips = (util - self.cpu_threshold).max(0.0) * host.total_mips;
                let candidates = w.vms.iter().copied().filter(|&v| !obs.vms[v].in_migration);
                let pick = if util > self.cpu_threshold {
                    candidates.min_by(|&a, &b| {
                        let da = (obs.vms[a].requested_mips - excess_mips).abs();
                        let db = (obs.vms[b].requested_mips - excess_mips).abs();
                        da.total_cmp(&db).then(a.cmp(&b))
                    })
                } else {
                    candidates.max_by(|&a, &b| {
                        obs.vms[a]
                            .memory_used_mib
                            .total_cmp(&obs.vms[b].memory_used_mib)
                            .then(b.cmp(&a))
                    })
                };
                let Some(vm) = pick else { break };
                let Some(to) = least_loaded(obs, &self.work, vm, self.cpu_threshold, h) else {
                    break;
                };
                self.work.plan_migration(obs, h, to, vm);
                out.push(Decision::migrate(vm, to));
            }
        }
        out
    }
}

/// The declaration of `threshold`.
pub fn spec() -> PolicySpec {
    let d = Threshold::default();
    PolicySpec {
        name: "threshold".into(),
        summary:
            "OpenStack Watcher's workload balance: relieve hosts above a CPU or memory threshold"
                .into(),
        params: vec![
            ParamSpec::fraction(
                "threshold",
                "CPU utilisation above which a host is relieved",
                d.cpu_threshold,
            ),
            ParamSpec::fraction(
                "memory_threshold",
                "memory utilisation above which a host is relieved",
                d.memory_threshold,
            ),
        ],
        requires: Requirements::default(),
        build: Arc::new(|v: &[f64], _| {
            Box::new(Threshold {
                cpu_threshold: v[0],
                memory_threshold: v[1],
                ..Threshold::default()
            })
        }),
    }
}
