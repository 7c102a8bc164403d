//! The mask never lets an infeasible move through: on random observations (tight memory, hosts
//! down, migrations in flight, risks with and without a time left), every candidate that is
//! selectable, at every turn of a sequential choice with random scores, passes a feasibility check
//! written here from the rules alone, and its price is the cost model's.

use promig_agent::features::Builder;
use promig_agent::{AgentConfig, Candidate, FEATURES, Move, Pricer, Round, choose};
mod common;

use promig_migrate::{MigrationInput, Profile, TechniqueParams};

use promig_model::{HostRisk, HostShape, Observation, ObservationBuilder, Qos, VmShape};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_observation(seed: u64) -> Observation {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = ObservationBuilder::new();
    let vnf = b.vnf(Qos::default());
    if rng.random_bool(0.5) {
        b.chain(vec![vnf]);
    }
    let hosts = rng.random_range(2..10usize);
    for _ in 0..hosts {
        b.host(HostShape {
            memory_mib: [6144.0, 8192.0, 16_384.0, 32_768.0][rng.random_range(0..4usize)],
            cores: rng.random_range(2..9u32),
            rack: rng.random_range(0..3u32),
            nic_bps: [1e9, 10e9, 25e9][rng.random_range(0..3usize)],
            ..HostShape::default()
        });
    }
    for h in 0..hosts {
        if rng.random_bool(0.15) {
            b.down(h);
        }
        if rng.random_bool(0.6) {
            // Some hosts are over capacity already: a breach under way, no time left.
            let time_left_s = rng.random_bool(0.7).then(|| {
                if rng.random_bool(0.2) {
                    0.0
                } else {
                    rng.random_range(1.0..3600.0f64)
                }
            });
            b.risk(
                h,
                HostRisk {
                    probability: rng.random_range(0.0..1.0),
                    hardware: rng.random_range(0.0..0.1),
                    overload: rng.random_range(0.0..1.0),
                    time_left_s,
                    ..HostRisk::default()
                },
            );
        }
    }
    let vms = rng.random_range(0..25usize);
    for _ in 0..vms {
        let host = rng.random_bool(0.9).then(|| rng.random_range(0..hosts));
        b.vm(
            host,
            VmShape {
                vcpus: rng.random_range(1..5u32),
                memory_mib: [1024.0, 2048.0, 4096.0, 8192.0][rng.random_range(0..4usize)],
                load: rng.random_range(0.0..1.2),
                vnf: rng.random_bool(0.5).then_some(vnf),
                ..VmShape::default()
            },
        );
    }
    let mut obs = b.build();
    // Some migrations in flight: the VM stays listed on its source, the destination lists it as
    // incoming and reserves its memory (as the simulator does).
    for v in 0..obs.vms.len() {
        if obs.vms[v].host.is_some() && rng.random_bool(0.1) {
            obs.vms[v].booting = true;
            continue;
        }
        if let Some(from) = obs.vms[v].host
            && rng.random_bool(0.2)
        {
            let to = rng.random_range(0..hosts);
            if to != from {
                obs.vms[v].in_migration = true;
                obs.hosts[to].migrating_in.push(v);
                obs.hosts[to].memory_reserved_mib += obs.vms[v].memory_mib;
            }
        }
    }
    obs
}

/// The rules, restated independently of `promig_agent::mask`, given the moves picked before.
fn feasible(obs: &Observation, m: &Move, before: &[Move], profile: &Profile) -> Result<(), String> {
    let v = obs.vms.get(m.vm).ok_or("no such VM")?;
    if v.host != Some(m.from) || v.in_migration || v.booting || before.iter().any(|p| p.vm == m.vm)
    {
        return Err("VM not free on its source".into());
    }
    let (src, dst) = (&obs.hosts[m.from], &obs.hosts[m.to]);
    if m.from == m.to || !src.up || !dst.up {
        return Err("hosts".into());
    }
    let size = |vm: usize| obs.vms[vm].memory_mib.max(obs.vms[vm].memory_reserved_mib);
    let into: Vec<&Move> = before.iter().filter(|p| p.to == m.to).collect();
    let mem = dst.memory_reserved_mib + into.iter().map(|p| size(p.vm)).sum::<f64>() + size(m.vm);
    if mem > dst.memory_mib {
        return Err(format!("memory {mem} > {}", dst.memory_mib));
    }
    let cpu = dst.requested_mips
        + into
            .iter()
            .map(|p| obs.vms[p.vm].requested_mips)
            .sum::<f64>()
        + v.requested_mips;
    if cpu > dst.total_mips {
        return Err(format!("cpu {cpu} > {}", dst.total_mips));
    }
    if let Some(r) = obs.risks.get(m.to)
        && (r.probability > 0.5 || r.hardware > 0.01)
    {
        return Err("destination at risk".into());
    }
    let out_flight = obs
        .vms
        .iter()
        .filter(|x| x.in_migration && x.host == Some(m.from))
        .count();
    if out_flight + before.iter().filter(|p| p.from == m.from).count() >= 1 {
        return Err("outgoing limit".into());
    }
    if dst.migrating_in.len() + into.len() >= 1 {
        return Err("incoming limit".into());
    }
    if src.rack != dst.rack {
        let mut pairs: Vec<(usize, usize)> = before.iter().map(|p| (p.from, p.to)).collect();
        for (to, h) in obs.hosts.iter().enumerate() {
            for &x in &h.migrating_in {
                if let Some(from) = obs.vms[x].host {
                    pairs.push((from, to));
                }
            }
        }
        for rack in [src.rack, dst.rack] {
            let crossing = pairs
                .iter()
                .filter(|&&(a, b)| {
                    let (ra, rb) = (obs.hosts[a].rack, obs.hosts[b].rack);
                    ra != rb && (ra == rack || rb == rack)
                })
                .count();
            if crossing >= 4 {
                return Err(format!("rack {rack} uplink full"));
            }
        }
    }
    let input = MigrationInput {
        memory_mib: v.memory_mib,
        dirty_pages_per_s: v.dirty_pages_per_s,
        wws_mib: v.memory_mib * 0.25,
        bandwidth_bps: obs.migration_bandwidth_bps[m.from].min(dst.nic_bps),
        latency_ms: if src.rack == dst.rack { 0.05 } else { 0.15 },
        touched_mib: None,
    };
    let e = profile
        .model(TechniqueParams::of(m.technique))
        .detail(&input)
        .estimate;
    if e.total_s != m.total_s || e.downtime_s != m.downtime_s {
        return Err("price differs from the cost model's".into());
    }
    if !e.converged {
        return Err("does not converge".into());
    }
    // A deadline is a breach still ahead; one under way (0 s left) sets none.
    if let Some(left) = obs.risks.get(m.from).and_then(|r| r.time_left_s)
        && left > 0.0
        && e.total_s > left
    {
        return Err(format!("takes {} s, {} s left", e.total_s, left));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_selectable_move_is_feasible(seed in any::<u64>(), score_seed in any::<u64>()) {
        let obs = random_observation(seed);
        let cfg = AgentConfig::new();
        let profile = Profile::kvm();
        let pricer = Pricer::new(&profile);
        let mut round = Round::new(&obs, &cfg.mask);
        let mut c = promig_agent::Candidates::default();
        Builder::default().build(&round, &pricer, &cfg.candidates, &mut c);
        prop_assert_eq!(c.candidates[0], Candidate::Wait);
        prop_assert_eq!(c.features.len(), c.len() * FEATURES);
        prop_assert_eq!(c.mask.len(), c.len());
        prop_assert_eq!(c.row(0)[0], 1.0, "wait row flagged");
        prop_assert!((1..c.len()).all(|i| c.row(i)[0] == 0.0), "move rows not flagged");
        let cc = &cfg.candidates;
        prop_assert!(c.len() <= 1 + cc.max_vms * cc.destinations_per_vm * cc.techniques.len());
        prop_assert!(c.features.iter().all(|x| x.is_finite() && (-1.0..=1.0).contains(x)));
        for (i, cand) in c.candidates.iter().enumerate() {
            if let (Candidate::Move(m), true) = (cand, c.mask[i]) {
                prop_assert!(feasible(&obs, m, &[], &profile).is_ok(), "{:?}: {:?}", m, feasible(&obs, m, &[], &profile));
            }
        }
        // A sequential choice with random scores: at each turn every still-selectable move is
        // feasible given the moves before it, and so is each pick.
        let mut rng = ChaCha8Rng::seed_from_u64(score_seed);
        let scores: Vec<f32> = (0..c.len()).map(|_| rng.random_range(-1.0..1.0f32)).collect();
        let mut mask = c.mask.clone();
        let picks = choose(&mut round, &c.candidates, &mut mask, &scores, 16);
        let mut before: Vec<Move> = Vec::new();
        for &p in &picks {
            let Candidate::Move(m) = c.candidates[p] else {
                prop_assert!(false, "wait picked as a move");
                unreachable!()
            };
            prop_assert!(feasible(&obs, &m, &before, &profile).is_ok(), "pick {:?}: {:?}", m, feasible(&obs, &m, &before, &profile));
            before.push(m);
        }
        for (i, cand) in c.candidates.iter().enumerate() {
            if let (Candidate::Move(m), true) = (cand, mask[i]) {
                prop_assert!(feasible(&obs, m, &before, &profile).is_ok(), "after picks {:?}", m);
            }
        }
    }
}

#[test]
fn a_failing_host_with_room_elsewhere_offers_moves_and_wait_first() {
    let obs = common::one_vm_on_a_failing_host();
    let cfg = AgentConfig::new();
    let round = Round::new(&obs, &cfg.mask);
    let mut c = promig_agent::Candidates::default();
    Builder::default().build(&round, &Pricer::default(), &cfg.candidates, &mut c);
    assert_eq!(c.candidates[0], Candidate::Wait);
    // 1 VM x 2 destinations x up to 5 techniques.
    assert!(c.len() > 1 && c.len() <= 1 + 2 * 5, "{}", c.len());
    assert!(c.mask.iter().all(|&m| m));
    // Nothing at risk: only wait.
    let mut quiet = ObservationBuilder::new();
    quiet.hosts(3, HostShape::default());
    quiet.vm(Some(0), VmShape::default());
    let obs = quiet.build();
    let round = Round::new(&obs, &cfg.mask);
    Builder::default().build(&round, &Pricer::default(), &cfg.candidates, &mut c);
    assert_eq!(c.len(), 1);
}

/// A host over its capacity now (overload risk 1, no time left) is relieved: its VMs come
/// before those of hosts whose only distinction is a higher background hardware risk below the
/// alarm, and the breach under way masks none of their moves (it once masked them all: every
/// move "missed" a breach whose time left was 0).
#[test]
fn an_overloaded_host_comes_first_and_its_moves_are_not_masked() {
    let mut b = ObservationBuilder::new();
    b.hosts(4, HostShape::default());
    b.vm(Some(0), VmShape::default());
    b.vm(Some(1), VmShape::default());
    b.risk(
        0,
        HostRisk {
            probability: 1.0,
            overload: 1.0,
            hardware: 0.001,
            time_left_s: Some(0.0),
            ..HostRisk::default()
        },
    );
    b.risk(
        1,
        HostRisk {
            probability: 0.06,
            hardware: 0.003,
            time_left_s: Some(3000.0),
            ..HostRisk::default()
        },
    );
    let obs = b.build();
    let mut cfg = AgentConfig::new();
    cfg.candidates.max_vms = 1;
    let round = Round::new(&obs, &cfg.mask);
    let mut c = promig_agent::Candidates::default();
    Builder::default().build(&round, &Pricer::default(), &cfg.candidates, &mut c);
    assert!(c.len() > 1, "no move offered off the overloaded host");
    for (cand, &selectable) in c.candidates.iter().zip(&c.mask).skip(1) {
        let Candidate::Move(m) = cand else {
            panic!("{cand:?}")
        };
        assert_eq!(m.from, 0, "{m:?}");
        assert!(selectable && round.check(m).is_ok(), "{m:?}");
    }
}

#[test]
fn random_observations_do_offer_moves() {
    // Guards the property test against passing vacuously.
    let cfg = AgentConfig::new();
    let pricer = Pricer::new(&Profile::kvm());
    let (mut selectable, mut picked) = (0usize, 0usize);
    for seed in 0..200 {
        let obs = random_observation(seed);
        let mut round = Round::new(&obs, &cfg.mask);
        let mut c = promig_agent::Candidates::default();
        Builder::default().build(&round, &pricer, &cfg.candidates, &mut c);
        selectable += c.mask.iter().skip(1).filter(|&&m| m).count();
        let mut scores = vec![1.0f32; c.len()];
        scores[0] = 0.0; // wait loses
        let mut mask = c.mask.clone();
        picked += choose(&mut round, &c.candidates, &mut mask, &scores, 16).len();
    }
    assert!(
        selectable > 200 && picked > 50,
        "{selectable} selectable, {picked} picked"
    );
}

/// An ablation hides its features from the scorer in every row (wait included) and changes
/// nothing else: the same candidates, the same mask, the other features as they were.
#[test]
fn hidden_feature_groups_are_zero_in_every_row_and_nothing_else_changes() {
    use promig_agent::FeatureGroup;
    let obs = common::one_vm_on_a_failing_host();
    let full = AgentConfig::new();
    let build = |cfg: &AgentConfig| {
        let round = Round::new(&obs, &cfg.mask);
        let mut c = promig_agent::Candidates::default();
        Builder::default().build(&round, &Pricer::default(), &cfg.candidates, &mut c);
        c
    };
    let all = build(&full);
    for group in [FeatureGroup::Links, FeatureGroup::Predictions] {
        let mut cfg = full.clone();
        cfg.candidates.hidden = vec![group];
        let some = build(&cfg);
        assert_eq!(some.candidates, all.candidates);
        assert_eq!(some.mask, all.mask);
        for (a, b) in all
            .features
            .chunks(FEATURES)
            .zip(some.features.chunks(FEATURES))
        {
            for j in 0..FEATURES {
                if group.indices().contains(&j) {
                    assert_eq!(b[j], 0.0, "{group:?} feature {j}");
                } else {
                    assert_eq!(a[j], b[j], "{group:?} left feature {j} alone");
                }
            }
        }
        assert!(
            all.features
                .chunks(FEATURES)
                .any(|r| group.indices().iter().any(|&j| r[j] != 0.0)),
            "{group:?}: the situation has something to hide"
        );
    }
}
