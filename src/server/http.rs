//! The HTTP application: Leptos pages and server functions behind the
//! session layer and the auth gate.

use super::auth::{gate, session};
use super::config::Config;
use super::db::Database;
use crate::app::{shell, App};
use axum::extract::FromRef;
use axum::routing::get;
use axum::{middleware, Extension, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_sessions_sqlx_store::PostgresStore;

mod files {
    //! Downloads of stored files (reports, documents), in the caller's scope.

    use crate::server::auth::context::RequestInfo;
    use crate::server::db::{files, Database, Scope};
    use axum::extract::Path;
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::Extension;

    /// `GET /files/{id}`: the file as an attachment, or 404 (also for files
    /// of other organizations: their existence is not revealed).
    pub async fn download(
        Path(id): Path<String>,
        Extension(info): Extension<RequestInfo>,
        Extension(db): Extension<Database>,
    ) -> Response {
        let Some(user) = info.user else {
            return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
        };
        let Ok(id) = uuid::Uuid::parse_str(&id) else {
            return (StatusCode::NOT_FOUND, "No such file.").into_response();
        };
        let scope = Scope::for_user(&user);
        let file = async {
            let mut tx = db.begin(scope).await?;
            let file = files::get(&mut tx, user.organization_id, id).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(file)
        }
        .await;
        match file {
            Ok(Some(file)) => {
                let name: String = file
                    .file_name
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .collect();
                (
                    [
                        (header::CONTENT_TYPE, file.content_type),
                        (
                            header::CONTENT_DISPOSITION,
                            format!("attachment; filename=\"{name}\""),
                        ),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                    ],
                    file.content,
                )
                    .into_response()
            }
            Ok(None) => (StatusCode::NOT_FOUND, "No such file.").into_response(),
            Err(error) => {
                tracing::error!(%error, "file download failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
            }
        }
    }
}

/// Router state: what handlers and middleware extract.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Leptos site settings.
    pub leptos_options: LeptosOptions,
    /// Database pools.
    pub db: Database,
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

/// Builds the whole application router.
pub fn router(db: Database, config: &Config, leptos_options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let state = AppState {
        leptos_options: leptos_options.clone(),
        db: db.clone(),
    };
    let sessions = session::layer(PostgresStore::new(db.app.clone()), config.secure_cookies());

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/files/{id}", get(files::download))
        .leptos_routes(&state, routes, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(gate::status_from_server_fn_error))
        .layer(middleware::from_fn_with_state(
            db.clone(),
            gate::authenticate,
        ))
        .layer(sessions)
        .layer(Extension(db))
        .with_state(state)
}
