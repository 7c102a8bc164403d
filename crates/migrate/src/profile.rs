//! Calibration profiles: one set of machine constants per technique, fitted on a cluster's own
//! migration history and loaded from a TOML file with `--calibration`.
//!
//! The constants of the cost model (link efficiency, bitmap sync cost, compression speed...)
//! depend on the hosts, the network and the QEMU build, and on real hardware they differ per
//! technique, so one built-in [`Calibration`] cannot serve every cluster. A profile names one
//! calibration per technique; a technique the file does not list uses the file's `[default]`
//! table. Two profiles ship with promig: `tcg` (the QEMU/TCG test bed the built-in constants
//! were fitted on) and `kvm` (real KVM hosts, the SoCC 2017 migrations).
//!
//! ```toml
//! name = "my-cluster"
//! description = "fitted on 2024's migrations of rack A"
//!
//! [default]            # techniques without their own table
//! link_efficiency = 0.94
//! setup_s = 0.05
//! # ... every constant of `Calibration`
//!
//! [techniques.postcopy]
//! link_efficiency = 0.9
//! # ...
//! ```

use crate::calibration::FITTED;
use crate::qemu::{Calibration, QemuModel, Technique, TechniqueParams};
use promig_model::toml_text::{key_on_line, line_of};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `tcg` profile's file, embedded so the binary needs no data folder for it.
const TCG_TOML: &str = include_str!("../profiles/tcg.toml");
/// The `kvm` profile's file, embedded like `tcg`.
const KVM_TOML: &str = include_str!("../profiles/kvm.toml");

/// Names [`Profile::builtin`] knows, for help texts and error messages.
pub const BUILTIN_NAMES: [&str; 2] = ["tcg", "kvm"];

/// Machine constants of the migration model per technique, with a name and a provenance, so a
/// cluster's own fit can be saved, reviewed and loaded instead of the built-in constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name for reports (`kvm`, `rack-a-2024`).
    pub name: String,
    /// Where the constants come from (hosts, QEMU version, data, command), for the next reader.
    #[serde(default)]
    pub description: String,
    /// Constants for every technique without its own table; may be left out when every
    /// technique has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Calibration>,
    /// Constants per technique (TOML tables `[techniques.precopy]`, `[techniques.auto-converge]`,
    /// ... named as [`Technique::name`] spells them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub techniques: BTreeMap<Technique, Calibration>,
}

/// Why a calibration profile could not be loaded. Every variant names the file, and where the
/// problem is in it the line (1-based, as an editor shows) and the dotted key
/// (`techniques.xbzrle.setup_s`), so the user knows which cell to fix.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: cannot read calibration profile")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Neither a built-in profile name nor an existing file.
    #[error(
        "calibration `{name}`: not a built-in profile ({}) and no such file {path}",
        BUILTIN_NAMES.join(", ")
    )]
    UnknownName {
        /// The name or path given.
        name: String,
        /// Where it was looked for as a file.
        path: PathBuf,
    },
    /// The TOML does not parse, or a value has the wrong type, or a key is missing or unknown.
    #[error("{path}:{line}: field `{field}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Dotted key.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A constant is out of its range (negative, NaN, infinite, a link efficiency above 1...).
    #[error("{}: field `{field}` = {value}: must be {expected}", at(path, *line))]
    Invalid {
        /// The file (or `<profile NAME>` for a profile built in memory).
        path: PathBuf,
        /// 1-based line, 0 when the profile has no text.
        line: usize,
        /// Dotted key.
        field: String,
        /// The value found.
        value: String,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// A technique has no table and there is no `[default]` to fall back on.
    #[error(
        "{path}: no calibration for technique `{technique}`: add [techniques.{technique}] or a [default] table"
    )]
    Uncovered {
        /// The file.
        path: PathBuf,
        /// The technique, as [`Technique::name`] spells it.
        technique: &'static str,
    },
}

/// `path:line`, or `path` alone when there is no line.
fn at(path: &Path, line: usize) -> String {
    if line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{line}", path.display())
    }
}

impl Profile {
    /// A profile with one calibration for every technique, for callers that have a single
    /// [`Calibration`] (a fit pooled over techniques, a test's constants).
    pub fn uniform(name: &str, description: &str, calibration: Calibration) -> Profile {
        Profile {
            name: name.to_string(),
            description: description.to_string(),
            default: Some(calibration),
            techniques: BTreeMap::new(),
        }
    }

    /// The constants `technique` runs with: its own table, else `[default]`. A profile that
    /// [`Profile::validate`] accepts always has one of the two; for one built in memory without
    /// either, the built-in fit ([`FITTED`]) answers so the model stays total.
    pub fn calibration(&self, technique: Technique) -> Calibration {
        self.techniques
            .get(&technique)
            .copied()
            .or(self.default)
            .unwrap_or(FITTED)
    }

    /// The cost model of `params.technique` under this profile's constants for it.
    pub fn model(&self, params: TechniqueParams) -> QemuModel {
        QemuModel {
            params,
            calibration: self.calibration(params.technique),
        }
    }

    /// A profile shipped with promig: `tcg` or `kvm` ([`BUILTIN_NAMES`]); `None` for any other
    /// name. Parsed once per process.
    pub fn builtin(name: &str) -> Option<Profile> {
        static TCG: OnceLock<Profile> = OnceLock::new();
        static KVM: OnceLock<Profile> = OnceLock::new();
        let (cell, text) = match name {
            "tcg" => (&TCG, TCG_TOML),
            "kvm" => (&KVM, KVM_TOML),
            _ => return None,
        };
        Some(
            cell.get_or_init(|| {
                Profile::parse(text, Path::new(&format!("<built-in profile {name}>")))
                    .expect("built-in profiles parse (checked by the profile unit tests)")
            })
            .clone(),
        )
    }

    /// The QEMU 7.2 TCG test bed the built-in constants were fitted on ([`FITTED`] for every
    /// technique): the profile that reproduces `Calibration::default()`.
    pub fn tcg() -> Profile {
        Profile::builtin("tcg").expect("`tcg` is a built-in profile")
    }

    /// Real KVM hosts (the SoCC 2017 migrations in `live-migration/kvm-migrations.csv`): what
    /// the NFV simulator runs with.
    pub fn kvm() -> Profile {
        Profile::builtin("kvm").expect("`kvm` is a built-in profile")
    }

    /// A `--calibration` or scenario value: a built-in name ([`BUILTIN_NAMES`]), else a TOML file,
    /// relative to `base_dir` unless absolute. Built-in names win; write `./kvm` for a file
    /// called `kvm`.
    pub fn resolve(spec: &str, base_dir: &Path) -> Result<Profile, ProfileError> {
        if let Some(p) = Profile::builtin(spec) {
            return Ok(p);
        }
        let path = base_dir.join(spec);
        if !path.exists() && Path::new(spec).extension().is_none() {
            // A bare word that is no file: most likely a misspelt built-in name.
            return Err(ProfileError::UnknownName {
                name: spec.to_string(),
                path,
            });
        }
        Profile::load(&path)
    }

    /// Reads and validates a profile file; errors name the file, line and key.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Profile::parse(&text, path)
    }

    /// Parses and validates profile text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
        let doc = toml::de::DeTable::parse(text).ok();
        let profile: Profile = toml::from_str(text).map_err(|e| {
            let (line, field) = match e.span() {
                Some(span) => {
                    let offset = span.start.min(text.len());
                    let field = doc
                        .as_ref()
                        .and_then(|d| key_path_at(d.get_ref(), offset, ""))
                        .unwrap_or_else(|| key_on_line(text, line_of(text, offset)));
                    (line_of(text, offset), field)
                }
                None => (1, String::from("?")),
            };
            ProfileError::Parse {
                path: path.to_path_buf(),
                line,
                field,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        let locate = |dotted: &str| {
            doc.as_ref()
                .map_or(1, |d| line_of(text, key_offset(d, dotted)))
        };
        // `Calibration` ignores keys it does not know; a misspelt constant would silently take its
        // default, so every key written in a calibration table must be one it serialises back.
        if let Some(d) = &doc {
            for (table, calibration) in profile.tables() {
                let known = calibration_table(&calibration);
                let keys = table_keys(d.get_ref(), &table).unwrap_or_default();
                if let Some(key) = keys.iter().find(|k| !known.contains_key(k.as_str())) {
                    let field = format!("{table}.{key}");
                    return Err(ProfileError::Parse {
                        path: path.to_path_buf(),
                        line: locate(&field),
                        message: format!(
                            "unknown constant `{key}`; known: {}",
                            known.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        field,
                    });
                }
            }
        }
        profile.check(path, &locate)?;
        Ok(profile)
    }

    /// Checks every technique has constants and every constant is in range: numbers finite and
    /// non-negative, `link_efficiency` in (0, 1], `switch_fill` in [0, 1]. For a profile built in memory (a fit, a test);
    /// files get the same checks, with lines, from [`Profile::load`].
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.check(Path::new(&format!("<profile {}>", self.name)), &|_| 0)
    }

    fn check(&self, path: &Path, line_of_key: &dyn Fn(&str) -> usize) -> Result<(), ProfileError> {
        if self.default.is_none()
            && let Some(t) = Technique::ALL
                .into_iter()
                .find(|t| !self.techniques.contains_key(t))
        {
            return Err(ProfileError::Uncovered {
                path: path.to_path_buf(),
                technique: t.name(),
            });
        }
        for (table, calibration) in self.tables() {
            // Every number `Calibration` has, by name, so constants added later are checked too.
            let mut numbers = Vec::new();
            numbers_in(
                &toml::Value::Table(calibration_table(&calibration)),
                &table,
                &mut numbers,
            );
            for (field, value) in numbers {
                let efficiency = field.ends_with(".link_efficiency");
                // A share of the switch-over threshold: more than all of it is not a fill.
                let share = field.ends_with(".switch_fill");
                let ok = value.is_finite()
                    && if efficiency {
                        value > 0.0 && value <= 1.0
                    } else if share {
                        (0.0..=1.0).contains(&value)
                    } else {
                        value >= 0.0
                    };
                if !ok {
                    return Err(ProfileError::Invalid {
                        path: path.to_path_buf(),
                        line: line_of_key(&field),
                        value: value.to_string(),
                        expected: if efficiency {
                            "a number in (0, 1]"
                        } else if share {
                            "a number in [0, 1]"
                        } else {
                            "a finite number >= 0"
                        },
                        field,
                    });
                }
            }
        }
        Ok(())
    }

    /// The calibration tables written in the profile, by dotted name (`default`,
    /// `techniques.xbzrle`).
    fn tables(&self) -> Vec<(String, Calibration)> {
        self.default
            .iter()
            .map(|c| ("default".to_string(), *c))
            .chain(
                self.techniques
                    .iter()
                    .map(|(t, c)| (format!("techniques.{}", t.name()), *c)),
            )
            .collect()
    }

    /// The profile as a TOML file [`Profile::load`] reads back to an equal profile.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self)
            .expect("a profile is strings, numbers and tables keyed by technique names");
        format!(
            "# promig calibration profile: the migration model's machine constants per technique.\n\
             # Load with `--calibration FILE`; techniques without a table use [default].\n\n{body}"
        )
    }
}

/// A calibration as a TOML table (its serde form), so checks need not know its fields.
fn calibration_table(c: &Calibration) -> toml::Table {
    toml::Table::try_from(c).expect("a calibration serialises as a table of numbers")
}

/// Every number in `value`, with its dotted key under `prefix`.
fn numbers_in(value: &toml::Value, prefix: &str, out: &mut Vec<(String, f64)>) {
    match value {
        toml::Value::Float(f) => out.push((prefix.to_string(), *f)),
        toml::Value::Integer(i) => out.push((prefix.to_string(), *i as f64)),
        toml::Value::Table(t) => {
            for (k, v) in t {
                numbers_in(v, &format!("{prefix}.{k}"), out);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                numbers_in(v, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The keys written in the table at `dotted` (`techniques.precopy`), if it is written.
fn table_keys(doc: &toml::de::DeTable<'_>, dotted: &str) -> Option<Vec<String>> {
    let mut table = doc;
    for part in dotted.split('.') {
        let (_, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        table = v.get_ref().as_table()?;
    }
    Some(table.iter().map(|(k, _)| k.get_ref().to_string()).collect())
}

/// Byte offset of the deepest part of `dotted` written in the file: a key left to its default
/// is reported where its table is.
fn key_offset(doc: &toml::Spanned<toml::de::DeTable<'_>>, dotted: &str) -> usize {
    let mut offset = doc.span().start;
    let mut table = Some(doc.get_ref());
    for part in dotted.split('.') {
        let Some(t) = table else { break };
        let Some((k, v)) = t.iter().find(|(k, _)| k.get_ref().as_ref() == part) else {
            break;
        };
        offset = k.span().start;
        table = v.get_ref().as_table();
    }
    offset
}

/// The dotted key whose key or value covers byte `offset`, deepest first.
fn key_path_at(table: &toml::de::DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    for (k, v) in table.iter() {
        let name = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        // Tables written as `[a.b]` headers need not span their keys, so look inside first.
        if let Some(t) = v.get_ref().as_table()
            && let Some(inner) = key_path_at(t, offset, &name)
        {
            return Some(inner);
        }
        if k.span().contains(&offset) || v.span().contains(&offset) {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text, Path::new("p.toml"))
    }

    /// A profile text with `[default]` = FITTED and `extra` appended.
    fn with_default(extra: &str) -> String {
        let mut p = Profile::uniform("t", "", FITTED).to_toml();
        p.push_str(extra);
        p
    }

    #[test]
    fn builtin_profiles_parse_and_tcg_is_the_built_in_fit() {
        for name in BUILTIN_NAMES {
            let p = Profile::builtin(name).unwrap();
            assert_eq!(p.name, name);
            assert!(!p.description.is_empty());
            p.validate().unwrap();
        }
        let tcg = Profile::tcg();
        for t in Technique::ALL {
            assert_eq!(tcg.calibration(t), FITTED, "{t:?}");
            assert_eq!(tcg.calibration(t), Calibration::default(), "{t:?}");
        }
        // kvm.toml is the real-hardware fit: its own constants for every technique (the test
        // `tests/kvm_history.rs` checks it is the fit of the whole history).
        let kvm = Profile::kvm();
        for t in Technique::ALL {
            assert!(kvm.techniques.contains_key(&t), "{t:?}");
            assert_ne!(kvm.calibration(t), FITTED, "{t:?}");
        }
        assert!(Profile::builtin("qemu").is_none());
    }

    #[test]
    fn toml_round_trips() {
        let mut p = Profile::kvm();
        p.techniques
            .get_mut(&Technique::Xbzrle)
            .unwrap()
            .xbzrle_ratio = 0.125;
        p.default = Some(crate::calibration::START);
        let back = parse(&p.to_toml()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.calibration(Technique::Xbzrle).xbzrle_ratio, 0.125);
        assert!(p.to_toml().contains("[techniques.auto-converge]"));
    }

    #[test]
    fn a_missing_technique_falls_back_to_default() {
        let mut text = with_default("");
        text.push_str("\n[techniques.postcopy]\n");
        for (k, v) in calibration_table(&crate::calibration::START) {
            text.push_str(&format!("{k} = {v}\n"));
        }
        let p = parse(&text).unwrap();
        assert_eq!(
            p.calibration(Technique::Postcopy),
            crate::calibration::START
        );
        assert_eq!(p.calibration(Technique::Precopy), FITTED);
        let m = p.model(TechniqueParams::of(Technique::Postcopy));
        assert_eq!(m.calibration, crate::calibration::START);
        assert_eq!(m.params.technique, Technique::Postcopy);
    }

    #[test]
    fn no_default_and_a_missing_technique_is_refused() {
        let mut p = Profile::kvm();
        p.techniques.remove(&Technique::Compress);
        let e = parse(&p.to_toml()).unwrap_err();
        assert!(
            matches!(
                e,
                ProfileError::Uncovered {
                    technique: "compress",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("p.toml"), "{e}");
    }

    #[test]
    fn nan_and_negative_constants_name_file_line_and_key() {
        let text = with_default("").replace("setup_s = 0.000047", "setup_s = nan");
        assert!(text.contains("setup_s = nan"), "{text}");
        let e = parse(&text).unwrap_err();
        let line = text.lines().position(|l| l.starts_with("setup_s")).unwrap() + 1;
        match &e {
            ProfileError::Invalid { line: l, field, .. } => {
                assert_eq!(*l, line);
                assert_eq!(field, "default.setup_s");
            }
            other => panic!("{other}"),
        }
        assert!(
            e.to_string()
                .starts_with(&format!("p.toml:{line}: field `default.setup_s`"))
        );

        let text = with_default("").replace("switchover_s = 0.0085", "switchover_s = -1.0");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("default.switchover_s"), "{e}");
        let text = with_default("").replace("link_efficiency = 1.0", "link_efficiency = 1.5");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("(0, 1]"), "{e}");
        let text = with_default("").replace("link_efficiency = 1.0", "link_efficiency = 0.0");
        assert!(parse(&text).is_err());
        let text = with_default("").replace("switch_fill = 0.0", "switch_fill = 1.5");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("default.switch_fill"), "{e}");
        assert!(e.to_string().contains("[0, 1]"), "{e}");
        let text = with_default("").replace("inflight_mib = 2.394", "inflight_mib = inf");
        assert!(
            parse(&text)
                .unwrap_err()
                .to_string()
                .contains("inflight_mib")
        );
    }

    #[test]
    fn a_string_for_a_number_names_line_and_key() {
        let text = with_default("").replace("sync_s_per_gib = 0.0105", "sync_s_per_gib = \"fast\"");
        let line = text
            .lines()
            .position(|l| l.starts_with("sync_s_per_gib"))
            .unwrap()
            + 1;
        let e = parse(&text).unwrap_err();
        match &e {
            ProfileError::Parse { line: l, field, .. } => {
                assert_eq!(*l, line, "{e}");
                assert!(field.ends_with("sync_s_per_gib"), "{e}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn unknown_keys_and_techniques_are_refused() {
        let e = parse(&with_default("").replace("setup_s =", "setup_sec =")).unwrap_err();
        assert!(e.to_string().contains("setup"), "{e}");
        let e = parse(&with_default("\n[techniques.teleport]\nsetup_s = 1\n")).unwrap_err();
        assert!(e.to_string().contains("teleport"), "{e}");
        let e = parse(&with_default("colour = \"red\"\n")).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        // A typo in a constant that would otherwise be ignored.
        let e = parse(&with_default("").replace("[default]\n", "[default]\nsetup_ms = 3\n"))
            .unwrap_err();
        assert!(
            matches!(&e, ProfileError::Parse { field, .. } if field == "default.setup_ms"),
            "{e}"
        );
        let e = parse("name = \"x\"\n[default\n").unwrap_err();
        assert!(matches!(e, ProfileError::Parse { line: 2, .. }), "{e}");
    }

    #[test]
    fn resolve_takes_builtin_names_then_paths() {
        assert_eq!(
            Profile::resolve("kvm", Path::new("/nonexistent")).unwrap(),
            Profile::kvm()
        );
        let e = Profile::resolve("kvmm", Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(e, ProfileError::UnknownName { .. }), "{e}");
        assert!(e.to_string().contains("tcg, kvm"), "{e}");
        let e = Profile::resolve("missing.toml", Path::new("/nonexistent")).unwrap_err();
        assert!(
            matches!(&e, ProfileError::Io { path, .. } if path == Path::new("/nonexistent/missing.toml")),
            "{e}"
        );
    }

    #[test]
    fn in_memory_profiles_are_validated_too() {
        let mut c = FITTED;
        c.compress_ratio = f64::NAN;
        let e = Profile::uniform("fit", "", c).validate().unwrap_err();
        assert!(e.to_string().contains("default.compress_ratio"), "{e}");
        assert!(e.to_string().starts_with("<profile fit>: "), "{e}");
    }
}
