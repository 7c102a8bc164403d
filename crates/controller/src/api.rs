//! The HTTP API under `/api/v1/`, with `/healthz` and `/metrics` beside it. Every `/api/` route
//! wants `Authorization: Bearer <token>`, compared in constant time; bodies are capped; bad input
//! gets a 4xx with a JSON `{"error": ...}` that says what is wrong. The OpenAPI document
//! (`/api/v1/openapi.json`) lists every route.

use crate::core::Core;
use crate::plan::{PlanId, PlanState};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use promig_driver::CancelHandle;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use subtle::ConstantTimeEq;

/// Largest request body accepted (the API takes small JSON documents only).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// History entries returned when the request does not say.
const DEFAULT_HISTORY: usize = 100;

/// What the handlers share with the loop.
pub struct AppState {
    /// The decision core (plans, snapshot, metrics).
    pub core: Mutex<Core>,
    /// Cancel handles of running migrations, by plan.
    pub cancels: Mutex<BTreeMap<PlanId, CancelHandle>>,
    /// The bearer token.
    pub token: String,
    /// The world's name (`sim`, `qemu`...).
    pub world: &'static str,
    /// Outcomes the core has taken in (the daemon waits on it; see `World::migrations_ended`).
    pub outcomes_taken: tokio::sync::watch::Sender<u64>,
}

impl AppState {
    /// Locks the core. A handler that panicked while holding it left consistent data (every
    /// change is journaled first), so the poison is ignored rather than taking the API down.
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cancels(&self) -> MutexGuard<'_, BTreeMap<PlanId, CancelHandle>> {
        self.cancels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An API error: status and message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, axum::Json(json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        }
        r
    }
}

impl From<crate::error::ControllerError> for ApiError {
    fn from(e: crate::error::ControllerError) -> Self {
        use crate::error::ControllerError as E;
        let status = match &e {
            E::UnknownPlan(_) => StatusCode::NOT_FOUND,
            E::IllegalTransition { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// The router: `/healthz`, `/metrics` open; everything under `/api/v1/` behind the token.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/status", get(status))
        .route("/api/v1/hosts", get(hosts))
        .route("/api/v1/hosts/{name}", get(host))
        .route("/api/v1/vms", get(vms))
        .route("/api/v1/chains", get(chains))
        .route("/api/v1/links", get(links))
        .route("/api/v1/plans", get(plans))
        .route("/api/v1/plans/{id}", get(plan))
        .route("/api/v1/plans/{id}/approve", post(approve))
        .route("/api/v1/plans/{id}/cancel", post(cancel))
        .route("/api/v1/migrations", get(migrations))
        .route("/api/v1/history", get(history))
        .route("/api/v1/kill-switch", get(kill_switch).put(set_kill_switch))
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authorize,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .merge(api)
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Unknown routes: 401 without the token (an unauthenticated caller learns nothing of which
/// routes exist), 404 with it.
async fn not_found(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiError {
    if !token_matches(&state, &headers) {
        return unauthorized();
    }
    ApiError(
        StatusCode::NOT_FOUND,
        "no such route; see /api/v1/openapi.json".into(),
    )
}

fn token_matches(state: &AppState, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.as_bytes().ct_eq(state.token.as_bytes()).into()
}

fn unauthorized() -> ApiError {
    ApiError(
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token (Authorization: Bearer <token>)".into(),
    )
}

/// Checks the bearer token in constant time (a mismatch reveals nothing of how much matched).
async fn authorize(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if !token_matches(&state, request.headers()) {
        return unauthorized().into_response();
    }
    next.run(request).await
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.core().metrics.encode();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn status(State(state): State<Arc<AppState>>) -> Response {
    let core = state.core();
    axum::Json(json!({
        "world": state.world,
        "policy": core.policy_name(),
        "world_time_s": core.now_s(),
        "kill_switch": core.kill_switch(),
        "open_plans": core.plans(None).iter().filter(|p| !p.state.is_final()).count(),
        "migrations_running": core.migrations().len(),
    }))
    .into_response()
}

async fn hosts(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.core().hosts()).into_response()
}

async fn host(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let hosts = state.core().hosts();
    let h = hosts
        .into_iter()
        .find(|h| h.name == name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no host named {name:?}")))?;
    Ok(axum::Json(h).into_response())
}

async fn vms(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.core().vms()).into_response()
}

async fn chains(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.core().chains()).into_response()
}

async fn links(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.core().links()).into_response()
}

fn parse_id(text: &str) -> Result<PlanId, ApiError> {
    text.parse::<u64>()
        .map(PlanId)
        .map_err(|_| bad_request(format!("plan id {text:?} is not a number")))
}

async fn plans(
    State(state): State<Arc<AppState>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "state") {
        return Err(bad_request(format!(
            "unknown query parameter {k:?}; known: state"
        )));
    }
    let filter = match q.get("state") {
        Some(s) => Some(PlanState::parse(s).ok_or_else(|| {
            bad_request(format!(
                "state {s:?} is not one of: {}",
                PlanState::ALL.map(|s| s.as_str()).join(", ")
            ))
        })?),
        None => None,
    };
    Ok(axum::Json(state.core().plans(filter)).into_response())
}

async fn plan(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let p = state
        .core()
        .plan(id)
        .ok_or(crate::error::ControllerError::UnknownPlan(id))?;
    Ok(axum::Json(p).into_response())
}

/// Who acts, for the journal: the `X-Operator` header if given (so a team sees who approved).
fn operator(headers: &HeaderMap) -> String {
    let name = headers
        .get("x-operator")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        })
        .unwrap_or_default();
    if name.is_empty() {
        "an operator (API)".into()
    } else {
        format!("{name} (API)")
    }
}

async fn approve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let p = state.core().approve(id, &operator(&headers))?;
    Ok(axum::Json(p).into_response())
}

async fn cancel(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let running = state.core().cancel(id, &operator(&headers))?;
    if running {
        match state.cancels().get(&id) {
            Some(c) => c.cancel(),
            None => {
                return Err(ApiError(
                    StatusCode::CONFLICT,
                    format!("{id} is executing but its migration is not yet started here; retry"),
                ));
            }
        }
        let p = state.core().plan(id);
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "message": "cancellation requested; the migration's end decides the final state",
                "plan": p,
            })),
        )
            .into_response());
    }
    Ok(axum::Json(state.core().plan(id)).into_response())
}

async fn migrations(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.core().migrations()).into_response()
}

async fn history(
    State(state): State<Arc<AppState>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "limit") {
        return Err(bad_request(format!(
            "unknown query parameter {k:?}; known: limit"
        )));
    }
    let limit = match q.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=crate::core::RECENT_PLANS).contains(&n))
            .ok_or_else(|| {
                bad_request(format!(
                    "limit {l:?} must be a whole number from 1 to {}",
                    crate::core::RECENT_PLANS
                ))
            })?,
        None => DEFAULT_HISTORY,
    };
    Ok(axum::Json(state.core().history(limit)).into_response())
}

async fn kill_switch(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(json!({ "engaged": state.core().kill_switch() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillSwitch {
    engaged: bool,
}

async fn set_kill_switch(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let k: KillSwitch = serde_json::from_slice(&body)
        .map_err(|e| bad_request(format!("body must be {{\"engaged\": true|false}}: {e}")))?;
    state.core().set_kill_switch(k.engaged)?;
    Ok(axum::Json(json!({ "engaged": k.engaged })).into_response())
}
