//! SQL for the third-party API call log.

use crate::domain::api_log_filters::ApiLogFilters;
use crate::domain::{ApiCallStatus, ApiLogDetail, ApiLogRow, Cursor};
use crate::server::db::{list, Tx};
use sqlx::PgConnection;
use uuid::Uuid;

/// One page of API calls, newest first.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    status: Option<ApiCallStatus>,
    filters: &ApiLogFilters,
    cursor: Option<Cursor>,
) -> Result<Vec<ApiLogRow>, sqlx::Error> {
    let mut query = list::select(
        "a.id, a.organization_id, o.name as organization_name, a.api_name, a.endpoint, a.method,
         a.status_code, a.response_time, a.status, a.retry_count, a.error_message, a.created_at",
        "third_party_api_log a join organizations o on o.id = a.organization_id",
    );
    list::organization(&mut query, "a", organization_id);
    list::equals(
        &mut query,
        "a.status",
        status.map(|s| s.as_str().to_string()),
    );
    list::equals(&mut query, "a.api_name", filters.api_name.clone());
    list::equals(
        &mut query,
        "a.method",
        filters.method.map(|m| m.as_str().to_string()),
    );
    if let Some(integration) = filters.integration_id {
        query
            .push("\n  and a.integration_id = ")
            .push_bind(integration);
    }
    if let Some(job) = filters.job_id {
        // the expression of third_party_api_log_job_idx (migrations/0025)
        query
            .push("\n  and a.metadata ->> 'job_id' = ")
            .push_bind(job.to_string());
    }
    if let Some(webhook) = filters.webhook_id {
        // the expression and predicate of third_party_api_log_webhook_idx
        // (migrations/0027)
        query
            .push("\n  and a.metadata ? 'webhook_id' and a.metadata ->> 'webhook_id' = ")
            .push_bind(webhook.to_string());
    }
    match filters.code_class {
        Some(0) => {
            query.push("\n  and a.status_code is null");
        }
        Some(class) => {
            let low = i32::from(class) * 100;
            query
                .push("\n  and a.status_code between ")
                .push_bind(low)
                .push(" and ")
                .push_bind(low + 99);
        }
        None => {}
    }
    if let Some(from) = filters.created_from {
        query.push("\n  and a.created_at >= ").push_bind(from);
    }
    if let Some(to) = filters.created_to {
        query.push("\n  and a.created_at < ").push_bind(to);
    }
    list::page(&mut query, "a", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// One call with what was sent and answered (both redacted when stored),
/// its integration's name, and the job and attempt it was made for.
pub async fn detail(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<ApiLogDetail>, sqlx::Error> {
    sqlx::query_as(
        "select a.id, a.organization_id, o.name as organization_name, a.api_name, a.endpoint,
                a.method, a.status_code, a.response_time, a.status, a.retry_count,
                a.error_message, a.created_at, a.updated_at, a.is_success,
                a.request_payload, a.response_payload, a.metadata,
                a.integration_id, i.name as integration_name,
                (a.metadata ->> 'job_id')::uuid as job_id,
                (a.metadata ->> 'attempt')::int as attempt
         from third_party_api_log a
         join organizations o on o.id = a.organization_id
         left join system_integrations i on i.id = a.integration_id
         where a.id = $1 and ($2::uuid is null or a.organization_id = $2)",
    )
    .bind(id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await
}

/// The newest `limit` delivery attempts to webhook `webhook_id` of
/// `organization_id` (log rows whose metadata names it, read through
/// migrations/0027's index).
pub async fn of_webhook(
    tx: &mut Tx,
    organization_id: Uuid,
    webhook_id: Uuid,
    limit: i64,
) -> Result<Vec<ApiLogDetail>, sqlx::Error> {
    sqlx::query_as(
        "select a.id, a.organization_id, o.name as organization_name, a.api_name, a.endpoint,
                a.method, a.status_code, a.response_time, a.status, a.retry_count,
                a.error_message, a.created_at, a.updated_at, a.is_success,
                a.request_payload, a.response_payload, a.metadata,
                a.integration_id, null::varchar as integration_name,
                (a.metadata ->> 'job_id')::uuid as job_id,
                (a.metadata ->> 'attempt')::int as attempt
         from third_party_api_log a
         join organizations o on o.id = a.organization_id
         where a.metadata ? 'webhook_id' and a.metadata ->> 'webhook_id' = $2
           and a.organization_id = $1
         order by a.created_at desc, a.id desc
         limit $3",
    )
    .bind(organization_id)
    .bind(webhook_id.to_string())
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// An outbound call about to be made, as its log row starts.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// Whose call it is.
    pub organization_id: Uuid,
    /// The integration it goes through, if any.
    pub integration_id: Option<Uuid>,
    /// What is called (`smtp`, `twilio_sms`, …).
    pub api_name: String,
    /// Where (the URL, without credentials).
    pub endpoint: String,
    /// How.
    pub method: crate::domain::HttpMethod,
    /// What is sent, already redacted and capped.
    pub request_payload: Option<serde_json::Value>,
    /// The job's attempt (0 outside jobs).
    pub retry_count: i32,
    /// Links to the job and attempt, and the like.
    pub metadata: serde_json::Value,
}

/// How a logged call ended.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// Success, failed or timeout.
    pub status: ApiCallStatus,
    /// The provider's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Milliseconds from sending to the answer (or the give-up).
    pub response_time_ms: i32,
    /// What came back, already redacted and capped.
    pub response_payload: Option<serde_json::Value>,
    /// Why it did not succeed.
    pub error_message: Option<String>,
}

/// Most characters kept of a logged api name and endpoint (their columns').
const MAX_API_NAME: usize = 255;
const MAX_ENDPOINT: usize = 500;

fn within(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

/// Writes the pending row of a call before it is made, and announces it to
/// live viewers: one statement that is its own transaction
/// (migrations/0026: one round trip, committed when it returns), so a call
/// cut short by a crash is still on record. `connection` is a handler
/// connection outside any transaction.
pub async fn open_call(connection: &mut PgConnection, call: &NewCall) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query("select api_call_open($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(call.organization_id)
        .bind(id)
        .bind(call.integration_id)
        .bind(within(&call.api_name, MAX_API_NAME))
        .bind(within(&call.endpoint, MAX_ENDPOINT))
        .bind(call.method.as_str())
        .bind(&call.request_payload)
        .bind(call.retry_count.max(0))
        .bind(&call.metadata)
        .bind(crate::server::live::feed::CHANNEL)
        .bind(announcement(call.organization_id, id))
        .execute(connection)
        .await?;
    Ok(id)
}

/// The live announcement that call `id` of `organization` changed.
fn announcement(organization: Uuid, id: Uuid) -> String {
    let change = crate::server::live::Change {
        organization_id: organization,
        topic: crate::domain::live::Topic::ApiLogs,
        id,
    };
    crate::server::live::feed::encode(&vec![change].into())
        .pop()
        .unwrap_or_default()
}

/// Records how call `id` of `organization` ended, announced to live
/// viewers: one statement that is its own transaction, like
/// [`open_call`], committed without waiting for the disk (see
/// migrations/0026); false if there is no such pending call.
pub async fn close_call(
    connection: &mut PgConnection,
    organization: Uuid,
    id: Uuid,
    outcome: &CallOutcome,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select api_call_close($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(organization)
        .bind(id)
        .bind(outcome.status.as_str())
        .bind(
            outcome
                .status_code
                .filter(|code| (100..=599).contains(code)),
        )
        .bind(outcome.response_time_ms.max(0))
        .bind(&outcome.response_payload)
        .bind(&outcome.error_message)
        .bind(crate::server::live::feed::CHANNEL)
        .bind(announcement(organization, id))
        .fetch_one(connection)
        .await
}

/// The calls `scope` narrows to since `since` (of `organization_id`, every
/// one when `None`), as the `where` of the monitoring queries: $1
/// organization, $2 since, $3 api name, $4 integration.
const MONITORED_CALLS: &str = "from third_party_api_log a
  where ($1::uuid is null or a.organization_id = $1)
    and a.created_at >= $2
    and ($3::text is null or a.api_name = $3)
    and ($4::uuid is null or a.integration_id = $4)
    and ($6::uuid is null or (a.metadata ? 'webhook_id' and a.metadata ->> 'webhook_id' = $6::text))";

/// The name `sql` reads for `id` (`$1`) within `organization_id` (`$2`,
/// any when `None`); `None` without an id or when out of scope.
async fn name_in_scope(
    tx: &mut Tx,
    sql: &'static str,
    id: Option<Uuid>,
    organization_id: Option<Uuid>,
) -> Result<Option<String>, sqlx::Error> {
    let Some(id) = id else {
        return Ok(None);
    };
    sqlx::query_scalar(sql)
        .bind(id)
        .bind(organization_id)
        .fetch_optional(&mut **tx)
        .await
}

/// One row of the monitoring figures: the totals (`level` 7), a step
/// (`level` 3: `at`), an API (`level` 5: `api_name`) or an integration
/// (`level` 6: `integration_id`), as `grouping(at, api_name, integration_id)`
/// numbers them.
#[derive(sqlx::FromRow)]
struct MonitoredGroup {
    level: i32,
    at: Option<chrono::DateTime<chrono::Utc>>,
    api_name: Option<String>,
    integration_id: Option<Uuid>,
    integration_name: Option<String>,
    succeeded: i64,
    failed: i64,
    timed_out: i64,
    pending: i64,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

impl MonitoredGroup {
    fn figures(&self) -> crate::domain::api_monitoring::CallFigures {
        crate::domain::api_monitoring::CallFigures {
            succeeded: self.succeeded,
            failed: self.failed,
            timed_out: self.timed_out,
            pending: self.pending,
            p50_ms: self.p50,
            p95_ms: self.p95,
            p99_ms: self.p99,
        }
    }
}

/// How the calls in `scope` went since `period` began: totals, per step,
/// per API and per integration, the top errors and answers. Read from the
/// log itself (percentiles need every response time), within the period.
pub async fn monitoring(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    scope: &crate::domain::api_monitoring::MonitoringScope,
    period: crate::domain::metrics::Period,
) -> Result<crate::domain::api_monitoring::ApiMonitoring, sqlx::Error> {
    use crate::domain::api_monitoring::{
        fill_steps, ApiMonitoring, CallGroup, CallPoint, Occurrence, TOP_CODES, TOP_ERRORS,
    };
    let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select now()")
        .fetch_one(&mut **tx)
        .await?;
    let since = period.start(now);
    let step_seconds = period.step().num_seconds() as f64;
    let groups: Vec<MonitoredGroup> = sqlx::query_as(&format!(
        "with calls as (
           select date_bin(make_interval(secs => $5), a.created_at,
                           timestamptz '2000-01-01 00:00:00+00') as at,
                  a.api_name, a.integration_id, a.status, a.response_time
           {MONITORED_CALLS}
         ),
         grouped as (
           select grouping(at, api_name, integration_id) as level, at, api_name, integration_id,
                  count(*) filter (where status = 'success') as succeeded,
                  count(*) filter (where status = 'failed') as failed,
                  count(*) filter (where status = 'timeout') as timed_out,
                  count(*) filter (where status = 'pending') as pending,
                  percentile_cont(0.50) within group (order by response_time) as p50,
                  percentile_cont(0.95) within group (order by response_time) as p95,
                  percentile_cont(0.99) within group (order by response_time) as p99
           from calls
           group by grouping sets ((), (at), (api_name), (integration_id))
         )
         select g.*,
                case when $1::uuid is null then i.name || ' (' || o.name || ')' else i.name end
                  as integration_name
         from grouped g
         left join system_integrations i on i.id = g.integration_id
           and ($1::uuid is null or i.organization_id = $1)
         left join organizations o on o.id = i.organization_id
         order by g.level, g.succeeded + g.failed + g.timed_out + g.pending desc, g.at"
    ))
    .bind(organization_id)
    .bind(since)
    .bind(&scope.api_name)
    .bind(scope.integration_id)
    .bind(step_seconds)
    .bind(scope.webhook_id)
    .fetch_all(&mut **tx)
    .await?;

    let top_errors: Vec<(String, i64)> = sqlx::query_as(&format!(
        "select a.error_message, count(*) {MONITORED_CALLS} and a.error_message is not null
         group by 1 order by 2 desc, 1 limit $5"
    ))
    .bind(organization_id)
    .bind(since)
    .bind(&scope.api_name)
    .bind(scope.integration_id)
    .bind(TOP_ERRORS)
    .bind(scope.webhook_id)
    .fetch_all(&mut **tx)
    .await?;
    let top_codes: Vec<(Option<i32>, i64)> = sqlx::query_as(&format!(
        "select a.status_code, count(*) {MONITORED_CALLS} and a.status <> 'pending'
         group by 1 order by 2 desc, 1 nulls last limit $5"
    ))
    .bind(organization_id)
    .bind(since)
    .bind(&scope.api_name)
    .bind(scope.integration_id)
    .bind(TOP_CODES)
    .bind(scope.webhook_id)
    .fetch_all(&mut **tx)
    .await?;
    let integration_name = name_in_scope(
        tx,
        "select name from system_integrations
         where id = $1 and ($2::uuid is null or organization_id = $2)",
        scope.integration_id,
        organization_id,
    )
    .await?;
    let webhook_name = name_in_scope(
        tx,
        "select webhook_name from webhooks
         where id = $1 and ($2::uuid is null or organization_id = $2)",
        scope.webhook_id,
        organization_id,
    )
    .await?;

    let mut totals = Default::default();
    let mut steps = Vec::new();
    let mut by_api = Vec::new();
    let mut by_integration = Vec::new();
    for group in groups {
        let figures = group.figures();
        match group.level {
            3 => steps.extend(group.at.map(|at| CallPoint { at, figures })),
            5 => by_api.push(CallGroup {
                label: group.api_name.unwrap_or_default(),
                integration_id: None,
                figures,
            }),
            6 => by_integration.push(CallGroup {
                label: match (group.integration_id, group.integration_name) {
                    (_, Some(name)) => name,
                    (Some(_), None) => "Deleted integration".to_string(),
                    (None, None) => "No integration".to_string(),
                },
                integration_id: group.integration_id,
                figures,
            }),
            _ => totals = figures,
        }
    }
    Ok(ApiMonitoring {
        period,
        since,
        scope: scope.clone(),
        integration_name,
        webhook_name,
        totals,
        points: fill_steps(period, since, now, steps),
        by_api,
        by_integration,
        top_errors: top_errors
            .into_iter()
            .map(|(value, count)| Occurrence { value, count })
            .collect(),
        top_codes: top_codes
            .into_iter()
            .map(|(value, count)| Occurrence { value, count })
            .collect(),
    })
}
