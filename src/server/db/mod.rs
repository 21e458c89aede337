//! The database's base layer: pools per role, tenant-scoped transactions,
//! migrations, and the building blocks of list queries. The SQL of each
//! entity lives above it: the console's in `server::repo`, the queue
//! engine's (every write of a job's state) in `server::queue`.
//!
//! Every console query runs as `veriphy_app` inside a transaction that first
//! states whose data it is (`app.org_id`, `app.bank_admin`); row-level
//! security in PostgreSQL then hides every other organization's rows even if a
//! query forgot its own `organization_id` condition.

pub mod batched;
pub mod job_filter;

pub use job_filter::JobFilter;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Transaction};
use std::time::Duration;
use uuid::Uuid;

/// The embedded migrations (`migrations/`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The pools of one process, one per kind of work, so that one kind cannot
/// starve another of connections.
#[derive(Clone, Debug)]
pub struct Database {
    /// Console requests: role `veriphy_app`.
    pub app: PgPool,
    /// Job handlers' tenant work: role `veriphy_app`, its own connections, so
    /// heavy job load never leaves the console waiting for one.
    pub handlers: PgPool,
    /// The queue engine: role `veriphy_worker`.
    pub worker: PgPool,
    /// Opens and closes the API call log's rows in batches, on the
    /// handlers' pool.
    pub call_log: crate::server::repo::api_logs::CallLogWriter,
    /// The limits every session works under.
    pub limits: SessionLimits,
}

/// How many connections each pool may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSizes {
    /// Console requests.
    pub console: u32,
    /// Job handlers.
    pub handlers: u32,
    /// The queue engine.
    pub engine: u32,
}

impl PoolSizes {
    /// The same size for every pool (tests, benchmarks).
    pub fn all(size: u32) -> Self {
        PoolSizes {
            console: size,
            handlers: size,
            engine: size,
        }
    }
}

/// Time limits of every session: no statement, and no transaction left
/// open, can hold a connection and its locks for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// `statement_timeout` of every console, handler and engine session.
    pub statement_timeout: Duration,
    /// `statement_timeout` inside the transactions of report jobs, which
    /// aggregate a whole organization's history.
    pub report_statement_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of every session.
    pub idle_in_transaction: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            statement_timeout: Duration::from_secs(30),
            report_statement_timeout: Duration::from_secs(300),
            idle_in_transaction: Duration::from_secs(60),
        }
    }
}

impl SessionLimits {
    /// The `set` statements that apply these limits to a session.
    fn session_settings(&self) -> String {
        format!(
            "set statement_timeout = {}; set idle_in_transaction_session_timeout = {}",
            self.statement_timeout.as_millis().max(1),
            self.idle_in_transaction.as_millis().max(1)
        )
    }
}

/// Whose tenant rows a transaction may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Every organization (bank admins; bank-level work).
    Bank,
    /// One organization.
    Organization(Uuid),
    /// No organization's rows: signing in, and reading one's own user row.
    NoTenant,
}

/// Whose data a transaction may touch, and for whom it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The organizations in reach.
    pub reach: Reach,
    /// The signed-in user, for the policy on their own user row.
    pub user_id: Option<Uuid>,
}

impl Scope {
    /// A scope limited to one organization.
    pub fn organization(organization_id: Uuid) -> Self {
        Scope {
            reach: Reach::Organization(organization_id),
            user_id: None,
        }
    }

    /// The scope of a signed-in user: their organization, or the whole bank.
    pub fn for_user(user: &crate::domain::CurrentUser) -> Self {
        let reach = match user.organization_id {
            _ if user.is_bank_admin() => Reach::Bank,
            Some(organization) => Reach::Organization(organization),
            None => Reach::NoTenant,
        };
        Scope {
            reach,
            user_id: Some(user.id),
        }
    }

    /// The bank-wide scope.
    pub fn bank() -> Self {
        Scope {
            reach: Reach::Bank,
            user_id: None,
        }
    }

    /// No tenant rows; with `user_id`, that user's own row.
    pub fn no_tenant(user_id: Option<Uuid>) -> Self {
        Scope {
            reach: Reach::NoTenant,
            user_id,
        }
    }

    /// The organization condition for list queries: an org user's own
    /// organization, or the organization a bank admin chose (if any).
    pub fn organization_filter(&self, requested: Option<Uuid>) -> Option<Uuid> {
        match self.reach {
            Reach::Bank => requested,
            Reach::Organization(organization) => Some(organization),
            // nothing is visible anyway; never widen to "all"
            Reach::NoTenant => Some(Uuid::nil()),
        }
    }
}

/// A transaction of the console role.
pub type Tx = Transaction<'static, Postgres>;

impl Database {
    /// Opens the pools on `options` with `max_connections` each and the
    /// default limits (the login user must be a member of both roles; the
    /// migrations arrange that).
    pub async fn connect(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Self, sqlx::Error> {
        Self::connect_with(
            options,
            PoolSizes::all(max_connections),
            SessionLimits::default(),
        )
        .await
    }

    /// Opens the pools on `options` with the given sizes and limits.
    pub async fn connect_with(
        options: PgConnectOptions,
        sizes: PoolSizes,
        limits: SessionLimits,
    ) -> Result<Self, sqlx::Error> {
        let settings = limits.session_settings();
        let console = format!("set role veriphy_app; {settings}");
        let engine = format!("{ENGINE_SESSION}; {settings}");
        let handlers = role_pool(options.clone(), console.clone(), sizes.handlers).await?;
        Ok(Database {
            app: role_pool(options.clone(), console, sizes.console).await?,
            call_log: crate::server::repo::api_logs::CallLogWriter::new(handlers.clone()),
            handlers,
            worker: role_pool(options, engine, sizes.engine).await?,
            limits,
        })
    }

    /// Begins a console transaction bound to `scope`.
    pub async fn begin(&self, scope: Scope) -> Result<Tx, sqlx::Error> {
        begin_scoped(&self.app, scope).await
    }

    /// Begins a transaction of a job handler bound to `scope`, on the
    /// handlers' own pool.
    pub async fn begin_for_handler(&self, scope: Scope) -> Result<Tx, sqlx::Error> {
        begin_scoped(&self.handlers, scope).await
    }
}

/// Begins a transaction of `pool` bound to `scope`.
async fn begin_scoped(pool: &PgPool, scope: Scope) -> Result<Tx, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "select set_config('app.org_id', $1, true),
                    set_config('app.bank_admin', $2, true),
                    set_config('app.user_id', $3, true)",
    )
    .bind(match scope.reach {
        Reach::Organization(id) => id.to_string(),
        Reach::Bank | Reach::NoTenant => String::new(),
    })
    .bind(if scope.reach == Reach::Bank {
        "on"
    } else {
        "off"
    })
    .bind(scope.user_id.map(|id| id.to_string()).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// How the queue engine's connections begin. Every engine statement finds its
/// rows by key (a job id, a lease token, the claim index), but PostgreSQL
/// caches a statement's plan after a few runs: one planned while `jobs` was a
/// page or two (a fresh database, before autovacuum's first ANALYZE) chose a
/// sequential scan of `jobs` and kept it while the table grew, reading every
/// row for each one-job claim. Without sequential scans the planner takes the
/// key lookups whatever the table's size; tables with no usable index are
/// still scanned. The penalty that steers the planner away from them would
/// also make such a plan look expensive enough to compile with JIT, which
/// never pays off for statements this short, so JIT is off. And every
/// statement keeps its generic plan: a custom plan knows how long a bound
/// array is and so always looks cheaper, which had PostgreSQL plan the
/// completion statement anew for about a quarter of its runs (0.4 ms each,
/// more than its execution); the claim function relies on this setting too
/// (migrations/0018). Handlers do not use these connections.
const ENGINE_SESSION: &str = "set role veriphy_worker; set enable_seqscan = off; set jit = off; \
                              set plan_cache_mode = force_generic_plan";

/// A pool whose connections first run `session_setup` (at least a `set role`).
async fn role_pool(
    options: PgConnectOptions,
    session_setup: String,
    max: u32,
) -> Result<PgPool, sqlx::Error> {
    let session_setup: std::sync::Arc<str> = session_setup.into();
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(std::time::Duration::from_secs(10))
        // No ping before every checkout: it costs a round trip on the queue's
        // hot path, and a dead connection fails its statement, which callers
        // retry (or answer with an error) anyway.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let session_setup = session_setup.clone();
            Box::pin(async move {
                conn.execute(&*session_setup).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Locks one row of `table` (a job or a batch: both have an organization and a
/// lifecycle status) for an action; `None` if it is not there or not in
/// `organization`.
pub(crate) async fn lock_status(
    tx: &mut Tx,
    table: &'static str,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, crate::domain::JobStatus)>, sqlx::Error> {
    let row: Option<(Uuid, String)> = sqlx::query_as(&format!(
        "select organization_id, status from {table}
         where id = $1 and ($2::uuid is null or organization_id = $2)
         for update"
    ))
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|(org, status)| crate::domain::JobStatus::parse(&status).map(|s| (org, s))))
}

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database holds a schema history this build does not have: it was
    /// made by an older build, before the migrations were laid out by concern.
    #[error("the database was made by an older build of Veriphy Jobs (its migration {version} is not this build's) and cannot be upgraded; for the embedded default remove the data with `make clean-data`, otherwise point DATABASE_URL at a new database")]
    OlderBuild {
        /// The first migration that differs.
        version: i64,
    },
    /// Anything else: connecting, or a statement of a migration failed.
    #[error("database migration failed")]
    Failed(#[source] sqlx::migrate::MigrateError),
}

/// Applies pending migrations as the login (owner) user.
pub async fn migrate(options: &PgConnectOptions) -> Result<(), MigrationError> {
    use sqlx::migrate::MigrateError;
    let outcome = async {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let result = MIGRATOR.run(&pool).await;
        pool.close().await;
        result
    }
    .await;
    outcome.map_err(|error| match error {
        MigrateError::VersionMismatch(version) | MigrateError::VersionMissing(version) => {
            MigrationError::OlderBuild { version }
        }
        other => MigrationError::Failed(other),
    })
}

/// `error` as it may be logged: for a database error its SQLSTATE, table,
/// constraint and the server routine that raised it, never the message or
/// detail text (PostgreSQL quotes the offending values there: an email, a
/// name, whatever a person typed).
pub fn loggable(error: &sqlx::Error) -> String {
    let Some(db) = error.as_database_error() else {
        return error.to_string();
    };
    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
    format!(
        "database error SQLSTATE {} (table {}, constraint {}, routine {})",
        db.code().as_deref().unwrap_or("?"),
        db.table().unwrap_or("-"),
        db.constraint().unwrap_or("-"),
        pg.and_then(|pg| pg.routine()).unwrap_or("-"),
    )
}

/// Turns a violated constraint or a data exception (SQLSTATE class 22) into
/// a message a person understands; `None` for errors that are not the
/// caller's fault.
pub fn constraint_message(error: &sqlx::Error) -> Option<String> {
    let db = error.as_database_error()?;
    let constraint = db.constraint().unwrap_or_default();
    let message = match constraint {
        "users_email_key" => "A user with that email already exists.",
        "organizations_name_key" | "organizations_slug_key" => {
            "An organization with that name already exists."
        }
        "jobs_job_name_check" => "A job needs a name.",
        "job_batches_batch_name_check" => "A batch needs a name.",
        "queues_name_check" => crate::domain::QUEUE_NAME_RULE,
        "jobs_max_attempts_check" => "Max attempts must be between 1 and 100.",
        "failed_jobs_same_organization" => "A failed job record belongs to its job's organization.",
        "jobs_unresolved_failure" => {
            "A job with an unresolved failure cannot be deleted: resolve the failure first."
        }
        "webhooks_webhook_url_check" => "The webhook URL must start with http:// or https://.",
        "message_templates_organization_id_channel_name_key" => {
            "This organization already has a template with that name."
        }
        "system_integrations_one_default" => {
            "Another integration just became this channel's default; try again."
        }
        _ if db.is_check_violation() => "A value is outside what is allowed.",
        _ => match db.code().as_deref() {
            // data exceptions: the input, not the server, is at fault. The
            // server's own text may quote the input, so it is not shown.
            Some("22001") => "A value is too long.",
            Some("22003") => "A number is out of range.",
            Some("22007" | "22008") => "A date or time is out of range.",
            Some("22021" | "22P05") => {
                "Text contains a character that cannot be stored (such as a NUL byte)."
            }
            Some("22P02") => "A value has the wrong format.",
            Some(code) if code.starts_with("22") => "A value is not valid.",
            _ if db.is_foreign_key_violation() => "A referenced record does not exist.",
            _ if db.is_unique_violation() => "That already exists.",
            _ => return None,
        },
    };
    Some(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bank_scope_widens_a_list_to_a_requested_organization() {
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(Scope::bank().organization_filter(Some(other)), Some(other));
        assert_eq!(Scope::bank().organization_filter(None), None);
        assert_eq!(
            Scope::organization(mine).organization_filter(Some(other)),
            Some(mine)
        );
        assert_eq!(
            Scope::no_tenant(None).organization_filter(None),
            Some(Uuid::nil())
        );
    }
}

/// Building blocks shared by the list queries of every tab.
pub mod list {
    use crate::domain::{Cursor, PAGE_SIZE};
    use sqlx::{Postgres, QueryBuilder};
    use uuid::Uuid;

    /// Starts `select <columns> from <from> where true`.
    pub fn select<'a>(columns: &str, from: &str) -> QueryBuilder<'a, Postgres> {
        QueryBuilder::new(format!("select {columns}\nfrom {from}\nwhere true"))
    }

    /// Adds the organization condition (the query-side half of tenant scoping).
    pub fn organization(
        query: &mut QueryBuilder<'_, Postgres>,
        alias: &str,
        organization: Option<Uuid>,
    ) {
        if let Some(organization) = organization {
            query
                .push(format!("\n  and {alias}.organization_id = "))
                .push_bind(organization);
        }
    }

    /// Adds an equality condition on a text column when a value is given.
    pub fn equals(query: &mut QueryBuilder<'_, Postgres>, column: &str, value: Option<String>) {
        if let Some(value) = value {
            query.push(format!("\n  and {column} = ")).push_bind(value);
        }
    }

    /// Continues after `cursor`, newest first, and fetches one extra row to
    /// learn whether another page exists.
    pub fn page(query: &mut QueryBuilder<'_, Postgres>, alias: &str, cursor: Option<Cursor>) {
        if let Some(cursor) = cursor {
            query
                .push(format!("\n  and ({alias}.created_at, {alias}.id) < ("))
                .push_bind(cursor.created_at)
                .push(", ")
                .push_bind(cursor.id)
                .push(")");
        }
        query
            .push(format!(
                "\norder by {alias}.created_at desc, {alias}.id desc\nlimit "
            ))
            .push_bind(PAGE_SIZE + 1);
    }
}
