//! Rows as the console shows them. With the `ssr` feature they decode straight
//! from sqlx rows; in the browser they are plain serde structs.

use super::enums::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The signed-in person, as the browser may know them (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// User id.
    pub id: Uuid,
    /// Login email.
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// What they may do.
    pub role: Role,
    /// Their organization; `None` for bank admins.
    pub organization_id: Option<Uuid>,
    /// Their organization's name; `None` for bank admins.
    pub organization_name: Option<String>,
    /// They must choose a new password before anything else.
    pub must_change_password: bool,
}

impl CurrentUser {
    /// Bank admins see every organization.
    pub fn is_bank_admin(&self) -> bool {
        self.role == Role::BankAdmin
    }

    /// Org viewers may only read.
    pub fn can_write(&self) -> bool {
        self.role != Role::OrgViewer
    }
}

/// An organization as listed in the bank admin's filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OrganizationSummary {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

/// One row of the Jobs tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub job_type: JobType,
    pub job_name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: JobStatus,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub priority: Priority,
    pub queue: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub batch_id: Option<Uuid>,
    pub available_at: DateTime<Utc>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One row of the Batches tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct BatchRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub batch_name: String,
    pub total_jobs: i32,
    pub pending_jobs: i32,
    pub processed_jobs: i32,
    pub failed_jobs: i32,
    pub cancelled_jobs: i32,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: JobStatus,
    /// Percent finished, 0–100.
    pub progress: f64,
    pub created_at: DateTime<Utc>,
}

/// Everything a batch's page shows: its counters and times, and what they
/// say of the run (duration, throughput, failure share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct BatchDetail {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub batch_name: String,
    pub total_jobs: i32,
    /// Not finished yet (pending or running).
    pub pending_jobs: i32,
    pub running_jobs: i32,
    pub processed_jobs: i32,
    pub failed_jobs: i32,
    pub cancelled_jobs: i32,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: JobStatus,
    /// Percent finished, 0–100.
    pub progress: f64,
    pub created_at: DateTime<Utc>,
    /// When its first job started.
    pub started_at: Option<DateTime<Utc>>,
    /// When its last job finished.
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The database's clock when this was read (durations of running
    /// batches count up to it, the same on server and browser).
    pub read_at: DateTime<Utc>,
}

impl BatchDetail {
    /// From its first start to its end (or to now while it runs).
    pub fn duration(&self) -> Option<chrono::Duration> {
        let started = self.started_at?;
        Some(self.completed_at.unwrap_or(self.read_at) - started)
    }

    /// Finished jobs (completed, failed or cancelled) per second of its
    /// duration.
    pub fn jobs_per_second(&self) -> Option<f64> {
        let seconds = self.duration()?.num_milliseconds() as f64 / 1000.0;
        let finished = self.total_jobs - self.pending_jobs;
        (seconds > 0.0).then(|| f64::from(finished) / seconds)
    }

    /// Failed jobs among finished ones, 0–1.
    pub fn failure_share(&self) -> Option<f64> {
        let finished = self.total_jobs - self.pending_jobs;
        (finished > 0).then(|| f64::from(self.failed_jobs) / f64::from(finished))
    }

    /// Jobs waiting to start.
    pub fn waiting_jobs(&self) -> i32 {
        self.pending_jobs - self.running_jobs
    }
}

/// One row of the Failed jobs tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct FailedJobRow {
    pub id: Uuid,
    pub job_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub job_type: JobType,
    pub job_name: String,
    pub error_message: String,
    pub failed_at: DateTime<Utc>,
    pub retry_count: i32,
    pub max_retries: i32,
    pub is_resolved: bool,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One row of the API logs tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiLogRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub api_name: String,
    pub endpoint: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub method: HttpMethod,
    pub status_code: Option<i32>,
    /// Milliseconds.
    pub response_time: Option<i32>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: ApiCallStatus,
    pub retry_count: i32,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One third-party call with what was sent and answered, as stored (already
/// redacted), and what it was made for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiLogDetail {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub api_name: String,
    pub endpoint: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub method: HttpMethod,
    pub status_code: Option<i32>,
    /// Milliseconds.
    pub response_time: Option<i32>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: ApiCallStatus,
    pub retry_count: i32,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub is_success: bool,
    pub request_payload: Option<serde_json::Value>,
    pub response_payload: Option<serde_json::Value>,
    pub metadata: Option<serde_json::Value>,
    pub integration_id: Option<Uuid>,
    pub integration_name: Option<String>,
    /// The job the call was made for, if any.
    pub job_id: Option<Uuid>,
    /// Its attempt.
    pub attempt: Option<i32>,
}

/// One row of the Webhooks tab. The secret never leaves the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WebhookRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub webhook_name: String,
    pub webhook_url: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub event_type: WebhookEvent,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: WebhookStatus,
    pub is_active: bool,
    pub has_secret: bool,
    pub failure_count: i32,
    pub last_triggered_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The Overview tab: what waits and runs now, and the period's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// The span the figures cover.
    pub period: crate::domain::metrics::Period,
    /// The server's clock when this was read.
    pub read_at: DateTime<Utc>,
    /// Where the period begins (the first throughput point).
    pub since: DateTime<Utc>,
    /// Jobs pending now.
    pub pending_now: i64,
    /// `pending_now` was read from the queue entries (many pending jobs):
    /// close, but not counted one by one.
    pub pending_is_estimate: bool,
    /// Jobs running now.
    pub running_now: i64,
    /// Completed and failed jobs per step of the period.
    pub throughput: Vec<crate::domain::metrics::ThroughputPoint>,
    /// Per job type that ended anything in the period.
    pub by_type: Vec<crate::domain::metrics::TypeMetrics>,
    /// The newest batches that ran in the period (or still run).
    pub batches: Vec<BatchDetail>,
    /// Batches not yet finished.
    pub open_batches: i64,
    /// Failures nobody has resolved yet, by age.
    pub failure_ages: crate::domain::metrics::FailureAges,
    /// Per API called in the period.
    pub apis: Vec<crate::domain::metrics::ApiMetrics>,
    /// Webhooks switched on.
    pub active_webhooks: i64,
    /// Webhooks in the error state.
    pub erroring_webhooks: i64,
    /// Webhooks that stopped receiving after failures in a row, then
    /// those failing now: the worst first, a few.
    pub webhooks_needing_attention: Vec<WebhookHealth>,
}

/// A webhook as the Overview's webhook panel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WebhookHealth {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub webhook_name: String,
    /// Its organization's name.
    pub organization_name: String,
    /// Active, inactive or error (stopped after failures in a row).
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: WebhookStatus,
    /// Failed deliveries in a row.
    pub failure_count: i32,
    /// Latest delivery that succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Latest delivery that failed.
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// List filters shared by every tab: the organization (bank admins only) and
/// the page position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListQuery {
    /// Narrow a bank admin's view to one organization.
    pub organization_id: Option<Uuid>,
    /// Status filter, in the stored form of the tab's status vocabulary.
    pub status: Option<String>,
    /// Token from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Tab-specific filters by URL name (e.g. the Jobs tab's `type`, `q`);
    /// each tab validates its own and refuses names it does not know.
    #[serde(default)]
    pub filters: std::collections::BTreeMap<String, String>,
}

impl ListQuery {
    /// The query as URL parameters (organization, status, filters, cursor),
    /// empty values left out, in a stable order.
    pub fn url_params(&self) -> Vec<(String, String)> {
        let mut params = Vec::new();
        if let Some(org) = self.organization_id {
            params.push(("org".to_string(), org.to_string()));
        }
        if let Some(status) = &self.status {
            params.push(("status".to_string(), status.clone()));
        }
        for (name, value) in &self.filters {
            if !value.trim().is_empty() {
                params.push((name.clone(), value.clone()));
            }
        }
        if let Some(cursor) = &self.cursor {
            params.push(("cursor".to_string(), cursor.clone()));
        }
        params
    }

    /// The same query from the first page.
    pub fn first_page(&self) -> ListQuery {
        ListQuery {
            cursor: None,
            ..self.clone()
        }
    }
}

/// Everything the job detail view shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobDetail {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub job_type: JobType,
    pub job_name: String,
    pub payload: serde_json::Value,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: JobStatus,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub priority: Priority,
    pub queue: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub timeout_seconds: i32,
    pub available_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub error_details: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    /// The unsuccessful attempts, oldest first.
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub attempt_log: Vec<AttemptRecord>,
    pub batch_id: Option<Uuid>,
    pub batch_name: Option<String>,
    pub locked_by: Option<String>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl JobDetail {
    /// What an organization's own users see of a job: its human error
    /// message and kind, never the infrastructure (the worker's host and
    /// process, database error text, traces). Bank admins see everything.
    pub fn for_tenant(mut self) -> Self {
        self.locked_by = None;
        self.error_details = self.error_details.map(
            |details| serde_json::json!({ "kind": details["kind"], "attempt": details["attempt"] }),
        );
        for record in &mut self.attempt_log {
            if record.kind == Some(JobErrorKind::LeaseExpired) {
                record.error = Some("Its worker stopped responding.".into());
            }
        }
        self
    }
}

/// The queue a job goes to when none is named.
pub const DEFAULT_QUEUE: &str = "default";

/// One queue in the Queues view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct QueueRow {
    pub name: String,
    pub paused: bool,
    pub concurrency: i32,
    /// Pending jobs due now (in the caller's scope).
    pub backlog: i64,
    /// Pending jobs scheduled for later.
    pub scheduled: i64,
    /// Jobs running now.
    pub running: i64,
    /// Backlog and scheduled were counted from the queue's entries, not job
    /// by job (a long queue): they may include a few jobs cancelled since.
    pub estimated: bool,
}

/// An organization as the Access view shows it to bank admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OrganizationAccess {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Inactive organizations' users cannot sign in, and are signed out.
    pub is_active: bool,
    /// Its users (active or not).
    pub users: i64,
    /// Bytes of stored files now.
    pub storage_used_bytes: i64,
    /// Most bytes of stored files it may keep.
    pub storage_quota_bytes: i64,
    /// Days stored files are kept.
    pub file_retention_days: i32,
}

/// A user as the Access view shows them to bank admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserAccess {
    /// User id.
    pub id: Uuid,
    /// Sign-in address.
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// Role (`bank_admin`, `org_admin`, `org_viewer`).
    pub role: String,
    /// Their organization's name (none for bank admins).
    pub organization_name: Option<String>,
    /// Inactive users cannot sign in, and are signed out.
    pub is_active: bool,
    /// Their last sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Sessions they have open now.
    pub open_sessions: i64,
}

/// A page of the Access view's users, by email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAccessPage {
    /// The users of this page.
    pub rows: Vec<UserAccess>,
    /// The last email of this page when more follow (the next page starts
    /// after it).
    pub next_after: Option<String>,
}

/// One of the caller's signed-in sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SessionRow {
    /// The session's key (what signing it out names).
    pub id: Uuid,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// Its last recorded activity (saved at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// The address it signed in from.
    pub ip_address: Option<String>,
    /// The browser it signed in with.
    pub user_agent: Option<String>,
    /// Whether it is the session asking.
    pub current: bool,
}

/// One organization's cap in one queue: at most `max_running` of its jobs run
/// from that queue at once, across every worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct QueueCapRow {
    /// The queue.
    pub queue: String,
    /// The organization capped.
    pub organization_id: Uuid,
    /// Its name.
    pub organization_name: String,
    /// Most of its jobs running from the queue at once.
    pub max_running: i32,
    /// Its jobs running from the queue now.
    pub running: i64,
}

/// What a bulk action on jobs would touch, shown before it is confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkPreview {
    /// The action.
    pub action: JobAction,
    /// Jobs matching the filter or selection.
    pub matching: i64,
    /// Of those, the ones the action applies to.
    pub eligible: i64,
    /// Most jobs one bulk action may touch.
    pub limit: i64,
}

/// One unsuccessful attempt in a job's history (`jobs.attempt_log`). Written
/// by the engine (the worker's outcomes and the rescuer's SQL, in this
/// shape) and read by the job's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The attempt's number (1-based).
    pub attempt: i32,
    /// When its handler started, if it did.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// What went wrong, for people.
    pub error: Option<String>,
    /// What kind of trouble it was.
    pub kind: Option<JobErrorKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(total: i32, pending: i32, failed: i32, seconds: i64, done: bool) -> BatchDetail {
        let started = Utc::now() - chrono::Duration::seconds(600);
        let end = started + chrono::Duration::seconds(seconds);
        BatchDetail {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            organization_name: "Northwind".into(),
            batch_name: "Statements".into(),
            total_jobs: total,
            pending_jobs: pending,
            running_jobs: 0,
            processed_jobs: total - pending - failed,
            failed_jobs: failed,
            cancelled_jobs: 0,
            status: JobStatus::Running,
            progress: 0.0,
            created_at: started,
            started_at: Some(started),
            completed_at: done.then_some(end),
            cancelled_at: None,
            read_at: end,
        }
    }

    #[test]
    fn a_batch_s_throughput_counts_finished_jobs_over_its_duration() {
        let running = batch(100, 40, 6, 30, false);
        assert_eq!(running.duration(), Some(chrono::Duration::seconds(30)));
        assert_eq!(running.jobs_per_second(), Some(2.0));
        assert_eq!(running.failure_share(), Some(0.1));
        let not_started = BatchDetail {
            started_at: None,
            ..batch(10, 10, 0, 0, false)
        };
        assert_eq!(not_started.jobs_per_second(), None);
        assert_eq!(not_started.failure_share(), None);
    }

    #[test]
    fn tenants_see_the_error_but_not_the_infrastructure() {
        let now = Utc::now();
        let detail = JobDetail {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            organization_name: "Northwind".into(),
            job_type: JobType::Other,
            job_name: "x".into(),
            payload: serde_json::json!({}),
            status: JobStatus::Failed,
            priority: Priority::Normal,
            queue: DEFAULT_QUEUE.into(),
            attempts: 1,
            max_attempts: 1,
            timeout_seconds: 300,
            available_at: now,
            started_at: None,
            completed_at: None,
            failed_at: Some(now),
            error_message: Some("The worker running this job stopped responding.".into()),
            error_details: Some(serde_json::json!({
                "kind": "lease_expired", "attempt": 1,
                "locked_by": "db-host-7:4242:ab", "stack_trace": "lease_expired: worker db-host-7:4242",
                "causes": ["connection to 10.0.0.5 refused"],
            })),
            result: None,
            attempt_log: vec![AttemptRecord {
                attempt: 1,
                started_at: Some(now),
                finished_at: now,
                outcome: AttemptOutcome::Lost,
                error: Some("worker db-host-7:4242:ab stopped responding".into()),
                kind: Some(JobErrorKind::LeaseExpired),
            }],
            batch_id: None,
            batch_name: None,
            locked_by: Some("db-host-7:4242:ab".into()),
            cancel_requested_at: None,
            created_at: now,
            updated_at: now,
        };
        let seen = detail.clone().for_tenant();
        let text = serde_json::to_string(&seen).unwrap();
        assert!(
            !text.contains("db-host-7") && !text.contains("10.0.0.5"),
            "{text}"
        );
        assert_eq!(seen.error_message, detail.error_message);
        assert_eq!(seen.error_details.unwrap()["kind"], "lease_expired");
    }
}
