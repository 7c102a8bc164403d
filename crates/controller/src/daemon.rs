//! The daemon: the loop (world snapshot -> core -> driver), one watcher task per running
//! migration, and the HTTP server, until a shutdown signal.
//!
//! Shutdown is graceful: no new plan is admitted, the world keeps ticking while migrations are in
//! flight (up to a grace period) so they end with a journal record, then the server stops. A
//! migration still running after the grace period stays `executing` in the journal and is
//! reconciled by the next start, the same path as a crash.

use crate::api::{self, AppState};
use crate::core::{Core, Order};
use crate::error::ControllerError;
use crate::plan::PlanId;
use crate::world::World;
use promig_driver::Driver;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Wall time between rounds.
    pub tick: Duration,
    /// Longest wait for running migrations at shutdown.
    pub grace: Duration,
    /// Stop after this many rounds (tests, benchmarks); `None`: until shutdown.
    pub max_rounds: Option<u64>,
}

/// A running daemon's address and state, for whoever started it (tests, `main`).
pub struct Running {
    /// The address the API listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The shared state (the tests read the core directly).
    pub state: Arc<AppState>,
    done: tokio::task::JoinHandle<(Box<dyn World>, Result<(), ControllerError>)>,
}

impl Running {
    /// Waits for the daemon to end (after its shutdown signal).
    pub async fn wait(self) -> Result<(), ControllerError> {
        self.wait_for_world().await.map(|_| ())
    }

    /// Waits for the daemon to end and hands back its world, so a caller can read what happened
    /// in it (the simulator's report, in tests and evaluations).
    pub async fn wait_for_world(self) -> Result<Box<dyn World>, ControllerError> {
        match self.done.await {
            Ok((world, r)) => r.map(|()| world),
            Err(e) => Err(ControllerError::World(format!("the loop task died: {e}"))),
        }
    }
}

/// Binds `listen`, starts the loop and the server, and returns once both run. `shutdown`
/// resolving starts the graceful stop.
pub async fn start(
    core: Core,
    mut world: Box<dyn World>,
    token: String,
    listen: SocketAddr,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, ControllerError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ControllerError::Io {
            path: listen.to_string().into(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ControllerError::Io {
            path: listen.to_string().into(),
            source,
        })?;
    let state = Arc::new(AppState {
        core: Mutex::new(core),
        cancels: Mutex::new(BTreeMap::new()),
        token,
        world: world.name(),
        outcomes_taken: watch::channel(0).0,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (server_stop_tx, mut server_stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let app = api::router(Arc::clone(&state));
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop_rx.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, world = world.name(), "controller listening");
    let loop_state = Arc::clone(&state);
    let done = tokio::spawn(async move {
        let driver = world.driver();
        let result = run_loop(&loop_state, &mut world, &driver, &options, stop_rx).await;
        let _ = server_stop_tx.send(true);
        let _ = server.await;
        (world, result)
    });
    Ok(Running { addr, state, done })
}

async fn run_loop(
    state: &Arc<AppState>,
    world: &mut Box<dyn World>,
    driver: &Arc<dyn Driver>,
    options: &DaemonOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ControllerError> {
    let mut ticker = tokio::time::interval(options.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = 0u64;
    let mut draining_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s), if draining_since.is_none() => {
                tracing::info!("shutdown: admitting no new plans, waiting for running migrations");
                state.core().set_draining(true);
                draining_since = Some(tokio::time::Instant::now());
                continue;
            }
        }
        if let Some(since) = draining_since {
            let running = state.core().migrations().len();
            if running == 0 || since.elapsed() >= options.grace {
                if running > 0 {
                    tracing::warn!(
                        running,
                        "grace period over: running migrations stay `executing` in the journal and are reconciled at the next start"
                    );
                }
                return Ok(());
            }
        }
        let snapshot = tokio::task::block_in_place(|| world.next());
        let snapshot = match snapshot {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no snapshot this round");
                state
                    .core()
                    .metrics
                    .telemetry_refused
                    .get_or_create(&crate::metrics::ReasonLabel {
                        reason: "world".into(),
                    })
                    .inc();
                continue;
            }
        };
        if let Some(ended) = world.migrations_ended() {
            // Every outcome the world handed out this step reaches the core first.
            let mut taken = state.outcomes_taken.subscribe();
            let waited =
                tokio::time::timeout(Duration::from_secs(10), taken.wait_for(|&n| n >= ended))
                    .await;
            if waited.is_err() {
                tracing::warn!(
                    ended,
                    "outcomes did not reach the core within 10 s; deciding anyway"
                );
            }
        }
        // A journal failure stops the loop: acting without a record is what must never happen.
        let orders = state.core().observe(snapshot)?;
        for order in orders {
            execute(state, driver, order).await?;
        }
        rounds += 1;
        if options.max_rounds.is_some_and(|m| rounds >= m) {
            return Ok(());
        }
    }
}

/// Hands one order to the driver and watches it to its end.
async fn execute(
    state: &Arc<AppState>,
    driver: &Arc<dyn Driver>,
    order: Order,
) -> Result<(), ControllerError> {
    let id: PlanId = order.plan;
    let dry_run = driver.name() == "noop";
    match driver.start(order.request).await {
        Err(e) => {
            tracing::warn!(plan = %id, error = %e, "driver refused the migration");
            state.core().start_failed(id, &e)
        }
        Ok(handle) => {
            state
                .cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, handle.canceller());
            let mut progress = handle.progress();
            let watcher = Arc::clone(state);
            tokio::spawn(async move {
                let follow = {
                    let state = Arc::clone(&watcher);
                    tokio::spawn(async move {
                        while progress.changed().await.is_ok() {
                            let sample = progress.borrow_and_update().clone();
                            state.core().progress(id, sample);
                        }
                    })
                };
                let result = handle.outcome().await;
                follow.abort();
                watcher
                    .cancels
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                match &result {
                    Ok(o) => tracing::info!(plan = %id, status = %o.status.as_str(),
                        downtime_ms = o.downtime_ms, "migration ended"),
                    Err(e) => tracing::warn!(plan = %id, error = %e, "migration failed"),
                }
                let journaled = if dry_run {
                    watcher.core().finished_dry_run(id)
                } else {
                    watcher.core().finished(id, result)
                };
                if let Err(e) = journaled {
                    tracing::error!(plan = %id, error = %e, "could not journal the migration's end");
                }
                watcher.outcomes_taken.send_modify(|n| *n += 1);
            });
            Ok(())
        }
    }
}
