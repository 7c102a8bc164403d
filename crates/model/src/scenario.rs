//! The scenario file: a whole data centre, its workload, VNFs and faults in one TOML document.
//!
//! Parsing is strict (`deny_unknown_fields`) because a misspelt key silently falling back to a
//! default would make a simulation answer a different question than the user asked.

use crate::error::ModelError;
use crate::fault::FaultsConfig;
use crate::power::PowerCurve;
use crate::trace::TraceFormat;
use crate::vnf::Qos;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Top level of a scenario TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Shown in reports.
    pub name: String,
    /// Seed for everything random (fault draws, random selection policies).
    #[serde(default)]
    pub seed: u64,
    /// Number of 5-minute trace steps to simulate (288 = one day).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Hosts and network.
    pub datacenter: DatacenterConfig,
    /// VMs and the traces they replay.
    pub workload: WorkloadConfig,
    /// Service chains, each a list of VNFs with their QoS contract.
    #[serde(default)]
    pub chains: Vec<ChainConfig>,
    /// Faults to inject.
    #[serde(default)]
    pub faults: FaultsConfig,
    /// How the platform recovers VMs of a crashed host.
    #[serde(default)]
    pub recovery: RecoveryConfig,
}

fn default_steps() -> usize {
    288
}

/// Network shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
pub enum TopologyConfig {
    /// Generated leaf-spine fabric.
    LeafSpine {
        /// Racks (leaf switches).
        racks: u32,
        /// Hosts per rack.
        hosts_per_rack: u32,
        /// Spine switches.
        spines: u32,
        /// Leaf-to-spine link rate.
        fabric_gbps: f64,
    },
    /// A real wide-area topology from the Topology Zoo, hosts spread over its sites.
    Graphml {
        /// The GraphML file.
        file: String,
        /// Hosts per site.
        hosts_per_site: u32,
    },
}

/// Hosts and network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatacenterConfig {
    /// Shape of the network.
    pub topology: TopologyConfig,
    /// Host NIC rate.
    #[serde(default = "default_nic")]
    pub host_nic_gbps: f64,
    /// Host models; host `i` gets type `i mod len` (CloudSim's convention).
    pub host_types: Vec<HostTypeConfig>,
}

fn default_nic() -> f64 {
    10.0
}

/// One host model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostTypeConfig {
    /// Physical cores.
    pub cores: u32,
    /// MIPS per core.
    pub mips_per_core: f64,
    /// Memory.
    pub memory_mib: f64,
    /// `hp-ml110-g4`, `hp-ml110-g5`, or 11 explicit wattages at 0..100 % load.
    pub power: PowerConfig,
}

/// A named SPECpower curve or explicit points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PowerConfig {
    /// `hp-ml110-g4` or `hp-ml110-g5`.
    Named(String),
    /// Watts at 0, 10, ..., 100 %.
    Points(Vec<f64>),
}

impl PowerConfig {
    /// Resolves to a curve, or explains why it cannot.
    pub fn curve(&self) -> Result<PowerCurve, PowerCurveError> {
        match self {
            PowerConfig::Named(n) => match n.as_str() {
                "hp-ml110-g4" => Ok(PowerCurve::HP_ML110_G4),
                "hp-ml110-g5" => Ok(PowerCurve::HP_ML110_G5),
                other => Err(PowerCurveError::UnknownName(other.to_string())),
            },
            PowerConfig::Points(p) => {
                let watts: [f64; 11] = p
                    .as_slice()
                    .try_into()
                    .map_err(|_| PowerCurveError::WrongLength(p.len()))?;
                if watts.iter().any(|w| !w.is_finite() || *w < 0.0) {
                    return Err(PowerCurveError::BadWattage);
                }
                Ok(PowerCurve { watts })
            }
        }
    }
}

/// Why a scenario's power curve cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PowerCurveError {
    /// Not one of the built-in curves.
    #[error("unknown power curve {0:?} (known: hp-ml110-g4, hp-ml110-g5)")]
    UnknownName(String),
    /// A measured curve needs one wattage per 10 % of load.
    #[error("needs 11 points (0..100 % in steps of 10), got {0}")]
    WrongLength(usize),
    /// A wattage is NaN, infinite or negative.
    #[error("wattages must be finite and non-negative")]
    BadWattage,
}

/// VMs and the traces they replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Folder of trace files (relative paths are taken from the scenario file's folder).
    pub traces: String,
    /// Format of that folder.
    pub format: TraceFormat,
    /// How many VMs (one per trace file, in file-name order); all files when absent.
    pub vms: Option<usize>,
    /// VM sizes, assigned in contiguous blocks like CloudSim (VM i gets type i / ceil(n / types)).
    pub vm_types: Vec<VmTypeConfig>,
}

/// One VM size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmTypeConfig {
    /// vCPUs.
    pub vcpus: u32,
    /// MIPS per vCPU.
    pub mips_per_vcpu: f64,
    /// Memory.
    pub memory_mib: f64,
}

/// A service chain in the scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Chain name.
    pub name: String,
    /// Member VNFs in traffic order.
    pub vnfs: Vec<VnfConfig>,
}

/// A VNF in the scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnfConfig {
    /// Function name (firewall, lb, pgw...).
    pub name: String,
    /// VM instances running it; taken from the workload's VMs in order.
    #[serde(default = "one_u32")]
    pub instances: u32,
    /// Packets per second per instance at full load.
    pub packets_per_s: f64,
    /// Latency through an idle instance.
    #[serde(default = "default_base_latency")]
    pub base_latency_ms: f64,
    /// Its contract.
    #[serde(default)]
    pub qos: Qos,
}

fn one_u32() -> u32 {
    1
}
fn default_base_latency() -> f64 {
    0.5
}

/// Nova/Masakari-style evacuation after a host crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// Time until the platform notices the crash (heartbeat timeout).
    pub detection_delay_s: f64,
    /// Time for a VM to boot and its VNF to serve again on the new host.
    pub boot_s: f64,
    /// Time until a crashed host is repaired and usable again (never, when absent).
    pub repair_s: Option<f64>,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            detection_delay_s: 60.0,
            boot_s: 45.0,
            repair_s: Some(4.0 * 3600.0),
        }
    }
}

impl ScenarioFile {
    /// Reads and validates a scenario file; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses scenario text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ModelError> {
        let file: ScenarioFile = toml::from_str(text).map_err(|e| {
            let (line, field) = match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    (line, key_on_line(text, line))
                }
                None => (1, String::from("?")),
            };
            ModelError::parse(path, line, &field, e.message().replace('\n', " "))
        })?;
        file.validate(text, path)?;
        Ok(file)
    }

    /// Folder relative paths in the file are resolved against.
    pub fn base_dir(path: &Path) -> PathBuf {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ModelError> {
        let err = |field: &str, msg: String| {
            ModelError::parse(path, line_of_key(text, field), field, msg)
        };
        if self.steps == 0 {
            return Err(err("steps", "must be at least 1".into()));
        }
        if self.datacenter.host_types.is_empty() {
            return Err(err("host_types", "at least one host type is needed".into()));
        }
        for h in &self.datacenter.host_types {
            h.power.curve().map_err(|e| err("power", e.to_string()))?;
            if h.cores == 0 || h.mips_per_core <= 0.0 || h.memory_mib <= 0.0 {
                return Err(err(
                    "cores",
                    "host cores, mips_per_core and memory_mib must be positive".into(),
                ));
            }
        }
        if self.datacenter.host_nic_gbps <= 0.0 {
            return Err(err("host_nic_gbps", "must be positive".into()));
        }
        if self.workload.vm_types.is_empty() {
            return Err(err("vm_types", "at least one VM type is needed".into()));
        }
        for v in &self.workload.vm_types {
            if v.vcpus == 0 || v.mips_per_vcpu <= 0.0 || v.memory_mib <= 0.0 {
                return Err(err(
                    "vcpus",
                    "VM vcpus, mips_per_vcpu and memory_mib must be positive".into(),
                ));
            }
        }
        if self.workload.vms == Some(0) {
            return Err(err("vms", "must be at least 1".into()));
        }
        for c in &self.chains {
            for v in &c.vnfs {
                if v.packets_per_s < 0.0 || !v.packets_per_s.is_finite() {
                    return Err(err(
                        "packets_per_s",
                        format!("VNF {:?}: must be a non-negative number", v.name),
                    ));
                }
                if v.qos.max_loss_rate < 0.0 || v.qos.max_loss_rate > 1.0 {
                    return Err(err(
                        "max_loss_rate",
                        format!("VNF {:?}: must be in 0..=1", v.name),
                    ));
                }
            }
        }
        let f = &self.faults;
        if !(0.0..=1.0).contains(&f.degradation_capacity) {
            return Err(err("degradation_capacity", "must be in 0..=1".into()));
        }
        if !(0.0..=1.0).contains(&f.surge_level) {
            return Err(err("surge_level", "must be in 0..=1".into()));
        }
        if !(f.surge_ramp_s > 0.0 && f.surge_hold_s >= 0.0) {
            return Err(err(
                "surge_ramp_s",
                "surge ramp must be positive and hold non-negative".into(),
            ));
        }
        if f.lead_time.median_s <= 0.0 || f.lead_time.sigma < 0.0 {
            return Err(err(
                "median_s",
                "lead time median must be positive and sigma non-negative".into(),
            ));
        }
        Ok(())
    }
}

/// The key assigned on a 1-based line (`key = ...`), for error messages.
fn key_on_line(text: &str, line: usize) -> String {
    let l = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    match l.split_once('=') {
        Some((k, _)) => k.trim().trim_matches('"').to_string(),
        None => l.trim().trim_matches(|c| c == '[' || c == ']').to_string(),
    }
}

/// First line on which `key` is assigned (1 when it is not written, i.e. a default was used).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(key) && l[key.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
[datacenter]
topology = { kind = "leaf-spine", racks = 2, hosts_per_rack = 2, spines = 1, fabric_gbps = 40 }
[[datacenter.host_types]]
cores = 2
mips_per_core = 2660
memory_mib = 4096
power = "hp-ml110-g5"
[workload]
traces = "x"
format = "planetlab"
[[workload.vm_types]]
vcpus = 1
mips_per_vcpu = 1000
memory_mib = 1024
"#;

    #[test]
    fn minimal_parses() {
        let s = ScenarioFile::parse(MINIMAL, Path::new("s.toml")).unwrap();
        assert_eq!(s.steps, 288);
    }

    #[test]
    fn unknown_key_is_named_with_line() {
        let bad = MINIMAL.replace("memory_mib = 4096", "memory_mb = 4096");
        let e = ScenarioFile::parse(&bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml:"), "{e}");
        assert!(e.contains("memory_mb"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    #[test]
    fn wrong_type_names_line_and_field() {
        let bad = MINIMAL.replace("cores = 2", "cores = \"two\"");
        let e = ScenarioFile::parse(&bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.toml:6: field `cores`"), "{e}");
    }

    #[test]
    fn semantic_error_names_field() {
        let bad = MINIMAL.replace("\"hp-ml110-g5\"", "\"toaster\"");
        let e = ScenarioFile::parse(&bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.toml:9: field `power`") && e.contains("toaster"),
            "{e}"
        );
    }
}
