//! A daemon on the simulator's default scenario, on a loopback port, and a real HTTP client for
//! it: what the API tests share.
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use promig_controller::{
    Approval, ControllerConfig, Core, DaemonOptions, Running, SimWorld, SqliteJournal,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The token every test uses.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A fresh scratch folder.
pub fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "promig-controller-{label}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts a daemon on the default scenario with `approval`, ticking every `tick_ms`.
pub async fn daemon(
    journal: PathBuf,
    approval: Approval,
    tick_ms: u64,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> Running {
    let mut cfg = ControllerConfig::demo(journal.clone());
    cfg.controller.approval = approval;
    cfg.controller.tick_ms = tick_ms;
    // Plans wait for the test to approve them however fast the world ticks.
    cfg.controller.plan_ttl_s = 1e9;
    let world = SimWorld::default_scenario(cfg.sim.seed, None, None).expect("default scenario");
    let profile =
        Arc::new(promig_migrate::Profile::resolve("kvm", std::path::Path::new("")).unwrap());
    let policy = promig_eval::run::registry()
        .build(&cfg.controller.policy, cfg.sim.seed)
        .unwrap();
    let core = Core::new(
        cfg,
        policy,
        profile,
        Box::new(SqliteJournal::open(&journal).unwrap()),
    )
    .unwrap();
    promig_controller::start(
        core,
        Box::new(world),
        TOKEN.into(),
        "127.0.0.1:0".parse().unwrap(),
        DaemonOptions {
            tick: Duration::from_millis(tick_ms),
            grace: Duration::from_secs(10),
            max_rounds: None,
        },
        async move {
            let _ = shutdown.await;
        },
    )
    .await
    .expect("daemon starts")
}

/// A keep-alive HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends one request; `token` None sends no Authorization header.
pub async fn call(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &[u8],
) -> Reply {
    let mut req = hyper::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let resp = client.request(req).await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Runs a daemon over `world` with `cfg` and `policy` for `rounds` rounds as fast as it can;
/// returns the shared state (plans, metrics) and the world (its report) once it stopped.
pub async fn run_rounds(
    cfg: ControllerConfig,
    policy: &str,
    seed: u64,
    world: Box<dyn promig_controller::World>,
    rounds: u64,
) -> (
    Arc<promig_controller::api::AppState>,
    Box<dyn promig_controller::World>,
) {
    let journal = cfg.controller.journal.clone();
    let profile =
        Arc::new(promig_migrate::Profile::resolve("kvm", std::path::Path::new("")).unwrap());
    let p = promig_eval::run::registry().build(policy, seed).unwrap();
    let core = Core::new(
        cfg,
        p,
        profile,
        Box::new(SqliteJournal::open(&journal).unwrap()),
    )
    .unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = promig_controller::start(
        core,
        world,
        TOKEN.into(),
        "127.0.0.1:0".parse().unwrap(),
        DaemonOptions {
            tick: Duration::from_millis(1),
            grace: Duration::from_secs(1),
            max_rounds: Some(rounds),
        },
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    let state = Arc::clone(&running.state);
    let world = running.wait_for_world().await.unwrap();
    (state, world)
}

/// A decision core with `proactive-greedy` (seed 1), the `kvm` cost profile and a journal at
/// `cfg.controller.journal`: what the tests that drive the core directly start from.
pub fn greedy_core(cfg: ControllerConfig) -> Core {
    let journal = cfg.controller.journal.clone();
    let policy = promig_policy::by_name("proactive-greedy", 1).unwrap();
    let profile =
        Arc::new(promig_migrate::Profile::resolve("kvm", std::path::Path::new("")).unwrap());
    Core::new(
        cfg,
        policy,
        profile,
        Box::new(SqliteJournal::open(&journal).unwrap()),
    )
    .unwrap()
}

/// Puts the host with the most VMs about to fail (hardware risk 0.95, 30 minutes left) and every
/// other host at no risk; returns its index.
pub fn fail_busiest_host(obs: &mut promig_model::Observation) -> usize {
    use promig_model::HostRisk;
    let h = (0..obs.hosts.len())
        .max_by_key(|&h| obs.hosts[h].vms.len())
        .expect("a data centre has hosts");
    obs.risks = vec![HostRisk::default(); obs.hosts.len()];
    obs.risks[h] = HostRisk {
        probability: 0.95,
        hardware: 0.95,
        time_left_s: Some(1800.0),
        ..HostRisk::default()
    };
    h
}
