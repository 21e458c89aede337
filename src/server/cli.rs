//! The command line: `serve` (default), `worker`, `migrate`, `seed-demo`.

use super::config::Config;
use super::db::{self, Database};
use super::embedded_pg::{self, EmbeddedPostgres};
use super::worker::{Registry, Worker, WorkerConfig};
use super::{bench, bootstrap, http, seed, telemetry};
use clap::{Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;

/// Veriphy Jobs: background jobs, batches, failures, API logs and webhooks of Veriphy Bank.
///
/// With no DATABASE_URL, a private PostgreSQL cluster is started under
/// VERIPHY_DATA_DIR (default ./data) from the machine's PostgreSQL binaries.
#[derive(Debug, Parser)]
#[command(name = "veriphy-jobs", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the console (the default). Listens on LEPTOS_SITE_ADDR (127.0.0.1:3000).
    Serve {
        /// Load the demo organizations and data first (same as `seed-demo`).
        #[arg(long)]
        demo: bool,
    },
    /// Run the queue worker only, for scale-out beside the web servers.
    Worker,
    /// Measure the queue: bulk enqueue, drain throughput or enqueue-to-start
    /// latency, each in a fresh database; prints one JSON line.
    Bench(bench::BenchArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Load two demo organizations with one user per role and realistic data.
    SeedDemo,
}

/// One-line error for the operator; the process exits with status 1.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Embedded(#[from] embedded_pg::EmbeddedPgError),
    #[error("{0}")]
    Message(String),
}

/// Parses the command line, runs the command, returns the exit status.
pub async fn run() -> i32 {
    let cli = Cli::parse();
    telemetry::init();
    match execute(cli.command.unwrap_or(Command::Serve { demo: false })).await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

async fn execute(command: Command) -> Result<(), CliError> {
    let config = Config::from_env();
    let backend = Backend::open(&config).await?;
    let result = run_command(command, &config, &backend).await;
    backend.close();
    result
}

async fn run_command(command: Command, config: &Config, backend: &Backend) -> Result<(), CliError> {
    if let Command::Bench(args) = &command {
        return bench::run(&backend.options, args)
            .await
            .map_err(CliError::Message);
    }
    migrate(&backend.options).await?;
    if matches!(command, Command::Migrate) {
        eprintln!("migrations applied");
        return Ok(());
    }
    let db = Database::connect(backend.options.clone(), 20)
        .await
        .map_err(|e| CliError::Message(format!("cannot open database pools: {e}")))?;
    match command {
        Command::Migrate | Command::Bench(_) => unreachable!("handled above"),
        Command::SeedDemo => seed_demo(&db).await,
        Command::Worker => {
            let worker = start_worker(&db).await?;
            shutdown_signal().await;
            worker.shutdown().await;
            Ok(())
        }
        Command::Serve { demo } => {
            bootstrap::ensure_bank_admin(&db).await.map_err(|e| {
                CliError::Message(format!("cannot create the first bank admin: {e}"))
            })?;
            if demo {
                seed_demo(&db).await?;
            }
            serve(db, config).await
        }
    }
}

async fn seed_demo(db: &Database) -> Result<(), CliError> {
    seed::seed_demo(db)
        .await
        .map_err(|e| CliError::Message(format!("cannot load the demo data: {e}")))
}

async fn migrate(options: &PgConnectOptions) -> Result<(), CliError> {
    db::migrate(options)
        .await
        .map_err(|e| CliError::Message(format!("database migration failed: {e}")))
}

async fn start_worker(db: &Database) -> Result<Worker, CliError> {
    Worker::start(db.clone(), Registry::standard(), WorkerConfig::from_env())
        .await
        .map_err(|e| CliError::Message(format!("cannot start the worker: {e}")))
}

async fn serve(db: Database, config: &Config) -> Result<(), CliError> {
    let worker = if config.in_process_worker {
        Some(start_worker(&db).await?)
    } else {
        tracing::info!("in-process worker disabled (VERIPHY_WORKER=off)");
        None
    };
    let conf = leptos::config::get_configuration(None)
        .map_err(|e| CliError::Message(format!("invalid Leptos configuration: {e}")))?;
    let options = conf.leptos_options;
    let addr = options.site_addr;
    let app = http::router(db, config, options);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Message(format!("cannot listen on {addr}: {e}")))?;
    tracing::info!("console listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| CliError::Message(format!("server error: {e}")))?;
    if let Some(worker) = worker {
        worker.shutdown().await;
    }
    tracing::info!("shut down");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}

/// Where the database is: an external server or the embedded cluster.
struct Backend {
    options: PgConnectOptions,
    embedded: Option<EmbeddedPostgres>,
}

impl Backend {
    async fn open(config: &Config) -> Result<Self, CliError> {
        let (options, embedded) = match &config.database_url {
            Some(url) => {
                let options = PgConnectOptions::from_str(url).map_err(|e| {
                    CliError::Message(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))
                })?;
                (options, None)
            }
            None => {
                let cluster = EmbeddedPostgres::start(&config.data_dir)?;
                cluster
                    .ensure_database(embedded_pg::APP_DATABASE)
                    .await
                    .map_err(|e| {
                        CliError::Message(format!("cannot create the application database: {e}"))
                    })?;
                tracing::info!(dir = %cluster.root().display(), "embedded PostgreSQL is up");
                (
                    cluster.connect_options(embedded_pg::APP_DATABASE),
                    Some(cluster),
                )
            }
        };
        check_connection(&options).await?;
        Ok(Backend { options, embedded })
    }

    fn close(self) {
        if let Some(cluster) = self.embedded {
            cluster.stop();
        }
    }
}

async fn check_connection(options: &PgConnectOptions) -> Result<(), CliError> {
    use sqlx::Connection;
    let target = match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let database = options.get_database().unwrap_or("(default)").to_string();
    let connect = sqlx::PgConnection::connect_with(options);
    match tokio::time::timeout(std::time::Duration::from_secs(15), connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(CliError::Message(format!(
            "cannot connect to PostgreSQL at {target} (database {database}): {}",
            one_line(&error.to_string())
        ))),
        Err(_) => Err(CliError::Message(format!(
            "cannot connect to PostgreSQL at {target} (database {database}): timed out after 15 s"
        ))),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
