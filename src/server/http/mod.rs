//! The HTTP application: Leptos pages and server functions behind the
//! session layer and the auth gate, plus stored files (`files`).

pub mod events;
pub mod files;
pub mod headers;
pub mod readiness;

use super::auth::{gate, session};
use super::config::Config;
use super::db::Database;
use super::worker::WorkerProbe;
use crate::app::{shell, App};
use axum::extract::{FromRef, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{middleware, Extension, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_sessions_sqlx_store::PostgresStore;
use tracing::Instrument;

/// Router state: what handlers and middleware extract.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Leptos site settings.
    pub leptos_options: LeptosOptions,
    /// Database pools.
    pub db: Database,
    /// The in-process worker, when this process runs one.
    pub worker: Option<WorkerProbe>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Database {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

/// The console's listener: every accepted connection sends without delay.
/// A streamed page is written in several small pieces; with Nagle's
/// algorithm each piece after the first waited for the browser's delayed
/// acknowledgement, about 40 ms per page.
pub async fn listen(
    addr: std::net::SocketAddr,
) -> std::io::Result<axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>> {
    use axum::serve::ListenerExt;
    fn no_delay(stream: &mut tokio::net::TcpStream) {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    }
    Ok(tokio::net::TcpListener::bind(addr)
        .await?
        .tap_io(no_delay as fn(&mut tokio::net::TcpStream)))
}

/// Builds the whole application router; `worker` is the in-process
/// worker's probe, if there is one (for `/readyz`); `hub` is the process's
/// live-console hub (its flusher and its feed listener start here);
/// `providers` serve the integrations' connection tests and credentials.
pub fn router(
    db: Database,
    config: &Config,
    leptos_options: LeptosOptions,
    worker: Option<WorkerProbe>,
    hub: crate::server::live::Hub,
    providers: std::sync::Arc<crate::server::providers::Providers>,
) -> Router {
    let routes = generate_route_list(App);
    let state = AppState {
        leptos_options: leptos_options.clone(),
        db: db.clone(),
        worker,
    };
    let policy = config.session_policy();
    let sessions = session::layer(
        PostgresStore::new(db.app.clone()),
        config.secure_cookies(),
        &policy,
    );

    hub.push_views_from(crate::api::pushed_views::source(db.clone()));
    hub.spawn_flusher(crate::server::live::FLUSH_EVERY);
    crate::server::live::feed::spawn_listener(&hub, db.worker.clone());
    let live = crate::server::live::Live {
        hub,
        public_origin: config.public_url.as_deref().map(gate::origin_of),
        session_check: config.live_session_check,
    };

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/ws", get(crate::server::live::socket::upgrade))
        .route("/readyz", get(readiness::readyz))
        .route("/files/{id}", get(files::download))
        .route(
            "/api/v1/events",
            axum::routing::post(events::publish).layer(axum::extract::DefaultBodyLimit::max(
                events::MAX_EVENT_BYTES + 1024,
            )),
        )
        .route(
            "/documents",
            axum::routing::post(files::upload).layer(axum::extract::DefaultBodyLimit::max(
                files::MAX_UPLOAD_BYTES + 64 * 1024,
            )),
        )
        .leptos_routes(&state, routes, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(gate::status_from_server_fn_error))
        .layer(middleware::from_fn_with_state(
            gate::Gate {
                db: db.clone(),
                sessions: policy,
                public_origin: config.public_url.as_deref().map(gate::origin_of),
            },
            gate::authenticate,
        ))
        .layer(sessions)
        .layer(Extension(db))
        .layer(Extension(policy))
        .layer(Extension(live))
        .layer(Extension(providers))
        .layer(Extension(std::sync::Arc::new(
            super::auth::throttle::SignInGuard::default(),
        )))
        .layer(middleware::from_fn_with_state(
            config.secure_cookies(),
            headers::security_headers,
        ))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// Runs each request inside a span naming its method and route; the gate
/// adds the user and organization once it knows them, so every log line of
/// a request can be tied to who made it.
async fn trace_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        user = tracing::field::Empty,
        organization = tracing::field::Empty,
    );
    async move {
        let started = std::time::Instant::now();
        let response = next.run(request).await;
        tracing::debug!(
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
        response
    }
    .instrument(span)
    .await
}
