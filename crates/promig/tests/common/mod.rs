//! What the CLI tests share: running the real binary from the project root.

use std::path::Path;
use std::process::Command;

/// Runs `promig` with `args` from the project root; returns (success, stdout, stderr).
pub fn promig(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_promig"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("the promig binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
