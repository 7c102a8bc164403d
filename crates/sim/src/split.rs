//! The fixed train / validate / test splits: a distribution of scenarios (data-centre sizes,
//! leaf-spine and Topology Zoo networks, PlanetLab, Google and Bitbrains traces, every fault kind
//! including whole-rack failures) with each split's own traces, networks and seeds, written in
//! one file (`scenarios/splits.toml`) so that what an agent was trained on can be read, and a
//! test episode can never have been seen in training.
//!
//! Episode `seed` of a split is a scenario drawn from `seed` alone (ChaCha8), run with simulation
//! seed `seed`: the same number always names the same day.

use crate::SimError;
use crate::scenario::default_scenario;
use promig_model::scenario::{ScenarioFile, TopologyConfig};
use promig_model::trace::TraceFormat;
use promig_model::{ModelError, Topology};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The built-in splits.
pub const SPLITS_TOML: &str = include_str!("../scenarios/splits.toml");

/// Which split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitName {
    /// What the agent learns on.
    Train,
    /// What its settings and training seeds are chosen on.
    Validate,
    /// What it is judged on, once.
    Test,
}

impl SplitName {
    /// `train`, `validate` or `test`, from the command line.
    pub fn parse(s: &str) -> Option<SplitName> {
        match s {
            "train" => Some(SplitName::Train),
            "validate" => Some(SplitName::Validate),
            "test" => Some(SplitName::Test),
            _ => None,
        }
    }

    /// The name in the file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Validate => "validate",
            SplitName::Test => "test",
        }
    }
}

/// The data centres every split draws from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Smallest and largest host count (drawn log-uniformly).
    pub hosts: [usize; 2],
    /// Hosts per leaf-spine rack.
    pub hosts_per_rack: u32,
    /// Share of episodes on a Topology Zoo network.
    pub zoo_share: f64,
    /// VMs per host.
    pub vms_per_host: f64,
}

/// Faults per day (Poisson means), scaled to the episode's size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// Hardware failures per host.
    pub hardware_failures_per_host: f64,
    /// False alarms per host.
    pub false_alarms_per_host: f64,
    /// Degradations per host.
    pub degradations_per_host: f64,
    /// Memory leaks per VM.
    pub memory_leaks_per_vm: f64,
    /// Chain-wide surges.
    pub surges: f64,
    /// Whole-rack (whole-site) failures per rack.
    pub rack_failures_per_rack: f64,
}

/// One trace set a split replays.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSource {
    /// Folder, relative to the data folder.
    pub dir: String,
    /// Its format.
    pub format: TraceFormat,
    /// 1-based positions of its files, in natural order (all when absent).
    #[serde(default)]
    pub files: Option<[usize; 2]>,
}

impl TraceSource {
    /// `google-vms 401-600`, for tables.
    pub fn label(&self) -> String {
        match self.files {
            Some([a, b]) => format!("{} {a}-{b}", self.dir),
            None => self.dir.clone(),
        }
    }
}

/// One split: its seeds, traces and wide-area networks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// First and last episode seed (inclusive).
    pub seeds: [u64; 2],
    /// Topology Zoo files (in `topology-zoo/`).
    pub zoo: Vec<String>,
    /// Trace sets.
    pub traces: Vec<TraceSource>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Splits {
    /// Data-centre shapes.
    pub shape: Shape,
    /// Fault rates.
    pub rates: Rates,
    /// Training split.
    pub train: Split,
    /// Validation split.
    pub validate: Split,
    /// Test split.
    pub test: Split,
}

/// What one episode of a split is, in words, for tables and progress lines.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeSummary {
    /// Hosts.
    pub hosts: usize,
    /// Leaf-spine or the Zoo network's file.
    pub network: String,
    /// The trace set's label.
    pub traces: String,
}

impl Splits {
    /// The splits built into promig.
    pub fn builtin() -> Result<Splits, SimError> {
        Splits::parse(SPLITS_TOML, Path::new("<built-in splits.toml>"))
    }

    /// Reads and checks a splits file.
    pub fn load(path: &Path) -> Result<Splits, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Splits::parse(&text, path)
    }

    /// Parses and checks splits text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Splits, SimError> {
        let s: Splits = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|sp| promig_model::toml_text::line_of(text, sp.start.min(text.len())))
                .unwrap_or(1);
            let key = promig_model::toml_text::key_on_line(text, line);
            ModelError::parse(path, line, &key, e.message().replace('\n', " "))
        })?;
        s.check(path)?;
        Ok(s)
    }

    fn check(&self, path: &Path) -> Result<(), SimError> {
        let bad = |what: String| SimError::from(ModelError::invalid(path, what));
        let [lo, hi] = self.shape.hosts;
        if lo == 0 || hi < lo || hi > promig_model::scenario::MAX_HOSTS {
            return Err(bad(format!("shape.hosts = [{lo}, {hi}]")));
        }
        if self.shape.hosts_per_rack == 0 {
            return Err(bad("shape.hosts_per_rack must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.shape.zoo_share) {
            return Err(bad("shape.zoo_share must be within 0..=1".into()));
        }
        if !(self.shape.vms_per_host.is_finite() && self.shape.vms_per_host > 0.0) {
            return Err(bad("shape.vms_per_host must be positive".into()));
        }
        let r = &self.rates;
        for (name, v) in [
            ("hardware_failures_per_host", r.hardware_failures_per_host),
            ("false_alarms_per_host", r.false_alarms_per_host),
            ("degradations_per_host", r.degradations_per_host),
            ("memory_leaks_per_vm", r.memory_leaks_per_vm),
            ("surges", r.surges),
            ("rack_failures_per_rack", r.rack_failures_per_rack),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(format!("rates.{name} must be finite and non-negative")));
            }
        }
        let all = [SplitName::Train, SplitName::Validate, SplitName::Test];
        for name in all {
            let s = self.get(name);
            if s.seeds[1] < s.seeds[0] {
                return Err(bad(format!("{}.seeds: last before first", name.name())));
            }
            if s.traces.is_empty() {
                return Err(bad(format!("{}.traces: none given", name.name())));
            }
            if self.shape.zoo_share > 0.0 && s.zoo.is_empty() {
                return Err(bad(format!(
                    "{}.zoo: none given but shape.zoo_share > 0",
                    name.name()
                )));
            }
        }
        // The point of the file: nothing evaluated was trained on.
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let (sa, sb) = (self.get(*a), self.get(*b));
                if sa.seeds[0] <= sb.seeds[1] && sb.seeds[0] <= sa.seeds[1] {
                    return Err(bad(format!(
                        "the seeds of {} and {} overlap",
                        a.name(),
                        b.name()
                    )));
                }
                if let Some(z) = sa.zoo.iter().find(|z| sb.zoo.contains(z)) {
                    return Err(bad(format!("{z} is in both {} and {}", a.name(), b.name())));
                }
                for ta in &sa.traces {
                    for tb in sb.traces.iter().filter(|t| t.dir == ta.dir) {
                        let overlap = match (ta.files, tb.files) {
                            (Some([a0, a1]), Some([b0, b1])) => a0 <= b1 && b0 <= a1,
                            _ => true,
                        };
                        if overlap {
                            return Err(bad(format!(
                                "{} ({}) and {} ({}) share trace files",
                                ta.label(),
                                a.name(),
                                tb.label(),
                                b.name()
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One split.
    pub fn get(&self, name: SplitName) -> &Split {
        match name {
            SplitName::Train => &self.train,
            SplitName::Validate => &self.validate,
            SplitName::Test => &self.test,
        }
    }

    /// Its episode seeds.
    pub fn seeds(&self, name: SplitName) -> Vec<u64> {
        let [a, b] = self.get(name).seeds;
        (a..=b).collect()
    }

    /// The scenario of episode `seed` of split `name`: the default scenario on a data centre,
    /// traces and fault counts drawn from `seed`. `data` is the data folder (for the Zoo
    /// network's site count). A seed outside the split is refused: a test episode is never a
    /// training one by mistake.
    pub fn scenario(
        &self,
        name: SplitName,
        seed: u64,
        data: &Path,
    ) -> Result<(ScenarioFile, EpisodeSummary), SimError> {
        let split = self.get(name);
        if !(split.seeds[0]..=split.seeds[1]).contains(&seed) {
            return Err(SimError::Setup(format!(
                "seed {seed} is not in the {} split ({}..={})",
                name.name(),
                split.seeds[0],
                split.seeds[1]
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5b11_7000);
        let shape = &self.shape;
        let source = &split.traces[rng.random_range(0..split.traces.len())];
        let (lo, hi) = (shape.hosts[0] as f64, shape.hosts[1] as f64);
        let wanted = (lo.ln() + rng.random_range(0.0..=1.0) * (hi.ln() - lo.ln()))
            .exp()
            .round()
            .clamp(lo, hi);
        let zoo = !split.zoo.is_empty() && rng.random_range(0.0..1.0) < shape.zoo_share;
        let mut file = default_scenario()?;
        let (hosts, network, racks) = if zoo {
            let net = &split.zoo[rng.random_range(0..split.zoo.len())];
            let rel = format!("topology-zoo/{net}");
            let sites = Topology::from_graphml(&data.join(&rel), 1, 1e10)?.hosts();
            let per_site = ((wanted / sites as f64).round() as u32).max(1);
            file.datacenter.topology = TopologyConfig::Graphml {
                file: rel,
                hosts_per_site: per_site,
            };
            (sites * per_site as usize, net.clone(), sites)
        } else {
            let per_rack = shape.hosts_per_rack as usize;
            let racks = (wanted as usize).div_ceil(per_rack).max(1);
            let per_rack = (wanted as usize).div_ceil(racks) as u32;
            file.datacenter.topology = TopologyConfig::LeafSpine {
                racks: racks as u32,
                hosts_per_rack: per_rack,
                spines: 2,
                fabric_gbps: 40.0,
            };
            (racks * per_rack as usize, "leaf-spine".to_string(), racks)
        };
        let vms = ((hosts as f64 * shape.vms_per_host).round() as usize).max(1);
        let template_vms = file.workload.vms.unwrap_or(vms).max(1);
        file.workload.traces = source.dir.clone();
        file.workload.format = source.format;
        file.workload.files = source.files;
        file.workload.vms = Some(vms);
        file.workload.reuse_traces = true;
        let scale = vms as f64 / template_vms as f64;
        for v in file.chains.iter_mut().flat_map(|c| c.vnfs.iter_mut()) {
            v.instances = ((f64::from(v.instances) * scale).round() as u32).max(1);
        }
        let r = &self.rates;
        let mut poisson = |mean: f64| -> u32 {
            if mean <= 0.0 {
                return 0;
            }
            Poisson::new(mean)
                .map(|p| p.sample(&mut rng) as u32)
                .unwrap_or(0)
        };
        let h = hosts as f64;
        let f = &mut file.faults;
        f.hardware_failures = poisson(r.hardware_failures_per_host * h);
        f.false_alarms = poisson(r.false_alarms_per_host * h);
        f.degradations = poisson(r.degradations_per_host * h);
        f.memory_leaks = poisson(r.memory_leaks_per_vm * vms as f64);
        f.surges = poisson(r.surges);
        f.rack_failures = poisson(r.rack_failures_per_rack * racks as f64).min(racks as u32);
        // Faulty hosts are distinct: never more than the data centre has.
        let faulty = f.hardware_failures + f.false_alarms + f.degradations;
        if faulty as usize > hosts {
            f.degradations = 0;
            f.false_alarms = f.false_alarms.min(hosts as u32 / 4);
            f.hardware_failures = f.hardware_failures.min(hosts as u32 - f.false_alarms);
        }
        f.memory_leaks = f.memory_leaks.min(vms as u32);
        let summary = EpisodeSummary {
            hosts,
            network,
            traces: source.label(),
        };
        file.name = format!(
            "{}-{seed} ({} hosts, {}, {})",
            name.name(),
            summary.hosts,
            summary.network,
            summary.traces
        );
        file.source = PathBuf::from(format!("<{} split, episode {seed}>", name.name()));
        Ok((file, summary))
    }

    /// The world and run settings of episode `seed` of split `name` (its scenario, built): what
    /// a learner trains in and an evaluation runs.
    pub fn episode(
        &self,
        name: SplitName,
        seed: u64,
        data: &Path,
    ) -> Result<(crate::World, crate::SimConfig), SimError> {
        let (file, _) = self.scenario(name, seed, data)?;
        let world = crate::scenario::build_world(&file, data)?;
        let config = crate::scenario::sim_config(&file, data, seed, file.steps)?;
        Ok((world, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> PathBuf {
        promig_model::data::dir(None).unwrap()
    }

    #[test]
    fn the_builtin_splits_parse_and_keep_test_apart_from_train() {
        let s = Splits::builtin().unwrap();
        assert_eq!(s.seeds(SplitName::Validate), (1..=20).collect::<Vec<_>>());
        assert_eq!(s.seeds(SplitName::Test), (21..=50).collect::<Vec<_>>());
        // A file that lets a test trace into training is refused, naming both.
        let leaky = SPLITS_TOML.replace("files = [601, 800]", "files = [301, 800]");
        let e = Splits::parse(&leaky, Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("share trace files"), "{e}");
        let leaky = SPLITS_TOML.replace("seeds = [21, 50]", "seeds = [21, 1000]");
        let e = Splits::parse(&leaky, Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        let leaky = SPLITS_TOML.replace("\"Nordu2010.graphml\"", "\"Abilene.graphml\"");
        let e = Splits::parse(&leaky, Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("Abilene.graphml is in both"), "{e}");
    }

    #[test]
    fn a_malformed_splits_file_is_an_error_naming_its_line_and_key() {
        let bad = SPLITS_TOML.replace("hosts = [20, 1000]", "hosts = [20, \"many\"]");
        let e = Splits::parse(&bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        let line = SPLITS_TOML
            .lines()
            .position(|l| l.starts_with("hosts = "))
            .unwrap()
            + 1;
        assert!(
            e.contains(&format!("s.toml:{line}")) && e.contains("hosts"),
            "{e}"
        );
        let bad = SPLITS_TOML.replace("zoo_share = 0.25", "zoo_share = 1.5");
        let e = Splits::parse(&bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("zoo_share"), "{e}");
        let bad = SPLITS_TOML.replace("surges = 3.0", "surges = nan");
        let e = Splits::parse(&bad, Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rates.surges"), "{e}");
    }

    #[test]
    fn episodes_are_drawn_from_their_seed_and_refused_outside_the_split() {
        let s = Splits::builtin().unwrap();
        let d = data();
        let (a, sa) = s.scenario(SplitName::Test, 21, &d).unwrap();
        let (b, _) = s.scenario(SplitName::Test, 21, &d).unwrap();
        assert_eq!(a, b, "the same seed, the same scenario");
        assert!((20..=1008).contains(&sa.hosts), "{sa:?}");
        let e = s.scenario(SplitName::Test, 1000, &d).unwrap_err();
        assert!(e.to_string().contains("not in the test split"), "{e}");
    }

    #[test]
    fn every_validation_and_test_episode_builds_a_world_of_the_drawn_size() {
        let s = Splits::builtin().unwrap();
        let d = data();
        let mut zoo = 0;
        let mut sizes = Vec::new();
        let episodes = s
            .seeds(SplitName::Validate)
            .into_iter()
            .map(|k| (SplitName::Validate, k))
            .chain(
                s.seeds(SplitName::Test)
                    .into_iter()
                    .map(|k| (SplitName::Test, k)),
            )
            .chain((1000..1020).map(|k| (SplitName::Train, k)));
        for (split, seed) in episodes {
            let (file, summary) = s.scenario(split, seed, &d).unwrap();
            let world = crate::scenario::build_world(&file, &d).unwrap();
            assert_eq!(world.hosts.len(), summary.hosts, "{}", file.name);
            assert_eq!(
                world.vms.len(),
                (summary.hosts as f64 * 3.75).round() as usize
            );
            assert!(world.vms.iter().any(|v| v.vnf.is_some()));
            zoo += usize::from(summary.network != "leaf-spine");
            sizes.push(summary.hosts);
        }
        assert!(zoo >= 1, "some episodes run on a wide-area network");
        let small = sizes.iter().filter(|&&h| h < 100).count();
        let large = sizes.iter().filter(|&&h| h >= 300).count();
        assert!(small >= 3 && large >= 3, "sizes spread: {sizes:?}");
    }
}
