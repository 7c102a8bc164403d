//! CloudSim 3.0.3's PlanetLab power experiment as a world: 800 hosts (HP ML110 G4/G5 alternating),
//! one VM per trace file with four VM types in contiguous blocks, 1 Gbit/s everywhere.

use crate::SimError;
use crate::world::World;
use promig_model::fault::FaultsConfig;
use promig_model::scenario::RecoveryConfig;
use promig_model::trace::{FileOrder, TraceFormat};
use promig_model::{HostSpec, PowerCurve, Topology, TraceSet, VmSpec};
use std::path::Path;

/// Hosts in CloudSim's PlanetLab experiment.
pub const HOSTS: usize = 800;
/// VM types: (MIPS, RAM MB).
pub const VM_TYPES: [(f64, f64); 4] = [
    (2500.0, 870.0),
    (2000.0, 1740.0),
    (1000.0, 1740.0),
    (500.0, 613.0),
];

/// The order CloudSim's `File.listFiles()` gave the files of each PlanetLab day on the file
/// system that reproduced its published table, recorded once (`cloudsim-order/DAY.txt`): VM i
/// gets type i / ceil(n/4) by position, so the figures depend on it, and a recorded order makes
/// them the same on every machine.
const RECORDED_ORDERS: [(&str, &str); 5] = [
    ("20110303", include_str!("../cloudsim-order/20110303.txt")),
    ("20110306", include_str!("../cloudsim-order/20110306.txt")),
    ("20110309", include_str!("../cloudsim-order/20110309.txt")),
    ("20110322", include_str!("../cloudsim-order/20110322.txt")),
    ("20110325", include_str!("../cloudsim-order/20110325.txt")),
];

/// Builds the world for one PlanetLab day folder (`hosts` overrides the host count, for scaling).
/// Files become VMs in CloudSim's order: the recorded one for the five published days, else the
/// order the file system lists them in (as `File.listFiles()` would; a note says so).
pub fn planetlab_world(day_dir: &Path, hosts: usize) -> Result<World, SimError> {
    let day = day_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match RECORDED_ORDERS.iter().find(|(d, _)| *d == day) {
        Some((_, order)) => {
            let names: Vec<&str> = order.lines().filter(|l| !l.is_empty()).collect();
            let set = TraceSet::load_listed(day_dir, TraceFormat::Planetlab, &names)?;
            world_from_day(day_dir, set, hosts)
        }
        None => {
            let mut w = planetlab_world_ordered(day_dir, hosts, FileOrder::Directory)?;
            w.notes.push(format!(
                "{}: no recorded CloudSim file order for this day; VMs follow the file system's directory order",
                day_dir.display()
            ));
            Ok(w)
        }
    }
}

/// [`planetlab_world`] with an explicit file order (`Sorted` is machine-independent).
pub fn planetlab_world_ordered(
    day_dir: &Path,
    hosts: usize,
    order: FileOrder,
) -> Result<World, SimError> {
    let set = TraceSet::load_ordered(day_dir, TraceFormat::Planetlab, None, order)?;
    world_from_day(day_dir, set, hosts)
}

fn world_from_day(day_dir: &Path, mut set: TraceSet, hosts: usize) -> Result<World, SimError> {
    for t in &set.traces {
        if t.cpu.len() < 288 {
            return Err(SimError::Model(promig_model::ModelError::invalid(
                day_dir.join(&t.name),
                format!("{} samples; a CloudSim day needs 288", t.cpu.len()),
            )));
        }
    }
    for t in &mut set.traces {
        // CloudSim reads 288 samples into a 289-slot array and repeats the last one.
        t.cpu.truncate(288);
        let last = t.cpu[287];
        t.cpu.push(last);
    }
    let name = format!(
        "cloudsim-planetlab-{}",
        day_dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    Ok(world_from_traces(name, set.traces, hosts))
}

/// Host `i` of CloudSim's PlanetLab set-up: HP ML110 G4 (2 x 1,860 MIPS) for even `i`, G5
/// (2 x 2,660 MIPS) for odd `i`, with the given memory and NIC.
pub fn hp_ml110_host(i: usize, name: String, memory_mib: f64, nic_bps: f64) -> HostSpec {
    let (mips, power) = if i.is_multiple_of(2) {
        (1860.0, PowerCurve::HP_ML110_G4)
    } else {
        (2660.0, PowerCurve::HP_ML110_G5)
    };
    HostSpec {
        name,
        cores: 2,
        mips_per_core: mips,
        memory_mib,
        nic_bps,
        power,
        rack: 0,
        attach_node: 0,
    }
}

/// CloudSim hosts and VMs around a list of traces (one VM per trace).
pub fn world_from_traces(name: String, traces: Vec<promig_model::Trace>, n_hosts: usize) -> World {
    let hosts: Vec<HostSpec> = (0..n_hosts)
        .map(|i| hp_ml110_host(i, format!("host{i}"), 4096.0, 1e9))
        .collect();
    let n = traces.len();
    let per_type = n.div_ceil(VM_TYPES.len()).max(1);
    let vms: Vec<VmSpec> = traces
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (mips, ram) = VM_TYPES[(i / per_type).min(VM_TYPES.len() - 1)];
            VmSpec {
                name: t.name.clone(),
                vcpus: 1,
                mips_per_vcpu: mips,
                memory_mib: ram,
                trace: i,
                vnf: None,
            }
        })
        .collect();
    World {
        name,
        host_type: (0..n_hosts).map(|i| i % 2).collect(),
        hosts,
        vms,
        traces,
        vnfs: Vec::new(),
        chains: Vec::new(),
        topology: Topology::single_switch(n_hosts, 1e9),
        faults: FaultsConfig::default(),
        recovery: RecoveryConfig::default(),
        // No scenario file and no relative paths to resolve in CloudSim mode.
        base_dir: std::path::PathBuf::from("."),
        notes: Vec::new(),
    }
}
