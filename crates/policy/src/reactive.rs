//! `reactive`: act only after a breach has been observed, as operators and today's HA tooling do.
//!
//! Crash recovery (Masakari/Nova evacuation) is the platform's and happens for every policy; this
//! policy adds the reaction to breaches of running hosts: when a host's demand exceeded its capacity,
//! its memory ran out, or its response time broke a VNF's bound in the last interval, it moves VMs
//! off it (largest demand first) to the least-loaded host that can take them.

use crate::Policy;
use crate::placement::least_loaded;
use crate::registry::{ParamSpec, PolicySpec, Requirements};
use crate::work::Work;
use promig_model::{Decision, Observation};
use std::sync::Arc;

/// The reactive baseline.
#[derive(Debug, Clone)]
pub struct Reactive {
    /// Memory use (fraction of the host) counted as "ran out".
    pub memory_breach: f64,
    /// Load a destination may reach.
    pub destination_limit: f64,
    work: Work,
}

impl Default for Reactive {
    fn default() -> Self {
        Reactive {
            memory_breach: 0.98,
            destination_limit: 0.9,
            work: Work::default(),
        }
    }
}

impl Policy for Reactive {
    fn name(&self) -> String {
        let d = Reactive::default();
        if (self.memory_breach, self.destination_limit) == (d.memory_breach, d.destination_limit) {
            "reactive".into()
        } else {
            format!("reactive-{}-{}", self.memory_breach, self.destination_limit)
        }
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Decision> {
        self.work.reset(obs);
        let mut out = Vec::new();
        for (h, host) in obs.hosts.iter().enumerate() {
            if !host.up || host.vms.is_empty() {
                continue;
            }
            let cpu_breach = host.requested_mips > host.total_mips;
            let mem_used: f64 = host.vms.iter().map(|&v| obs.vms[v].memory_used_mib).sum();
            let mem_breach = mem_used > self.memory_breach * host.memory_mib;
            let latency_breach = host.vms.iter().any(|&v| {
                obs.vms[v].vnf.is_some_and(|f| {
                    obs.vnf_qos
                        .get(f)
                        .is_some_and(|q| host.latency_ms > q.max_latency_ms)
                })
            });
            if !(cpu_breach || mem_breach || latency_breach) {
                continue;
            }
            let mut vms: Vec<usize> = host
                .vms
                .iter()
                .copied()
                .filter(|&v| !obs.vms[v].in_migration)
                .collect();
            if mem_breach && !cpu_breach {
                vms.sort_by(|a, b| {
                    obs.vms[*b]
                        .memory_used_mib
                        .total_cmp(&obs.vms[*a].memory_used_mib)
                });
            } else {
                vms.sort_by(|a, b| {
                    obs.vms[*b]
                        .requested_mips
                        .total_cmp(&obs.vms[*a].requested_mips)
                });
            }
            for vm in vms {
                let w = &self.work.hosts[h];
                let mem_now: f64 = w.vms.iter().map(|&v| obs.vms[v].memory_used_mib).sum();
                let still_cpu = w.requested_mips > host.total_mips * self.destination_limit;
                let still_mem = mem_now > self.memory_breach * host.memory_mib;
                if !(still_cpu || still_mem || latency_breach) {
                    break;
                }
                if let Some(to) = least_loaded(obs, &self.work, vm, self.destination_limit, h) {
                    self.work.plan_migration(obs, h, to, vm);
                    out.push(Decision::migrate(vm, to));
                    if latency_breach && !still_cpu && !still_mem {
                        break; // one VM off a slow host per interval: see whether it helped
                    }
                }
            }
        }
        out
    }
}

/// The declaration of `reactive`.
pub fn spec() -> PolicySpec {
    let d = Reactive::default();
    PolicySpec {
        name: "reactive".into(),
        summary: "move VMs off a host after it was seen overloaded, out of memory or too slow"
            .into(),
        params: vec![
            ParamSpec::fraction(
                "memory_breach",
                "memory use (share of the host) counted as running out",
                d.memory_breach,
            ),
            ParamSpec::fraction(
                "destination_limit",
                "CPU load a destination may reach",
                d.destination_limit,
            ),
        ],
        requires: Requirements::default(),
        build: Arc::new(|v: &[f64], _| {
            Box::new(Reactive {
                memory_breach: v[0],
                destination_limit: v[1],
                ..Reactive::default()
            })
        }),
    }
}
