//! SQL for the third-party API call log.

use crate::domain::api_log_filters::ApiLogFilters;
use crate::domain::{ApiCallStatus, ApiLogDetail, ApiLogRow, Cursor};
use crate::server::db::batched::{Batched, WriteBatch};
use crate::server::db::{list, Tx};
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
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
    /// Its log row's id.
    pub id: Uuid,
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

/// Writes the pending rows of `calls` before they are made, and announces
/// them to live viewers: one statement that is its own transaction
/// (migrations/0030: one round trip, committed when it returns), so a call
/// cut short by a crash is still on record. `connection` is a handler
/// connection outside any transaction.
pub async fn open_calls(
    connection: &mut PgConnection,
    calls: &[NewCall],
) -> Result<(), sqlx::Error> {
    sqlx::query("select api_calls_open($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(calls.iter().map(|c| c.organization_id).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.id).collect::<Vec<_>>())
        .bind(calls.iter().map(|c| c.integration_id).collect::<Vec<_>>())
        .bind(
            calls
                .iter()
                .map(|c| within(&c.api_name, MAX_API_NAME))
                .collect::<Vec<_>>(),
        )
        .bind(
            calls
                .iter()
                .map(|c| within(&c.endpoint, MAX_ENDPOINT))
                .collect::<Vec<_>>(),
        )
        .bind(calls.iter().map(|c| c.method.as_str()).collect::<Vec<_>>())
        .bind(
            calls
                .iter()
                .map(|c| c.request_payload.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            calls
                .iter()
                .map(|c| c.retry_count.max(0))
                .collect::<Vec<_>>(),
        )
        .bind(calls.iter().map(|c| c.metadata.clone()).collect::<Vec<_>>())
        .bind(crate::server::live::feed::CHANNEL)
        .bind(announcements(
            calls.iter().map(|c| (c.organization_id, c.id)),
        ))
        .execute(connection)
        .await?;
    Ok(())
}

/// The live announcements that the calls `(organization, id)` changed.
fn announcements(calls: impl Iterator<Item = (Uuid, Uuid)>) -> Vec<String> {
    let changes: Vec<crate::server::live::Change> = calls
        .map(|(organization, id)| crate::server::live::Change {
            organization_id: organization,
            topic: crate::domain::live::Topic::ApiLogs,
            id,
        })
        .collect();
    crate::server::live::feed::encode(&changes.into())
}

/// How a call of the log ended, to be recorded on its row.
#[derive(Debug, Clone)]
pub struct Closing {
    /// Whose call it is.
    pub organization_id: Uuid,
    /// Its log row.
    pub id: Uuid,
    /// How it ended.
    pub outcome: CallOutcome,
}

/// Records how `calls` ended, announced to live viewers: one statement
/// that is its own transaction, like [`open_calls`], committed without
/// waiting for the disk (see migrations/0030); per call, whether it was
/// still pending (and so closed now).
pub async fn close_calls(
    connection: &mut PgConnection,
    calls: &[Closing],
) -> Result<Vec<bool>, sqlx::Error> {
    let outcomes = calls.iter().map(|c| &c.outcome);
    let closed: Vec<Uuid> =
        sqlx::query_scalar("select api_calls_close($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(calls.iter().map(|c| c.organization_id).collect::<Vec<_>>())
            .bind(calls.iter().map(|c| c.id).collect::<Vec<_>>())
            .bind(
                outcomes
                    .clone()
                    .map(|o| o.status.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                outcomes
                    .clone()
                    .map(|o| o.status_code.filter(|code| (100..=599).contains(code)))
                    .collect::<Vec<_>>(),
            )
            .bind(
                outcomes
                    .clone()
                    .map(|o| o.response_time_ms.max(0))
                    .collect::<Vec<_>>(),
            )
            .bind(
                outcomes
                    .clone()
                    .map(|o| o.response_payload.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                outcomes
                    .map(|o| o.error_message.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(crate::server::live::feed::CHANNEL)
            .bind(announcements(
                calls.iter().map(|c| (c.organization_id, c.id)),
            ))
            .fetch_one(connection)
            .await?;
    Ok(calls.iter().map(|c| closed.contains(&c.id)).collect())
}

/// Most calls opened or closed by one statement.
const MOST_CALLS_PER_WRITE: usize = 200;
/// Most statements opening (or closing) calls at a time. Measured with 50
/// handlers: one statement at a time made the largest batches (SMS 2,600
/// calls/s) but a call arriving during a write waits for it and its own (p99
/// raise-to-receipt of webhooks 96 ms at 100 events/s); four made batches
/// so small that throughput fell (1,800-2,100/s); two keep both (2,200-2,500
/// calls/s, p99 15 ms).
const MOST_CALL_WRITES_AT_ONCE: usize = 2;

/// Opens and closes the calls of many handlers together: the calls waiting
/// to be opened (or closed) are written by one statement
/// ([`open_calls`], [`close_calls`]) on a handler connection, each call
/// still answered on its own. A statement the database refuses is tried
/// again call by call, so one call's bad value costs only that call.
#[derive(Clone, Debug)]
pub struct CallLogWriter {
    opens: Batched<NewCall, Result<(), sqlx::Error>>,
    closes: Batched<Closing, Result<bool, sqlx::Error>>,
}

impl CallLogWriter {
    /// Writes on connections of `pool` (the handlers').
    pub fn new(pool: PgPool) -> Self {
        let opening = pool.clone();
        let opens: WriteBatch<NewCall, Result<(), sqlx::Error>> = Arc::new(move |calls| {
            let pool = opening.clone();
            Box::pin(async move {
                write_each_if_refused(&pool, calls, |conn, calls| {
                    Box::pin(async move {
                        open_calls(conn, calls)
                            .await
                            .map(|()| vec![(); calls.len()])
                    })
                })
                .await
            })
        });
        let closes: WriteBatch<Closing, Result<bool, sqlx::Error>> = Arc::new(move |calls| {
            let pool = pool.clone();
            Box::pin(async move {
                write_each_if_refused(&pool, calls, |conn, calls| {
                    Box::pin(close_calls(conn, calls))
                })
                .await
            })
        });
        CallLogWriter {
            opens: Batched::new(MOST_CALLS_PER_WRITE, MOST_CALL_WRITES_AT_ONCE, opens),
            closes: Batched::new(MOST_CALLS_PER_WRITE, MOST_CALL_WRITES_AT_ONCE, closes),
        }
    }

    /// Writes the pending row of `call`, committed when this returns.
    pub async fn open(&self, call: NewCall) -> Result<(), sqlx::Error> {
        self.opens
            .write(call)
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Records how a call ended; false if it was no longer pending.
    pub async fn close(&self, closing: Closing) -> Result<bool, sqlx::Error> {
        self.closes
            .write(closing)
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// Writes `items` with `write` in one statement on a connection of `pool`;
/// when that fails, writes each on its own, so each gets its own outcome.
async fn write_each_if_refused<T, R>(
    pool: &PgPool,
    items: Vec<T>,
    write: impl for<'c> Fn(
        &'c mut PgConnection,
        &'c [T],
    ) -> futures_util::future::BoxFuture<'c, Result<Vec<R>, sqlx::Error>>,
) -> Vec<Result<R, sqlx::Error>> {
    let together = match pool.acquire().await {
        Ok(mut conn) => write(&mut conn, &items).await,
        Err(error) => Err(error),
    };
    match together {
        Ok(results) => return results.into_iter().map(Ok).collect(),
        Err(error) if items.len() == 1 => return vec![Err(error)],
        Err(error) => tracing::warn!(
            count = items.len(),
            error = %crate::server::db::loggable(&error),
            "writing calls of the API log together failed; writing them one by one"
        ),
    }
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        let one = match pool.acquire().await {
            Ok(mut conn) => write(&mut conn, std::slice::from_ref(item)).await,
            Err(error) => Err(error),
        };
        results.push(one.and_then(|mut written| written.pop().ok_or(sqlx::Error::RowNotFound)));
    }
    results
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
