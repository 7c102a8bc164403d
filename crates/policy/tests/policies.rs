//! Each policy on small hand-made situations: what an operator would expect it to do, checked on
//! observations built with `ObservationBuilder` (every derived field filled as the simulator does).

use promig_model::{
    Decision, HostRisk, HostShape, Observation, ObservationBuilder, Qos, Technique, VmShape,
};
use promig_policy::{Policy, Registry};

fn policy(name: &str) -> Box<dyn Policy> {
    Registry::builtin().build(name, 1).unwrap()
}

/// Hosts each VM ends on if every decision is carried out.
fn after(obs: &Observation, decisions: &[Decision]) -> Vec<Option<usize>> {
    let mut at: Vec<Option<usize>> = obs.vms.iter().map(|v| v.host).collect();
    for d in decisions {
        at[d.vm] = Some(d.to);
    }
    at
}

/// No destination ends above its CPU capacity or its placeable memory.
fn assert_capacity_kept(obs: &Observation, decisions: &[Decision]) {
    let at = after(obs, decisions);
    for (h, host) in obs.hosts.iter().enumerate() {
        let on: Vec<usize> = (0..obs.vms.len()).filter(|&v| at[v] == Some(h)).collect();
        let cpu: f64 = on.iter().map(|&v| obs.vms[v].requested_mips).sum();
        let mem: f64 = on.iter().map(|&v| obs.vms[v].memory_reserved_mib).sum();
        let moved_in = decisions.iter().any(|d| d.to == h);
        if moved_in {
            assert!(cpu <= host.total_mips + 1e-9, "host {h} over CPU: {cpu}");
            assert!(mem <= host.memory_mib + 1e-9, "host {h} over memory: {mem}");
            assert!(host.up, "a VM was sent to host {h}, which is down");
        }
    }
}

fn hardware_alarm(p: f64) -> HostRisk {
    HostRisk {
        probability: p,
        hardware: p,
        within: [p; 3],
        ..HostRisk::default()
    }
}

/// Four hosts, three VMs on host 0, one on host 1.
fn small_dc() -> ObservationBuilder {
    let mut b = ObservationBuilder::new();
    b.hosts(4, HostShape::default());
    for _ in 0..3 {
        b.vm(Some(0), VmShape::default());
    }
    b.vm(Some(1), VmShape::default());
    b
}

#[test]
fn proactive_greedy_empties_a_host_about_to_fail() {
    let mut b = small_dc();
    b.risk(0, hardware_alarm(0.95));
    let obs = b.build();
    let d = policy("proactive-greedy").decide(&obs);
    let at = after(&obs, &d);
    for v in &obs.hosts[0].vms {
        assert_ne!(at[*v], Some(0), "VM {v} left on the failing host: {d:?}");
    }
    assert_capacity_kept(&obs, &d);
}

#[test]
fn proactive_planned_makes_greedys_moves_each_by_the_planners_technique() {
    let obs_with = |time_left_s: Option<f64>| {
        let mut b = small_dc();
        b.risk(
            0,
            HostRisk {
                time_left_s,
                ..hardware_alarm(0.95)
            },
        );
        let mut obs = b.build();
        for v in &mut obs.vms {
            v.dirty_pages_per_s = 15_000.0;
        }
        obs
    };
    let moves = |d: &[Decision]| d.iter().map(|x| (x.vm, x.to)).collect::<Vec<_>>();
    for time_left_s in [Some(5.0), None] {
        let obs = obs_with(time_left_s);
        let greedy = policy("proactive-greedy").decide(&obs);
        let planned = policy("proactive-planned").decide(&obs);
        assert_eq!(moves(&planned), moves(&greedy), "the same moves");
        assert!(greedy.iter().all(|d| d.technique.is_none()));
        assert_eq!(planned.len(), 3, "{planned:?}");
        for d in &planned {
            let t = d.technique.expect("every move names its technique");
            // Balanced risk: post-copy exactly when no pre-copy technique can end in 5 s.
            assert_eq!(
                t == Technique::Postcopy,
                time_left_s.is_some(),
                "{time_left_s:?}: {d:?}"
            );
        }
    }
    assert_eq!(policy("proactive-planned").name(), "proactive-planned");
    assert_eq!(policy("proactive-planned-2").name(), "proactive-planned-2");
    assert_eq!(
        policy("proactive-planned-1-0.6").name(),
        "proactive-planned-1-0.6-0.8-0.02"
    );
    // At appetite 2 post-copy is taken whenever its pause is the shortest, deadline or not.
    let obs = obs_with(None);
    for d in policy("proactive-planned-2").decide(&obs) {
        assert_eq!(d.technique, Some(Technique::Postcopy), "{d:?}");
    }
    assert!(Registry::builtin().build("proactive-planned-3", 1).is_err());
}

#[test]
fn proactive_greedy_moves_nothing_onto_a_risky_host() {
    let mut b = small_dc();
    b.risk(0, hardware_alarm(0.95));
    b.risk(2, hardware_alarm(0.7));
    b.risk(
        3,
        HostRisk {
            probability: 0.8,
            overload: 0.8,
            ..HostRisk::default()
        },
    );
    let obs = b.build();
    let d = policy("proactive-greedy").decide(&obs);
    assert!(!d.is_empty());
    for x in &d {
        assert_eq!(
            x.to, 1,
            "{x:?}: hosts 2 and 3 are risky, only host 1 is safe"
        );
    }
}

#[test]
fn proactive_greedy_leaves_a_healthy_data_centre_alone() {
    let mut b = small_dc();
    b.risk(0, hardware_alarm(0.005));
    assert!(policy("proactive-greedy").decide(&b.build()).is_empty());
    // Without predictions it has nothing to act on.
    assert!(
        policy("proactive-greedy")
            .decide(&small_dc().build())
            .is_empty()
    );
}

#[test]
fn proactive_greedy_frees_memory_biggest_consumer_first() {
    let mut b = ObservationBuilder::new();
    b.hosts(2, HostShape::default());
    let small = b.vm(
        Some(0),
        VmShape {
            memory_used_mib: 1024.0,
            ..VmShape::default()
        },
    );
    let big = b.vm(
        Some(0),
        VmShape {
            memory_mib: 20_480.0,
            memory_used_mib: 20_000.0,
            ..VmShape::default()
        },
    );
    b.vm(
        Some(0),
        VmShape {
            memory_mib: 8192.0,
            memory_used_mib: 8000.0,
            ..VmShape::default()
        },
    );
    b.risk(
        0,
        HostRisk {
            probability: 0.9,
            memory: 0.9,
            ..HostRisk::default()
        },
    );
    let obs = b.build();
    // 29,024 of 32,768 MiB in use: over the 85 % the policy aims for.
    let d = policy("proactive-greedy").decide(&obs);
    assert_eq!(d.first().map(|x| x.vm), Some(big), "{d:?}");
    assert!(
        d.iter().all(|x| x.vm != small),
        "moving the smallest frees nothing: {d:?}"
    );
    assert_capacity_kept(&obs, &d);
}

#[test]
fn threshold_relieves_an_overloaded_host_and_only_that() {
    let mut b = ObservationBuilder::new();
    b.hosts(3, HostShape::default());
    // 4 VMs x 2 vCPU x 2,500 MIPS x 0.9 = 18,000 of 20,000 MIPS: 90 % > 80 %.
    for _ in 0..4 {
        b.vm(
            Some(0),
            VmShape {
                load: 0.9,
                ..VmShape::default()
            },
        );
    }
    b.vm(
        Some(1),
        VmShape {
            load: 0.5,
            ..VmShape::default()
        },
    );
    let obs = b.build();
    let d = policy("threshold").decide(&obs);
    assert!(!d.is_empty(), "host 0 at 90 % was not relieved");
    assert!(d.iter().all(|x| obs.vms[x.vm].host == Some(0)), "{d:?}");
    let at = after(&obs, &d);
    let left: f64 = (0..obs.vms.len())
        .filter(|&v| at[v] == Some(0))
        .map(|v| obs.vms[v].requested_mips)
        .sum();
    assert!(
        left / obs.hosts[0].total_mips <= 0.8 + 1e-9,
        "still {left} MIPS on host 0"
    );
    assert_capacity_kept(&obs, &d);
    // At 0.95 the same host is fine.
    assert!(policy("threshold-0.95").decide(&obs).is_empty());
}

#[test]
fn threshold_applies_its_memory_rule() {
    let mut b = ObservationBuilder::new();
    b.hosts(2, HostShape::default());
    b.vm(
        Some(0),
        VmShape {
            load: 0.1,
            memory_mib: 16_384.0,
            memory_used_mib: 16_000.0,
            ..VmShape::default()
        },
    );
    b.vm(
        Some(0),
        VmShape {
            load: 0.1,
            memory_mib: 16_384.0,
            memory_used_mib: 14_000.0,
            ..VmShape::default()
        },
    );
    let obs = b.build();
    // 30,000 of 32,768 MiB in use (92 %) with CPU at 5 %: the memory rule alone fires, and moves
    // the VM using the most memory.
    let d = policy("threshold").decide(&obs);
    assert_eq!(
        d.iter().map(|x| (x.vm, x.to)).collect::<Vec<_>>(),
        vec![(0, 1)]
    );
}

#[test]
fn reactive_moves_off_a_breached_host_only() {
    let mut b = ObservationBuilder::new();
    b.hosts(3, HostShape::default());
    // Demand 5 x 5,000 = 25,000 MIPS on a 20,000 MIPS host: overloaded now.
    for _ in 0..5 {
        b.vm(
            Some(0),
            VmShape {
                load: 1.0,
                ..VmShape::default()
            },
        );
    }
    b.vm(Some(1), VmShape::default());
    let obs = b.build();
    let d = policy("reactive").decide(&obs);
    assert!(!d.is_empty());
    assert!(
        d.iter().all(|x| obs.vms[x.vm].host == Some(0) && x.to != 0),
        "{d:?}"
    );
    assert_capacity_kept(&obs, &d);
    // Nothing breached, nothing moves, whatever the risk says: it only reacts.
    let mut calm = small_dc();
    calm.risk(0, hardware_alarm(0.99));
    assert!(policy("reactive").decide(&calm.build()).is_empty());
}

#[test]
fn reactive_answers_a_latency_breach_one_vm_at_a_time() {
    let mut b = ObservationBuilder::new();
    b.hosts(2, HostShape::default());
    let fw = b.vnf(Qos {
        max_latency_ms: 1.0,
        ..Qos::default()
    });
    // 70 % load: the queueing model gives 0.5 / 0.3 = 1.67 ms, over the 1 ms bound.
    for _ in 0..4 {
        b.vm(
            Some(0),
            VmShape {
                load: 0.7,
                vnf: Some(fw),
                ..VmShape::default()
            },
        );
    }
    let obs = b.build();
    assert!(obs.hosts[0].latency_ms > 1.0);
    let d = policy("reactive").decide(&obs);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].to, 1);
}

#[test]
fn none_never_moves_anything() {
    for name in ["none", "dvfs", "non-power-aware"] {
        let mut b = small_dc();
        b.risk(0, hardware_alarm(0.99));
        assert!(policy(name).decide(&b.build()).is_empty(), "{name}");
    }
}

#[test]
fn consolidation_relieves_overload_and_empties_an_underloaded_host() {
    let mut b = ObservationBuilder::new();
    b.hosts(3, HostShape::default());
    for _ in 0..4 {
        b.vm(
            Some(0),
            VmShape {
                load: 0.95,
                ..VmShape::default()
            },
        );
    }
    b.vm(
        Some(1),
        VmShape {
            load: 0.3,
            ..VmShape::default()
        },
    );
    b.vm(
        Some(1),
        VmShape {
            load: 0.3,
            ..VmShape::default()
        },
    );
    let lonely = b.vm(
        Some(2),
        VmShape {
            load: 0.05,
            ..VmShape::default()
        },
    );
    let obs = b.build();
    let d = policy("thr-mmt-0.8").decide(&obs);
    assert!(
        d.iter().any(|x| obs.vms[x.vm].host == Some(0)),
        "overload left: {d:?}"
    );
    assert!(
        d.iter().any(|x| x.vm == lonely),
        "the nearly idle host 2 was not emptied so it could be switched off: {d:?}"
    );
    assert_capacity_kept(&obs, &d);
}

#[test]
fn nothing_is_sent_to_a_host_that_is_down() {
    for name in [
        "proactive-greedy",
        "reactive",
        "threshold",
        "thr-mmt",
        "lr-mmt",
        "mad-mc",
    ] {
        let mut b = ObservationBuilder::new();
        b.hosts(3, HostShape::default());
        for _ in 0..5 {
            b.vm(
                Some(0),
                VmShape {
                    load: 1.0,
                    ..VmShape::default()
                },
            );
        }
        b.down(2);
        b.risk(0, hardware_alarm(0.95));
        let obs = b.build();
        let d = policy(name).decide(&obs);
        assert!(d.iter().all(|x| x.to == 1), "{name}: {d:?}");
    }
}

/// After a crash that leaves room for only one of the two VMs it took down, proactive-greedy
/// restarts the VNF instance, whatever the order the platform listed them in, and answers in
/// that order.
#[test]
fn proactive_greedy_restarts_the_vnf_instance_first_when_room_is_short() {
    let mut b = ObservationBuilder::new();
    b.hosts(
        2,
        HostShape {
            memory_mib: 8_192.0,
            ..HostShape::default()
        },
    );
    b.down(0);
    let vm = VmShape {
        memory_mib: 4_096.0,
        ..VmShape::default()
    };
    b.vm(Some(1), vm);
    let plain = b.vm(None, vm);
    let f = b.vnf(Qos::default());
    let vnf = b.vm(None, VmShape { vnf: Some(f), ..vm });
    let obs = b.build();
    let placed = policy("proactive-greedy").place(&obs, &[plain, vnf]);
    assert_eq!(placed, vec![None, Some(1)], "{obs:?}");
    // `none` spreads in the order given, as OpenStack's scheduler does: the plain VM wins.
    assert_eq!(
        policy("none").place(&obs, &[plain, vnf]),
        vec![Some(1), None]
    );
}
