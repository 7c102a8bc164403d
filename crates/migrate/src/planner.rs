//! Choosing how to migrate: given a deadline (the predicted time to failure), a downtime bound and
//! how much risk the operator accepts, pick the technique and its parameters, or say none fits.

use crate::MigrationInput;
use crate::profile::Profile;
use crate::qemu::{Detail, Technique, TechniqueParams};
use serde::{Deserialize, Serialize};

/// How much risk the operator accepts for the VM during the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskPolicy {
    /// Never post-copy: a source or network failure during post-copy loses the VM.
    Conservative,
    /// Post-copy only when no pre-copy technique meets the deadline (the host is about to fail
    /// anyway, so the post-copy window is the lesser risk).
    Balanced,
    /// Post-copy is one option among the others.
    Aggressive,
}

/// What the migration must achieve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    /// Must be finished by then (predicted time to failure); `None` = no deadline.
    pub deadline_s: Option<f64>,
    /// Longest acceptable pause of the VNF.
    pub max_downtime_ms: f64,
    /// Risk appetite.
    pub risk: RiskPolicy,
    /// Whether slowing the guest (auto-converge) is acceptable for this VNF.
    pub allow_throttle: bool,
}

/// The chosen way to migrate, with what the model expects of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Parameters to hand to the driver.
    pub params: TechniqueParams,
    /// Expected outcome.
    pub expected: Detail,
}

/// Why no plan fits.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum PlanError {
    /// Every candidate misses the deadline or the downtime bound; the closest one is given.
    #[error("no technique meets the constraints; best effort: {best:?}")]
    NoFit {
        /// The candidate with the lowest downtime among those that converge, if any.
        best: Option<Box<Plan>>,
    },
}

/// Tries every technique at a few downtime limits, each under its own constants from `profile`
/// (on real hosts they differ per technique), and returns the feasible plan with the lowest
/// downtime (ties: shortest total time, then least guest CPU lost).
pub fn plan(
    input: &MigrationInput,
    constraints: &Constraints,
    profile: &Profile,
) -> Result<Plan, PlanError> {
    plan_from(input, constraints, profile, &TechniqueParams::default())
}

/// [`plan`] with the knobs the planner does not choose (max-bandwidth, XBZRLE cache, compression
/// threads, timeout) taken from `base` instead of QEMU's defaults: a caller that knows the path
/// (e.g. that its link is slower than QEMU's 128 MiB/s default cap) prices every candidate with
/// the cap it will really set.
pub fn plan_from(
    input: &MigrationInput,
    constraints: &Constraints,
    profile: &Profile,
    base: &TechniqueParams,
) -> Result<Plan, PlanError> {
    let limits = [0.25, 0.5, 1.0].map(|f| constraints.max_downtime_ms * f);
    let mut candidates = Vec::new();
    for technique in Technique::ALL {
        if technique == Technique::AutoConverge && !constraints.allow_throttle {
            continue;
        }
        if technique == Technique::Postcopy && constraints.risk == RiskPolicy::Conservative {
            continue;
        }
        let variants: Vec<TechniqueParams> = if technique == Technique::Postcopy {
            (1..=2)
                .map(|r| TechniqueParams {
                    technique,
                    postcopy_after_rounds: r,
                    ..*base
                })
                .collect()
        } else {
            limits
                .iter()
                .map(|&l| TechniqueParams {
                    technique,
                    downtime_limit_ms: l,
                    ..*base
                })
                .collect()
        };
        for params in variants {
            let expected = profile.model(params).detail(input);
            candidates.push(Plan { params, expected });
        }
    }
    let key = |p: &Plan| {
        (
            p.expected.estimate.downtime_s,
            p.expected.estimate.total_s,
            p.expected.throttled_cpu_s,
        )
    };
    let better = |a: &Plan, b: &Plan| {
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .is_lt()
    };
    let fits = |p: &Plan| {
        let e = &p.expected.estimate;
        e.converged
            && e.downtime_s * 1000.0 <= constraints.max_downtime_ms
            && constraints.deadline_s.is_none_or(|d| e.total_s <= d)
    };
    let pick = |pool: &mut dyn Iterator<Item = &Plan>| {
        pool.fold(None::<&Plan>, |best, p| match best {
            Some(b) if !better(p, b) => Some(b),
            _ => Some(p),
        })
        .copied()
    };
    let precopy_family = |p: &&Plan| p.params.technique != Technique::Postcopy;
    let chosen = match constraints.risk {
        RiskPolicy::Balanced => {
            pick(&mut candidates.iter().filter(precopy_family).filter(|p| fits(p)))
                .or_else(|| pick(&mut candidates.iter().filter(|p| fits(p))))
        }
        _ => pick(&mut candidates.iter().filter(|p| fits(p))),
    };
    chosen.ok_or_else(|| PlanError::NoFit {
        best: pick(&mut candidates.iter().filter(|p| p.expected.estimate.converged)).map(Box::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dirty: f64) -> MigrationInput {
        MigrationInput {
            memory_mib: 4096.0,
            dirty_pages_per_s: dirty,
            wws_mib: 1024.0,
            bandwidth_bps: 1e9,
            latency_ms: 0.1,
            touched_mib: None,
        }
    }

    fn constraints(risk: RiskPolicy, deadline_s: Option<f64>) -> Constraints {
        Constraints {
            deadline_s,
            max_downtime_ms: 300.0,
            risk,
            allow_throttle: true,
        }
    }

    #[test]
    fn idle_vm_gets_plain_precopy_family() {
        let p = plan(
            &input(0.0),
            &constraints(RiskPolicy::Balanced, Some(120.0)),
            &Profile::tcg(),
        )
        .unwrap();
        assert_ne!(p.params.technique, Technique::Postcopy);
        assert!(p.expected.estimate.downtime_s < 0.3);
    }

    #[test]
    fn conservative_never_postcopies_and_may_fail() {
        let c = constraints(RiskPolicy::Conservative, Some(5.0));
        match plan(&input(80_000.0), &c, &Profile::tcg()) {
            Ok(p) => assert_ne!(p.params.technique, Technique::Postcopy),
            Err(PlanError::NoFit { .. }) => {}
        }
    }

    #[test]
    fn tight_deadline_with_heavy_dirtying_falls_back_to_postcopy_when_allowed() {
        let c = constraints(RiskPolicy::Balanced, Some(60.0));
        let p = plan(&input(200_000.0), &c, &Profile::tcg()).unwrap();
        assert_eq!(p.params.technique, Technique::Postcopy);
    }

    #[test]
    fn impossible_deadline_is_reported() {
        let c = constraints(RiskPolicy::Aggressive, Some(1.0));
        assert!(matches!(
            plan(&input(0.0), &c, &Profile::tcg()),
            Err(PlanError::NoFit { .. })
        ));
    }

    #[test]
    fn each_technique_is_priced_with_its_own_constants() {
        // Under tcg the heavy-dirtying case falls back to post-copy (test above); a profile whose
        // post-copy switch-over alone takes 10 s must not pick it, while the others are unchanged.
        let mut profile = Profile::tcg();
        let mut slow = profile.calibration(Technique::Postcopy);
        slow.switchover_s = 10.0;
        profile.techniques.insert(Technique::Postcopy, slow);
        let c = constraints(RiskPolicy::Balanced, Some(60.0));
        match plan(&input(200_000.0), &c, &profile) {
            Ok(p) => assert_ne!(p.params.technique, Technique::Postcopy),
            Err(PlanError::NoFit { best }) => {
                let best = best.expect("post-copy still converges");
                assert!(
                    best.expected.estimate.downtime_s >= 10.0
                        || best.params.technique != Technique::Postcopy
                );
            }
        }
        let p = plan(
            &input(0.0),
            &constraints(RiskPolicy::Balanced, Some(120.0)),
            &profile,
        )
        .unwrap();
        assert_eq!(
            p,
            plan(
                &input(0.0),
                &constraints(RiskPolicy::Balanced, Some(120.0)),
                &Profile::tcg()
            )
            .unwrap()
        );
    }
}
