//! What the CLI tests share: running the real binary from the project root.

use std::path::Path;
use std::process::Command;

/// Runs `promig` with `args` from the project root; returns (success, stdout, stderr).
// Not every test binary that includes this module runs the CLI this way.
#[allow(dead_code)]
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

/// Reads a started `promig controller`'s stderr on a thread and waits (up to a minute) for the
/// line naming its API address; returns that address and the stderr lines still to come (which
/// the caller must keep draining, or the controller blocks on a full pipe).
// Not every test binary that includes this module starts a controller.
#[allow(dead_code)]
pub fn api_address(
    child: &mut std::process::Child,
) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("the controller prints its API address");
        if let Some(rest) = line.trim().strip_prefix("API       http://") {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            return (addr, rx);
        }
    }
}
