//! The one configuration of the process: every setting, its environment
//! variable, default and unit, read once at start-up by the command line
//! (`veriphy-jobs --help` lists them all) and passed down from there.
//!
//! This is the only module of `src/` that reads the environment.

use clap::{Args, Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default email of the first bank admin.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@veriphy.local";
/// Default password of the demo accounts.
pub const DEFAULT_DEMO_PASSWORD: &str = "veriphy-demo-2026";
/// The log filter when `RUST_LOG` is not set: our own lines at info, the
/// libraries' chatter at warn.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,tower_sessions=warn";

/// Every setting of the process. Each is a flag of every subcommand and an
/// environment variable; the flag wins.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Settings (flag or environment variable)")]
pub struct Config {
    /// PostgreSQL to use instead of the embedded cluster (postgres://user:password@host/database)
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_parser = postgres_url)]
    pub database_url: Option<String>,

    /// Directory of the embedded PostgreSQL cluster (used without DATABASE_URL)
    #[arg(long, env = "VERIPHY_DATA_DIR", global = true, default_value = "data", value_parser = non_empty_path)]
    pub data_dir: PathBuf,

    /// Directory holding initdb and postgres [default: newest /usr/lib/postgresql/*/bin, then PATH]
    #[arg(long, env = "VERIPHY_PG_BINDIR", global = true, value_parser = non_empty_path)]
    pub pg_bindir: Option<PathBuf>,

    /// Address the console listens on (host:port)
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        global = true,
        default_value = "127.0.0.1:3000"
    )]
    pub site_addr: SocketAddr,

    /// The console's public URL; https://… turns on Secure and __Host- cookies
    #[arg(long, env = "VERIPHY_PUBLIC_URL", global = true, value_parser = public_url)]
    pub public_url: Option<String>,

    /// Email of the first bank admin, created on an empty database
    #[arg(long, env = "VERIPHY_ADMIN_EMAIL", global = true, default_value = DEFAULT_ADMIN_EMAIL, value_parser = email)]
    pub admin_email: String,

    /// Password of the first bank admin, at least 12 characters [default: generated and printed once]
    #[arg(long, env = "VERIPHY_ADMIN_PASSWORD", global = true, hide_env_values = true, value_parser = admin_password)]
    pub admin_password: Option<String>,

    /// Password of the demo accounts (`load-demo`, `serve --demo`)
    #[arg(long, env = "VERIPHY_DEMO_PASSWORD", global = true, default_value = DEFAULT_DEMO_PASSWORD, value_parser = non_empty)]
    pub demo_password: String,

    /// Log filter (tracing's EnvFilter syntax, e.g. `debug` or `info,sqlx=debug`)
    #[arg(long, env = "RUST_LOG", global = true, default_value = DEFAULT_LOG_FILTER, value_parser = log_filter)]
    pub log_filter: String,

    /// Log line format
    #[arg(long, env = "VERIPHY_LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Sign-out after this many minutes without activity (may be fractional)
    #[arg(long, value_name = "MINUTES", env = "VERIPHY_SESSION_IDLE_MINUTES", global = true, default_value = "30", value_parser = minutes)]
    pub session_idle: Duration,

    /// Sign-out this many hours after sign-in, however active (may be fractional)
    #[arg(long, value_name = "HOURS", env = "VERIPHY_SESSION_ABSOLUTE_HOURS", global = true, default_value = "12", value_parser = hours)]
    pub session_absolute: Duration,

    /// How often an open live-console connection re-checks its session, in seconds (may be fractional)
    #[arg(long, value_name = "SECONDS", env = "VERIPHY_LIVE_SESSION_CHECK_SECONDS", global = true, default_value = "30", value_parser = seconds)]
    pub live_session_check: Duration,

    /// Whether `serve` also runs a queue worker in its process (on/off)
    #[arg(long, value_name = "on|off", env = "VERIPHY_WORKER", global = true, default_value = "on", value_parser = switch, action = clap::ArgAction::Set)]
    pub in_process_worker: bool,

    /// Key that encrypts integration credentials: base64 of 32 bytes [default: a key file made under the data directory]
    #[arg(long, env = "VERIPHY_SECRET_KEY", global = true, hide_env_values = true, value_parser = secret_key)]
    pub secret_key: Option<String>,

    /// Earlier keys (comma-separated), which still decrypt what they encrypted until `rotate-key` has run
    #[arg(long, env = "VERIPHY_PREVIOUS_SECRET_KEYS", global = true, hide_env_values = true, value_delimiter = ',', value_parser = secret_key)]
    pub previous_secret_keys: Vec<String>,

    /// Hosts integrations may call although they resolve to internal addresses (comma-separated; tests, on-premises providers)
    #[arg(
        long,
        env = "VERIPHY_OUTBOUND_ALLOWLIST",
        global = true,
        value_delimiter = ','
    )]
    pub outbound_allowlist: Vec<String>,

    /// The database pools' sizes and session limits.
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// The queue worker's settings.
    #[command(flatten)]
    pub worker: WorkerSettings,
}

/// Connections and time limits of the database sessions.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Connections of the console's pool (and of the queue engine's)
    #[arg(id = "db_connections", long = "db-connections", value_name = "N", env = "VERIPHY_DB_CONNECTIONS", global = true, default_value_t = 20, value_parser = clap::value_parser!(u32).range(2..=500))]
    pub connections: u32,

    /// Connections of the job handlers' own pool
    #[arg(id = "db_handler_connections", long = "db-handler-connections", value_name = "N", env = "VERIPHY_DB_HANDLER_CONNECTIONS", global = true, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub handler_connections: u32,

    /// Longest a statement may run, in seconds (may be fractional)
    #[arg(id = "statement_timeout_seconds", long = "statement-timeout-seconds", value_name = "SECONDS", env = "VERIPHY_STATEMENT_TIMEOUT_SECONDS", global = true, default_value = "30", value_parser = seconds)]
    pub statement_timeout: Duration,

    /// Longest a statement of a report job may run, in seconds
    #[arg(id = "report_statement_timeout_seconds", long = "report-statement-timeout-seconds", value_name = "SECONDS", env = "VERIPHY_REPORT_STATEMENT_TIMEOUT_SECONDS", global = true, default_value = "300", value_parser = seconds)]
    pub report_statement_timeout: Duration,

    /// Longest a transaction may sit idle, in seconds
    #[arg(id = "idle_in_transaction_seconds", long = "idle-in-transaction-seconds", value_name = "SECONDS", env = "VERIPHY_IDLE_IN_TRANSACTION_SECONDS", global = true, default_value = "60", value_parser = seconds)]
    pub idle_in_transaction: Duration,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, with its spans (for log collectors).
    Json,
}

/// The queue worker's settings (`serve`'s in-process worker and `worker`).
/// Their ids carry a `worker_` prefix so no subcommand's own argument (the
/// bench's `--prefetch`, say) can shadow them.
#[derive(Debug, Clone, Args)]
pub struct WorkerSettings {
    /// Job lease, in seconds (may be fractional); the heartbeat renews it three times per lease
    #[arg(id = "worker_lease_seconds", long = "worker-lease-seconds", value_name = "SECONDS", env = "VERIPHY_WORKER_LEASE_SECONDS", global = true, default_value = "30", value_parser = seconds)]
    pub lease: Duration,

    /// Claim poll when no NOTIFY arrives, in milliseconds
    #[arg(id = "worker_poll_ms", long = "worker-poll-ms", value_name = "MS", env = "VERIPHY_WORKER_POLL_MS", global = true, default_value = "1000", value_parser = milliseconds)]
    pub poll_interval: Duration,

    /// How often expired leases are looked for, in seconds (may be fractional)
    #[arg(id = "worker_rescue_seconds", long = "worker-rescue-seconds", value_name = "SECONDS", env = "VERIPHY_WORKER_RESCUE_SECONDS", global = true, default_value = "15", value_parser = seconds)]
    pub rescue_every: Duration,

    /// How long running jobs may finish after SIGTERM, in seconds (may be fractional)
    #[arg(id = "worker_shutdown_grace_seconds", long = "worker-shutdown-grace-seconds", value_name = "SECONDS", env = "VERIPHY_WORKER_SHUTDOWN_GRACE_SECONDS", global = true, default_value = "10", value_parser = seconds)]
    pub shutdown_grace: Duration,

    /// Jobs claimed ahead of free slots, per queue
    #[arg(id = "worker_prefetch", long = "worker-prefetch", value_name = "JOBS", env = "VERIPHY_WORKER_PREFETCH", global = true, default_value_t = 10, value_parser = clap::value_parser!(u16).range(0..=10_000))]
    pub prefetch: u16,

    /// Claim statements in flight per queue (1 to 8)
    #[arg(id = "worker_claimers", long = "worker-claimers", value_name = "N", env = "VERIPHY_WORKER_CLAIMERS", global = true, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub claimers: u8,

    /// Enqueue each organization's cleanup once a day, once across all processes (on/off)
    #[arg(id = "worker_daily_retention", long = "worker-daily-retention", value_name = "on|off", env = "VERIPHY_WORKER_DAILY_RETENTION", global = true, default_value = "on", value_parser = switch, action = clap::ArgAction::Set)]
    pub daily_retention: bool,
}

impl Config {
    /// Whether cookies must be `Secure` (the console is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }

    /// How long console sessions live.
    pub fn session_policy(&self) -> crate::server::auth::session::SessionPolicy {
        crate::server::auth::session::SessionPolicy {
            idle: self.session_idle,
            absolute: self.session_absolute,
        }
    }

    /// The key file used without `VERIPHY_SECRET_KEY`.
    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    /// Where email goes when an organization has no mail server: one
    /// `.eml` file per message under a folder per organization.
    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The keyring that seals integration credentials: the configured key
    /// (and earlier ones), or the key file's, made on first use.
    pub fn keyring(
        &self,
    ) -> Result<crate::server::secrets::Keyring, crate::server::secrets::SecretError> {
        use crate::server::secrets::{Keyring, SecretKey};
        match &self.secret_key {
            Some(current) => Ok(Keyring::new(
                SecretKey::from_base64(current)?,
                self.previous_secret_keys
                    .iter()
                    .map(|key| SecretKey::from_base64(key))
                    .collect::<Result<_, _>>()?,
            )),
            None => crate::server::secrets::load_or_create_key_file(&self.key_file()),
        }
    }

    /// The hosts outbound calls may reach although they are internal.
    pub fn outbound_allowlist(&self) -> crate::server::outbound::Allowlist {
        crate::server::outbound::Allowlist::new(
            self.outbound_allowlist
                .iter()
                .map(|host| host.trim())
                .filter(|host| !host.is_empty()),
        )
    }

    /// Every setting at its default, whatever the environment says (tests,
    /// and code that needs a configuration without a command line).
    pub fn defaults() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = OnlyConfig::command().mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from(["veriphy-jobs"])
            .expect("the defaults are valid settings");
        OnlyConfig::from_arg_matches(&matches)
            .expect("the defaults are valid settings")
            .config
    }
}

/// A command line of settings alone, for [`Config::defaults`].
#[derive(Parser)]
struct OnlyConfig {
    #[command(flatten)]
    config: Config,
}

/// The directories of `PATH`, where programs are looked for.
pub fn program_search_path() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default()
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(value.to_string())
    }
}

fn postgres_url(value: &str) -> Result<String, String> {
    use std::str::FromStr;
    sqlx::postgres::PgConnectOptions::from_str(value)
        .map(|_| value.to_string())
        .map_err(|_| "is not a valid PostgreSQL URL".to_string())
}

fn non_empty_path(value: &str) -> Result<PathBuf, String> {
    non_empty(value).map(PathBuf::from)
}

fn public_url(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err("must name a host, e.g. https://jobs.veriphy.example".into());
    }
    Ok(value.to_string())
}

fn secret_key(value: &str) -> Result<String, String> {
    crate::server::secrets::SecretKey::from_base64(value.trim())
        .map(|_| value.trim().to_string())
        .map_err(|_| {
            "must be base64 of 32 random bytes (e.g. `openssl rand -base64 32`)".to_string()
        })
}

fn email(value: &str) -> Result<String, String> {
    let value = value.trim().to_lowercase();
    if crate::domain::plausible_email(&value) {
        Ok(value)
    } else {
        Err("is not an email address".into())
    }
}

fn admin_password(value: &str) -> Result<String, String> {
    if value.chars().count() < 12 {
        Err("must be at least 12 characters".into())
    } else {
        Ok(value.to_string())
    }
}

fn log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_string())
        .map_err(|e| format!("is not a log filter: {e}"))
}

fn switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Ok(true),
        "off" | "0" | "false" | "no" => Ok(false),
        _ => Err("must be on or off".into()),
    }
}

fn positive(value: &str, unit: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(number) if number > 0.0 && number.is_finite() && number < 1e9 => Ok(number),
        _ => Err(format!("must be a positive number of {unit}")),
    }
}

fn seconds(value: &str) -> Result<Duration, String> {
    positive(value, "seconds").map(Duration::from_secs_f64)
}

fn minutes(value: &str) -> Result<Duration, String> {
    positive(value, "minutes").map(|m| Duration::from_secs_f64(m * 60.0))
}

fn hours(value: &str) -> Result<Duration, String> {
    positive(value, "hours").map(|h| Duration::from_secs_f64(h * 3600.0))
}

fn milliseconds(value: &str) -> Result<Duration, String> {
    positive(value, "milliseconds").map(|ms| Duration::from_secs_f64(ms / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    /// Parses `args` as the settings of a command line, ignoring the
    /// environment.
    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        let command = OnlyConfig::command().mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from(std::iter::once("veriphy-jobs").chain(args.iter().copied()))?;
        Ok(OnlyConfig::from_arg_matches(&matches)?.config)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::defaults();
        assert_eq!(config.database_url, None);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.site_addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.admin_email, DEFAULT_ADMIN_EMAIL);
        assert_eq!(config.demo_password, DEFAULT_DEMO_PASSWORD);
        assert_eq!(config.log_filter, DEFAULT_LOG_FILTER);
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.in_process_worker);
        assert_eq!(config.worker.lease, Duration::from_secs(30));
        assert_eq!(config.worker.poll_interval, Duration::from_secs(1));
        assert_eq!(config.worker.rescue_every, Duration::from_secs(15));
        assert_eq!(config.worker.shutdown_grace, Duration::from_secs(10));
        assert_eq!((config.worker.prefetch, config.worker.claimers), (10, 2));
        assert_eq!(
            (
                config.database.connections,
                config.database.handler_connections
            ),
            (20, 10)
        );
        assert_eq!(config.database.statement_timeout, Duration::from_secs(30));
        assert_eq!(
            config.session_policy(),
            crate::server::auth::session::SessionPolicy::default()
        );
    }

    #[test]
    fn units_are_read_as_documented() {
        let config = parse(&[
            "--worker-poll-ms",
            "250",
            "--worker-rescue-seconds",
            "0.5",
            "--in-process-worker",
            "off",
        ])
        .unwrap();
        assert_eq!(config.worker.poll_interval, Duration::from_millis(250));
        assert_eq!(config.worker.rescue_every, Duration::from_millis(500));
        assert!(!config.in_process_worker);
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let cases = [
            (
                &["--worker-poll-ms", "soon"][..],
                "must be a positive number of milliseconds",
            ),
            (
                &["--worker-lease-seconds=-3"][..],
                "must be a positive number of seconds",
            ),
            (&["--worker-claimers", "9"][..], "9 is not in 1..=8"),
            (&["--in-process-worker", "maybe"][..], "must be on or off"),
            (
                &["--public-url", "jobs.example"][..],
                "must start with http:// or https://",
            ),
            (&["--admin-email", "root"][..], "is not an email address"),
            (
                &["--admin-password", "short"][..],
                "must be at least 12 characters",
            ),
            (
                &["--site-addr", "localhost"][..],
                "invalid socket address syntax",
            ),
            (&["--log-format", "xml"][..], "xml"),
        ];
        for (args, reason) in cases {
            let error = parse(args).expect_err(args[0]).to_string();
            assert!(error.contains(reason), "{args:?}: {error}");
        }
    }

    #[test]
    fn https_public_url_means_secure_cookies() {
        let mut config = Config::defaults();
        assert!(!config.secure_cookies());
        config.public_url = Some("https://jobs.veriphy.example".into());
        assert!(config.secure_cookies());
        config.public_url = Some("http://127.0.0.1:3000".into());
        assert!(!config.secure_cookies());
    }

    /// The one test that touches the process environment (tests run in
    /// parallel threads; no other test reads these variables).
    #[test]
    fn settings_come_from_the_environment_and_flags_win() {
        std::env::set_var("VERIPHY_WORKER_PREFETCH", "77");
        std::env::set_var("VERIPHY_DATA_DIR", "/srv/veriphy");
        let matches = OnlyConfig::command()
            .try_get_matches_from(["veriphy-jobs", "--data-dir", "/elsewhere"])
            .unwrap();
        let config = OnlyConfig::from_arg_matches(&matches).unwrap().config;
        std::env::remove_var("VERIPHY_WORKER_PREFETCH");
        std::env::remove_var("VERIPHY_DATA_DIR");
        assert_eq!(config.worker.prefetch, 77);
        assert_eq!(config.data_dir, PathBuf::from("/elsewhere"));
    }
}
