//! Which moves may be chosen: the rules an infeasible action breaks, checked against the
//! observation plus the moves already picked in the same round, so a learner never samples an
//! action the simulator (or a real cloud) would refuse or that cannot help.
//!
//! The rules (each one an [`Infeasible`] variant):
//! - the VM runs on the source (not booting after a crash), is not migrating already and was not
//!   picked this round;
//! - source and destination are distinct hosts that are both up;
//! - the destination's memory holds the VM (reservations, incl. incoming VMs and this round's
//!   picks, plus the VM's size, within the host's placeable memory, as the simulator checks);
//! - the destination's CPU requests after the move stay within `cpu_limit` of its capacity;
//! - the destination is not at risk itself (any cause above `destination_risk_bound`, hardware
//!   above `destination_hardware_bound`);
//! - at most `max_outgoing_per_host` migrations leave a host and `max_incoming_per_host` arrive
//!   at one, in flight and picked together (Nova's `max_concurrent_live_migrations` is 1);
//! - at most `max_per_rack_uplink` migrations cross one rack's uplink (a rack-to-rack move uses
//!   the uplinks of both racks; the host's own link is covered by the per-host limits);
//! - the technique converges in the cost model, and when the source has a predicted time left
//!   before a breach still ahead the move's predicted total time fits in it (the planner's
//!   `converged` and deadline rules; a breach under way sets no deadline).

use crate::features::Move;
use promig_model::Observation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bounds of the mask; defaults argued per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskConfig {
    /// Migrations arriving at one host at once: 1, OpenStack Nova's default, because two
    /// incoming copies share one NIC and each takes twice as long (and pauses twice as long).
    pub max_incoming_per_host: u32,
    /// Migrations leaving one host at once: 1, Nova's `max_concurrent_live_migrations` default.
    pub max_outgoing_per_host: u32,
    /// Migrations crossing one rack's uplink at once: 4, so a rack evacuation cannot saturate
    /// the uplink that the rack's VNF traffic also uses.
    pub max_per_rack_uplink: u32,
    /// Highest predicted risk (any cause) a destination may carry: 0.5, the bound at which
    /// `proactive-greedy` starts relieving a host (no point moving onto a host that will be
    /// relieved next).
    pub destination_risk_bound: f64,
    /// Highest hardware-failure probability a destination may carry: 0.01, half of
    /// `proactive-greedy`'s hardware alarm (a host showing precursors is the last place to go).
    pub destination_hardware_bound: f64,
    /// Share of a destination's CPU capacity its requests may reach after the move: 1.0, i.e.
    /// never knowingly overload a destination; finer preferences are the scorer's business.
    pub cpu_limit: f64,
}

impl Default for MaskConfig {
    fn default() -> Self {
        MaskConfig {
            max_incoming_per_host: 1,
            max_outgoing_per_host: 1,
            max_per_rack_uplink: 4,
            destination_risk_bound: 0.5,
            destination_hardware_bound: 0.01,
            cpu_limit: 1.0,
        }
    }
}

/// Why a move may not be chosen (the first rule it breaks, in the module's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Infeasible {
    /// The VM does not exist, does not run on the source, is migrating, or was picked already.
    VmBusy,
    /// Source or destination does not exist, is down, or they are the same host.
    HostUnavailable,
    /// The destination's memory cannot hold the VM.
    Memory,
    /// The destination's CPU would exceed `cpu_limit`.
    Cpu,
    /// The destination is itself predicted to fail or breach.
    DestinationAtRisk,
    /// The source already sends its allowed number of migrations.
    OutgoingLimit,
    /// The destination already receives its allowed number of migrations.
    IncomingLimit,
    /// A rack uplink on the path already carries its allowed number of migrations.
    LinkLimit,
    /// The technique does not converge for this VM on this path.
    NoConvergence,
    /// The move is predicted to take longer than the source has left.
    MissesFailure,
}

/// The observation plus what this round already committed: the ledger every mask check reads.
///
/// Built once per decision point in O(hosts + VMs); each check is O(1) (rack uplinks: O(log racks)).
#[derive(Debug, Clone)]
pub struct Round<'a> {
    obs: &'a Observation,
    cfg: MaskConfig,
    incoming: Vec<u32>,
    outgoing: Vec<u32>,
    uplink: BTreeMap<u32, u32>,
    extra_memory_mib: Vec<f64>,
    extra_mips: Vec<f64>,
    picked: Vec<bool>,
}

impl<'a> Round<'a> {
    /// A round at `obs`: counts the migrations already in flight (per host and per rack uplink).
    pub fn new(obs: &'a Observation, cfg: &MaskConfig) -> Self {
        let n = obs.hosts.len();
        let mut r = Round {
            obs,
            cfg: cfg.clone(),
            incoming: vec![0; n],
            outgoing: vec![0; n],
            uplink: BTreeMap::new(),
            extra_memory_mib: vec![0.0; n],
            extra_mips: vec![0.0; n],
            picked: vec![false; obs.vms.len()],
        };
        // A migrating VM still runs on (is listed by) its source: it holds the source's
        // outgoing slot; the destination lists it as incoming.
        for vm in &obs.vms {
            if vm.in_migration
                && let Some(from) = vm.host
                && from < n
            {
                r.outgoing[from] += 1;
            }
        }
        for (to, host) in obs.hosts.iter().enumerate() {
            for &v in &host.migrating_in {
                r.incoming[to] += 1;
                if let Some(from) = obs.vms.get(v).and_then(|vm| vm.host)
                    && from != to
                    && from < n
                {
                    r.count_uplinks(from, to);
                }
            }
        }
        r
    }

    fn count_uplinks(&mut self, from: usize, to: usize) {
        let (a, b) = (self.obs.hosts[from].rack, self.obs.hosts[to].rack);
        if a != b {
            *self.uplink.entry(a).or_default() += 1;
            *self.uplink.entry(b).or_default() += 1;
        }
    }

    /// The observation the round is over.
    pub fn observation(&self) -> &'a Observation {
        self.obs
    }

    /// The bounds in force.
    pub fn config(&self) -> &MaskConfig {
        &self.cfg
    }

    /// Migrations arriving at `host`, in flight plus picked this round.
    pub fn incoming(&self, host: usize) -> u32 {
        self.incoming.get(host).copied().unwrap_or(0)
    }

    /// The technique-independent rules for moving `vm` from `from` to `to`.
    pub fn check_placement(&self, vm: usize, from: usize, to: usize) -> Result<(), Infeasible> {
        let obs = self.obs;
        let Some(v) = obs.vms.get(vm) else {
            return Err(Infeasible::VmBusy);
        };
        if v.host != Some(from) || v.in_migration || v.booting || self.picked[vm] {
            return Err(Infeasible::VmBusy);
        }
        let (Some(src), Some(dst)) = (obs.hosts.get(from), obs.hosts.get(to)) else {
            return Err(Infeasible::HostUnavailable);
        };
        if from == to || !src.up || !dst.up {
            return Err(Infeasible::HostUnavailable);
        }
        let memory = v.memory_mib.max(v.memory_reserved_mib);
        if dst.memory_reserved_mib + self.extra_memory_mib[to] + memory > dst.memory_mib {
            return Err(Infeasible::Memory);
        }
        let mips = dst.requested_mips + self.extra_mips[to] + v.requested_mips;
        // NaN capacities or requests fail the check: a host we cannot size takes nothing.
        let fits = mips <= dst.total_mips * self.cfg.cpu_limit;
        if !fits {
            return Err(Infeasible::Cpu);
        }
        if let Some(r) = obs.risks.get(to)
            && (r.probability > self.cfg.destination_risk_bound
                || r.hardware > self.cfg.destination_hardware_bound)
        {
            return Err(Infeasible::DestinationAtRisk);
        }
        if self.outgoing[from] >= self.cfg.max_outgoing_per_host {
            return Err(Infeasible::OutgoingLimit);
        }
        if self.incoming[to] >= self.cfg.max_incoming_per_host {
            return Err(Infeasible::IncomingLimit);
        }
        let (a, b) = (src.rack, dst.rack);
        let full =
            |rack| self.uplink.get(&rack).copied().unwrap_or(0) >= self.cfg.max_per_rack_uplink;
        if a != b && (full(a) || full(b)) {
            return Err(Infeasible::LinkLimit);
        }
        Ok(())
    }

    /// Every rule for one priced move.
    pub fn check(&self, m: &Move) -> Result<(), Infeasible> {
        self.check_placement(m.vm, m.from, m.to)?;
        if !m.converged || !m.total_s.is_finite() {
            return Err(Infeasible::NoConvergence);
        }
        if let Some(left) = self.time_left_s(m.from)
            && m.total_s > left
        {
            return Err(Infeasible::MissesFailure);
        }
        Ok(())
    }

    /// The source's predicted time left before a breach still ahead, when the predictor gives
    /// one (a move must be over by then to help). A breach already under way (time left 0: the
    /// host's demand is at or over its capacity now) sets no deadline: a move off an overloaded
    /// host relieves it whenever it lands, and treating "now" as a deadline masked every such
    /// move, so the agent could never relieve a host once it was overloaded.
    pub fn time_left_s(&self, host: usize) -> Option<f64> {
        self.obs
            .risks
            .get(host)
            .and_then(|r| r.time_left_s)
            .filter(|&t| t > 0.0)
    }

    /// Books a chosen move: its VM, its hosts' slots, its memory and CPU on the destination.
    /// The caller checked it first (an unchecked move is booked anyway; the ledger only grows).
    pub fn commit(&mut self, m: &Move) {
        let obs = self.obs;
        if m.vm >= self.picked.len() || m.from >= obs.hosts.len() || m.to >= obs.hosts.len() {
            return;
        }
        let v = &obs.vms[m.vm];
        self.picked[m.vm] = true;
        self.outgoing[m.from] += 1;
        self.incoming[m.to] += 1;
        self.extra_memory_mib[m.to] += v.memory_mib.max(v.memory_reserved_mib);
        self.extra_mips[m.to] += v.requested_mips;
        self.count_uplinks(m.from, m.to);
    }
}

/// Recomputes `mask` (one flag per candidate; `true` = may be chosen) against the round: "wait"
/// is always allowed, each move only while every rule holds.
pub fn refresh(round: &Round<'_>, candidates: &[crate::features::Candidate], mask: &mut Vec<bool>) {
    mask.clear();
    mask.extend(candidates.iter().map(|c| match c {
        crate::features::Candidate::Wait => true,
        crate::features::Candidate::Move(m) => round.check(m).is_ok(),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Pricer;
    use promig_model::{HostRisk, HostShape, ObservationBuilder, Technique, VmShape};

    fn three_hosts() -> Observation {
        let mut b = ObservationBuilder::new();
        b.hosts(2, HostShape::default());
        b.host(HostShape {
            rack: 1,
            ..HostShape::default()
        });
        b.vm(Some(0), VmShape::default());
        b.vm(Some(0), VmShape::default());
        b.vm(Some(1), VmShape::default());
        b.build()
    }

    #[test]
    fn in_flight_migrations_hold_their_slots() {
        let mut obs = three_hosts();
        obs.vms[2].in_migration = true;
        obs.hosts[2].migrating_in.push(2);
        let r = Round::new(&obs, &MaskConfig::default());
        assert_eq!(r.check_placement(2, 1, 0), Err(Infeasible::VmBusy));
        assert_eq!(r.check_placement(0, 0, 2), Err(Infeasible::IncomingLimit));
        assert_eq!(r.check_placement(0, 0, 1), Ok(()));
        let lax = MaskConfig {
            max_incoming_per_host: 2,
            max_per_rack_uplink: 1,
            ..MaskConfig::default()
        };
        let r = Round::new(&obs, &lax);
        assert_eq!(r.check_placement(0, 0, 2), Err(Infeasible::LinkLimit));
    }

    #[test]
    fn a_pick_books_the_vm_the_hosts_and_the_memory() {
        let obs = three_hosts();
        let pricer = Pricer::default();
        let mut r = Round::new(&obs, &MaskConfig::default());
        let m = pricer.price(&obs, 0, 0, 1, Technique::Precopy);
        assert_eq!(r.check(&m), Ok(()));
        r.commit(&m);
        assert_eq!(r.check(&m), Err(Infeasible::VmBusy));
        assert_eq!(r.check_placement(1, 0, 2), Err(Infeasible::OutgoingLimit));
        assert_eq!(r.check_placement(2, 1, 2), Ok(()));
        let tight = MaskConfig {
            max_incoming_per_host: 9,
            max_outgoing_per_host: 9,
            ..MaskConfig::default()
        };
        let mut small = three_hosts();
        small.hosts[1].memory_mib = small.hosts[1].memory_reserved_mib + 5000.0;
        let mut r = Round::new(&small, &tight);
        r.commit(&m);
        assert_eq!(r.check_placement(1, 0, 1), Err(Infeasible::Memory));
    }

    #[test]
    fn booting_down_risky_and_late_are_refused() {
        let mut obs = three_hosts();
        obs.vms[1].booting = true;
        obs.hosts[2].up = false;
        obs.risks = vec![HostRisk::default(); 3];
        obs.risks[0].time_left_s = Some(0.5);
        obs.risks[1].hardware = 0.5;
        let r = Round::new(&obs, &MaskConfig::default());
        assert_eq!(r.check_placement(1, 0, 1), Err(Infeasible::VmBusy));
        assert_eq!(r.check_placement(0, 0, 2), Err(Infeasible::HostUnavailable));
        assert_eq!(r.check_placement(0, 0, 0), Err(Infeasible::HostUnavailable));
        assert_eq!(
            r.check_placement(0, 0, 1),
            Err(Infeasible::DestinationAtRisk)
        );
        obs.risks[1].hardware = 0.0;
        let r = Round::new(&obs, &MaskConfig::default());
        let m = Pricer::default().price(&obs, 0, 0, 1, Technique::Precopy);
        assert_eq!(r.check(&m), Err(Infeasible::MissesFailure));
        let nan = Move {
            total_s: f64::NAN,
            ..m
        };
        assert_eq!(r.check(&nan), Err(Infeasible::NoConvergence));
        // A breach under way (no time left) is no deadline: moving off relieves it.
        obs.risks[0].time_left_s = Some(0.0);
        assert_eq!(Round::new(&obs, &MaskConfig::default()).check(&m), Ok(()));
    }
}
