//! Hand-made observations: a few hosts, a few VMs, some predicted risk, and every derived field
//! (requests, utilisation, reservations, latency, VM lists) computed the way the simulator and the
//! controller fill them. Policy tests, the agent's unit tests and examples describe a situation in
//! five lines instead of filling two dozen fields per host by hand (and getting one wrong).

use crate::observation::response_time_ms;
use crate::observation::{HISTORY_LEN, HostId, HostRisk, HostView, Observation, VmId, VmView};
use crate::{PowerCurve, Qos};

/// Size of a host added with [`ObservationBuilder::host`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostShape {
    /// Physical cores.
    pub cores: u32,
    /// Capacity of one core.
    pub mips_per_core: f64,
    /// Installed (and placeable) memory.
    pub memory_mib: f64,
    /// NIC speed.
    pub nic_bps: f64,
    /// Rack or site.
    pub rack: u32,
}

impl Default for HostShape {
    /// A small NFV server: 8 cores of 2,500 MIPS, 32 GiB, 10 Gbit/s, rack 0.
    fn default() -> Self {
        HostShape {
            cores: 8,
            mips_per_core: 2500.0,
            memory_mib: 32_768.0,
            nic_bps: 10e9,
            rack: 0,
        }
    }
}

/// Size and load of a VM added with [`ObservationBuilder::vm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmShape {
    /// vCPUs.
    pub vcpus: u32,
    /// MIPS of one vCPU.
    pub mips_per_vcpu: f64,
    /// Configured memory (also what it reserves on its host).
    pub memory_mib: f64,
    /// Memory in use.
    pub memory_used_mib: f64,
    /// CPU load now, as a share of its vCPUs (also its whole history).
    pub load: f64,
    /// VNF it runs, if any (index into the QoS contracts given with [`ObservationBuilder::vnf`]).
    pub vnf: Option<usize>,
}

impl Default for VmShape {
    /// 2 vCPUs of 2,500 MIPS, 4 GiB with 2 GiB in use, half loaded, no VNF.
    fn default() -> Self {
        VmShape {
            vcpus: 2,
            mips_per_vcpu: 2500.0,
            memory_mib: 4096.0,
            memory_used_mib: 2048.0,
            load: 0.5,
            vnf: None,
        }
    }
}

/// Builds an [`Observation`] from hosts, VMs on them, VNF contracts and risks.
#[derive(Debug, Clone, Default)]
pub struct ObservationBuilder {
    hosts: Vec<(HostShape, bool, f64)>,
    vms: Vec<(Option<usize>, VmShape)>,
    qos: Vec<Qos>,
    chains: Vec<Vec<usize>>,
    risks: Vec<(usize, HostRisk)>,
    time_s: f64,
}

impl ObservationBuilder {
    /// An empty data centre at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a host that is up at full capacity; returns its index.
    pub fn host(&mut self, shape: HostShape) -> usize {
        self.hosts.push((shape, true, 1.0));
        self.hosts.len() - 1
    }

    /// Adds `n` identical hosts.
    pub fn hosts(&mut self, n: usize, shape: HostShape) -> &mut Self {
        for _ in 0..n {
            self.host(shape);
        }
        self
    }

    /// Marks a host as down (crashed or under repair).
    pub fn down(&mut self, host: usize) -> &mut Self {
        self.hosts[host].1 = false;
        self
    }

    /// Lowers a host's usable CPU capacity to `factor` of nominal (a degraded host).
    pub fn degraded(&mut self, host: usize, factor: f64) -> &mut Self {
        self.hosts[host].2 = factor;
        self
    }

    /// Adds a VM running on `host` (`None`: down, waiting for a restart); returns its index.
    pub fn vm(&mut self, host: Option<usize>, shape: VmShape) -> usize {
        self.vms.push((host, shape));
        self.vms.len() - 1
    }

    /// Adds a VNF's QoS contract; returns its index for [`VmShape::vnf`].
    pub fn vnf(&mut self, qos: Qos) -> usize {
        self.qos.push(qos);
        self.qos.len() - 1
    }

    /// Adds a service chain of VNF indices (from [`ObservationBuilder::vnf`]), in traffic order.
    pub fn chain(&mut self, vnfs: Vec<usize>) -> &mut Self {
        self.chains.push(vnfs);
        self
    }

    /// Sets a host's predicted risk (the others get none).
    pub fn risk(&mut self, host: usize, risk: HostRisk) -> &mut Self {
        self.risks.push((host, risk));
        self
    }

    /// Sets the observation's clock.
    pub fn at(&mut self, time_s: f64) -> &mut Self {
        self.time_s = time_s;
        self
    }

    /// The observation, with every derived field filled.
    pub fn build(&self) -> Observation {
        let vms: Vec<VmView> = self
            .vms
            .iter()
            .enumerate()
            .map(|(i, (host, s))| {
                let requested = s.load * f64::from(s.vcpus) * s.mips_per_vcpu;
                VmView {
                    id: VmId(i as u32),
                    host: *host,
                    in_migration: false,
                    booting: false,
                    vcpus: s.vcpus,
                    mips_per_vcpu: s.mips_per_vcpu,
                    memory_mib: s.memory_mib,
                    memory_reserved_mib: s.memory_mib,
                    nic_reserved_bps: 0.0,
                    memory_used_mib: s.memory_used_mib,
                    requested_mips: requested,
                    allocated_mips: requested,
                    history: [s.load; HISTORY_LEN],
                    history_len: HISTORY_LEN,
                    dirty_pages_per_s: 20_000.0 * s.load,
                    vnf: s.vnf,
                }
            })
            .collect();
        let hosts = self
            .hosts
            .iter()
            .enumerate()
            .map(|(h, (shape, up, factor))| {
                let residents: Vec<usize> =
                    (0..vms.len()).filter(|&v| vms[v].host == Some(h)).collect();
                let nominal = f64::from(shape.cores) * shape.mips_per_core;
                let total = nominal * factor;
                let requested: f64 = residents.iter().map(|&v| vms[v].requested_mips).sum();
                HostView {
                    id: HostId(h as u32),
                    type_id: 0,
                    up: *up,
                    cores: shape.cores,
                    mips_per_core: shape.mips_per_core * factor,
                    total_mips: total,
                    nominal_mips: nominal,
                    memory_mib: shape.memory_mib,
                    memory_reserved_mib: residents
                        .iter()
                        .map(|&v| vms[v].memory_reserved_mib)
                        .sum(),
                    physical_memory_mib: shape.memory_mib,
                    nic_bps: shape.nic_bps,
                    power: PowerCurve::HP_ML110_G5,
                    rack: shape.rack,
                    utilization: (requested.min(total) / nominal).min(1.0),
                    requested_mips: requested,
                    vms: residents,
                    migrating_in: Vec::new(),
                    corrected_errors_per_h: 0.0,
                    temperature_c: 40.0,
                    latency_ms: response_time_ms(requested / total),
                }
            })
            .collect::<Vec<_>>();
        let mut risks = Vec::new();
        if !self.risks.is_empty() {
            risks = vec![HostRisk::default(); hosts.len()];
            for (h, r) in &self.risks {
                risks[*h] = *r;
            }
        }
        Observation {
            time_s: self.time_s,
            interval_s: crate::TRACE_STEP_S,
            migration_bandwidth_bps: hosts.iter().map(|h| h.nic_bps).collect(),
            hosts,
            vms,
            vnf_qos: self.qos.clone(),
            chains: self.chains.clone(),
            risks,
            instantiating: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_fields_add_up() {
        let mut b = ObservationBuilder::new();
        b.hosts(2, HostShape::default());
        b.vm(Some(0), VmShape::default());
        b.vm(
            Some(0),
            VmShape {
                load: 1.0,
                ..VmShape::default()
            },
        );
        b.vm(None, VmShape::default());
        let obs = b.build();
        assert_eq!(obs.hosts[0].vms, vec![0, 1]);
        assert!(obs.hosts[1].vms.is_empty());
        assert_eq!(obs.hosts[0].requested_mips, 2500.0 + 5000.0);
        assert_eq!(obs.hosts[0].memory_reserved_mib, 8192.0);
        assert!((obs.hosts[0].utilization - 7500.0 / 20_000.0).abs() < 1e-12);
        assert!(obs.hosts[0].latency_ms > obs.hosts[1].latency_ms);
        assert!(obs.risks.is_empty(), "no risk given, no predictor ran");
        assert_eq!(obs.vms[2].host, None);
    }
}
