//! Synthetic data centres of any size, for scaling benchmarks and property tests, where the real
//! trace folders are too small or too slow to vary.

use crate::world::World;
use promig_model::fault::FaultsConfig;
use promig_model::scenario::RecoveryConfig;
use promig_model::{ChainSpec, HostSpec, Qos, Topology, Trace, VmSpec, VnfSpec};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A leaf-spine data centre of `hosts` hosts (20 per rack, CloudSim's two host types alternating)
/// running `vms` VMs whose CPU traces are AR(1) noise around a daily cycle, one in ten carrying a
/// VNF. Deterministic in `seed`.
pub fn world(hosts: usize, vms: usize, steps: usize, seed: u64, faults: FaultsConfig) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_rack = 20u32;
    let racks = (hosts as u32).div_ceil(per_rack).max(1);
    let mut topology = Topology::leaf_spine(racks, per_rack, 4, 10e9, 40e9);
    topology.host_nodes.truncate(hosts);
    topology.host_rack.truncate(hosts);
    topology.host_names.truncate(hosts);
    let host_specs: Vec<HostSpec> = (0..hosts)
        .map(|i| HostSpec {
            rack: topology.host_rack[i],
            attach_node: topology.host_nodes[i].index(),
            ..crate::cloudsim::hp_ml110_host(i, topology.host_names[i].clone(), 8192.0, 10e9)
        })
        .collect();
    let sizes = [(1000.0, 1024.0), (500.0, 512.0), (1500.0, 2048.0)];
    let n_vnfs = (vms / 10).max(1);
    let vnfs: Vec<VnfSpec> = (0..n_vnfs)
        .map(|i| VnfSpec {
            name: format!("vnf{i}"),
            qos: Qos::default(),
            packets_per_s: 50_000.0,
            base_latency_ms: 0.5,
        })
        .collect();
    let mut traces = Vec::with_capacity(vms);
    let mut vm_specs = Vec::with_capacity(vms);
    for v in 0..vms {
        let mean: f64 = rng.random_range(0.05..0.45);
        let phase: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let mut x = mean;
        let cpu = (0..steps.max(1))
            .map(|k| {
                let daily = 0.15 * (k as f64 / 288.0 * std::f64::consts::TAU + phase).sin();
                x = 0.8 * x + 0.2 * (mean + daily) + rng.random_range(-0.05..0.05);
                (x.clamp(0.0, 1.0) * 100.0).round() / 100.0
            })
            .collect();
        traces.push(Trace {
            name: format!("synthetic-{v}"),
            cpu,
            memory: None,
            net_kbps: None,
        });
        let (mips, mem) = sizes[v % sizes.len()];
        vm_specs.push(VmSpec {
            name: format!("vm{v}"),
            vcpus: 1,
            mips_per_vcpu: mips,
            memory_mib: mem,
            trace: v,
            vnf: (v % 10 == 0).then_some((v / 10) % n_vnfs),
        });
    }
    World {
        name: format!("synthetic-{hosts}h-{vms}vm"),
        host_type: (0..hosts).map(|i| i % 2).collect(),
        hosts: host_specs,
        vms: vm_specs,
        traces,
        vnfs,
        // Consecutive VNFs, three at a time, form the service chains (a surge hits one chain).
        chains: (0..n_vnfs)
            .step_by(3)
            .map(|first| ChainSpec {
                name: format!("chain{}", first / 3),
                vnfs: (first..(first + 3).min(n_vnfs)).collect(),
            })
            .collect(),
        topology,
        faults,
        recovery: RecoveryConfig::default(),
        base_dir: std::path::PathBuf::from("."),
        notes: Vec::new(),
    }
}
