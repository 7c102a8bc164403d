//! The dashboard and an HTML report in a real browser: headless Debian chromium driven by
//! playwright-core (`tests/browser/run.js`, no browser download). The dashboard test starts
//! `promig controller --demo --approval manual`, logs in, sees hosts and a plan, approves it from
//! the keyboard, watches the migration finish, checks the API refuses a request without the token
//! and saves `dashboard.png`; the report test renders `promig simulate --report` and saves
//! `report.png` (into `docs/` with `PROMIG_BLESS=1`, else `target/screenshots/`).
//!
//! Needs `chromium` (apt-get install -y --no-install-recommends chromium; or `PROMIG_CHROMIUM`)
//! and `node`; `tests/browser/node_modules` is installed with `npm ci` when missing. A test skips,
//! saying so on stderr, when chromium or node is missing or `PROMIG_SKIP_BROWSER=1` is set;
//! `.ci/run` installs both and refuses to run with a `PROMIG_SKIP_*` variable set.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::Instant;

const TOKEN: &str = "browser-test-token-0123456789";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Says why a test does not run, straight to the process's stderr (libtest would swallow
/// `eprintln!` of a passing test), so a skip cannot pass for a run.
fn skip(reason: &str) {
    let thread = std::thread::current();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {}: {reason}",
        thread.name().unwrap_or("a browser test")
    );
}

/// Whether the browser tests run here (`false`, after saying why, only with
/// `PROMIG_SKIP_BROWSER=1`); installs the node modules when missing.
fn browser_ready() -> bool {
    if std::env::var("PROMIG_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        skip("PROMIG_SKIP_BROWSER=1 is set, so it ran without a browser");
        return false;
    }
    let chromium = std::env::var("PROMIG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    // A missing tool fails, as every other real-component test here does: a skip would pass
    // for a run. PROMIG_SKIP_BROWSER=1 is the local opt-out (CI refuses it).
    assert!(
        Path::new(&chromium).exists(),
        "no chromium at {chromium}: apt-get install -y --no-install-recommends chromium \
         (or PROMIG_SKIP_BROWSER=1 to skip locally)"
    );
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node is not installed: apt-get install -y nodejs npm (node >= 20) \
         (or PROMIG_SKIP_BROWSER=1 to skip locally)"
    );
    let dir = root().join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (it comes with node)");
        assert!(status.success(), "npm ci in tests/browser failed");
    }
    true
}

/// Runs `node tests/browser/run.js ARGS` and fails the test with its output if it fails.
fn node(args: &[&str]) {
    let started = Instant::now();
    let out = Command::new("node")
        .arg("run.js")
        .args(args)
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser check failed:\n{text}");
    println!(
        "{text}browser check: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Kills the controller when the test ends, passed or not.
struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `promig controller ARGS --approval manual --listen 127.0.0.1:0 --tick-ms 1000 --journal F`,
/// and the API address it prints.
fn start_controller(args: &[&str], journal: &Path) -> (Controller, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promig"))
        .arg("controller")
        .args(args)
        .args([
            "--approval",
            "manual",
            "--listen",
            "127.0.0.1:0",
            // One world step (5 simulated minutes) a second: a plan stays open for six (its
            // 30-minute time to live), ample for a click.
            "--tick-ms",
            "1000",
            "--journal",
        ])
        .arg(journal)
        .env("PROMIG_API_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promig runs");
    let (addr, rx) = common::api_address(&mut child);
    // Keep draining its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    (Controller(child), addr)
}

/// Where a screenshot goes: `docs/` (the README's pictures) when re-recording with
/// `PROMIG_BLESS=1`, as the golden outputs are; `target/screenshots/` otherwise, so a test run
/// leaves the checkout clean.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    if std::env::var_os("PROMIG_BLESS").is_some() {
        root().join("docs").join(name)
    } else {
        root().join("target/screenshots").join(name)
    }
}

#[test]
fn dashboard_approves_a_plan_and_shows_the_migration_in_chromium() {
    if !browser_ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("promig-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (_controller, addr) = start_controller(&["--demo"], &dir.join("journal.sqlite"));
    let shot = screenshot_path("dashboard.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    node(&[
        "dashboard",
        &format!("http://{addr}"),
        TOKEN,
        shot.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The controller deciding with the RL agent (the simulated world, from a configuration that
/// names the policy): a plan's card shows the agent's scored options.
#[test]
fn plans_of_the_rl_agent_show_their_scored_options_in_chromium() {
    if !browser_ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("promig-browser-rl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("promig.toml");
    std::fs::write(&config, "[controller]\npolicy = \"rl\"\n").unwrap();
    let (_controller, addr) = start_controller(
        &["--config", config.to_str().unwrap()],
        &dir.join("journal.sqlite"),
    );
    node(&["agent", &format!("http://{addr}"), TOKEN]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_renders_in_chromium_without_errors() {
    if !browser_ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("promig-browser-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_promig"))
        .args([
            "simulate",
            "--steps",
            "96",
            "--policy",
            "none,proactive-greedy,rl",
            "--report",
        ])
        .arg(&dir)
        .current_dir(root())
        .output()
        .expect("promig runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("report.html");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("report: {}", file.display())));
    let shot = screenshot_path("report.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    // Five metrics, the timeline, the learning curve (rl ran).
    node(&[
        "report",
        file.to_str().unwrap(),
        "7",
        shot.to_str().unwrap(),
        "timeline",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}
