//! Whatever a scenario file says (NaN, infinities, negative and huge numbers in any field), the
//! loader refuses it with an error or the simulator returns a sane report: never a panic, a
//! hang, or negative time, downtime or packets.

use promig_model::ScenarioFile;
use promig_sim::{SimConfig, Simulator, scenario};
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// A float as TOML writes it, from the awkward values and ordinary ones.
fn float() -> impl Strategy<Value = String> {
    // Mostly ordinary values, so that runs get past the loader, with every awkward one often.
    prop_oneof![
        1 => Just("nan".to_string()),
        1 => Just("inf".to_string()),
        1 => Just("-inf".to_string()),
        1 => Just("-5.0".to_string()),
        1 => Just("0.0".to_string()),
        1 => Just("1e300".to_string()),
        100 => (0.01f64..1.0).prop_map(|x| format!("{x:?}")),
        100 => (1.0f64..5000.0).prop_map(|x| format!("{x:?}")),
    ]
}

/// An integer as TOML writes it, from the awkward values and small ordinary ones.
fn int() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("0".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("4294967295".to_string()),
        1 => Just("1000000000".to_string()),
        60 => (1u32..6).prop_map(|x| x.to_string()),
    ]
}

fn scenario_text() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(float(), 16),
        proptest::collection::vec(int(), 8),
        prop_oneof![1 => float(), 4 => (1000.0f64..64_000.0).prop_map(|x| format!("{x:?}"))],
    )
        .prop_map(|(f, i, mem)| {
            format!(
                r#"name = "random"
seed = 1
steps = {steps}
[datacenter]
topology = {{ kind = "leaf-spine", racks = {racks}, hosts_per_rack = {hpr}, spines = {spines}, fabric_gbps = {f0} }}
host_nic_gbps = {f1}
[[datacenter.host_types]]
cores = {cores}
mips_per_core = {f2}
memory_mib = {f3}
power = "hp-ml110-g5"
[workload]
traces = "planetlab/20110303"
format = "planetlab"
vms = {vms}
[[workload.vm_types]]
vcpus = {vcpus}
mips_per_vcpu = {f4}
memory_mib = {f5}
[[chains]]
name = "c"
vnfs = [{{ name = "fw", instances = {inst}, packets_per_s = {f6}, base_latency_ms = {f7}, qos = {{ max_downtime_ms = {f8}, max_loss_rate = {f9}, max_latency_ms = {f10} }} }}]
[faults]
hardware_failures = 1
memory_leaks = 1
leak_mib_per_min = {f11}
degradations = 1
degradation_capacity = 0.5
surges = 1
[recovery]
detection_delay_s = {f12}
boot_s = {f13}
repair_s = {f14}
power_on_s = {f15}
"#,
                steps = i[0],
                racks = i[1],
                hpr = i[2],
                spines = i[3],
                cores = i[4],
                vms = i[5].parse::<i64>().map_or(i[5].clone(), |n| (n * 20).to_string()),
                vcpus = i[6],
                inst = i[7],
                f0 = f[0],
                f1 = f[1],
                f2 = f[2],
                f3 = mem,
                f4 = f[4],
                f5 = f[5],
                f6 = f[6],
                f7 = f[7],
                f8 = f[8],
                f9 = f[9],
                f10 = f[10],
                f11 = f[11],
                f12 = f[12],
                f13 = f[13],
                f14 = f[14],
                f15 = f[15],
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn any_scenario_is_refused_or_simulated_sanely(text in scenario_text()) {
        let Ok(file) = ScenarioFile::parse(&text, Path::new("random.toml")) else {
            return Ok(()); // refused with an error naming the field: fine
        };
        let data = promig_model::data::dir(None).unwrap();
        let Ok(world) = scenario::build_world(&file, &data) else {
            return Ok(());
        };
        let mut policy = promig_policy::by_name("reactive", 1).unwrap();
        let cfg = SimConfig::nfv(1, file.steps.min(24));
        let Ok(mut sim) = Simulator::new(Arc::new(world), cfg, policy.as_mut()) else {
            return Ok(());
        };
        let r = sim.run(policy.as_mut(), &mut |_, _| {});
        if std::env::var_os("PROMIG_SHOW_RUNS").is_some() {
            eprintln!("simulated: {} hosts, {} VMs, {} s", r.hosts, r.vms, r.simulated_s);
        }
        for (name, x) in [
            ("simulated_s", r.simulated_s),
            ("energy_kwh", r.energy_kwh),
            ("downtime_s", r.downtime_s),
            ("packets_lost", r.packets_lost),
            ("packets_offered", r.packets_offered),
            ("qos_violation_s", r.qos_violation_s),
            ("migration_traffic_gib", r.migration_traffic_gib),
        ] {
            prop_assert!(x.is_finite() && x >= 0.0, "{name} = {x}\n{text}");
        }
        prop_assert!(r.loss_rate.is_finite() && (0.0..=1.0).contains(&r.loss_rate), "loss {}", r.loss_rate);
    }
}
