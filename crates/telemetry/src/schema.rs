//! Every metric and label name promig reads or writes, in one place.
//!
//! The trace replay, the simulator's exporter, the observation reader and (later) the controller's
//! own `/metrics` all meet in the store through these names, so a typo in one of them would
//! silently split a series in two. Keeping them here, each documented with its unit, makes the
//! contract between the sources and the readers one file long.
//!
//! Two families:
//! - `promig_*`: the series promig itself writes (simulator, replay) and reads back into an
//!   [`promig_model::Observation`]. Hosts carry the label [`label::HOST`], VMs [`label::VM`].
//! - [`node_exporter`]: the standard collector names a live deployment scrapes from each host,
//!   from which the controller derives the `promig_*` host figures.

/// Label names.
pub mod label {
    /// The host a host-level series describes (its inventory name, or index in a simulation).
    pub const HOST: &str = "host";
    /// The VM a VM-level series describes (its inventory name, or index in a simulation).
    pub const VM: &str = "vm";
    /// The data centre (point of presence) a series comes from, so several sites share a store.
    pub const DC: &str = "dc";
    /// Which replay fed a series, so two trace sets replayed into one store stay apart.
    pub const SOURCE: &str = "source";
    /// Prometheus' target label (`address:port` of the exporter), added by Prometheus itself.
    pub const INSTANCE: &str = "instance";
    /// Prometheus' scrape job label, added by Prometheus itself.
    pub const JOB: &str = "job";
    /// node_exporter's CPU number label on `node_cpu_seconds_total`.
    pub const CPU: &str = "cpu";
    /// node_exporter's CPU mode label (`idle`, `user`, `system`, ...).
    pub const MODE: &str = "mode";
    /// node_exporter's network interface / disk label.
    pub const DEVICE: &str = "device";
    /// node_exporter's hwmon chip label on temperature series.
    pub const CHIP: &str = "chip";
    /// node_exporter's hwmon sensor label on temperature series.
    pub const SENSOR: &str = "sensor";
    /// node_exporter's EDAC memory controller label.
    pub const CONTROLLER: &str = "controller";
}

// --- Host series promig writes and reads (one sample per host per decision interval). ---

/// Share of the host's nominal CPU delivered to its VMs, 0..=1.
pub const HOST_CPU: &str = "promig_host_cpu_utilisation";
/// CPU demand of the host's VMs over its usable capacity (above 1: overloaded).
pub const HOST_DEMAND: &str = "promig_host_cpu_demand_ratio";
/// Memory in use over physical memory, 0..=1 (the sum of the VMs' use; dashboards read it, the
/// observation derives it from the VMs).
pub const HOST_MEMORY: &str = "promig_host_memory_utilisation";
/// Temperature, degrees Celsius (a failure precursor).
pub const HOST_TEMPERATURE: &str = "promig_host_temperature_celsius";
/// Corrected memory errors per hour (a failure precursor).
pub const HOST_CORRECTED_ERRORS: &str = "promig_host_corrected_errors_per_hour";
/// Mean VNF response time on the host, milliseconds.
pub const HOST_LATENCY: &str = "promig_host_vnf_latency_ms";
/// 1 while the host is up, 0 while crashed or under repair.
pub const HOST_UP: &str = "promig_host_up";
/// Bandwidth a migration leaving the host would get now, bit/s.
pub const HOST_MIGRATION_BPS: &str = "promig_host_migration_bandwidth_bps";

// --- VM series promig writes and reads. ---

/// CPU utilisation of a VM, 0..=1 of its vCPUs (requested, not granted).
pub const VM_CPU: &str = "promig_vm_cpu_utilisation";
/// Memory in use as a fraction of the VM's configured memory.
pub const VM_MEMORY: &str = "promig_vm_memory_utilisation";
/// Network throughput of a VM in kbit/s (trace replays that carry it).
pub const VM_NETWORK_KBPS: &str = "promig_vm_network_kbps";
/// Pages a VM dirties per second (what decides a live migration's cost).
pub const VM_DIRTY_PAGES: &str = "promig_vm_dirty_pages_per_second";

/// Every host series, in the order the simulator exports them.
pub const HOST_METRICS: [&str; 8] = [
    HOST_CPU,
    HOST_DEMAND,
    HOST_MEMORY,
    HOST_TEMPERATURE,
    HOST_CORRECTED_ERRORS,
    HOST_LATENCY,
    HOST_UP,
    HOST_MIGRATION_BPS,
];

/// Every VM series promig's observation uses (the replay's network series is extra).
pub const VM_METRICS: [&str; 3] = [VM_CPU, VM_MEMORY, VM_DIRTY_PAGES];

/// Names exported by the Prometheus node_exporter (1.x) on each host, which the controller reads
/// to derive the host figures above on real machines.
pub mod node_exporter {
    /// Prometheus' own per-target health gauge (1 when the last scrape succeeded).
    pub const UP: &str = "up";
    /// Corrected (ECC) memory errors per memory controller, a counter: its rate per hour is
    /// [`super::HOST_CORRECTED_ERRORS`]. Labels: `controller`.
    pub const EDAC_CORRECTABLE_ERRORS_TOTAL: &str = "node_edac_correctable_errors_total";
    /// Uncorrected memory errors per memory controller, a counter (a host about to fail).
    pub const EDAC_UNCORRECTABLE_ERRORS_TOTAL: &str = "node_edac_uncorrectable_errors_total";
    /// Hardware monitor temperatures, degrees Celsius; the hottest CPU sensor is
    /// [`super::HOST_TEMPERATURE`]. Labels: `chip`, `sensor`.
    pub const HWMON_TEMP_CELSIUS: &str = "node_hwmon_temp_celsius";
    /// ACPI thermal zone temperatures, degrees Celsius (where hwmon exposes none).
    pub const THERMAL_ZONE_TEMP: &str = "node_thermal_zone_temp";
    /// Memory available to new work without swapping, bytes.
    pub const MEMORY_AVAILABLE_BYTES: &str = "node_memory_MemAvailable_bytes";
    /// Installed memory, bytes; with the above gives [`super::HOST_MEMORY`].
    pub const MEMORY_TOTAL_BYTES: &str = "node_memory_MemTotal_bytes";
    /// CPU time per CPU and mode, seconds, a counter: one minus the idle rate is
    /// [`super::HOST_CPU`]. Labels: `cpu`, `mode`.
    pub const CPU_SECONDS_TOTAL: &str = "node_cpu_seconds_total";
    /// Bytes sent per interface, a counter (migration traffic shows here). Labels: `device`.
    pub const NETWORK_TRANSMIT_BYTES_TOTAL: &str = "node_network_transmit_bytes_total";
    /// Bytes received per interface, a counter. Labels: `device`.
    pub const NETWORK_RECEIVE_BYTES_TOTAL: &str = "node_network_receive_bytes_total";
    /// Link speed per interface, bytes per second: the ceiling of a migration's bandwidth.
    pub const NETWORK_SPEED_BYTES: &str = "node_network_speed_bytes";
    /// One-minute load average (runnable tasks), a quick overload signal.
    pub const LOAD1: &str = "node_load1";
    /// Seconds since the epoch when the host booted (a reboot shows as a jump).
    pub const BOOT_TIME_SECONDS: &str = "node_boot_time_seconds";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_valid_prometheus_names() {
        let mut all: Vec<&str> = HOST_METRICS.to_vec();
        all.extend(VM_METRICS);
        all.push(VM_NETWORK_KBPS);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        for name in all {
            assert!(name.starts_with("promig_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
                "{name}"
            );
        }
    }
}
