//! Explanations of the agent's moves: one per move, the option taken first with the decision's
//! destination and technique, effects that are exactly weight x value for the linear scorer (so
//! the occlusion arithmetic is checked against a scorer whose answer is known), drained once
//! read, and never piling up in a caller that does not read them.

use promig_agent::features::FEATURE_NAMES;
mod common;

use promig_agent::{AgentConfig, FEATURES, LinearScorer, ScoredPolicy};
use promig_policy::Policy;

#[test]
fn each_move_is_explained_with_its_options_and_what_weighed_most() {
    let scorer = LinearScorer::default();
    let weights = scorer.move_weights.clone();
    let mut p = ScoredPolicy::new("rl-linear", scorer, AgentConfig::new());
    let obs = common::one_vm_on_a_failing_host();
    let decisions = p.decide(&obs);
    assert_eq!(decisions.len(), 1, "the VM leaves the failing host");
    let explained = p.explanations();
    assert_eq!(explained.len(), 1);
    let e = &explained[0];
    let d = &decisions[0];
    assert_eq!(e.vm, obs.vms[d.vm].id);
    assert_eq!(e.from, obs.hosts[0].id);
    assert_eq!(e.options[0].to, obs.hosts[d.to].id);
    assert_eq!(Some(e.options[0].technique), d.technique);
    assert!(e.options.len() > 1, "alternatives are kept: {e:?}");
    assert!(
        e.options
            .windows(2)
            .skip(1)
            .all(|w| w[0].score >= w[1].score),
        "alternatives best first"
    );
    assert!(
        e.options[0].score > e.wait_score,
        "greedy moves only past wait"
    );
    for (k, o) in e.options.iter().enumerate() {
        if k >= 2 {
            assert!(o.weighed_most.is_empty(), "scores only past the runner-up");
            continue;
        }
        assert!(!o.weighed_most.is_empty() && o.weighed_most.len() <= 3);
        for f in &o.weighed_most {
            let j = FEATURE_NAMES.iter().position(|n| *n == f.feature).unwrap();
            assert!(j < FEATURES);
            let expect = weights[j] * f.value;
            assert!(
                (f.effect - expect).abs() < 1e-4,
                "{}: {} vs {expect}",
                f.feature,
                f.effect
            );
        }
        let first = o.weighed_most[0].effect.abs();
        assert!(o.weighed_most.iter().all(|f| f.effect.abs() <= first));
    }
    // The hardware risk (weight 20) is what drives a move off a failing host.
    assert_eq!(e.options[0].weighed_most[0].feature, "source_hardware_risk");
    assert!(p.explanations().is_empty(), "drained once read");
    // A caller that never reads them keeps one interval's worth at most.
    for _ in 0..5 {
        p.decide(&obs);
    }
    assert_eq!(p.explanations().len(), 1);
}

/// Two failing hosts, two destinations, one incoming migration per host (Nova's limit): the
/// second move cannot take the destination the first booked, and its explanation says so for
/// every option scored above the one it took.
#[test]
fn an_option_booked_by_an_earlier_move_is_marked_unavailable() {
    use promig_model::{HostShape, ObservationBuilder, VmShape};
    let mut b = ObservationBuilder::new();
    b.hosts(4, HostShape::default());
    for h in 0..2 {
        b.vm(Some(h), VmShape::default());
        b.risk(h, common::about_to_fail());
    }
    // Host 3 carries a VM of its own: host 2 is the better destination for both.
    b.vm(Some(3), VmShape::default());
    let obs = b.build();
    let mut p = ScoredPolicy::new("rl-linear", LinearScorer::default(), AgentConfig::new());
    let decisions = p.decide(&obs);
    assert_eq!(decisions.len(), 2, "both failing hosts are emptied");
    assert_ne!(
        decisions[0].to, decisions[1].to,
        "one incoming migration per host"
    );
    let explained = p.explanations();
    let second = &explained[1];
    let taken = second.options[0].score;
    let above: Vec<_> = second.options.iter().filter(|o| o.score > taken).collect();
    assert!(
        !above.is_empty(),
        "the booked destination scored higher: {second:?}"
    );
    assert!(above.iter().all(|o| o.unavailable), "{second:?}");
    assert!(
        second
            .options
            .iter()
            .filter(|o| o.score <= taken)
            .all(|o| !o.unavailable),
        "{second:?}"
    );
    assert!(explained[0].options.iter().all(|o| !o.unavailable));
}
