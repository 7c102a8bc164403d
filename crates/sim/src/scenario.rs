//! Building a world from a scenario file, and the built-in default NFV scenario.

use crate::world::World;
use crate::{SimConfig, SimError};
use promig_model::scenario::{PowerConfig, ScenarioFile, TopologyConfig};
use promig_model::{ChainSpec, HostSpec, ModelError, Topology, TraceSet, VmSpec, VnfSpec};
use std::path::Path;

/// The built-in scenario `promig simulate` runs with no arguments.
pub const DEFAULT_SCENARIO_TOML: &str = include_str!("../scenarios/default.toml");

/// Parses the built-in scenario; its trace paths are relative to the data folder
/// ([`promig_model::data::dir`]).
pub fn default_scenario() -> Result<ScenarioFile, SimError> {
    Ok(ScenarioFile::parse(
        DEFAULT_SCENARIO_TOML,
        Path::new("<built-in default scenario>"),
    )?)
}

/// The NFV run settings for a scenario: `seed` and `steps`, and the calibration profile its
/// `calibration` key names (a built-in name, or a file relative to `base_dir`), else the default.
/// An unreadable or invalid profile is an error naming its file.
pub fn sim_config(
    file: &ScenarioFile,
    base_dir: &Path,
    seed: u64,
    steps: usize,
) -> Result<SimConfig, SimError> {
    let mut config = SimConfig::nfv(seed, steps);
    if let Some(spec) = &file.calibration {
        config.calibration = std::sync::Arc::new(promig_migrate::Profile::resolve(spec, base_dir)?);
    }
    Ok(config)
}

/// Builds the world a scenario file describes; relative paths resolve against `base_dir`.
pub fn build_world(file: &ScenarioFile, base_dir: &Path) -> Result<World, SimError> {
    let dc = &file.datacenter;
    let nic_bps = dc.host_nic_gbps * 1e9;
    let topology = match &dc.topology {
        TopologyConfig::LeafSpine {
            racks,
            hosts_per_rack,
            spines,
            fabric_gbps,
        } => Topology::leaf_spine(*racks, *hosts_per_rack, *spines, nic_bps, fabric_gbps * 1e9),
        TopologyConfig::Graphml {
            file: g,
            hosts_per_site,
        } => Topology::from_graphml(&base_dir.join(g), *hosts_per_site, nic_bps)?,
    };
    if topology.hosts() == 0 {
        return Err(SimError::Setup(format!(
            "scenario {:?} has no hosts",
            file.name
        )));
    }
    let mut hosts = Vec::with_capacity(topology.hosts());
    let mut host_type = Vec::with_capacity(topology.hosts());
    for i in 0..topology.hosts() {
        let t = i % dc.host_types.len();
        let ty = &dc.host_types[t];
        let power = match &ty.power {
            p @ (PowerConfig::Named(_) | PowerConfig::Points(_)) => p.curve()?,
        };
        hosts.push(HostSpec {
            name: topology.host_names[i].clone(),
            cores: ty.cores,
            mips_per_core: ty.mips_per_core,
            memory_mib: ty.memory_mib,
            nic_bps,
            power,
            rack: topology.host_rack[i],
            attach_node: topology.host_nodes[i].index(),
        });
        host_type.push(t);
    }
    let wl = &file.workload;
    let mut notes = topology.notes.clone();
    let trace_dir = base_dir.join(&wl.traces);
    let mut set = match wl.files {
        Some([first, last]) => TraceSet::load_range(&trace_dir, wl.format, first, last)?,
        None if wl.reuse_traces => TraceSet::load(&trace_dir, wl.format, None)?,
        None => TraceSet::load(&trace_dir, wl.format, wl.vms)?,
    };
    let offered = set.traces.len();
    if let Some(n) = wl.vms {
        if n <= offered {
            set.traces.truncate(n);
        } else if wl.reuse_traces {
            set.traces = reused(std::mem::take(&mut set.traces), n);
            notes.push(format!(
                "{} trace files of {} replayed by {n} VMs (copies shifted in time)",
                offered,
                trace_dir.display()
            ));
        } else if file.fit_chains {
            notes.push(format!(
                "{} holds {offered} trace files, fewer than the {n} VMs asked for: all of them run",
                trace_dir.display(),
            ));
        } else {
            return Err(ModelError::invalid(
                &file.source,
                format!(
                    "workload.vms = {n} but {} offers {offered} trace files (set workload.reuse_traces to replay them again)",
                    trace_dir.display(),
                ),
            )
            .into());
        }
    }
    if set.duplicates_dropped > 0 {
        notes.push(format!(
            "{} rows repeating the previous timestamp were dropped from {} (the first sample of each instant is kept)",
            set.duplicates_dropped,
            trace_dir.display()
        ));
    }
    let traces = set.traces;
    let n = traces.len();
    let per_type = n.div_ceil(wl.vm_types.len()).max(1);
    let mut vms: Vec<VmSpec> = traces
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ty = &wl.vm_types[(i / per_type).min(wl.vm_types.len() - 1)];
            VmSpec {
                name: t.name.clone(),
                vcpus: ty.vcpus,
                mips_per_vcpu: ty.mips_per_vcpu,
                memory_mib: ty.memory_mib,
                trace: i,
                vnf: None,
            }
        })
        .collect();
    // VNF instances take VMs spread evenly across the VM list (so every VM type carries VNFs).
    let mut vnfs = Vec::new();
    let mut chains = Vec::new();
    let total_instances: usize = file
        .chains
        .iter()
        .flat_map(|c| &c.vnfs)
        .map(|v| v.instances as usize)
        .sum();
    // Instances per VNF, scaled down to the VMs available when the traces were swapped.
    let mut instances: Vec<Vec<u32>> = file
        .chains
        .iter()
        .map(|c| c.vnfs.iter().map(|v| v.instances).collect())
        .collect();
    let mut total_instances = total_instances;
    if total_instances > vms.len() && file.fit_chains {
        let vnf_count: usize = instances.iter().map(Vec::len).sum();
        if vnf_count <= vms.len() {
            let scale = vms.len() as f64 / total_instances as f64;
            for n in instances.iter_mut().flatten() {
                *n = ((f64::from(*n) * scale).floor() as u32).max(1);
            }
            let scaled: usize = instances.iter().flatten().map(|&n| n as usize).sum();
            notes.push(format!(
                "the chains asked for {total_instances} VNF instances; the traces offer {} VMs, so they run {scaled}",
                vms.len()
            ));
            total_instances = scaled;
        }
    }
    if total_instances > vms.len() {
        return Err(ModelError::invalid(
            &file.source,
            format!(
                "the chains need {total_instances} VNF instances but the workload has only {} VMs \
                 (lower the chains' instances, or raise workload.vms)",
                vms.len()
            ),
        )
        .into());
    }
    let stride = vms.len().checked_div(total_instances).unwrap_or(1);
    let mut next_vm = 0;
    for (ci, c) in file.chains.iter().enumerate() {
        let mut members = Vec::new();
        for (vi, v) in c.vnfs.iter().enumerate() {
            let idx = vnfs.len();
            vnfs.push(VnfSpec {
                name: format!("{}/{}", c.name, v.name),
                qos: v.qos.clone(),
                packets_per_s: v.packets_per_s,
                base_latency_ms: v.base_latency_ms,
            });
            for _ in 0..instances[ci][vi] {
                vms[next_vm].vnf = Some(idx);
                next_vm += stride.max(1);
            }
            members.push(idx);
        }
        chains.push(ChainSpec {
            name: c.name.clone(),
            vnfs: members,
        });
    }
    Ok(World {
        name: file.name.clone(),
        hosts,
        host_type,
        vms,
        traces,
        vnfs,
        chains,
        topology,
        faults: file.faults.clone(),
        recovery: file.recovery.clone(),
        base_dir: base_dir.to_path_buf(),
        notes,
    })
}

/// `n` traces from `traces`: the originals, then copies in turn, copy `k` of a trace rotated by
/// a different share of its length (a golden-ratio stride, so no two copies of a trace start at
/// the same sample and their daily peaks fall apart). A copy keeps one day
/// ([`COPY_SAMPLES`]) from its shifted start, then replays that day: a month-long Bitbrains
/// trace copied 200 times would otherwise hold gigabytes.
/// Samples a copy of a reused trace keeps: one day of 5-minute samples.
pub const COPY_SAMPLES: usize = 288;

fn reused(traces: Vec<promig_model::Trace>, n: usize) -> Vec<promig_model::Trace> {
    let offered = traces.len();
    let mut out = traces;
    for i in offered..n {
        let (k, j) = (i / offered, i % offered);
        let mut t = out[j].clone();
        let len = t.cpu.len().max(1);
        let shift = ((k as f64 * 0.618_033_988_749_895).fract() * len as f64) as usize % len;
        t.cpu.rotate_left(shift);
        // Memory and network run beside the CPU sample for sample.
        for m in [t.memory.as_mut(), t.net_kbps.as_mut()]
            .into_iter()
            .flatten()
        {
            if m.len() == len {
                m.rotate_left(shift);
            }
        }
        for m in [Some(&mut t.cpu), t.memory.as_mut(), t.net_kbps.as_mut()]
            .into_iter()
            .flatten()
        {
            m.truncate(COPY_SAMPLES);
        }
        t.name = format!("{}~{k}", t.name);
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use promig_migrate::Profile;

    fn with_calibration(spec: &str) -> ScenarioFile {
        let text = format!("calibration = {spec:?}\n{DEFAULT_SCENARIO_TOML}");
        ScenarioFile::parse(&text, Path::new("s.toml")).unwrap()
    }

    #[test]
    fn reused_traces_are_shifted_copies() {
        let t = |name: &str| promig_model::Trace {
            name: name.into(),
            cpu: (0..10).map(|i| f64::from(i) / 10.0).collect(),
            memory: None,
            net_kbps: None,
        };
        let out = reused(vec![t("a"), t("b")], 7);
        assert_eq!(out.len(), 7);
        assert_eq!(out[0], t("a"));
        assert_eq!(out[2].name, "a~1");
        assert_ne!(out[2].cpu, out[0].cpu, "a copy is shifted");
        assert_ne!(out[4].cpu, out[2].cpu, "copies start at different samples");
        let mut sorted = out[2].cpu.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted, out[0].cpu, "a copy replays the same samples");
    }

    #[test]
    fn the_scenario_names_its_calibration_profile() {
        let none = default_scenario().unwrap();
        assert_eq!(none.calibration, None);
        let c = sim_config(&none, Path::new("."), 1, 2).unwrap();
        assert_eq!((c.seed, c.steps), (1, 2));
        assert_eq!(*c.calibration, Profile::kvm());
        let c = sim_config(&with_calibration("tcg"), Path::new("."), 1, 2).unwrap();
        assert_eq!(*c.calibration, Profile::tcg());

        // A file is looked for beside the scenario.
        let dir = std::env::temp_dir().join(format!("promig-sim-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut mine = Profile::tcg();
        mine.name = "mine".into();
        std::fs::write(dir.join("mine.toml"), mine.to_toml()).unwrap();
        let c = sim_config(&with_calibration("mine.toml"), &dir, 1, 2).unwrap();
        assert_eq!(c.calibration.name, "mine");
        let e = sim_config(&with_calibration("gone.toml"), &dir, 1, 2).unwrap_err();
        assert!(
            e.to_string()
                .contains(&dir.join("gone.toml").display().to_string()),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
