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
    /// Calibration profile of the migration cost model: a built-in name (`kvm`, `tcg`) or a
    /// profile TOML file relative to this file, so a scenario of a given cluster can carry that
    /// cluster's fitted constants; the simulator's default (`kvm`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
    /// The file it was read from, for errors found when the world is built.
    #[serde(skip)]
    pub source: PathBuf,
    /// Scale the chains' instance counts down to the VMs the traces offer instead of refusing
    /// (set when the traces were swapped on the command line, not written in the file).
    #[serde(skip)]
    pub fit_chains: bool,
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
    /// Only these trace files: 1-based positions `[first, last]` (inclusive) in natural
    /// file-name order (numbers compared as numbers: `2.csv` before `10.csv`), so a split can
    /// name "Bitbrains VMs 1-20" whatever order a folder lists them in. All files when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<[usize; 2]>,
    /// When `vms` asks for more VMs than the files offer, replay the files again, each copy
    /// shifted in time (so copies do not peak together): how a data centre larger than a data
    /// set is populated. When false such a scenario is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reuse_traces: bool,
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
    /// Time to power a switched-off (empty) host back on when a VM to restart fits nowhere
    /// else: IPMI power-on, firmware and hypervisor boot, nova-compute reporting in. Absent:
    /// sleeping hosts stay off and the VM waits for room.
    pub power_on_s: Option<f64>,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            detection_delay_s: 60.0,
            boot_s: 45.0,
            repair_s: Some(4.0 * 3600.0),
            power_on_s: Some(180.0),
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
                    let start = span.start.min(text.len());
                    let line = crate::toml_text::line_of(text, start);
                    (
                        line,
                        key_at(text, start)
                            .unwrap_or_else(|| crate::toml_text::key_on_line(text, line)),
                    )
                }
                None => (1, String::from("?")),
            };
            ModelError::parse(path, line, &field, e.message().replace('\n', " "))
        })?;
        file.validate(text, path)?;
        let mut file = file;
        file.source = path.to_path_buf();
        Ok(file)
    }

    /// The same scenario replaying another trace folder of another format: `--traces DIR
    /// --format F`. `workload.vms` becomes an upper bound (a smaller folder runs all it offers)
    /// and the chains are sized to the VMs there are.
    pub fn with_traces(mut self, traces: &str, format: TraceFormat) -> Self {
        self.workload.traces = traces.to_string();
        self.workload.format = format;
        self.fit_chains = true;
        self
    }

    /// Folder relative paths in the file are resolved against.
    pub fn base_dir(path: &Path) -> PathBuf {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ModelError> {
        let c = Checker::new(text, path);
        c.count("steps", self.steps as f64, 1.0, MAX_STEPS as f64)?;
        let dc = &self.datacenter;
        match &dc.topology {
            TopologyConfig::LeafSpine {
                racks,
                hosts_per_rack,
                spines,
                fabric_gbps,
            } => {
                let t = "datacenter.topology";
                c.count(
                    &format!("{t}.racks"),
                    f64::from(*racks),
                    1.0,
                    MAX_HOSTS as f64,
                )?;
                c.count(
                    &format!("{t}.hosts_per_rack"),
                    f64::from(*hosts_per_rack),
                    1.0,
                    MAX_HOSTS as f64,
                )?;
                c.count(&format!("{t}.spines"), f64::from(*spines), 1.0, 1024.0)?;
                c.count(
                    &format!("{t}.hosts_per_rack"),
                    f64::from(*racks) * f64::from(*hosts_per_rack),
                    1.0,
                    MAX_HOSTS as f64,
                )
                .map_err(|_| {
                    c.error(
                        &format!("{t}.racks"),
                        format!("racks x hosts_per_rack is over the {MAX_HOSTS} hosts supported"),
                    )
                })?;
                c.positive(&format!("{t}.fabric_gbps"), *fabric_gbps)?;
            }
            TopologyConfig::Graphml { hosts_per_site, .. } => {
                c.count(
                    "datacenter.topology.hosts_per_site",
                    f64::from(*hosts_per_site),
                    1.0,
                    MAX_HOSTS as f64,
                )?;
            }
        }
        c.positive("datacenter.host_nic_gbps", dc.host_nic_gbps)?;
        if dc.host_types.is_empty() {
            return Err(c.error(
                "datacenter.host_types",
                "at least one host type is needed".into(),
            ));
        }
        for (i, h) in dc.host_types.iter().enumerate() {
            let at = format!("datacenter.host_types[{i}]");
            h.power
                .curve()
                .map_err(|e| c.error(&format!("{at}.power"), e.to_string()))?;
            c.count(&format!("{at}.cores"), f64::from(h.cores), 1.0, 1e6)?;
            c.positive(&format!("{at}.mips_per_core"), h.mips_per_core)?;
            c.positive(&format!("{at}.memory_mib"), h.memory_mib)?;
        }
        let wl = &self.workload;
        if let Some(n) = wl.vms {
            c.count("workload.vms", n as f64, 1.0, MAX_VMS as f64)?;
        }
        if let Some([first, last]) = wl.files {
            c.count("workload.files", first as f64, 1.0, MAX_VMS as f64)?;
            if last < first {
                return Err(c.error(
                    "workload.files",
                    format!("[{first}, {last}]: the last file comes before the first"),
                ));
            }
        }
        if wl.vm_types.is_empty() {
            return Err(c.error("workload.vm_types", "at least one VM type is needed".into()));
        }
        for (i, v) in wl.vm_types.iter().enumerate() {
            let at = format!("workload.vm_types[{i}]");
            c.count(&format!("{at}.vcpus"), f64::from(v.vcpus), 1.0, 1e6)?;
            c.positive(&format!("{at}.mips_per_vcpu"), v.mips_per_vcpu)?;
            c.positive(&format!("{at}.memory_mib"), v.memory_mib)?;
        }
        for (ci, chain) in self.chains.iter().enumerate() {
            for (vi, v) in chain.vnfs.iter().enumerate() {
                let at = format!("chains[{ci}].vnfs[{vi}]");
                c.count(
                    &format!("{at}.instances"),
                    f64::from(v.instances),
                    1.0,
                    MAX_VMS as f64,
                )?;
                c.non_negative(&format!("{at}.packets_per_s"), v.packets_per_s)?;
                c.non_negative(&format!("{at}.base_latency_ms"), v.base_latency_ms)?;
                c.non_negative(&format!("{at}.qos.max_downtime_ms"), v.qos.max_downtime_ms)?;
                c.fraction(&format!("{at}.qos.max_loss_rate"), v.qos.max_loss_rate)?;
                c.positive(&format!("{at}.qos.max_latency_ms"), v.qos.max_latency_ms)?;
            }
        }
        let f = &self.faults;
        c.positive("faults.lead_time.median_s", f.lead_time.median_s)?;
        c.non_negative("faults.lead_time.sigma", f.lead_time.sigma)?;
        c.non_negative("faults.lead_time.min_s", f.lead_time.min_s)?;
        c.non_negative("faults.leak_mib_per_min", f.leak_mib_per_min)?;
        c.fraction("faults.degradation_capacity", f.degradation_capacity)?;
        c.non_negative("faults.degradation_s", f.degradation_s)?;
        c.fraction("faults.surge_level", f.surge_level)?;
        c.positive("faults.surge_ramp_s", f.surge_ramp_s)?;
        c.non_negative("faults.surge_hold_s", f.surge_hold_s)?;
        c.fraction(
            "faults.rack_failure_silent_share",
            f.rack_failure_silent_share,
        )?;
        if let Some(r) = &f.replay {
            c.positive("faults.replay.time_scale", r.time_scale)?;
        }
        let p = &f.precursors;
        c.fraction(
            "faults.precursors.silent_failure_share",
            p.silent_failure_share,
        )?;
        c.fraction(
            "faults.precursors.background_host_share",
            p.background_host_share,
        )?;
        c.positive(
            "faults.precursors.background_scale_per_h",
            p.background_scale_per_h,
        )?;
        c.positive("faults.precursors.background_shape", p.background_shape)?;
        c.positive("faults.precursors.peak_median_per_h", p.peak_median_per_h)?;
        c.non_negative("faults.precursors.peak_sigma", p.peak_sigma)?;
        c.non_negative("faults.precursors.heating_c", p.heating_c)?;
        let r = &self.recovery;
        c.non_negative("recovery.detection_delay_s", r.detection_delay_s)?;
        c.non_negative("recovery.boot_s", r.boot_s)?;
        if let Some(repair) = r.repair_s {
            c.non_negative("recovery.repair_s", repair)?;
        }
        if let Some(power_on) = r.power_on_s {
            c.non_negative("recovery.power_on_s", power_on)?;
        }
        Ok(())
    }
}

/// Most hosts a scenario may describe: far above any PoP, low enough that a typo (`racks =
/// 4294967295`) is an error, not an attempt to allocate terabytes.
pub const MAX_HOSTS: usize = 1_000_000;
/// Most VMs a scenario may ask for.
pub const MAX_VMS: usize = 10_000_000;
/// Most 5-minute steps (about 9.5 years).
pub const MAX_STEPS: usize = 1_000_000;

/// Checks numbers of a parsed scenario and names the exact line and key of a bad one, found in
/// the document's spans (so the second host type's field is reported at its own line, and a
/// key written inline in `{ ... }` at the line it is on).
struct Checker<'t> {
    text: &'t str,
    path: &'t Path,
    doc: Option<toml::Spanned<toml::de::DeTable<'t>>>,
}

impl<'t> Checker<'t> {
    fn new(text: &'t str, path: &'t Path) -> Self {
        Checker {
            text,
            path,
            doc: toml::de::DeTable::parse(text).ok(),
        }
    }

    /// Line of the deepest part of `dotted` (`a.b[2].c`) written in the file; a key left to its
    /// default is reported where its table is.
    fn line(&self, dotted: &str) -> usize {
        let Some(doc) = &self.doc else { return 1 };
        let mut offset = doc.span().start;
        let mut table = Some(doc.get_ref());
        for part in dotted.split('.') {
            let (key, index) = match part.split_once('[') {
                Some((k, i)) => (k, i.trim_end_matches(']').parse::<usize>().ok()),
                None => (part, None),
            };
            let Some(t) = table else { break };
            let Some((k, v)) = t.iter().find(|(k, _)| k.get_ref().as_ref() == key) else {
                break;
            };
            offset = k.span().start;
            let mut value = v;
            if let Some(i) = index {
                let toml::de::DeValue::Array(items) = v.get_ref() else {
                    break;
                };
                let Some(item) = items.get(i) else { break };
                offset = item.span().start;
                value = item;
            }
            table = match value.get_ref() {
                toml::de::DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn error(&self, dotted: &str, message: String) -> ModelError {
        let field = dotted.rsplit('.').next().unwrap_or(dotted);
        let field = field.split('[').next().unwrap_or(field);
        ModelError::parse(
            self.path,
            self.line(dotted),
            field,
            format!("{dotted}: {message}"),
        )
    }

    fn check(&self, dotted: &str, x: f64, ok: bool, what: &str) -> Result<(), ModelError> {
        if ok && x.is_finite() {
            Ok(())
        } else {
            Err(self.error(dotted, format!("must be {what}, got {x}")))
        }
    }

    fn positive(&self, dotted: &str, x: f64) -> Result<(), ModelError> {
        self.check(dotted, x, x > 0.0 && x < 1e15, "a positive number")
    }

    fn non_negative(&self, dotted: &str, x: f64) -> Result<(), ModelError> {
        self.check(dotted, x, (0.0..1e15).contains(&x), "a non-negative number")
    }

    fn fraction(&self, dotted: &str, x: f64) -> Result<(), ModelError> {
        self.check(dotted, x, (0.0..=1.0).contains(&x), "in 0..=1")
    }

    fn count(&self, dotted: &str, x: f64, min: f64, max: f64) -> Result<(), ModelError> {
        self.check(
            dotted,
            x,
            (min..=max).contains(&x),
            &format!("in {min}..={max}"),
        )
    }
}

/// The key an error span points at: the key itself (`key = ...` starting there) or the key whose
/// value starts there (`key = <span>`), so errors inside an inline table name the right one.
fn key_at(text: &str, start: usize) -> Option<String> {
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let here: String = text[start..].chars().take_while(|&c| is_key(c)).collect();
    if !here.is_empty() && text[start + here.len()..].trim_start().starts_with('=') {
        return Some(here);
    }
    let before = text[..start].trim_end();
    let before = before.strip_suffix('=')?.trim_end();
    let key: String = before
        .chars()
        .rev()
        .take_while(|&c| is_key(c))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!key.is_empty()).then_some(key)
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

    fn error_of(text: &str) -> String {
        ScenarioFile::parse(text, Path::new("s.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn nan_infinite_negative_and_huge_numbers_are_refused_at_their_line() {
        for (from, to, line, field) in [
            ("fabric_gbps = 40", "fabric_gbps = -5", 4, "fabric_gbps"),
            ("fabric_gbps = 40", "fabric_gbps = 0", 4, "fabric_gbps"),
            ("fabric_gbps = 40", "fabric_gbps = nan", 4, "fabric_gbps"),
            ("racks = 2", "racks = 4294967295", 4, "racks"),
            (
                "mips_per_core = 2660",
                "mips_per_core = inf",
                7,
                "mips_per_core",
            ),
            ("memory_mib = 4096", "memory_mib = -4096", 8, "memory_mib"),
            ("memory_mib = 1024", "memory_mib = nan", 16, "memory_mib"),
            (
                "mips_per_vcpu = 1000",
                "mips_per_vcpu = -1",
                15,
                "mips_per_vcpu",
            ),
        ] {
            let e = error_of(&MINIMAL.replace(from, to));
            assert!(
                e.contains(&format!("s.toml:{line}: field `{field}`")),
                "{to}: {e}"
            );
        }
        for (extra, field) in [("steps = 0\n", "steps"), ("steps = 1000000000\n", "steps")] {
            let e = error_of(&format!("{extra}{MINIMAL}"));
            assert!(e.contains(&format!("s.toml:1: field `{field}`")), "{e}");
        }
        for (section, field) in [
            ("[recovery]\ndetection_delay_s = -60\n", "detection_delay_s"),
            ("[recovery]\nboot_s = nan\n", "boot_s"),
            ("[faults]\nleak_mib_per_min = -1\n", "leak_mib_per_min"),
            (
                "[faults.lead_time]\nmedian_s = 0\nsigma = 0.5\nmin_s = 1\n",
                "median_s",
            ),
        ] {
            let e = error_of(&format!("{MINIMAL}{section}"));
            assert!(e.contains(&format!("field `{field}`")), "{section}: {e}");
            assert!(!e.contains(":1: "), "{section} reported at line 1: {e}");
        }
    }

    #[test]
    fn errors_point_at_the_right_entry_and_key() {
        // A second host type's bad field is reported at its own line, not the first one's.
        let two = format!(
            "{MINIMAL}[[datacenter.host_types]]\ncores = 4\nmips_per_core = -1\nmemory_mib = 8\npower = \"hp-ml110-g4\"\n"
        );
        let line = two.lines().position(|l| l == "mips_per_core = -1").unwrap() + 1;
        let e = error_of(&two);
        assert!(
            e.contains(&format!("s.toml:{line}: field `mips_per_core`")),
            "{e}"
        );
        assert!(e.contains("host_types[1]"), "{e}");
        // A VNF written inline: the line it is on, and the key at fault.
        let inline = format!(
            "{MINIMAL}[[chains]]\nname = \"c\"\nvnfs = [\n  {{ name = \"fw\", packets_per_s = 100 }},\n  {{ name = \"lb\", packets_per_s = -3 }},\n]\n"
        );
        let line = inline.lines().position(|l| l.contains("\"lb\"")).unwrap() + 1;
        let e = error_of(&inline);
        assert!(
            e.contains(&format!("s.toml:{line}: field `packets_per_s`")),
            "{e}"
        );
        // A wrong type inside an inline table names that key, not the first on the line.
        let typed = inline.replace("packets_per_s = -3", "packets_per_s = \"x\"");
        let e = error_of(&typed);
        assert!(
            e.contains(&format!("s.toml:{line}: field `packets_per_s`")),
            "{e}"
        );
    }
}
