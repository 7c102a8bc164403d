//! What the predict and decide stages see: a snapshot of the data centre at one decision point.
//!
//! The same struct is filled by the simulator, by the controller from live telemetry, and is the RL
//! agent's state, so it already carries what those need (topology-level figures, QoS contracts,
//! predicted risk) even where today's baselines ignore them. It sits in `model`, below both
//! `predict` and `policy`, because the pipeline runs predict -> decide and both read it.

use crate::{PowerCurve, Qos};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A host's identity that outlives its position in a vector: the controller maps a real host name
/// to it once, and a decision, a journal entry or an API call names the host by it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct HostId(pub u32);

/// A VM's identity that outlives its position in a vector (see [`HostId`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct VmId(pub u32);

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host#{}", self.0)
    }
}

impl fmt::Display for VmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vm#{}", self.0)
    }
}

/// Utilisation samples kept per VM (CloudSim keeps 30 for its overload detectors).
pub const HISTORY_LEN: usize = 30;

/// One host at the decision point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    /// Stable identity (the index below may change when an inventory is reloaded; this does not).
    pub id: HostId,
    /// Host model (index into the scenario's host types); hosts of one type are interchangeable.
    pub type_id: usize,
    /// Up, or crashed / under repair.
    pub up: bool,
    /// Physical cores.
    pub cores: u32,
    /// Capacity of one core.
    pub mips_per_core: f64,
    /// Usable CPU capacity now (lower than nominal while degraded).
    pub total_mips: f64,
    /// Nominal capacity of this type, to tell a degraded host from a healthy one.
    pub nominal_mips: f64,
    /// Installed memory.
    pub memory_mib: f64,
    /// Memory reserved by resident and incoming VMs.
    pub memory_reserved_mib: f64,
    /// Physical memory (placement may overcommit `memory_mib` beyond it; use cannot).
    pub physical_memory_mib: f64,
    /// NIC capacity that VM reservations draw from.
    pub nic_bps: f64,
    /// Power curve.
    pub power: PowerCurve,
    /// Rack or site.
    pub rack: u32,
    /// CPU utilisation actually delivered at the last update, in [0, 1] (0 = switched off).
    pub utilization: f64,
    /// Sum of the current CPU requests of its VMs.
    pub requested_mips: f64,
    /// Resident VMs (including those migrating out), in arrival order.
    pub vms: Vec<usize>,
    /// VMs migrating in.
    pub migrating_in: Vec<usize>,
    /// Precursor signal: corrected memory errors per hour.
    pub corrected_errors_per_h: f64,
    /// Precursor signal: inlet-to-CPU temperature in degrees Celsius.
    pub temperature_c: f64,
    /// Mean response time a VNF on this host sees now (queueing model).
    pub latency_ms: f64,
}

/// One VM at the decision point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmView {
    /// Stable identity (see [`HostView::id`]).
    pub id: VmId,
    /// Host it runs on; `None` while down (crashed host, waiting for restart).
    pub host: Option<usize>,
    /// A migration of this VM is in flight.
    pub in_migration: bool,
    /// The VM is (re)starting on `host` after a crash: it serves nothing yet and cannot be
    /// live-migrated until it runs (absent in older snapshots: running).
    #[serde(default)]
    pub booting: bool,
    /// vCPUs.
    pub vcpus: u32,
    /// MIPS of one vCPU.
    pub mips_per_vcpu: f64,
    /// Configured memory (what a migration copies).
    pub memory_mib: f64,
    /// Memory this VM reserves on a host (0 in CloudSim mode once running: CloudSim's RAM request
    /// drops to zero after instantiation, so RAM never constrains its migrations).
    pub memory_reserved_mib: f64,
    /// NIC bandwidth this VM reserves on a host (CloudSim reserves it only while instantiating).
    pub nic_reserved_bps: f64,
    /// Memory in use now (grows with a leak).
    pub memory_used_mib: f64,
    /// CPU requested now.
    pub requested_mips: f64,
    /// CPU granted now by its host's scheduler.
    pub allocated_mips: f64,
    /// Past utilisation (fraction of capacity), most recent first; `history_len` entries are valid.
    pub history: [f64; HISTORY_LEN],
    /// Number of valid history entries.
    pub history_len: usize,
    /// Pages dirtied per second (drives migration cost).
    pub dirty_pages_per_s: f64,
    /// VNF it runs, if any.
    pub vnf: Option<usize>,
}

impl VmView {
    /// Peak CPU demand.
    pub fn total_mips(&self) -> f64 {
        self.vcpus as f64 * self.mips_per_vcpu
    }

    /// Valid history, most recent first.
    pub fn history(&self) -> &[f64] {
        &self.history[..self.history_len]
    }
}

/// A predictor's view of one host (filled by the predict stage; all zero without one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRisk {
    /// Probability of a failure or QoS breach within the horizon (the largest of the causes).
    pub probability: f64,
    /// Expected time left before it, when a trend gives one.
    pub time_left_s: Option<f64>,
    /// Probability of a hardware failure within the horizon.
    pub hardware: f64,
    /// Probability that CPU demand exceeds capacity within the horizon.
    pub overload: f64,
    /// Probability that memory use exceeds physical memory within the horizon.
    pub memory: f64,
    /// Probability that a VNF's latency bound is broken within the horizon (queueing model).
    pub response_time: f64,
    /// Probability of any breach within each of [`HORIZONS_S`].
    pub within: [f64; 3],
    /// CPU demand over capacity at the horizon: 90 % prediction interval (low, forecast, high),
    /// so an operator or the agent sees how sure the overload figure is.
    pub cpu_demand: [f64; 3],
    /// Memory in use over physical memory at the memory horizon: 90 % interval, as above.
    pub memory_use: [f64; 3],
}

/// Service time of a VNF packet in the observation's queueing model (M/M/1: the response time is
/// this over 1 - load), the one model the simulator's view, the predictor and the policies share.
pub const SERVICE_TIME_MS: f64 = 0.5;

/// Response time (ms) at a CPU load (demand over capacity) in the shared queueing model.
pub fn response_time_ms(load: f64) -> f64 {
    SERVICE_TIME_MS / (1.0 - load.min(0.99))
}

/// Half-width of a 90 % normal prediction interval, in standard deviations.
pub const INTERVAL_90_Z: f64 = 1.645;

/// The standard prediction horizons: 5, 15 and 30 minutes.
pub const HORIZONS_S: [f64; 3] = [300.0, 900.0, 1800.0];

/// The whole snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Simulated (or wall) time of the snapshot.
    pub time_s: f64,
    /// Length of a scheduling interval (policies that extrapolate need it).
    pub interval_s: f64,
    /// Hosts by index.
    pub hosts: Vec<HostView>,
    /// VMs by index.
    pub vms: Vec<VmView>,
    /// QoS contract of each VNF, by index.
    pub vnf_qos: Vec<Qos>,
    /// Service chains: each one's VNF indices in traffic order (an outage of any member
    /// interrupts the whole chain, so a chain member's move weighs more). Absent in older
    /// snapshots: none.
    #[serde(default)]
    pub chains: Vec<Vec<usize>>,
    /// Predicted risk per host (empty when no predictor runs).
    pub risks: Vec<HostRisk>,
    /// Bandwidth a migration out of each host can use (decides migration time).
    pub migration_bandwidth_bps: Vec<f64>,
    /// VMs are being instantiated (start of a run): requests are their full size and residents
    /// have no load yet, so overload tests are not applied while placing.
    pub instantiating: bool,
}

impl Observation {
    /// Whether VNF `vnf` belongs to a service chain.
    pub fn in_chain(&self, vnf: usize) -> bool {
        self.chains.iter().any(|c| c.contains(&vnf))
    }

    /// The strictest latency bound (ms) among the VNF instances in `vms`, None without VNFs: the
    /// bound a host's load has to respect.
    pub fn strictest_latency_ms(&self, vms: impl IntoIterator<Item = usize>) -> Option<f64> {
        vms.into_iter()
            .filter_map(|v| self.vms[v].vnf.and_then(|f| self.vnf_qos.get(f)))
            .map(|q| q.max_latency_ms)
            .reduce(f64::min)
    }
}
