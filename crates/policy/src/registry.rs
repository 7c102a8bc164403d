//! Policies declared, not parsed from strings: each policy module states its name, what it is for,
//! its parameters (type, range, default, meaning) and what it needs (predictions, full-power
//! accounting), as OpenStack Watcher strategies do with `get_schema`. One [`Registry`] builds any
//! of them from a command-line name (`thr-mmt-0.8`) or from a TOML table, checks every parameter,
//! and prints the help text from the same declarations, so the list can no longer drift. The RL
//! agent registers itself the same way ([`Registry::register`]).

use crate::{Policy, PolicyError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// One numeric parameter of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name used in TOML (`threshold = 0.8`) and in the help text.
    pub name: &'static str,
    /// What it changes, for the help text.
    pub description: &'static str,
    /// Value when not given (the published or production default).
    pub default: f64,
    /// Values accepted; anything else (NaN and infinities included) is refused with the policy's
    /// and the parameter's name.
    pub range: RangeInclusive<f64>,
}

impl ParamSpec {
    /// A share or probability: strictly positive, at most 1 (the most common kind of parameter).
    pub fn fraction(name: &'static str, description: &'static str, default: f64) -> Self {
        ParamSpec {
            name,
            description,
            default,
            range: POSITIVE..=1.0,
        }
    }
}

/// What a policy needs from whoever runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requirements {
    /// It reads `Observation::risks`: the runner must attach a predictor.
    pub predictions: bool,
    /// It is CloudSim's non-power-aware baseline: energy is charged with every host at full power.
    pub full_power_accounting: bool,
}

/// Builds a policy from its parameters (in [`PolicySpec::params`] order) and the run's seed.
/// Shared so specs stay cheap to clone; a closure so one declaration can serve a family of
/// policies (the fifteen detector x selection combinations).
pub type BuildFn = Arc<dyn Fn(&[f64], u64) -> Box<dyn Policy> + Send + Sync>;

/// The declaration of one policy.
#[derive(Clone)]
pub struct PolicySpec {
    /// Name on the command line and in TOML (lower case, may contain dashes).
    pub name: String,
    /// One line on what it does and who uses it.
    pub summary: String,
    /// Its parameters, in the order the command line gives them (`name-p1-p2`).
    pub params: Vec<ParamSpec>,
    /// What it needs from the runner.
    pub requires: Requirements,
    /// Constructor.
    pub build: BuildFn,
}

impl std::fmt::Debug for PolicySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySpec")
            .field("name", &self.name)
            .field("params", &self.params)
            .field("requires", &self.requires)
            .finish_non_exhaustive()
    }
}

/// A policy chosen in a TOML file: `name = "thr-mmt"` plus its parameters by name, e.g.
/// `{ name = "thr-mmt", threshold = 0.75 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// Registered policy name.
    pub name: String,
    /// Parameters by name; missing ones take their defaults.
    #[serde(flatten)]
    pub params: BTreeMap<String, f64>,
}

/// A policy ready to be built: its declaration and checked parameter values.
#[derive(Debug, Clone)]
pub struct Resolved<'r> {
    /// The declaration.
    pub spec: &'r PolicySpec,
    /// One value per [`PolicySpec::params`] entry.
    pub values: Vec<f64>,
}

impl Resolved<'_> {
    /// Builds the policy.
    pub fn build(&self, seed: u64) -> Box<dyn Policy> {
        (self.spec.build)(&self.values, seed)
    }
}

/// Every policy promig knows, by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    specs: Vec<PolicySpec>,
}

impl Registry {
    /// The built-in baselines: none, dvfs, non-power-aware, reactive, threshold, proactive-greedy
    /// and Beloglazov & Buyya's fifteen consolidation policies.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        for spec in crate::none::specs()
            .into_iter()
            .chain([crate::reactive::spec(), crate::threshold::spec()])
            .chain(crate::consolidation::specs())
            .chain([crate::proactive::spec(), crate::proactive::planned_spec()])
        {
            r.register(spec)
                .expect("built-in policy names are distinct");
        }
        r
    }

    /// Adds a policy (the RL agent registers itself this way). Refuses a name already taken.
    pub fn register(&mut self, spec: PolicySpec) -> Result<(), PolicyError> {
        if self.get(&spec.name).is_some() {
            return Err(PolicyError::DuplicateName(spec.name));
        }
        self.specs.push(spec);
        Ok(())
    }

    /// Declarations in registration order.
    pub fn specs(&self) -> &[PolicySpec] {
        &self.specs
    }

    /// The declaration of `name` (case-insensitive), if registered.
    pub fn get(&self, name: &str) -> Option<&PolicySpec> {
        self.specs
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Resolves a command-line name: a registered name, optionally followed by `-value` per
    /// parameter in declaration order (`threshold-0.75`, `lr-mmt-1.2`). The longest registered
    /// name that matches wins, so `thr-mmt-0.8` is `thr-mmt` with 0.8, never `thr` with `mmt`.
    pub fn resolve(&self, text: &str) -> Result<Resolved<'_>, PolicyError> {
        let lower = text.trim().to_ascii_lowercase();
        let spec = self
            .specs
            .iter()
            .filter(|s| {
                lower == s.name
                    || lower
                        .strip_prefix(s.name.as_str())
                        .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|s| s.name.len())
            .ok_or_else(|| PolicyError::UnknownPolicy(text.to_string(), self.names()))?;
        let rest = &lower[spec.name.len()..];
        let given: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest[1..].split('-').collect()
        };
        if given.len() > spec.params.len() {
            return Err(PolicyError::TooManyParameters {
                policy: spec.name.clone(),
                given: given.len(),
                accepted: spec.params.len(),
                text: text.to_string(),
            });
        }
        let mut values = Vec::with_capacity(spec.params.len());
        for (i, p) in spec.params.iter().enumerate() {
            let value = match given.get(i) {
                None => p.default,
                Some(raw) => raw.parse::<f64>().map_err(|_| PolicyError::NotANumber {
                    policy: spec.name.clone(),
                    param: p.name,
                    value: (*raw).to_string(),
                })?,
            };
            values.push(check(spec, p, value)?);
        }
        Ok(Resolved { spec, values })
    }

    /// Resolves a TOML table ([`PolicyConfig`]); unknown parameter names are refused.
    pub fn resolve_config(&self, config: &PolicyConfig) -> Result<Resolved<'_>, PolicyError> {
        let spec = self
            .get(&config.name)
            .ok_or_else(|| PolicyError::UnknownPolicy(config.name.clone(), self.names()))?;
        if let Some(unknown) = config
            .params
            .keys()
            .find(|k| !spec.params.iter().any(|p| p.name == k.as_str()))
        {
            return Err(PolicyError::UnknownParameter {
                policy: spec.name.clone(),
                param: unknown.clone(),
                known: spec
                    .params
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let values = spec
            .params
            .iter()
            .map(|p| {
                check(
                    spec,
                    p,
                    config.params.get(p.name).copied().unwrap_or(p.default),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Resolved { spec, values })
    }

    /// Builds a policy from its command-line name.
    pub fn build(&self, text: &str, seed: u64) -> Result<Box<dyn Policy>, PolicyError> {
        Ok(self.resolve(text)?.build(seed))
    }

    /// Registered names, comma-separated (for error messages).
    pub fn names(&self) -> String {
        self.specs
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The help text: every policy with its summary, needs and parameters.
    pub fn help(&self) -> String {
        let mut out = String::new();
        for s in &self.specs {
            let params: String = s.params.iter().map(|p| format!("[-{}]", p.name)).collect();
            let _ = write!(out, "  {}{params}: {}", s.name, s.summary);
            if s.requires.predictions {
                out.push_str(" (uses predictions)");
            }
            out.push('\n');
            for p in &s.params {
                let _ = writeln!(
                    out,
                    "      {} = {} (in {}): {}",
                    p.name,
                    p.default,
                    range_text(*p.range.start(), *p.range.end()),
                    p.description
                );
            }
        }
        out
    }
}

fn check(spec: &PolicySpec, p: &ParamSpec, value: f64) -> Result<f64, PolicyError> {
    if value.is_finite() && p.range.contains(&value) {
        Ok(value)
    } else {
        Err(PolicyError::OutOfRange {
            policy: spec.name.clone(),
            param: p.name,
            value,
            min: *p.range.start(),
            max: *p.range.end(),
        })
    }
}

/// The smallest positive value, for ranges that exclude zero.
pub(crate) const POSITIVE: f64 = f64::MIN_POSITIVE;

/// A parameter range as people write it: `(0, 1]` when it excludes zero (stored as
/// [`POSITIVE`], which would otherwise print as 300 digits), `[0.5, 3]` otherwise.
pub(crate) fn range_text(min: f64, max: f64) -> String {
    if min == POSITIVE {
        format!("(0, {max}]")
    } else {
        format!("[{min}, {max}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_prints_ranges_as_people_write_them() {
        let help = Registry::builtin().help();
        assert!(help.contains("(in (0, 1]): CPU utilisation"), "{help}");
        assert!(!help.contains("0.00000000"), "no 300-digit lower bounds");
        assert_eq!(range_text(0.5, 3.0), "[0.5, 3]");
    }

    #[test]
    fn every_builtin_name_builds_and_reports_its_name() {
        let r = Registry::builtin();
        for s in r.specs() {
            let p = r.build(&s.name, 1).unwrap();
            assert!(p.name().starts_with(&s.name), "{} -> {}", s.name, p.name());
            assert_eq!(p.uses_predictions(), s.requires.predictions, "{}", s.name);
        }
    }

    #[test]
    fn positional_parameters_follow_the_name() {
        let r = Registry::builtin();
        assert_eq!(r.build("thr-mmt-0.75", 0).unwrap().name(), "thr-mmt-0.75");
        assert_eq!(r.build("THRESHOLD-0.7", 0).unwrap().name(), "threshold-0.7");
        assert_eq!(r.build("lr-mmt", 0).unwrap().name(), "lr-mmt-1.2");
        assert_eq!(
            r.build("proactive-greedy", 0).unwrap().name(),
            "proactive-greedy"
        );
        assert_eq!(
            r.build("non-power-aware", 0).unwrap().name(),
            "non-power-aware"
        );
    }

    #[test]
    fn junk_and_out_of_range_parameters_are_refused() {
        let r = Registry::builtin();
        for bad in [
            "reactive-foo",
            "thr-mmt-0.8-junk",
            "threshold-nan",
            "thr-mmt-inf",
            "thr-mmt-0",
            "threshold-2",
            "none-1",
            "lr-xyz",
            "nonsense",
            "",
        ] {
            assert!(r.build(bad, 0).is_err(), "{bad} was accepted");
        }
        let e = r.build("thr-mmt-0.8-junk", 0).err().unwrap().to_string();
        assert!(e.contains("thr-mmt"), "{e}");
    }

    #[test]
    fn toml_tables_name_their_parameters() {
        let r = Registry::builtin();
        let cfg: PolicyConfig = toml::from_str("name = \"thr-mmt\"\nthreshold = 0.7\n").unwrap();
        assert_eq!(
            r.resolve_config(&cfg).unwrap().build(0).name(),
            "thr-mmt-0.7"
        );
        let bad: PolicyConfig = toml::from_str("name = \"thr-mmt\"\nthreshhold = 0.7\n").unwrap();
        let e = r.resolve_config(&bad).unwrap_err().to_string();
        assert!(e.contains("threshhold") && e.contains("threshold"), "{e}");
    }

    #[test]
    fn help_lists_every_policy_and_parameter() {
        let r = Registry::builtin();
        let help = r.help();
        for s in r.specs() {
            assert!(help.contains(&s.name), "{} missing", s.name);
            for p in &s.params {
                assert!(help.contains(p.name), "{} of {} missing", p.name, s.name);
            }
        }
    }

    #[test]
    fn a_new_policy_registers_like_the_builtins() {
        let mut r = Registry::builtin();
        let mut spec = r.get("none").unwrap().clone();
        assert!(r.register(spec.clone()).is_err(), "duplicate name accepted");
        spec.name = "agent".into();
        r.register(spec).unwrap();
        assert!(r.build("agent", 0).is_ok());
    }
}
