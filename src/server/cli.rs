//! The command line: `serve` (default), `worker`, `bench`, `migrate`,
//! `load-demo`, with every setting of [`Config`] as a flag or environment
//! variable of each.

use super::bench::{self, BenchError};
use super::bootstrap::{self, BootstrapError};
use super::config::Config;
use super::db::{self, Database, MigrationError, PoolSizes, SessionLimits};
use super::embedded_pg::{self, EmbeddedPgError, EmbeddedPostgres};
use super::worker::{Registry, Worker, WorkerConfig};
use super::{demo_data, http, telemetry};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the console (the default) on LEPTOS_SITE_ADDR, with a queue worker unless VERIPHY_WORKER=off.
    Serve {
        /// Load the demo organizations and data first (same as `load-demo`).
        #[arg(long)]
        demo: bool,
        /// With --demo: load it even into a database that has other users.
        #[arg(long, requires = "demo")]
        force_demo: bool,
    },
    /// Run the queue worker only, for scale-out beside the web servers.
    Worker,
    /// Measure the queue: bulk enqueue, drain throughput or enqueue-to-start
    /// latency, each in a fresh database; prints one JSON line.
    Bench(bench::BenchArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Encrypt every stored integration credential under the current key.
    /// With VERIPHY_SECRET_KEY: set the new key there and the old one in
    /// VERIPHY_PREVIOUS_SECRET_KEYS first. With the key file: a new key is
    /// added to it (the old ones stay, to open anything sealed meanwhile).
    RotateKey,
    /// Load two demo organizations with one user per role and realistic data
    /// (development databases only: their passwords are published).
    #[command(alias = "seed-demo")]
    LoadDemo {
        /// Load it even into a database that has other users.
        #[arg(long)]
        force: bool,
    },
}

/// Why a command failed; printed as one line with its causes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The embedded cluster could not be started.
    #[error(transparent)]
    Embedded(#[from] EmbeddedPgError),
    /// DATABASE_URL parsed by clap but not by sqlx (should not happen).
    #[error("DATABASE_URL is not a valid PostgreSQL URL")]
    DatabaseUrl(#[source] sqlx::Error),
    /// The server did not answer or refused us.
    #[error("cannot connect to PostgreSQL at {target} (database {database})")]
    Connect {
        /// Host and port, or socket.
        target: String,
        /// The database asked for.
        database: String,
        /// Why.
        #[source]
        source: ConnectFailure,
    },
    /// The embedded cluster has no application database and none could be made.
    #[error("cannot create the application database")]
    CreateDatabase(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// The role pools could not be opened.
    #[error("cannot open database pools")]
    Pools(#[source] sqlx::Error),
    /// First start could not create the bank admin.
    #[error("cannot create the first bank admin")]
    Bootstrap(#[from] BootstrapError),
    /// The demo data could not be loaded.
    #[error("cannot load the demo data")]
    DemoData(#[source] demo_data::DemoError),
    /// The worker could not start.
    #[error("cannot start the worker")]
    Worker(#[source] sqlx::Error),
    /// The provider services (credentials key, outbound client) could not start.
    #[error("cannot start the provider services")]
    Providers(#[source] crate::server::providers::ProvidersError),
    /// Leptos' own settings (LEPTOS_* variables) are invalid.
    #[error("invalid Leptos configuration")]
    Leptos(#[source] leptos::config::errors::LeptosConfigError),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("server error")]
    Serve(#[source] std::io::Error),
    /// The benchmark failed.
    #[error(transparent)]
    Bench(#[from] BenchError),
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    /// PostgreSQL's or the network's answer.
    #[error(transparent)]
    Refused(#[from] sqlx::Error),
    /// No answer at all.
    #[error("timed out after 15 s")]
    TimedOut,
}

/// Parses the command line and settings, runs the command, returns the exit
/// status. Bad settings and failures are one `error:` line each.
pub async fn run() -> i32 {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version
            let _ = error.print();
            return 0;
        }
        Err(error) => {
            eprintln!("error: {}", settings_error_line(&error));
            return 1;
        }
    };
    telemetry::init(&cli.config);
    let command = cli.command.unwrap_or(Command::Serve {
        demo: false,
        force_demo: false,
    });
    match execute(command, &cli.config).await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {}", telemetry::error_chain(&error));
            1
        }
    }
}

fn parse() -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// One line for a bad command line or setting: which setting (by its
/// environment variable and flag), what is wrong, and the value unless it is
/// a secret.
fn settings_error_line(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        _ => None,
    };
    let (Some(flag), Some(value)) = (
        context(ContextKind::InvalidArg),
        context(ContextKind::InvalidValue),
    ) else {
        // unknown flags, missing values: clap's first line says it well
        let text = error.to_string();
        let first = text.lines().next().unwrap_or("invalid command line");
        return first.trim_start_matches("error: ").to_string();
    };
    let long = flag
        .split_whitespace()
        .next()
        .unwrap_or(&flag)
        .trim_start_matches('-');
    let command = Cli::command();
    let arg = command.get_arguments().find(|a| a.get_long() == Some(long));
    let name = arg
        .and_then(|a| a.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("--{long}"));
    let secret = arg.is_some_and(|a| a.is_hide_env_values_set());
    let reason = match error.kind() {
        ErrorKind::InvalidValue => match error.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!("must be one of {}", valid.join(", ")),
            _ => "is not an allowed value".to_string(),
        },
        _ => {
            use std::error::Error;
            error
                .source()
                .map(|cause| cause.to_string())
                .unwrap_or_else(|| "is not valid".to_string())
        }
    };
    let reason = if reason.starts_with("must") || reason.starts_with("is ") {
        reason
    } else {
        format!("is not valid ({reason})")
    };
    if secret {
        format!("{name} {reason} (flag --{long})")
    } else {
        format!("{name} {reason}, got {value:?} (flag --{long})")
    }
}

async fn execute(command: Command, config: &Config) -> Result<(), CliError> {
    let backend = Backend::open(config).await?;
    let result = run_command(command, config, &backend).await;
    backend.close();
    result
}

async fn run_command(command: Command, config: &Config, backend: &Backend) -> Result<(), CliError> {
    if let Command::Bench(args) = &command {
        return Ok(bench::run(&backend.options, args).await?);
    }
    db::migrate(&backend.options).await?;
    if matches!(command, Command::Migrate) {
        eprintln!("migrations applied");
        return Ok(());
    }
    let settings = &config.database;
    let db = Database::connect_with(
        backend.options.clone(),
        PoolSizes {
            console: settings.connections,
            handlers: settings.handler_connections,
            engine: settings.connections,
        },
        SessionLimits {
            statement_timeout: settings.statement_timeout,
            report_statement_timeout: settings.report_statement_timeout,
            idle_in_transaction: settings.idle_in_transaction,
        },
    )
    .await
    .map_err(CliError::Pools)?;
    match command {
        Command::Migrate | Command::Bench(_) => unreachable!("handled above"),
        Command::LoadDemo { force } => load_demo_data(&db, config, force).await,
        Command::RotateKey => rotate_key(&db, config).await,
        Command::Worker => {
            let worker = start_worker(&db, config, providers(config)?).await?;
            shutdown_signal().await;
            worker.shutdown().await;
            Ok(())
        }
        Command::Serve { demo, force_demo } => {
            // demo data first: on a new database it brings its own bank admin
            if demo {
                load_demo_data(&db, config, force_demo).await?;
            }
            bootstrap::ensure_bank_admin(&db, config).await?;
            serve(db, config).await
        }
    }
}

/// Loads the demo data, then runs its due jobs through a worker (the
/// outbox and the sandboxes) until each has ended or waits for a retry, so
/// the demo starts settled and its messages and API calls are real.
async fn load_demo_data(db: &Database, config: &Config, force: bool) -> Result<(), CliError> {
    let providers = providers(config)?;
    let due = demo_data::load(db, &providers.keyring, &config.demo_password, force)
        .await
        .map_err(CliError::DemoData)?;
    if due.is_empty() {
        return Ok(());
    }
    eprintln!(
        "Running the demo's {} messages, syncs and webhook deliveries…",
        due.len()
    );
    let worker = start_worker(db, config, providers).await?;
    let settled = demo_data::settle(db, &due, std::time::Duration::from_secs(60)).await;
    worker.shutdown().await;
    match settled {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::warn!(
                "some demo jobs were still running after a minute; the worker finishes them"
            );
            Ok(())
        }
        Err(error) => Err(CliError::DemoData(demo_data::DemoError::Database(error))),
    }
}

/// `rotate-key`: a new key in the key file (unless the key comes from the
/// environment), then every credential sealed under an older key sealed
/// again under the current one.
async fn rotate_key(db: &Database, config: &Config) -> Result<(), CliError> {
    use crate::server::providers::ProvidersError;
    let keyring = match &config.secret_key {
        Some(_) => config.keyring(),
        None => crate::server::secrets::add_key_to_file(&config.key_file()),
    }
    .map_err(|e| CliError::Providers(ProvidersError::Key(e)))?;
    let (resealed, total) = crate::server::providers::reseal_all(db, &keyring)
        .await
        .map_err(CliError::Providers)?;
    eprintln!(
        "credentials now sealed with key {}: {resealed} re-encrypted, {} already were",
        keyring.current_id(),
        total - resealed
    );
    Ok(())
}

/// The provider services as configured (the credentials key is read, or
/// its file made, here).
fn providers(
    config: &Config,
) -> Result<std::sync::Arc<crate::server::providers::Providers>, CliError> {
    crate::server::providers::Providers::from_config(config)
        .map(std::sync::Arc::new)
        .map_err(CliError::Providers)
}

/// Starts a worker (what it changes reaches every live hub through
/// PostgreSQL, whichever process it runs in).
async fn start_worker(
    db: &Database,
    config: &Config,
    providers: std::sync::Arc<crate::server::providers::Providers>,
) -> Result<Worker, CliError> {
    Worker::start(
        db.clone(),
        Registry::standard().with_providers(providers),
        WorkerConfig::from_settings(&config.worker),
    )
    .await
    .map_err(CliError::Worker)
}

async fn serve(db: Database, config: &Config) -> Result<(), CliError> {
    let hub = crate::server::live::Hub::new();
    let providers = providers(config)?;
    let worker = if config.in_process_worker {
        Some(start_worker(&db, config, providers.clone()).await?)
    } else {
        tracing::info!("in-process worker disabled (VERIPHY_WORKER=off)");
        None
    };
    let mut options = leptos::config::get_configuration(None)
        .map_err(CliError::Leptos)?
        .leptos_options;
    options.site_addr = config.site_addr;
    let addr = config.site_addr;
    let app = http::router(
        db,
        config,
        options,
        worker.as_ref().map(Worker::probe),
        hub,
        providers,
    );
    let listener = http::listen(addr)
        .await
        .map_err(|source| CliError::Listen { addr, source })?;
    tracing::info!("console listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(CliError::Serve)?;
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
            Some(url) => (
                PgConnectOptions::from_str(url).map_err(CliError::DatabaseUrl)?,
                None,
            ),
            None => {
                let cluster =
                    EmbeddedPostgres::start(&config.data_dir, config.pg_bindir.as_deref())?;
                cluster
                    .ensure_database(embedded_pg::APP_DATABASE)
                    .await
                    .map_err(CliError::CreateDatabase)?;
                tracing::info!(dir = %cluster.cluster_home().display(), "embedded PostgreSQL is up");
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
    let failure = match tokio::time::timeout(std::time::Duration::from_secs(15), connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Ok(Err(error)) => ConnectFailure::Refused(error),
        Err(_) => ConnectFailure::TimedOut,
    };
    Err(CliError::Connect {
        target,
        database,
        source: failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_for(args: &[&str]) -> String {
        let command = Cli::command().mut_args(|arg| arg.env(None));
        let error = command
            .try_get_matches_from(std::iter::once("veriphy-jobs").chain(args.iter().copied()))
            .expect_err("refused");
        settings_error_line(&error)
    }

    #[test]
    fn a_bad_setting_is_one_line_naming_its_variable_value_and_flag() {
        assert_eq!(
            line_for(&["worker", "--worker-poll-ms", "soon"]),
            "VERIPHY_WORKER_POLL_MS must be a positive number of milliseconds, got \"soon\" (flag --worker-poll-ms)"
        );
    }

    #[test]
    fn a_bad_choice_lists_the_allowed_ones() {
        assert_eq!(
            line_for(&["--log-format", "xml"]),
            "VERIPHY_LOG_FORMAT must be one of text, json, got \"xml\" (flag --log-format)"
        );
    }

    #[test]
    fn secrets_are_not_echoed() {
        let line = line_for(&["--admin-password", "hunter2"]);
        assert_eq!(
            line,
            "VERIPHY_ADMIN_PASSWORD must be at least 12 characters (flag --admin-password)"
        );
    }

    #[test]
    fn a_library_reason_is_quoted() {
        assert_eq!(
            line_for(&["--site-addr", "localhost"]),
            "LEPTOS_SITE_ADDR is not valid (invalid socket address syntax), got \"localhost\" (flag --site-addr)"
        );
    }
}
