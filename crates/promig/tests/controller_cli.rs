//! `promig controller` as an operator runs it: the real binary, a config file, the API on a
//! loopback port. `kill -9` in the middle of a migration, then a restart: the journal still
//! holds the migration as executing, the restarted controller reconciles it with the world, and
//! every plan's history stays a legal chain. SIGTERM stops it gracefully: running migrations end
//! first and nothing stays `executing`. A bad config is refused with its line and field.

mod common;

use promig_controller::{Journal, PlanState, SqliteJournal};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "cli-test-token-0123456789";

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promig-cli-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the controller on `config`; returns the child, its API address and its stderr lines.
// The caller waits for the child; only a failed start (a panic here) leaves it to the OS.
#[allow(clippy::zombie_processes)]
fn spawn(config: &Path, extra: &[&str]) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_promig"))
        .args(["controller", "--config"])
        .arg(config)
        .args(extra)
        .env("PROMIG_API_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promig runs");
    let (addr, rx) = common::api_address(&mut child);
    (child, addr, rx)
}

/// One GET with the token; the body.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
    body.to_string()
}

fn write_config(dir: &Path, tick_ms: u64) -> PathBuf {
    let path = dir.join("promig.toml");
    std::fs::write(
        &path,
        format!(
            "[controller]\ndriver = \"sim\"\ntick_ms = {tick_ms}\nlisten = \"127.0.0.1:0\"\njournal = \"journal.sqlite\"\n\n[sim]\nseed = 21\n"
        ),
    )
    .unwrap();
    path
}

fn assert_legal_histories(journal: &Path) {
    let j = SqliteJournal::open(journal).unwrap();
    for p in j.recent(100_000).unwrap() {
        let t = j.transitions(p.id).unwrap();
        assert_eq!(t[0].from, None);
        for pair in t.windows(2) {
            assert_eq!(pair[1].from, Some(pair[0].to), "{:?}", t);
            assert!(pair[0].to.may_become(pair[1].to), "{:?}", t);
        }
        assert_eq!(t.last().unwrap().to, p.state);
    }
}

#[test]
fn a_controller_killed_mid_migration_reconciles_it_after_restart() {
    let dir = scratch("kill9");
    // A slow tick keeps each migration `executing` for a second or more.
    let config = write_config(&dir, 1500);
    let (mut child, addr, _lines) = spawn(&config, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let plan = loop {
        let body = get(addr, "/api/v1/migrations");
        let running: serde_json::Value = serde_json::from_str(&body).unwrap();
        if let Some(m) = running.as_array().and_then(|a| a.first()) {
            break m["plan"]["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "no migration started");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let journal = dir.join("journal.sqlite");
    {
        let j = SqliteJournal::open(&journal).unwrap();
        let open = j.open_plans().unwrap();
        let p = open.iter().find(|p| p.id.0 == plan).expect("still open");
        assert_eq!(
            p.state,
            PlanState::Executing,
            "journaled before it was acted upon"
        );
    }

    let (mut child, addr, lines) = spawn(&config, &["--tick-ms", "100"]);
    let started = Instant::now();
    let detail = loop {
        let body = get(addr, &format!("/api/v1/plans/{plan}"));
        let p: serde_json::Value = serde_json::from_str(&body).unwrap();
        if p["state"] != "executing" {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not reconciled: {p}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The simulated world restarted with the controller, so the VM is on its source: the
    // migration never happened and the plan says so.
    assert_eq!(detail["state"], "failed", "{detail}");
    assert!(
        detail["detail"]
            .as_str()
            .unwrap()
            .contains("reconciled after restart"),
        "{detail}"
    );
    let vms: serde_json::Value = serde_json::from_str(&get(addr, "/api/v1/vms")).unwrap();
    let vm = detail["vm"].as_str().unwrap();
    let on: Vec<_> = vms
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"] == vm)
        .collect();
    assert_eq!(on.len(), 1, "the VM exists exactly once");
    assert!(on[0]["host"].is_string(), "and runs: {}", on[0]);

    // SIGTERM: graceful; running migrations end before it exits, with their records.
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child process by its pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let said: Vec<String> = lines.try_iter().collect();
    assert!(
        said.iter().any(|l| l.contains("the journal is consistent")),
        "{said:?}"
    );
    let j = SqliteJournal::open(&journal).unwrap();
    assert!(
        j.open_plans()
            .unwrap()
            .iter()
            .all(|p| p.state != PlanState::Executing),
        "nothing left executing after a graceful stop"
    );
    assert_legal_histories(&journal);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_config_is_refused_with_its_line_and_field() {
    let dir = scratch("badcfg");
    let path = dir.join("promig.toml");
    std::fs::write(
        &path,
        "[controller]\ntick_ms = 100\n\n[limits]\nmax_per_host = 0\n",
    )
    .unwrap();
    let (ok, _, err) = common::promig(&["controller", "--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("promig.toml:5") && err.contains("limits"),
        "{err}"
    );
    std::fs::write(&path, "[controller]\npolicy = \"magic\"\n").unwrap();
    let (ok, _, err) = common::promig(&["controller", "--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("controller.policy") && err.contains("magic"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
