//! Policies compared on the same episodes: every policy runs on the same world with the same
//! seeds, and each metric is summarised by its mean and a 95 % Student-t confidence interval over
//! the seeds. `promig evaluate` prints what [`compare`] returns; a large grid runs in shards
//! ([`Shard`]), one process each, and [`Comparison::merge`] puts the shards back together into
//! exactly what the unsharded run gives.

use crate::EvalError;
use crate::run::{check_name, run_named};
use promig_sim::split::{SplitName, Splits};
use promig_sim::{Report, SimConfig, World};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Fewest seeds a comparison accepts: below five, a Student-t interval is so wide (t = 2.776 at
/// four degrees of freedom, 12.7 at one) that no difference between policies could show.
pub const MIN_SEEDS: usize = 5;

/// The policies `promig evaluate` compares when none are named: the do-nothing floor, the two
/// reactive baselines, the best consolidation heuristic, our proactive greedy, and the same
/// moves each by the technique with the shortest predicted pause (the strongest baseline).
pub const DEFAULT_POLICIES: [&str; 6] = [
    "none",
    "reactive",
    "threshold",
    "lr-mmt",
    "proactive-greedy",
    "proactive-planned-2",
];

/// One slice of the seeds, for running a large grid as a job array (Slurm `--array`, an indexed
/// Kubernetes Job): shard `index` of `count` runs the seeds whose position in the seed list
/// modulo `count` is `index`, so the shards are disjoint, cover every seed and are equally long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 0.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl Shard {
    /// Parses `i/N` (0 <= i < N), as `--shard` takes it.
    pub fn parse(text: &str) -> Result<Shard, EvalError> {
        let bad = |why: &str| EvalError::Input(format!("--shard {text:?}: {why}"));
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected INDEX/COUNT, e.g. 0/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| bad("the index is not a whole number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("the count is not a whole number"))?;
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        if index >= count {
            return Err(bad("the index counts from 0 and must be below the count"));
        }
        Ok(Shard { index, count })
    }

    /// The seeds this shard runs, in their order in `all`.
    pub fn seeds(&self, all: &[u64]) -> Vec<u64> {
        all.iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, s)| *s)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Serialize for Shard {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Shard::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What the episodes are: a merge refuses shards that differ in any of it, since their seeds
/// would not be the same episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episodes {
    /// Scenario name (the scenario file's `name`).
    pub scenario: String,
    /// The trace folder replayed instead of the scenario's (`planetlab/20110303 (planetlab)`).
    pub traces: Option<String>,
    /// Calibration profile pricing the migrations.
    pub calibration: String,
    /// Five-minute steps per episode.
    pub steps: usize,
    /// Hosts in the world.
    pub hosts: usize,
    /// VMs in the world.
    pub vms: usize,
}

impl Episodes {
    /// The episodes `config` runs on `world`; `traces` names the trace folder replayed in place
    /// of the scenario's, if any.
    pub fn of(world: &World, config: &SimConfig, traces: Option<String>) -> Episodes {
        Episodes {
            scenario: world.name.clone(),
            traces,
            calibration: config.calibration.name.clone(),
            steps: config.steps,
            hosts: world.hosts.len(),
            vms: world.vms.len(),
        }
    }
}

/// The raw figures of one policy on one seed: what the summary is computed from, kept so that
/// shards can be merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Policy, as named on the command line.
    pub policy: String,
    /// Seed of the episode.
    pub seed: u64,
    /// VNF downtime.
    #[serde(deserialize_with = "exact_f64")]
    pub downtime_s: f64,
    /// Packets lost / packets offered (a fraction, not a percentage).
    #[serde(deserialize_with = "exact_f64")]
    pub loss_rate: f64,
    /// Time some VNF's QoS contract was broken, summed over VNFs.
    #[serde(deserialize_with = "exact_f64")]
    pub qos_violation_s: f64,
    /// Migrations started.
    pub migrations: u64,
    /// Energy drawn by the hosts.
    #[serde(deserialize_with = "exact_f64")]
    pub energy_kwh: f64,
    /// VMs lost to host crashes.
    pub vms_crashed: u64,
}

impl Run {
    /// The figures of a report, under the policy's command-line name.
    pub fn from_report(policy: &str, r: &Report) -> Run {
        Run {
            policy: policy.to_string(),
            seed: r.seed,
            downtime_s: r.downtime_s,
            loss_rate: r.loss_rate,
            qos_violation_s: r.qos_violation_s,
            migrations: r.migrations,
            energy_kwh: r.energy_kwh,
            vms_crashed: r.vms_crashed,
        }
    }
}

/// Reads a JSON number with Rust's correctly rounded parser rather than serde_json's default
/// (which may land one ulp off), so that a value written by one shard reads back bit for bit.
fn exact_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let raw: Box<serde_json::value::RawValue> = Deserialize::deserialize(d)?;
    raw.get()
        .parse::<f64>()
        .map_err(|_| serde::de::Error::custom(format!("expected a number, found {}", raw.get())))
}

/// A sample's mean and its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Sample mean.
    pub mean: f64,
    /// Lower and upper bound of the 95 % interval (Student t, n - 1 degrees of freedom).
    pub ci95: [f64; 2],
}

/// One policy's summary: each metric's mean and interval over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicySummary {
    /// VNF downtime, seconds.
    pub downtime_s: Interval,
    /// Packet loss rate (fraction).
    pub loss_rate: Interval,
    /// QoS-violation time, seconds.
    pub qos_violation_s: Interval,
    /// Migrations.
    pub migrations: Interval,
    /// Energy, kWh.
    pub energy_kwh: Interval,
    /// VMs crashed.
    pub vms_crashed: Interval,
}

/// One policy against the first of the comparison, seed by seed: each metric's difference
/// (this policy minus the first) with its mean and 95 % interval over the seeds. Both ran the
/// same episodes, so the seeds' shared variance (how many failures a day brings) cancels: a gain
/// that two overlapping intervals hide shows here when it holds seed after seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedSummary {
    /// Differences, per metric, in the metrics' units.
    pub difference: PolicySummary,
    /// Seeds on which this policy had less downtime than the first.
    pub seeds_with_less_downtime: usize,
    /// Seeds on which it lost a smaller share of packets.
    pub seeds_with_less_loss: usize,
}

impl PolicySummary {
    /// Each metric summarised by `col`, given how to read that metric from a run.
    fn by_metric(col: impl Fn(fn(&Run) -> f64) -> Interval) -> PolicySummary {
        PolicySummary {
            downtime_s: col(|r| r.downtime_s),
            loss_rate: col(|r| r.loss_rate),
            qos_violation_s: col(|r| r.qos_violation_s),
            migrations: col(|r| r.migrations as f64),
            energy_kwh: col(|r| r.energy_kwh),
            vms_crashed: col(|r| r.vms_crashed as f64),
        }
    }
}

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom (2.776 at 4).
pub fn t_975(df: usize) -> f64 {
    // A true invariant: the location 0, scale 1 and df >= 1 passed here are always valid.
    StudentsT::new(0.0, 1.0, df.max(1) as f64)
        .expect("Student t with location 0, scale 1 and df >= 1 is valid")
        .inverse_cdf(0.975)
}

/// Mean and 95 % Student-t confidence interval of a sample: mean +- t(0.975, n-1) s / sqrt(n).
/// A sample of one value, or of equal values, gives a zero-width interval at that value.
pub fn mean_ci95(xs: &[f64]) -> Interval {
    let Some(&first) = xs.first() else {
        return Interval {
            mean: f64::NAN,
            ci95: [f64::NAN, f64::NAN],
        };
    };
    let n = xs.len() as f64;
    // Shifted by the first value: exact when all values are equal, and no cancellation when
    // they are large and close.
    let shift = xs.iter().map(|x| x - first).sum::<f64>() / n;
    let mean = first + shift;
    if xs.len() < 2 {
        return Interval {
            mean,
            ci95: [mean, mean],
        };
    }
    let var = xs.iter().map(|x| (x - first - shift).powi(2)).sum::<f64>() / (n - 1.0);
    let half = t_975(xs.len() - 1) * var.sqrt() / n.sqrt();
    Interval {
        mean,
        ci95: [mean - half, mean + half],
    }
}

/// Every policy's runs on every seed of one set of episodes: the outcome of [`compare`] (or of
/// one shard of it), serialised as `promig evaluate`'s JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Comparison {
    /// What the episodes are.
    #[serde(flatten)]
    pub episodes: Episodes,
    /// Every seed of the evaluation, in order (a shard holds runs for its slice only).
    pub seeds: Vec<u64>,
    /// The slice this holds, when it is one shard.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// The policies, in the order they were asked for (the table's row order).
    pub policy_order: Vec<String>,
    /// One entry per policy and seed, policies in `policy_order`, seeds in `seeds` order.
    pub runs: Vec<Run>,
}

/// The JSON form: the summary beside the raw runs, which a shard has no summary of (its slice of
/// the seeds alone would give misleading intervals).
#[derive(Serialize)]
struct Written<'a> {
    #[serde(flatten)]
    episodes: &'a Episodes,
    seeds: &'a [u64],
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<Shard>,
    policy_order: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    policies: Option<Ordered<'a, PolicySummary>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paired_against: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paired: Option<Ordered<'a, PairedSummary>>,
    runs: &'a [Run],
}

/// A JSON object whose keys keep the order given (the policies as asked for), where a map type
/// would sort them.
struct Ordered<'a, T>(&'a [(String, T)]);

impl<T: Serialize> Serialize for Ordered<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Comparison {
    /// Each policy's summary, in `policy_order`. Only a complete comparison (not a shard) has one.
    pub fn summary(&self) -> Vec<(String, PolicySummary)> {
        self.policy_order
            .iter()
            .map(|p| {
                let runs: Vec<&Run> = self.runs.iter().filter(|r| &r.policy == p).collect();
                let summary = PolicySummary::by_metric(|f| {
                    mean_ci95(&runs.iter().map(|r| f(r)).collect::<Vec<_>>())
                });
                (p.clone(), summary)
            })
            .collect()
    }

    /// Every policy after the first against the first, seed by seed (empty for a shard or a
    /// single policy).
    pub fn paired(&self) -> Vec<(String, PairedSummary)> {
        let Some(base) = self.policy_order.first() else {
            return Vec::new();
        };
        if self.shard.is_some() {
            return Vec::new();
        }
        let run =
            |p: &String, seed: u64| self.runs.iter().find(|r| &r.policy == p && r.seed == seed);
        self.policy_order
            .iter()
            .skip(1)
            .map(|p| {
                let pairs: Vec<(&Run, &Run)> = self
                    .seeds
                    .iter()
                    .filter_map(|&seed| Some((run(p, seed)?, run(base, seed)?)))
                    .collect();
                let paired = PairedSummary {
                    difference: PolicySummary::by_metric(|f| {
                        mean_ci95(&pairs.iter().map(|(a, b)| f(a) - f(b)).collect::<Vec<_>>())
                    }),
                    seeds_with_less_downtime: pairs
                        .iter()
                        .filter(|(a, b)| a.downtime_s < b.downtime_s)
                        .count(),
                    seeds_with_less_loss: pairs
                        .iter()
                        .filter(|(a, b)| a.loss_rate < b.loss_rate)
                        .count(),
                };
                (p.clone(), paired)
            })
            .collect()
    }

    /// `promig evaluate`'s JSON: one object with the episodes, the seeds, the summary under
    /// `policies` and each later policy against the first under `paired` (both left out of a
    /// shard), and the raw `runs`.
    pub fn to_json(&self) -> String {
        let summary = self.summary();
        let paired = self.paired();
        let written = Written {
            episodes: &self.episodes,
            seeds: &self.seeds,
            shard: self.shard,
            policy_order: &self.policy_order,
            policies: self.shard.is_none().then_some(Ordered(&summary)),
            paired_against: (!paired.is_empty())
                .then(|| self.policy_order.first().map(String::as_str))
                .flatten(),
            paired: (!paired.is_empty()).then_some(Ordered(&paired)),
            runs: &self.runs,
        };
        // A true invariant: the types above hold only strings, integers, floats and sequences.
        serde_json::to_string_pretty(&written).expect("a comparison always serialises")
    }

    /// Reads a comparison (a shard or a whole one) that [`Comparison::to_json`] wrote; errors
    /// name `file`.
    pub fn from_json(text: &str, file: &Path) -> Result<Comparison, EvalError> {
        serde_json::from_str(text).map_err(|e| EvalError::File {
            file: file.to_path_buf(),
            reason: format!("not an evaluation shard: {e}"),
        })
    }

    /// Puts shards back together into the comparison the unsharded run gives. Refuses files that
    /// differ in scenario, traces, calibration, steps, seeds or policies, a run that two files
    /// hold, and a seed that no file holds, naming the file.
    pub fn merge(parts: &[(PathBuf, Comparison)]) -> Result<Comparison, EvalError> {
        let Some((first_file, first)) = parts.first() else {
            return Err(EvalError::Input(
                "evaluate merge: no shard files given".into(),
            ));
        };
        let refuse = |file: &Path, reason: String| EvalError::File {
            file: file.to_path_buf(),
            reason,
        };
        let mut holder: BTreeMap<(usize, u64), &Path> = BTreeMap::new();
        let mut runs: Vec<Run> = Vec::new();
        for (file, c) in parts {
            let differs = |what: &str, this: String, that: String| {
                refuse(
                    file,
                    format!(
                        "its {what} ({this}) differs from {} ({that}): not the same episodes",
                        first_file.display()
                    ),
                )
            };
            let (e, f) = (&c.episodes, &first.episodes);
            if e.scenario != f.scenario {
                return Err(differs("scenario", e.scenario.clone(), f.scenario.clone()));
            }
            if e.traces != f.traces {
                return Err(differs(
                    "traces",
                    format!("{:?}", e.traces),
                    format!("{:?}", f.traces),
                ));
            }
            if e.calibration != f.calibration {
                return Err(differs(
                    "calibration",
                    e.calibration.clone(),
                    f.calibration.clone(),
                ));
            }
            if e.steps != f.steps {
                return Err(differs("steps", e.steps.to_string(), f.steps.to_string()));
            }
            if (e.hosts, e.vms) != (f.hosts, f.vms) {
                return Err(differs(
                    "world",
                    format!("{} hosts, {} VMs", e.hosts, e.vms),
                    format!("{} hosts, {} VMs", f.hosts, f.vms),
                ));
            }
            if c.seeds != first.seeds {
                return Err(differs(
                    "seed list",
                    format!("{:?}", c.seeds),
                    format!("{:?}", first.seeds),
                ));
            }
            if c.policy_order != first.policy_order {
                return Err(differs(
                    "policies",
                    c.policy_order.join(","),
                    first.policy_order.join(","),
                ));
            }
            for r in &c.runs {
                let p = c
                    .policy_order
                    .iter()
                    .position(|p| p == &r.policy)
                    .ok_or_else(|| {
                        refuse(
                            file,
                            format!(
                                "a run of policy {:?}, which is not in its policy_order",
                                r.policy
                            ),
                        )
                    })?;
                if !c.seeds.contains(&r.seed) {
                    return Err(refuse(
                        file,
                        format!("a run with seed {}, which is not in its seeds", r.seed),
                    ));
                }
                if let Some(other) = holder.insert((p, r.seed), file) {
                    let where_ = if other == file.as_path() {
                        "twice in this file".to_string()
                    } else {
                        format!("also in {}", other.display())
                    };
                    return Err(refuse(
                        file,
                        format!(
                            "seed {} of policy {} is {where_} (overlapping shards)",
                            r.seed, r.policy
                        ),
                    ));
                }
                runs.push(r.clone());
            }
        }
        for (p, policy) in first.policy_order.iter().enumerate() {
            for (i, seed) in first.seeds.iter().enumerate() {
                if !holder.contains_key(&(p, *seed)) {
                    // Which shard should have held it, when the files say how they were cut.
                    let hint = first
                        .shard
                        .map(|s| {
                            format!(
                                " (shard {}/{} runs it: is its file missing?)",
                                i % s.count,
                                s.count
                            )
                        })
                        .unwrap_or_default();
                    let given: Vec<String> =
                        parts.iter().map(|(f, _)| f.display().to_string()).collect();
                    return Err(EvalError::Input(format!(
                        "evaluate merge: seed {seed} of policy {policy} is in none of {}{hint}",
                        given.join(", ")
                    )));
                }
            }
        }
        let mut merged = Comparison {
            episodes: first.episodes.clone(),
            seeds: first.seeds.clone(),
            shard: None,
            policy_order: first.policy_order.clone(),
            runs,
        };
        merged.sort_runs();
        Ok(merged)
    }

    /// Puts the runs in their canonical order (policies as asked for, then seeds in list order),
    /// so a merged comparison prints exactly as the unsharded one.
    fn sort_runs(&mut self) {
        let order = &self.policy_order;
        let seeds = &self.seeds;
        let key = |r: &Run| {
            (
                order.iter().position(|p| p == &r.policy),
                seeds.iter().position(|s| *s == r.seed),
            )
        };
        self.runs.sort_by_key(key);
    }

    /// The table `promig evaluate` prints: one row per policy, each metric's mean ± the half-width
    /// of its 95 % interval.
    pub fn table(&self) -> String {
        // The Student-t interval is symmetric about the mean, so `mean ± half-width` says all of
        // it in half the width of `mean [lo, hi]`; the JSON carries the bounds.
        let cell = |i: &Interval, scale: f64, decimals: usize| {
            format!(
                "{:.d$} ± {:.d$}",
                i.mean * scale,
                (i.ci95[1] - i.mean) * scale,
                d = decimals
            )
        };
        let header = [
            "downtime s",
            "loss %",
            "QoS viol s",
            "migrations",
            "energy kWh",
            "VMs crashed",
        ];
        let rows: Vec<(String, Vec<String>)> = self
            .summary()
            .iter()
            .map(|(p, s)| {
                (
                    p.clone(),
                    vec![
                        cell(&s.downtime_s, 1.0, 1),
                        cell(&s.loss_rate, 100.0, 4),
                        cell(&s.qos_violation_s, 1.0, 0),
                        cell(&s.migrations, 1.0, 1),
                        cell(&s.energy_kwh, 1.0, 2),
                        cell(&s.vms_crashed, 1.0, 1),
                    ],
                )
            })
            .collect();
        let name_w = rows.iter().map(|(p, _)| p.len()).max().unwrap_or(0).max(6);
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                rows.iter()
                    .map(|(_, cells)| cells[c].chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(header[c].len())
            })
            .collect();
        let mut out = format!("{:<name_w$}", "policy");
        for (h, w) in header.iter().zip(&widths) {
            out.push_str(&format!("  {h:>w$}"));
        }
        out.push('\n');
        for (p, cells) in &rows {
            out.push_str(&format!("{p:<name_w$}"));
            for (c, w) in cells.iter().zip(&widths) {
                out.push_str(&format!("  {c:>w$}"));
            }
            out.push('\n');
        }
        out
    }

    /// Each later policy against the first, seed by seed: the mean difference ± the half-width
    /// of its 95 % interval per metric, and on how many seeds it had less downtime and loss.
    pub fn paired_table(&self) -> String {
        let paired = self.paired();
        let Some(base) = self.policy_order.first().filter(|_| !paired.is_empty()) else {
            return String::new();
        };
        let cell = |i: &Interval, scale: f64, decimals: usize| {
            format!(
                "{:+.d$} ± {:.d$}",
                i.mean * scale,
                (i.ci95[1] - i.mean) * scale,
                d = decimals
            )
        };
        let n = self.seeds.len();
        let name_w = paired
            .iter()
            .map(|(p, _)| p.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let mut out = format!(
            "against {base}, seed by seed (this policy minus {base}):\n{:<name_w$}  {:>18}  {:>18}  {:>14}  {:>14}  {}\n",
            "policy",
            "downtime s",
            "loss %-points",
            "migrations",
            "energy kWh",
            "seeds better (downtime, loss)"
        );
        for (p, s) in &paired {
            let d = &s.difference;
            out.push_str(&format!(
                "{p:<name_w$}  {:>18}  {:>18}  {:>14}  {:>14}  {}/{n}, {}/{n}\n",
                cell(&d.downtime_s, 1.0, 1),
                cell(&d.loss_rate, 100.0, 4),
                cell(&d.migrations, 1.0, 1),
                cell(&d.energy_kwh, 1.0, 2),
                s.seeds_with_less_downtime,
                s.seeds_with_less_loss
            ));
        }
        out
    }
}

/// Runs every policy on every seed of `seeds` (all of them, or a shard's slice) on one world and
/// collects the raw figures. `seeds` is the evaluation's whole seed list and must hold at least
/// [`MIN_SEEDS`] distinct seeds; policies are checked against the registry (or are the
/// analysis-only [`oracle`](crate::oracle)) before anything runs. Runs go over the cores in
/// parallel, each simulation on its own, so the result does not depend on how many threads
/// there were.
pub fn compare(
    world: &Arc<World>,
    base: &SimConfig,
    episodes: Episodes,
    policies: &[String],
    seeds: &[u64],
    shard: Option<Shard>,
) -> Result<Comparison, EvalError> {
    compare_episodes(episodes, policies, seeds, shard, |seed| {
        let config = SimConfig {
            seed,
            ..base.clone()
        };
        Ok((Arc::clone(world), config))
    })
}

/// Like [`compare`], with each seed's own world and settings from `episode(seed)`: the episodes
/// of a split, where every seed is another data centre. Each seed's world is built once and run
/// by every policy, seeds in parallel.
pub fn compare_episodes(
    episodes: Episodes,
    policies: &[String],
    seeds: &[u64],
    shard: Option<Shard>,
    episode: impl Fn(u64) -> Result<(Arc<World>, SimConfig), EvalError> + Sync,
) -> Result<Comparison, EvalError> {
    let mut distinct = seeds.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != seeds.len() {
        return Err(EvalError::Input("--seeds: a seed is listed twice".into()));
    }
    if seeds.len() < MIN_SEEDS {
        return Err(EvalError::Input(format!(
            "--seeds: {} seed(s) given, at least {MIN_SEEDS} are needed for a confidence interval",
            seeds.len()
        )));
    }
    if policies.is_empty() {
        return Err(EvalError::Input("--policies: no policy given".into()));
    }
    for (i, p) in policies.iter().enumerate() {
        check_name(p)?; // a typo is refused before any simulation runs
        if policies[..i].contains(p) {
            return Err(EvalError::Input(format!("--policies: {p} is listed twice")));
        }
    }
    let mine = match shard {
        Some(s) => s.seeds(seeds),
        None => seeds.to_vec(),
    };
    let run_seed = |&seed: &u64| -> Result<Vec<Run>, EvalError> {
        let (world, config) = episode(seed)?;
        policies
            .iter()
            .map(|p| {
                let report = run_named(&world, &config, p, &mut |_, _| {})?;
                Ok(Run::from_report(p, &report))
            })
            .collect()
    };
    let mut runs = Vec::with_capacity(mine.len() * policies.len());
    for r in crate::parallel::map_in_order(&mine, run_seed) {
        runs.extend(r?);
    }
    let mut c = Comparison {
        episodes,
        seeds: seeds.to_vec(),
        shard,
        policy_order: policies.to_vec(),
        runs,
    };
    c.sort_runs();
    Ok(c)
}

/// Every policy on the episodes of one split of `splits` (`seeds`, or all of the split's):
/// each seed its own data centre, traces and faults ([`Splits::scenario`]), priced with
/// `calibration` when given (else the scenario's profile). `data` is the data folder.
pub fn compare_split(
    splits: &Splits,
    split: SplitName,
    data: &Path,
    policies: &[String],
    seeds: Option<&[u64]>,
    shard: Option<Shard>,
    calibration: Option<Arc<promig_migrate::Profile>>,
) -> Result<Comparison, EvalError> {
    let seeds = match seeds {
        Some(s) => s.to_vec(),
        None => splits.seeds(split),
    };
    let mut hosts = 0;
    let mut vms = 0.0;
    for &seed in &seeds {
        let (_, summary) = splits.scenario(split, seed, data)?;
        hosts += summary.hosts;
        vms += summary.hosts as f64 * splits.shape.vms_per_host;
    }
    let n = seeds.len().max(1);
    let s = splits.get(split);
    let steps = promig_sim::scenario::default_scenario()?.steps;
    let profile = match &calibration {
        Some(p) => p.name.clone(),
        None => SimConfig::nfv(0, steps).calibration.name.clone(),
    };
    let episodes = Episodes {
        scenario: format!(
            "{} split ({}-{} hosts, mean per episode below; networks leaf-spine, {})",
            split.name(),
            splits.shape.hosts[0],
            splits.shape.hosts[1],
            s.zoo.join(", ")
        ),
        traces: Some(
            s.traces
                .iter()
                .map(|t| t.label())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        calibration: profile,
        steps,
        hosts: hosts / n,
        vms: (vms / n as f64).round() as usize,
    };
    compare_episodes(episodes, policies, &seeds, shard, |seed| {
        let (world, mut config) = splits.episode(split, seed, data)?;
        if let Some(p) = &calibration {
            config.calibration = Arc::clone(p);
        }
        Ok((Arc::new(world), config))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_textbook_table() {
        // Two-sided 95 % (t_0.975) from any statistics table.
        for (df, t) in [
            (1, 12.706),
            (2, 4.303),
            (4, 2.776),
            (9, 2.262),
            (29, 2.045),
            (100, 1.984),
        ] {
            assert!(close(t_975(df), t, 5e-4), "df {df}: {}", t_975(df));
        }
    }

    #[test]
    fn interval_of_a_known_sample() {
        // 2, 4, 4, 4, 5: mean 3.8, s = sqrt(1.2), half = 2.776 * s / sqrt(5) = 1.36.
        let i = mean_ci95(&[2.0, 4.0, 4.0, 4.0, 5.0]);
        assert!(close(i.mean, 3.8, 1e-12));
        let half = 2.776_445_105 * 1.2f64.sqrt() / 5f64.sqrt();
        assert!(close(i.ci95[0], 3.8 - half, 1e-6), "{i:?}");
        assert!(close(i.ci95[1], 3.8 + half, 1e-6), "{i:?}");
        // n = 10, 1..=10: mean 5.5, s = 3.02765, t_0.975,9 = 2.262 -> 5.5 +- 2.166.
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let i = mean_ci95(&xs);
        assert!(close(i.ci95[1] - 5.5, 2.166, 1e-3), "{i:?}");
    }

    #[test]
    fn a_single_value_gives_a_zero_width_interval() {
        let one = mean_ci95(&[0.1]);
        assert_eq!((one.mean, one.ci95), (0.1, [0.1, 0.1]));
        let same = mean_ci95(&[0.1; 7]);
        assert_eq!((same.mean, same.ci95), (0.1, [0.1, 0.1]));
    }

    #[test]
    fn shards_cut_the_seed_list_by_position() {
        let all = [21, 22, 23, 24, 25];
        assert_eq!(Shard::parse("0/2").unwrap().seeds(&all), vec![21, 23, 25]);
        assert_eq!(Shard::parse("1/2").unwrap().seeds(&all), vec![22, 24]);
        for bad in ["2/2", "1", "a/2", "0/0", "-1/2"] {
            let e = Shard::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--shard"), "{bad}: {e}");
        }
    }

    fn run(policy: &str, seed: u64, downtime_s: f64) -> Run {
        Run {
            policy: policy.into(),
            seed,
            downtime_s,
            loss_rate: 0.001 * seed as f64,
            qos_violation_s: 1.0 / 3.0 * seed as f64,
            migrations: seed,
            energy_kwh: 0.1 + seed as f64,
            vms_crashed: 0,
        }
    }

    fn shard(index: usize, count: usize) -> Comparison {
        let seeds: Vec<u64> = (1..=5).collect();
        let shard = Shard { index, count };
        let runs = ["a", "b"]
            .iter()
            .flat_map(|p| {
                shard
                    .seeds(&seeds)
                    .into_iter()
                    .map(move |s| run(p, s, s as f64 * 0.7))
            })
            .collect();
        Comparison {
            episodes: Episodes {
                scenario: "s".into(),
                traces: None,
                calibration: "kvm".into(),
                steps: 24,
                hosts: 4,
                vms: 8,
            },
            seeds,
            shard: Some(shard),
            policy_order: vec!["a".into(), "b".into()],
            runs,
        }
    }

    /// b beats a by exactly 1 s on every seed but one, where it loses by 2 s, while both vary by
    /// seconds from seed to seed: the paired difference is exact and narrow where the two
    /// summaries' intervals overlap.
    #[test]
    fn paired_differences_are_taken_seed_by_seed() {
        let mut c = shard(0, 1);
        c.shard = None;
        for r in c.runs.iter_mut().filter(|r| r.policy == "b") {
            r.downtime_s -= if r.seed == 3 { -2.0 } else { 1.0 };
            r.loss_rate *= 0.5;
        }
        let paired = c.paired();
        assert_eq!(paired.len(), 1);
        let (name, p) = &paired[0];
        assert_eq!(name, "b");
        let expect = mean_ci95(&[-1.0, -1.0, 2.0, -1.0, -1.0]);
        assert_eq!(p.difference.downtime_s, expect);
        assert_eq!((p.seeds_with_less_downtime, p.seeds_with_less_loss), (4, 5));
        assert_eq!(p.difference.migrations.mean, 0.0);
        let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(json["paired_against"], "a");
        assert_eq!(json["paired"]["b"]["seeds_with_less_downtime"], 4);
        assert!(
            c.paired_table().contains("4/5, 5/5"),
            "{}",
            c.paired_table()
        );
        // A shard has no pairing (its slice alone would mislead), nor has a single policy.
        assert!(shard(0, 2).paired().is_empty());
        c.policy_order.truncate(1);
        assert!(c.paired().is_empty() && c.paired_table().is_empty());
    }

    fn via_json(c: &Comparison, name: &str) -> (PathBuf, Comparison) {
        let file = PathBuf::from(name);
        let back = Comparison::from_json(&c.to_json(), &file).unwrap();
        assert_eq!(&back, c, "a shard reads back as written");
        (file, back)
    }

    #[test]
    fn shards_merge_into_the_whole() {
        let whole = {
            let mut w = shard(0, 1);
            w.shard = None;
            w
        };
        let merged = Comparison::merge(&[
            via_json(&shard(1, 2), "b.json"),
            via_json(&shard(0, 2), "a.json"),
        ])
        .unwrap();
        assert_eq!(merged, whole);
        assert_eq!(merged.to_json(), whole.to_json());
    }

    #[test]
    fn raw_figures_read_back_bit_for_bit() {
        // Awkward doubles (long decimal expansions, tiny and huge exponents) from a fixed
        // xorshift stream: each must come back with the same bits.
        let mut c = shard(0, 1);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for r in c.runs.iter_mut() {
            for v in [
                &mut r.downtime_s,
                &mut r.loss_rate,
                &mut r.qos_violation_s,
                &mut r.energy_kwh,
            ] {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let f = f64::from_bits(x >> 2); // positive, finite
                *v = if f.is_finite() { f } else { 1.0 / 3.0 };
            }
        }
        let back = Comparison::from_json(&c.to_json(), Path::new("t.json")).unwrap();
        for (a, b) in c.runs.iter().zip(&back.runs) {
            assert_eq!(a.downtime_s.to_bits(), b.downtime_s.to_bits());
            assert_eq!(a.loss_rate.to_bits(), b.loss_rate.to_bits());
            assert_eq!(a.qos_violation_s.to_bits(), b.qos_violation_s.to_bits());
            assert_eq!(a.energy_kwh.to_bits(), b.energy_kwh.to_bits());
        }
    }

    #[test]
    fn merge_refuses_mismatches_overlaps_and_gaps_naming_the_file() {
        let a = (PathBuf::from("a.json"), shard(0, 2));
        let b = (PathBuf::from("b.json"), shard(1, 2));

        let mut other = b.clone();
        other.1.episodes.steps = 48;
        let e = Comparison::merge(&[a.clone(), other])
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.json") && e.contains("steps"), "{e}");

        let mut other = b.clone();
        other.1.episodes.scenario = "t".into();
        let e = Comparison::merge(&[a.clone(), other])
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.json") && e.contains("scenario"), "{e}");

        let mut other = b.clone();
        other.1.policy_order.reverse();
        let e = Comparison::merge(&[a.clone(), other])
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.json") && e.contains("policies"), "{e}");

        let e = Comparison::merge(&[a.clone(), b.clone(), (PathBuf::from("c.json"), shard(0, 2))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.json") && e.contains("also in a.json"), "{e}");

        let e = Comparison::merge(std::slice::from_ref(&a))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("seed 2") && e.contains("shard 1/2") && e.contains("a.json"),
            "{e}"
        );

        let e = Comparison::from_json("{\"runs\": 3}", Path::new("x.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.json"), "{e}");
    }
}
