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
    fn cargo_points_tests_at_the_shared_data() {
        assert!(dir(None).unwrap().join("planetlab").is_dir());
    }
}
