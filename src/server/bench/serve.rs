//! The console served in-process on a free loopback port, for the
//! benchmarks that measure pages (sign-in flood, console at a million rows).
//! No worker runs in it: the data stays as loaded.

use crate::server::db::Database;
use std::time::Instant;

/// A console serving the benchmark database; stops when dropped.
pub(super) struct InProcessConsole {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// Its live-console hub.
    pub hub: crate::server::live::Hub,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for InProcessConsole {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Loads the demo data for a console workload (its webhooks sealed with a
/// throwaway key: nothing here delivers them).
pub(super) async fn load_demo(db: &crate::server::db::Database) -> Result<(), sqlx::Error> {
    crate::server::demo_data::load(
        db,
        &crate::server::secrets::Keyring::ephemeral(),
        crate::server::demo_data::DEFAULT_DEMO_PASSWORD,
        false,
    )
    .await
    .map(|_| ())
    .map_err(|e| failed("demo data", &e))
}

/// Wraps a failure of the benchmark's own plumbing.
pub(super) fn failed(what: &str, error: &dyn std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{what}: {error}"))
}

impl InProcessConsole {
    /// Serves the console on `db`.
    pub async fn start(db: &Database) -> Result<InProcessConsole, sqlx::Error> {
        let mut config = crate::server::config::Config::defaults();
        config.in_process_worker = false;
        let options = leptos::config::LeptosOptions::builder()
            .output_name("veriphy-jobs")
            .site_root("target/site")
            .build();
        let hub = crate::server::live::Hub::new();
        let providers = std::sync::Arc::new(crate::server::providers::Providers::new(
            std::sync::Arc::new(crate::server::secrets::Keyring::ephemeral()),
            crate::server::outbound::Outbound::new(Default::default())
                .map_err(|e| failed("outbound client", &e))?,
            std::env::temp_dir().join("veriphy-bench-outbox"),
        ));
        let app =
            crate::server::http::router(db.clone(), &config, options, None, hub.clone(), providers);
        let listener = crate::server::http::listen(([127, 0, 0, 1], 0).into())
            .await
            .map_err(|e| failed("bind", &e))?;
        let port = axum::serve::Listener::local_addr(&listener)
            .map_err(|e| failed("bind", &e))?
            .port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        Ok(InProcessConsole {
            base: format!("http://127.0.0.1:{port}"),
            hub,
            server,
        })
    }

    /// Signs `email` in with `client`; returns the session cookie.
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> Result<String, sqlx::Error> {
        let answer = client
            .post(format!("{}/api/login", self.base))
            .header("accept", "application/json")
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .map_err(|e| failed("sign-in", &e))?;
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .filter(|c| c.contains("veriphy_session="))
            })
            .map(str::to_string)
            .ok_or_else(|| failed("sign-in", &format!("no session cookie for {email}")))
    }

    /// Loads `path` with `cookie` and reads the whole body: (milliseconds,
    /// status, body).
    pub async fn load(
        &self,
        client: &reqwest::Client,
        cookie: &str,
        path: &str,
    ) -> (f64, u16, String) {
        let started = Instant::now();
        let answer = client
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await;
        let (status, body) = match answer {
            Ok(answer) => {
                let status = answer.status().as_u16();
                (status, answer.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        };
        (started.elapsed().as_secs_f64() * 1000.0, status, body)
    }
}

/// A client that keeps redirects for the caller to see, sending from `from`.
pub(super) fn client(from: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}
