//! The result of a run: one serde type, printed as a table or JSON, and later rendered by the
//! dashboard and HTML reports.

use crate::config::Mode;
use promig_model::FaultRecord;
use serde::{Deserialize, Serialize};

/// Service quality of one VNF over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnfReport {
    /// VNF name.
    pub name: String,
    /// Total time one of its instances did not run.
    pub downtime_s: f64,
    /// Number of outages (migration switch-overs, crashes, kills).
    pub interruptions: u64,
    /// Longest single outage.
    pub longest_incident_ms: f64,
    /// Packets that arrived.
    pub packets_offered: f64,
    /// Packets lost (during outages or dropped by an overloaded host).
    pub packets_lost: f64,
    /// Lost / offered.
    pub loss_rate: f64,
    /// Time its QoS contract was broken (latency, loss or an outage longer than allowed).
    pub qos_violation_s: f64,
}

/// Everything measured in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// Seed.
    pub seed: u64,
    /// Accounting rules.
    pub mode: Mode,
    /// Simulated time covered.
    pub simulated_s: f64,
    /// Hosts.
    pub hosts: usize,
    /// VMs.
    pub vms: usize,
    /// Energy drawn by the hosts.
    pub energy_kwh: f64,
    /// Migrations started.
    pub migrations: u64,
    /// Bytes moved by migrations.
    pub migration_traffic_gib: f64,
    /// Decisions the simulator refused (VM busy, destination full or down).
    pub rejected_decisions: u64,
    /// Migrations cancelled because they were still running at their decision's deadline (the
    /// VM stays on its source, as when QEMU's migration is cancelled). Left out of the JSON
    /// while zero, so reports of policies that set no deadlines read as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deadline_cancelled: u64,
    /// SLA violation Time per Active Host (share of active time hosts could not serve all demand).
    pub slatah_pct: f64,
    /// Performance Degradation due to Migrations.
    pub pdm_pct: f64,
    /// SLATAH x PDM.
    pub slav_pct: f64,
    /// Share of requested CPU not delivered, all causes.
    pub overall_sla_violation_pct: f64,
    /// VNF downtime, all VNFs.
    pub downtime_s: f64,
    /// VNF outages, all VNFs.
    pub interruptions: u64,
    /// VNF packets offered.
    pub packets_offered: f64,
    /// VNF packets lost.
    pub packets_lost: f64,
    /// Lost / offered.
    pub loss_rate: f64,
    /// Time any VNF's QoS was broken, summed over VNFs.
    pub qos_violation_s: f64,
    /// VMs that went down with their host or were killed.
    pub vms_crashed: u64,
    /// Hardware failures that happened.
    pub failures_struck: u64,
    /// Of those, failures that found their host already empty.
    pub failures_evacuated: u64,
    /// Per-VNF figures.
    pub vnfs: Vec<VnfReport>,
    /// Ground truth of every fault.
    pub faults: Vec<FaultRecord>,
    /// Why each move was made, from policies that say (the RL agent): what `promig explain`
    /// prints. Absent from the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<promig_model::Explanation>,
}

/// What happened between two reports of one run: the ingredients of a reward for the decisions
/// in between (the RL agent's reward is minus downtime, loss and QoS-violation time and a cost per
/// migration), so an environment steps the simulator and reads them without keeping its own books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Simulated seconds covered.
    pub elapsed_s: f64,
    /// VNF downtime accrued.
    pub downtime_s: f64,
    /// Packets lost.
    pub packets_lost: f64,
    /// Packets offered.
    pub packets_offered: f64,
    /// VNF QoS-violation time accrued.
    pub qos_violation_s: f64,
    /// Migrations started.
    pub migrations: u64,
    /// Energy drawn.
    pub energy_kwh: f64,
    /// VMs lost with a host or to an out-of-memory kill.
    pub vms_crashed: u64,
}

impl Report {
    /// The outcome between `earlier` (a report of the same run) and this one.
    pub fn outcome_since(&self, earlier: &Report) -> Outcome {
        Outcome {
            elapsed_s: self.simulated_s - earlier.simulated_s,
            downtime_s: self.downtime_s - earlier.downtime_s,
            packets_lost: self.packets_lost - earlier.packets_lost,
            packets_offered: self.packets_offered - earlier.packets_offered,
            qos_violation_s: self.qos_violation_s - earlier.qos_violation_s,
            migrations: self.migrations - earlier.migrations,
            energy_kwh: self.energy_kwh - earlier.energy_kwh,
            vms_crashed: self.vms_crashed - earlier.vms_crashed,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// VNF downtime and lost packets charged to one ground-truth fault (one entry of
/// [`Report::faults`]): the outages of the VNF instances it took down, from the fault until they
/// served again (or until the end of the run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultCost {
    /// Downtime of the VNF instances it took down.
    pub downtime_s: f64,
    /// Of that, the platform's detection delay (the first `recovery.detection_delay_s` of each
    /// outage).
    pub detection_s: f64,
    /// Of that, the boot of the restarted instance (the last `recovery.boot_s` of each outage).
    pub boot_s: f64,
    /// Packets lost during those outages.
    pub packets_lost: f64,
}

impl FaultCost {
    /// The rest of the downtime: waiting for a host with room (and powering one on).
    pub fn waiting_s(&self) -> f64 {
        (self.downtime_s - self.detection_s - self.boot_s).max(0.0)
    }
}

/// Where a run's VNF downtime and packet loss came from, for analysis (`promig evaluate
/// breakdown`). Kept beside the report rather than in it, so reports (and their fingerprints)
/// stay as they are. The parts add up to [`Report::downtime_s`] and [`Report::packets_lost`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// Per entry of [`Report::faults`] (same order): what its outages cost.
    pub faults: Vec<FaultCost>,
    /// Switch-over pauses of completed live migrations.
    pub migration_pause_s: f64,
    /// Packets lost during those pauses.
    pub migration_pause_lost: f64,
    /// Packets dropped by hosts whose VMs asked for more CPU than they had (surges, degradations,
    /// crowding after an evacuation).
    pub oversubscribed_lost: f64,
    /// Of those, drops on a host slowed by a planned degradation.
    pub oversubscribed_lost_degraded: f64,
    /// Of those, drops elsewhere while a surge was on one of the VNF's chains.
    pub oversubscribed_lost_surge: f64,
    /// Outages no fault record explains (none expected; kept so the parts always add up).
    pub unattributed_s: f64,
    /// Packets lost in those.
    pub unattributed_lost: f64,
}
