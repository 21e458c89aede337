//! The per-request gate: cross-site refusal, session resolution, and the
//! redirect/401 for signed-out requests. Runs before any page or server function.

use super::context::RequestInfo;
use super::session::{SessionPolicy, SessionUser, USER_KEY};
use crate::error::AppError;
use crate::server::db::{Database, Scope};
use crate::server::repo::{user_sessions, users};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use tower_sessions::Session;

/// Paths anyone may request without signing in.
fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/api/login"
        // authenticated by an API key, not a session
        || path == "/api/v1/events"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/favicon.ico"
        || path.starts_with("/pkg/")
        || path.starts_with("/assets/")
}

/// Where a user who must choose a new password is sent.
pub const CHANGE_PASSWORD_PAGE: &str = "/account/password";

/// What a user who must choose a new password may still reach: the page and
/// function that change it, sign-out, who-am-I, and the built assets.
fn allowed_before_password_change(path: &str) -> bool {
    is_public(path)
        || path == CHANGE_PASSWORD_PAGE
        || path == "/api/change_password"
        || path == "/api/logout"
        || path == "/api/current_user"
}

/// Whether a state-changing request came from our own site. Browsers send
/// Sec-Fetch-Site and/or Origin on such requests; tools without either carry no
/// ambient cookies from another site, so they pass. An Origin must be the
/// console's public origin when one is configured (`public_origin`, e.g.
/// `https://jobs.veriphy.example`): the Host header is the client's to
/// choose. Without one, it must name the Host the request was sent to.
pub fn same_site_request(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return false;
    }
    match public_origin {
        Some(expected) => origin.eq_ignore_ascii_case(expected),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            origin.split_once("://").map(|(_, rest)| rest) == Some(host)
        }
    }
}

/// The origin (`scheme://host[:port]`) of a public URL.
pub fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

/// A JSON error answer in the same shape server functions use.
pub fn error_response(error: AppError) -> Response {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(&error).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("serverfnerror"), "gate"),
        ],
        body,
    )
        .into_response()
}

/// What the gate needs: the database and how long sessions live.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The pools (sessions are looked up with the console's).
    pub db: Database,
    /// Idle and absolute session lifetimes.
    pub sessions: SessionPolicy,
    /// The console's public origin, when configured (for the Origin check).
    pub public_origin: Option<String>,
}

/// The gate middleware.
pub async fn authenticate(
    State(gate): State<Gate>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method && !same_site_request(request.headers(), gate.public_origin.as_deref()) {
        tracing::warn!(%path, "refused a cross-site state-changing request");
        return error_response(AppError::CrossSite);
    }

    let (user, session_key) = match resolve_user(&gate, &session).await {
        Ok(Some((user, key))) => (Some(user), Some(key)),
        Ok(None) => (None, None),
        Err(error) => {
            tracing::error!(?error, "could not resolve the session user");
            return error_response(AppError::Internal);
        }
    };
    let signed_in = user.is_some();
    if let Some(user) = &user {
        let span = tracing::Span::current();
        span.record("user", tracing::field::display(&user.email));
        if let Some(organization) = user.organization_id {
            span.record("organization", tracing::field::display(organization));
        }
    }
    let info = RequestInfo {
        user,
        ip: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(400).collect()),
        session_key,
    };
    request.extensions_mut().insert(info);

    if !signed_in && !is_public(&path) {
        if path.starts_with("/api/") || path == "/ws" || unsafe_method {
            return error_response(AppError::Unauthorized);
        }
        let next_path = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let target = if next_path == "/" {
            "/login".to_string()
        } else {
            format!("/login?next={}", encode_query_value(next_path))
        };
        return Redirect::to(&target).into_response();
    }
    if signed_in && path == "/login" {
        return Redirect::to("/").into_response();
    }
    let must_change = request
        .extensions()
        .get::<RequestInfo>()
        .and_then(|info| info.user.as_ref())
        .is_some_and(|user| user.must_change_password);
    if must_change && !allowed_before_password_change(&path) {
        if path.starts_with("/api/") || unsafe_method {
            return error_response(AppError::MustChangePassword);
        }
        return Redirect::to(CHANGE_PASSWORD_PAGE).into_response();
    }
    next.run(request).await
}

/// Loads the session's user and key if the session is valid (within both
/// timeouts, not signed out elsewhere) and the user still active.
async fn resolve_user(
    gate: &Gate,
    session: &Session,
) -> Result<
    Option<(crate::domain::CurrentUser, uuid::Uuid)>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    let stored = match session.get::<SessionUser>(USER_KEY).await {
        Ok(stored) => stored,
        Err(error) if !is_backend_failure(&error) => {
            // A record written by another version, or damaged: not a reason
            // to fail every request of that browser. Start it over.
            tracing::warn!(%error, "a session that cannot be decoded is treated as signed out");
            let _ = session.flush().await;
            None
        }
        Err(error) => return Err(error.into()),
    };
    let Some(stored) = stored else {
        return Ok(None);
    };
    let now = chrono::Utc::now().timestamp_millis();
    let Some(key) = stored.key.filter(|_| !stored.expired(now, &gate.sessions)) else {
        session.flush().await?;
        return Ok(None);
    };
    let touch = stored.needs_touch(now, &gate.sessions);
    let mut tx = gate
        .db
        .begin(Scope::no_tenant(Some(stored.user_id)))
        .await?;
    let user = users::load_current(&mut tx, stored.user_id).await?;
    // signed out from another browser, or by a bank admin
    let open = user.is_some()
        && user_sessions::is_open(
            &mut tx,
            key,
            stored.user_id,
            touch.then_some(gate.sessions.idle),
        )
        .await?;
    tx.commit().await?;
    let user = user.filter(|_| open);
    if user.is_none() {
        // deactivated, deleted or signed out since sign-in
        session.flush().await?;
    } else if touch {
        // a changed record is saved with a fresh idle expiry: the idle
        // timeout slides with activity
        session
            .insert(
                USER_KEY,
                SessionUser {
                    seen_at: now,
                    ..stored
                },
            )
            .await?;
    }
    Ok(user.map(|user| (user, key)))
}

/// Whether a session error means the store itself failed (the database),
/// rather than a record that does not decode.
fn is_backend_failure(error: &tower_sessions::session::Error) -> bool {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as StoreError;
    matches!(error, Error::Store(StoreError::Backend(_)))
}

/// Server-function errors leave the function as HTTP 500; this gives each the
/// status its [`AppError`] stands for (401, 403, 404, 422, ...).
pub async fn status_from_server_fn_error(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !response.headers().contains_key("serverfnerror")
        || response.status() != StatusCode::INTERNAL_SERVER_ERROR
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error_response(AppError::Internal);
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn same_origin_requests_pass() {
        assert!(same_site_request(
            &headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000"),
                ("sec-fetch-site", "same-origin")
            ]),
            None
        ));
        assert!(same_site_request(
            &headers(&[("host", "127.0.0.1:3000")]),
            None
        ));
    }

    #[test]
    fn with_a_public_url_the_origin_must_be_it_whatever_the_host_says() {
        let public = Some("https://jobs.veriphy.example");
        assert!(same_site_request(
            &headers(&[
                ("host", "internal:3000"),
                ("origin", "https://jobs.veriphy.example")
            ]),
            public
        ));
        assert!(!same_site_request(
            &headers(&[("host", "evil.example"), ("origin", "https://evil.example")]),
            public
        ));
        assert_eq!(
            origin_of("https://jobs.veriphy.example:8443/console?x=1"),
            "https://jobs.veriphy.example:8443"
        );
    }

    #[test]
    fn cross_site_requests_are_refused() {
        for pairs in [
            &[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")][..],
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "https://evil.example"),
            ],
            &[("host", "127.0.0.1:3000"), ("origin", "null")],
        ] {
            assert!(!same_site_request(&headers(pairs), None), "{pairs:?}");
        }
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(
            encode_query_value("/jobs?status=failed&x=1"),
            "/jobs%3Fstatus%3Dfailed%26x%3D1"
        );
    }

    #[test]
    fn public_paths_are_few() {
        assert!(is_public("/login"));
        assert!(is_public("/pkg/veriphy-jobs.js"));
        assert!(!is_public("/jobs"));
        assert!(!is_public("/api/list_jobs"));
        assert!(
            is_public("/api/v1/events"),
            "its key is checked by the endpoint"
        );
    }
}
