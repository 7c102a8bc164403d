//! `/api/v1/events`: server-sent events, one `state` event with the dashboard's whole picture
//! (status, hosts, VMs, service chains, link loads, open plans, running migrations, recent
//! history) whenever it changed, checked every [`POLL`]. Pushing beats polling the JSON routes
//! from the page: one request, and an update lands within a quarter second of the tick or
//! approval that caused it.
//!
//! The token is required like everywhere under `/api/`; because a browser's `EventSource` cannot
//! set headers, this one route also takes it as `?token=`, compared in constant time as the
//! header is. The stream ends when the daemon starts draining, so a dashboard left open does not
//! hold up a graceful shutdown (the browser reconnects to the next daemon by itself).

use crate::api::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How often the stream looks for a change (an event is sent only when something changed).
pub const POLL: Duration = Duration::from_millis(250);

/// Finished plans the stream carries for the downtime chart.
pub const HISTORY: usize = 50;

/// The route.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/events", get(events))
}

/// Whether the header or the query holds the token (constant-time comparison of each).
fn authorized(state: &AppState, headers: &HeaderMap, query: Option<&String>) -> bool {
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = |given: &str| -> bool { given.as_bytes().ct_eq(state.token.as_bytes()).into() };
    header_token.is_some_and(ok) | query.is_some_and(|q| ok(q))
}

fn error(status: StatusCode, message: &str) -> Response {
    let mut r = (status, axum::Json(json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
    }
    r
}

/// The picture the dashboard draws, as one JSON text.
pub fn state_json(state: &AppState) -> String {
    let core = state.core();
    let plans: Vec<_> = core
        .plans(None)
        .into_iter()
        .filter(|p| !p.state.is_final())
        .collect();
    json!({
        "status": {
            "world": state.world,
            "policy": core.policy_name(),
            "world_time_s": core.now_s(),
            "kill_switch": core.kill_switch(),
            "open_plans": plans.len(),
            "migrations_running": core.migrations().len(),
        },
        "hosts": core.hosts(),
        "vms": core.vms(),
        "chains": core.chains(),
        "links": core.links(),
        "plans": plans,
        "migrations": core.migrations(),
        "history": core.history(HISTORY),
    })
    .to_string()
}

async fn events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if !authorized(&state, &headers, q.get("token")) {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (Authorization: Bearer <token>, or ?token= for an EventSource)",
        );
    }
    if let Some(k) = q.keys().find(|k| k.as_str() != "token") {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unknown query parameter {k:?}; known: token"),
        );
    }
    let feed = Feed {
        state,
        last: None,
        first: true,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if !feed.first {
                tokio::time::sleep(POLL).await;
            }
            feed.first = false;
            if feed.state.core().draining() {
                return None;
            }
            let text = state_json(&feed.state);
            if feed.last.as_deref() != Some(text.as_str()) {
                let event = Event::default().event("state").data(&text);
                feed.last = Some(text);
                return Some((Ok::<_, Infallible>(event), feed));
            }
        }
    });
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    r
}

/// The stream's state between events.
struct Feed {
    state: Arc<AppState>,
    last: Option<String>,
    first: bool,
}
