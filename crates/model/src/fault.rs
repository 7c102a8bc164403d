//! Faults the simulator injects, and the ground truth it records about them.
//!
//! Each fault carries the cause the project's brief names, so a predictor can be scored per cause
//! later: hardware failures (with precursors and false alarms), overload, memory shortage and
//! response-time degradation.

use serde::{Deserialize, Serialize};

/// Why a host or VM broke (or looked as if it would).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultCause {
    /// The host crashes; precursors (corrected memory errors, temperature drift) appear before.
    HardwareFailure,
    /// Precursors that were not followed by a crash.
    FalseAlarm,
    /// Trace demand above the host's CPU capacity.
    Overload,
    /// VM memory growth (a leak) until the host runs out.
    MemoryShortage,
    /// Service latency above the VNF's bound because the host slowed down.
    ResponseDegradation,
}

/// Ground truth about one fault, written by the simulator as it happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// What kind of fault.
    pub cause: FaultCause,
    /// The host concerned.
    pub host: usize,
    /// The VM concerned, for VM-level faults such as a leak.
    pub vm: Option<usize>,
    /// When the first warning sign became observable (precursor start, leak start...).
    pub onset_s: f64,
    /// When the fault struck (crash, out-of-memory kill, first breach); `None` for false alarms.
    pub strike_s: Option<f64>,
    /// VMs with a VNF that were still on the host when it struck.
    pub vnf_vms_hit: u32,
    /// All VMs still on the host when it struck (0 means it was evacuated in time).
    pub vms_hit: u32,
    /// A hardware failure that gave no precursor at all (no predictor could have seen it coming);
    /// left out of the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silent: bool,
}

/// Lead time of hardware-failure precursors: drawn log-normally, as field studies of corrected
/// memory errors before DIMM failures report a long tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadTime {
    /// Median lead time.
    pub median_s: f64,
    /// Shape (sigma of the underlying normal).
    pub sigma: f64,
    /// Floor, so a precursor is at least one sample long.
    pub min_s: f64,
}

impl Default for LeadTime {
    fn default() -> Self {
        LeadTime {
            median_s: 3600.0,
            sigma: 0.6,
            min_s: 600.0,
        }
    }
}

/// Real failure times replayed from the disk-failure logs in `shared/data/disk-failures/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureReplay {
    /// CSV file (Alpine or Campaign format).
    pub file: String,
    /// Log time (ISO date, `YYYY-MM-DD`) that maps to the start of the simulation.
    pub start: String,
    /// Log seconds per simulated second; > 1 compresses a long log into one simulated day.
    #[serde(default = "one")]
    pub time_scale: f64,
}

fn one() -> f64 {
    1.0
}

/// How many faults of each kind to inject, and their parameters. Which hosts and when is drawn
/// from the scenario's seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// Hosts that crash during the run (with precursors).
    pub hardware_failures: u32,
    /// Hosts that show precursors but do not crash.
    pub false_alarms: u32,
    /// Lead-time distribution of precursors.
    pub lead_time: LeadTime,
    /// VMs that leak memory.
    pub memory_leaks: u32,
    /// Leak rate.
    pub leak_mib_per_min: f64,
    /// Hosts whose speed drops for a while (thermal throttling, a noisy neighbour, a failing disk).
    pub degradations: u32,
    /// Fraction of CPU capacity left while degraded.
    pub degradation_capacity: f64,
    /// How long a degradation lasts.
    pub degradation_s: f64,
    /// Traffic surges (flash crowds, signalling storms): one VNF's instances ramp towards
    /// saturation and back, the way NFV overloads build up over tens of minutes.
    pub surges: u32,
    /// Mean time for a surge to build up (each surge draws 0.5x to 1.5x of it).
    pub surge_ramp_s: f64,
    /// Mean time a surge stays at its peak (each surge draws 0.5x to 1.5x of it).
    pub surge_hold_s: f64,
    /// Utilisation of each surging VM's vCPUs at the peak (0..=1).
    pub surge_level: f64,
    /// Correlated failures: a rack's power distribution or top-of-rack switch fails and every
    /// host of the rack goes down at the same instant (a site, on a Topology Zoo network). Each
    /// event shares one precursor among its hosts (one lead time, one loudness), since the hosts
    /// see the same failing part.
    pub rack_failures: u32,
    /// Share of rack failures that give no precursor at all (a switch or PDU that dies
    /// outright).
    pub rack_failure_silent_share: f64,
    /// Crash times replayed from a real log instead of drawn (in addition to `hardware_failures`).
    pub replay: Option<FailureReplay>,
    /// How corrected memory errors and temperature behave, on failing and on healthy hosts.
    pub precursors: PrecursorConfig,
}

/// Corrected-error (CE) and temperature signals, calibrated to field studies rather than made
/// easy: some failures give no warning, healthy hosts log CEs with a heavy tail, and a failing
/// DIMM's CE rate varies widely. Sources, for each default:
///
/// - Schroeder, Pinheiro & Weber, "DRAM Errors in the Wild", SIGMETRICS 2009 (Google's fleet,
///   2.5 years): about a third of machines and over 8 % of DIMMs see correctable errors in a
///   year; errors are strongly concentrated (about 20 % of the machines with errors produce about
///   90 % of them); temperature has a surprisingly small effect in the field.
/// - Yu, Zhang, Cardoso & Kao, "Exploring Error Bits for Memory Failure Prediction", 2023
///   (Huawei's fleet): the best CE-based predictor they report avoids about 59 % of the VM
///   interruptions uncorrectable errors cause, i.e. about 4 in 10 are not foreseen from CEs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrecursorConfig {
    /// Share of hardware failures that come without any CE precursor (Yu et al.: about 41 % of
    /// UE interruptions escape the best CE-based predictor).
    pub silent_failure_share: f64,
    /// Share of healthy hosts that log CEs all day (between Schroeder et al.'s 8 % of DIMMs and
    /// a third of machines per year; errors recur on the same machine).
    pub background_host_share: f64,
    /// Scale (smallest rate) of a healthy host's CE rate, per hour: a Pareto distribution.
    pub background_scale_per_h: f64,
    /// Shape of that Pareto distribution: 1.07 puts about 90 % of the errors on the top 20 % of
    /// the hosts that have any (Schroeder et al.).
    pub background_shape: f64,
    /// Median peak CE rate, per hour, of a failing host's precursor (log-normal across failures).
    pub peak_median_per_h: f64,
    /// Spread of that peak (sigma of the log): some failing DIMMs log a few errors, some hundreds.
    pub peak_sigma: f64,
    /// Warming of a failing host by its crash, degrees Celsius (small: Schroeder et al. find
    /// little temperature effect in the field).
    pub heating_c: f64,
}

impl Default for PrecursorConfig {
    fn default() -> Self {
        PrecursorConfig {
            silent_failure_share: 0.4,
            background_host_share: 0.1,
            background_scale_per_h: 0.5,
            background_shape: 1.07,
            peak_median_per_h: 40.0,
            peak_sigma: 1.0,
            heating_c: 2.0,
        }
    }
}

impl Default for FaultsConfig {
    fn default() -> Self {
        FaultsConfig {
            hardware_failures: 0,
            false_alarms: 0,
            lead_time: LeadTime::default(),
            memory_leaks: 0,
            leak_mib_per_min: 20.0,
            degradations: 0,
            degradation_capacity: 0.5,
            degradation_s: 2.0 * 3600.0,
            surges: 0,
            surge_ramp_s: 1800.0,
            surge_hold_s: 3600.0,
            surge_level: 0.95,
            rack_failures: 0,
            rack_failure_silent_share: 0.4,
            replay: None,
            precursors: PrecursorConfig::default(),
        }
    }
}
