//! The operator's dashboard, served by the controller itself so there is no second server to
//! deploy or secure: a plain HTML/CSS/JS page (no framework, no build step) compiled into the
//! binary with `include_str!`, served at `/` and `/assets/...` without the token (the page holds
//! nothing secret; it asks for the token, keeps it in `sessionStorage` and sends it with every
//! API call), plus the live feed [`events`] it draws from.

pub mod events;

use crate::api::AppState;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// The page.
const INDEX_HTML: &str = include_str!("../assets/index.html");
/// Its script.
const APP_JS: &str = include_str!("../assets/app.js");
/// Its style sheet.
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Scripts and styles only from this origin, no framing: a page that handles an API token must
/// not run injected code or be overlaid by another site. `data:` images are none today but
/// harmless.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The dashboard's routes, merged into [`crate::api::router`]: the page, its assets and the
/// event stream.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .merge(events::routes())
}

/// One embedded file with headers that keep it from being sniffed, framed or leaking the URL.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // The assets change with the binary; revalidating is cheap on a loopback or LAN.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
