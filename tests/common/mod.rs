//! Shared test support: one embedded PostgreSQL per test binary (reused across
//! runs), a fresh migrated database per test, and the app on a free port.
#![allow(dead_code)]

pub mod stand_ins;
pub mod webhooks;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use std::sync::OnceLock;
use uuid::Uuid;
use veriphy_jobs::server::db::{self, Database};
use veriphy_jobs::server::embedded_pg::EmbeddedPostgres;

/// The test binary's cluster, started on first use.
pub fn cluster() -> &'static EmbeddedPostgres {
    static CLUSTER: OnceLock<EmbeddedPostgres> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let filter = std::env::var("RUST_LOG")
            .unwrap_or_else(|_| veriphy_jobs::server::config::DEFAULT_LOG_FILTER.into());
        veriphy_jobs::server::telemetry::install(
            &filter,
            veriphy_jobs::server::config::LogFormat::Text,
        );
        let name = std::env::current_exe()
            .ok()
            .and_then(|p| {
                p.file_stem().map(|s| {
                    s.to_string_lossy()
                        .split('-')
                        .next()
                        .unwrap_or("t")
                        .to_string()
                })
            })
            .unwrap_or_else(|| "tests".into());
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-{name}"));
        EmbeddedPostgres::start(&root, None).unwrap_or_else(|e| panic!("test cluster: {e}"))
    })
}

/// A fresh, migrated database of its own.
pub struct TestDb {
    /// Owner (superuser) connection options: for setup only.
    pub owner: PgConnectOptions,
    /// The application's pools, as the app uses them.
    pub db: Database,
    /// The database name.
    pub name: String,
}

/// Creates and migrates a new database for one test.
pub async fn fresh_database() -> TestDb {
    let (name, owner) = new_database().await;
    {
        let _guard = MIGRATING.lock().await;
        db::migrate(&owner).await.expect("migrations");
    }
    connect(name, owner).await
}

/// Roles are cluster-wide: parallel tests would race to create them.
static MIGRATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An empty database on the test cluster: its name and owner options.
async fn new_database() -> (String, PgConnectOptions) {
    let cluster = cluster();
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .expect("connect");
    // the cluster outlives a run: drop the previous run's databases once
    static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CLEANED
        .get_or_init(|| async {
            let mut conn = PgConnection::connect_with(&cluster.connect_options("postgres"))
                .await
                .expect("connect");
            let stale: Vec<String> = sqlx::query_scalar(
                "select datname::text from pg_database where datname like 'test\\_%'",
            )
            .fetch_all(&mut conn)
            .await
            .expect("list databases");
            for database in stale {
                let drop = format!("drop database if exists {database} with (force)");
                sqlx::query(&drop).execute(&mut conn).await.ok();
            }
            conn.close().await.ok();
        })
        .await;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    admin.close().await.ok();
    let owner = cluster.connect_options(&name);
    (name, owner)
}

async fn connect(name: String, owner: PgConnectOptions) -> TestDb {
    let db = Database::connect(owner.clone(), 5).await.expect("pools");
    TestDb { owner, db, name }
}

impl TestDb {
    /// A new organization with a random slug; its id.
    pub async fn new_organization(&self) -> Uuid {
        let mut conn = self.owner_connection().await;
        let slug = format!("org-{}", &Uuid::new_v4().simple().to_string()[..8]);
        sqlx::query_scalar("insert into organizations (name, slug) values ($1, $1) returning id")
            .bind(slug)
            .fetch_one(&mut conn)
            .await
            .expect("organization")
    }

    /// Runs one job of `job_type` for `organization` through a worker with
    /// `registry`; its status and result (or `{"error": message}`).
    #[allow(dead_code)]
    pub async fn run_one_job(
        &self,
        registry: veriphy_jobs::server::worker::Registry,
        organization: Uuid,
        job_type: veriphy_jobs::domain::JobType,
        payload: serde_json::Value,
    ) -> (String, serde_json::Value) {
        use sqlx::Connection;
        use veriphy_jobs::server::queue::{self, NewJob};
        use veriphy_jobs::server::worker::{Worker, WorkerConfig};
        let worker = Worker::start(
            self.db.clone(),
            registry,
            WorkerConfig {
                poll_interval: std::time::Duration::from_millis(100),
                ..WorkerConfig::default()
            },
        )
        .await
        .unwrap();
        let id = {
            let mut conn = self.db.worker.acquire().await.unwrap();
            queue::enqueue(
                &mut conn,
                &NewJob::new(organization, job_type, "handler test", payload),
            )
            .await
            .unwrap()
        };
        let mut conn = sqlx::PgConnection::connect_with(&self.owner).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        type Row = (String, Option<serde_json::Value>, Option<String>);
        let (status, result, error): Row = loop {
            let row: Row =
                sqlx::query_as("select status, result, error_message from jobs where id = $1")
                    .bind(id)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            if !matches!(row.0.as_str(), "running") && (row.0 != "pending" || row.2.is_some()) {
                break row;
            }
            assert!(std::time::Instant::now() < deadline, "job did not finish");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        worker.shutdown().await;
        let result = result.unwrap_or_else(|| serde_json::json!({ "error": error }));
        (status, result)
    }

    /// The id of the organization whose slug is `slug`.
    pub async fn organization_id(&self, slug: &str) -> Uuid {
        let mut conn = self.owner_connection().await;
        sqlx::query_scalar("select id from organizations where slug = $1")
            .bind(slug)
            .fetch_one(&mut conn)
            .await
            .expect("organization")
    }

    /// A raw connection as the owner (superuser: RLS does not apply).
    pub async fn owner_connection(&self) -> PgConnection {
        PgConnection::connect_with(&self.owner)
            .await
            .expect("owner connection")
    }

    /// Cancels job `id` by direct SQL, as another tool would: its queue
    /// entry still lists it (entries are hints).
    pub async fn cancel_behind_the_engine(&self, id: uuid::Uuid) {
        sqlx::query("update jobs set status = 'cancelled', completed_at = now() where id = $1")
            .bind(id)
            .execute(&mut self.owner_connection().await)
            .await
            .expect("cancel by direct SQL");
    }
}

/// The console served on 127.0.0.1 at a free port.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database behind it.
    pub test_db: TestDb,
    /// Its live-console hub (tests publish changes into it).
    pub hub: veriphy_jobs::server::live::Hub,
    /// Its provider services (a worker a test starts shares their key).
    pub providers: std::sync::Arc<veriphy_jobs::server::providers::Providers>,
}

/// Starts the app on a fresh database with the demo data loaded.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings changed by `configure` first.
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut veriphy_jobs::server::config::Config),
) -> TestApp {
    let test_db = fresh_database().await;
    let providers = test_providers();
    veriphy_jobs::server::demo_data::load(
        &test_db.db,
        &providers.keyring,
        veriphy_jobs::server::demo_data::DEFAULT_DEMO_PASSWORD,
        false,
    )
    .await
    .expect("demo data");
    let mut config = veriphy_jobs::server::config::Config::defaults();
    config.in_process_worker = false;
    configure(&mut config);
    let (base, hub) = serve(test_db.db.clone(), &config, providers.clone()).await;
    TestApp {
        base,
        test_db,
        hub,
        providers,
    }
}

/// Serves the console on `db` at a free port: its address and its hub.
async fn serve(
    db: Database,
    config: &veriphy_jobs::server::config::Config,
    providers: std::sync::Arc<veriphy_jobs::server::providers::Providers>,
) -> (String, veriphy_jobs::server::live::Hub) {
    let options = leptos::config::LeptosOptions::builder()
        .output_name("veriphy-jobs")
        .site_root("target/site")
        .build();
    let hub = veriphy_jobs::server::live::Hub::new();
    let app = veriphy_jobs::server::http::router(db, config, options, None, hub.clone(), providers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    (format!("http://{addr}"), hub)
}

/// Provider services for tests: a fresh key, loopback allowlisted (the
/// provider stand-ins listen there).
pub fn test_providers() -> std::sync::Arc<veriphy_jobs::server::providers::Providers> {
    use veriphy_jobs::server::secrets::Keyring;
    std::sync::Arc::new(veriphy_jobs::server::providers::Providers::new(
        std::sync::Arc::new(Keyring::ephemeral()),
        veriphy_jobs::server::outbound::Outbound::new(
            veriphy_jobs::server::outbound::Allowlist::new(["127.0.0.1"]),
        )
        .unwrap(),
        test_outbox(),
    ))
}

/// A fresh outbox directory for one test.
#[allow(dead_code)]
pub fn test_outbox() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("veriphy-outbox-{}", Uuid::new_v4()))
}

/// A second web node on the same database, with pools and a hub of its own
/// (as another `serve` process has).
pub struct OtherNode {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its live-console hub.
    pub hub: veriphy_jobs::server::live::Hub,
}

impl TestApp {
    /// Starts another node on this app's database.
    pub async fn other_node(&self) -> OtherNode {
        let db = Database::connect(self.test_db.owner.clone(), 5)
            .await
            .expect("pools");
        let mut config = veriphy_jobs::server::config::Config::defaults();
        config.in_process_worker = false;
        let (base, hub) = serve(db, &config, test_providers()).await;
        OtherNode { base, hub }
    }

    /// A client without redirects or cookie jar: tests handle cookies by hand.
    pub fn client(&self) -> reqwest::Client {
        plain_client()
    }

    /// `GET path` with `cookie` (a `name=value` session cookie).
    pub async fn get(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.client()
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("GET request")
    }

    /// Posts the login form; returns the response.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        login_at(&self.base, email, password, cookie).await
    }
}

impl OtherNode {
    /// [`TestApp::login`] on this node.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        login_at(&self.base, email, password, None).await
    }
}

/// A client without redirects or cookie jar.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Posts the sign-in form to the node at `base`.
async fn login_at(
    base: &str,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = plain_client()
        .post(format!("{base}/api/login"))
        .header("accept", "application/json")
        .form(&[("email", email), ("password", password), ("next", "/jobs")]);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("login request")
}

/// The `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("veriphy_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The full Set-Cookie header of the session cookie.
pub fn session_set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("veriphy_session="))
        .map(str::to_string)
}

/// Signs `email` in with the demo password; the session cookie.
pub async fn signed_in(app: &TestApp, email: &str) -> String {
    session_cookie(
        &app.login(
            email,
            veriphy_jobs::server::demo_data::DEFAULT_DEMO_PASSWORD,
            None,
        )
        .await,
    )
    .expect("signed in")
}

/// Calls server function `function` with a form; status and JSON body.
pub async fn call(
    app: &TestApp,
    cookie: &str,
    function: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = app
        .client()
        .post(format!("{}/api/{function}", app.base))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}
