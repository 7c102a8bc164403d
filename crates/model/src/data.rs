//! Where the real data sets live, decided in one place for every command and test.
//!
//! The rule: an explicit folder (a `--data` flag) wins; otherwise `PROMIG_DATA`; otherwise
//! `../shared/data` relative to the working directory (the layout CI and the README use). Cargo
//! sets `PROMIG_DATA` for runs and tests started from the checkout (`.cargo/config.toml`), so tests
//! find the data whatever their working directory, without each crate guessing from its own path.

use crate::ModelError;
use std::path::{Path, PathBuf};

/// The environment variable naming the data folder.
pub const ENV: &str = "PROMIG_DATA";
/// The folder used when neither a flag nor the variable names one.
pub const DEFAULT: &str = "../shared/data";

/// The data folder: `explicit` if given, else `$PROMIG_DATA`, else [`DEFAULT`]; an error names
/// where it looked when the folder does not exist.
pub fn dir(explicit: Option<&Path>) -> Result<PathBuf, ModelError> {
    let (path, from) = match explicit {
        Some(p) => (p.to_path_buf(), "--data"),
        None => match std::env::var_os(ENV) {
            Some(v) if !v.is_empty() => (PathBuf::from(v), ENV),
            _ => (PathBuf::from(DEFAULT), "the default"),
        },
    };
    if path.is_dir() {
        Ok(path)
    } else {
        Err(ModelError::invalid(
            &path,
            format!(
                "the data folder (from {from}) does not exist; give it with --data DIR or {ENV}=DIR \
                 (see the README: the shared data sets sit at {DEFAULT} beside the checkout)"
            ),
        ))
    }
}

/// `relative` inside the data folder `data`: a path taken from input (a flag, a label file, later
/// an API call) may name a data set, never an arbitrary folder. Absolute paths, `..` and links
/// leading out of the folder are refused.
pub fn inside(data: &Path, relative: &str) -> Result<PathBuf, ModelError> {
    let rel = Path::new(relative);
    let plain = !relative.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    let refuse = |why: &str| {
        ModelError::invalid(
            relative,
            format!(
                "{why}; give a folder inside the data folder {}",
                data.display()
            ),
        )
    };
    if !plain {
        return Err(refuse(
            "not a plain relative path (no absolute path, no ..)",
        ));
    }
    let joined = data.join(rel);
    let (Ok(root), Ok(target)) = (data.canonicalize(), joined.canonicalize()) else {
        return Err(refuse("does not exist"));
    };
    if !target.starts_with(&root) {
        return Err(refuse("leads out of the data folder"));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_folder_wins_and_a_missing_one_is_named() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(dir(Some(here)).unwrap(), here);
        let e = dir(Some(Path::new("/no/such/folder")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/no/such/folder") && e.contains("--data"), "{e}");
    }

    #[test]
    fn paths_from_input_stay_inside_the_data_folder() {
        let data = dir(None).unwrap();
        assert!(inside(&data, "planetlab/20110303").is_ok());
        for bad in [
            "/etc",
            "../../..",
            "planetlab/../../main",
            "",
            "no-such-set",
        ] {
            let e = inside(&data, bad).unwrap_err().to_string();
            assert!(e.contains("data folder"), "{bad}: {e}");
        }
    }

    #[test]
    fn cargo_points_tests_at_the_shared_data() {
        assert!(dir(None).unwrap().join("planetlab").is_dir());
    }
}
