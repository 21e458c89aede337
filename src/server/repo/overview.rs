//! SQL for the Overview: what waits and runs now, and the period's figures
//! from the statistics the engine keeps (migrations/0016), never from
//! scanning the jobs or the API log.

use crate::domain::metrics::{
    percentile, ApiMetrics, FailureAges, Period, ThroughputPoint, TypeMetrics, TIMING_BUCKETS,
};
use crate::domain::{JobType, Overview};
use crate::server::db::Tx;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Pending jobs are counted one by one when the queue entries list at most
/// this many (1,000 lookups take about 10 ms); beyond it the count is read
/// from the entries (which may still list a few jobs cancelled or moved
/// since) and shown as an estimate. The Queues view does the same per queue.
pub const EXACT_PENDING_LIMIT: i64 = 1_000;

/// Batches the Overview lists.
const RECENT_BATCHES: i64 = 8;

/// The Overview of `organization_id` (all organizations when `None`) over
/// `period`.
pub async fn load(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    period: Period,
) -> Result<Overview, sqlx::Error> {
    let now: DateTime<Utc> = sqlx::query_scalar("select now()")
        .fetch_one(&mut **tx)
        .await?;
    let since = period.start(now);
    let (pending_now, pending_is_estimate) = pending(tx, organization_id).await?;
    let counts = current_counts(tx, organization_id).await?;
    Ok(Overview {
        period,
        read_at: now,
        since,
        pending_now,
        pending_is_estimate,
        running_now: counts.running,
        throughput: throughput(tx, organization_id, period, since, now).await?,
        by_type: by_type(tx, organization_id, since, period.granularity_seconds()).await?,
        batches: super::batches::recent(tx, organization_id, since, RECENT_BATCHES).await?,
        open_batches: counts.open_batches,
        failure_ages: FailureAges {
            under_an_hour: counts.failures_under_an_hour,
            under_a_day: counts.failures_under_a_day,
            under_a_week: counts.failures_under_a_week,
            older: counts.failures_older,
        },
        apis: apis(tx, organization_id, since, period.granularity_seconds()).await?,
        active_webhooks: counts.active_webhooks,
        erroring_webhooks: counts.erroring_webhooks,
        webhooks_needing_attention: webhooks_needing_attention(tx, organization_id).await?,
    })
}

/// Webhooks the Overview's webhook panel lists.
const WEBHOOKS_NEEDING_ATTENTION: i64 = 8;

/// Webhooks in error (they stopped receiving), then switched-on ones whose
/// latest deliveries failed, most failures in a row first.
async fn webhooks_needing_attention(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
) -> Result<Vec<crate::domain::WebhookHealth>, sqlx::Error> {
    sqlx::query_as(
        "select w.id, w.webhook_name, o.name as organization_name, w.status, w.failure_count,
                w.last_success_at, w.last_failure_at
         from webhooks w
         join organizations o on o.id = w.organization_id
         where ($1::uuid is null or w.organization_id = $1)
           and (w.status = 'error' or (w.is_active and w.failure_count > 0))
         order by w.status = 'error' desc, w.failure_count desc, w.last_failure_at desc nulls last,
                  w.id
         limit $2",
    )
    .bind(organization_id)
    .bind(WEBHOOKS_NEEDING_ATTENTION)
    .fetch_all(&mut **tx)
    .await
}

/// Jobs pending now: (count, whether it is an estimate). Counted from the
/// queue entries first (fast at any length); when they list at most
/// [`EXACT_PENDING_LIMIT`] jobs, job by job (an entry may still list a job
/// cancelled since).
async fn pending(tx: &mut Tx, organization_id: Option<Uuid>) -> Result<(i64, bool), sqlx::Error> {
    let listed: i64 = sqlx::query_scalar(
        "select coalesce(sum(cardinality(e.job_ids)), 0)::int8 from job_queue e
         where ($1::uuid is null or e.organization_id = $1)",
    )
    .bind(organization_id)
    .fetch_one(&mut **tx)
    .await?;
    if listed > EXACT_PENDING_LIMIT {
        return Ok((listed, true));
    }
    let exact: i64 = sqlx::query_scalar(
        "select count(*)
         from job_queue e
         cross join unnest(e.job_ids) as h (id)
         join jobs j on j.id = h.id and j.status = 'pending'
         where ($1::uuid is null or e.organization_id = $1)
           and ($1::uuid is null or j.organization_id = $1)",
    )
    .bind(organization_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok((exact, false))
}

#[derive(sqlx::FromRow)]
struct CurrentCounts {
    running: i64,
    open_batches: i64,
    failures_under_an_hour: i64,
    failures_under_a_day: i64,
    failures_under_a_week: i64,
    failures_older: i64,
    active_webhooks: i64,
    erroring_webhooks: i64,
}

/// Counts of things as they are now, each from a small set of rows: running
/// jobs through their leases, unresolved failures through their index.
async fn current_counts(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
) -> Result<CurrentCounts, sqlx::Error> {
    sqlx::query_as(
        "select
           (select count(*) from job_leases l
              cross join unnest(l.job_ids) as h (id)
              join jobs j on j.id = h.id and j.lease_token = l.lease_token
             where ($1::uuid is null or l.organization_id = $1)
               and ($1::uuid is null or j.organization_id = $1)) as running,
           (select count(*) from job_batches
             where ($1::uuid is null or organization_id = $1)
               and status in ('pending', 'running')) as open_batches,
           f.under_an_hour as failures_under_an_hour,
           f.under_a_day as failures_under_a_day,
           f.under_a_week as failures_under_a_week,
           f.older as failures_older,
           (select count(*) from webhooks
             where ($1::uuid is null or organization_id = $1) and is_active) as active_webhooks,
           (select count(*) from webhooks
             where ($1::uuid is null or organization_id = $1) and status = 'error')
             as erroring_webhooks
         from (
           select count(*) filter (where created_at > now() - interval '1 hour') as under_an_hour,
                  count(*) filter (where created_at <= now() - interval '1 hour'
                                     and created_at > now() - interval '1 day') as under_a_day,
                  count(*) filter (where created_at <= now() - interval '1 day'
                                     and created_at > now() - interval '7 days') as under_a_week,
                  count(*) filter (where created_at <= now() - interval '7 days') as older
           from failed_jobs
           where ($1::uuid is null or organization_id = $1) and not is_resolved
         ) f",
    )
    .bind(organization_id)
    .fetch_one(&mut **tx)
    .await
}

/// Completed and failed jobs per step of `period`, every step present.
async fn throughput(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    period: Period,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<ThroughputPoint>, sqlx::Error> {
    let step_seconds = period.step().num_seconds() as f64;
    let rows: Vec<(DateTime<Utc>, i64, i64)> = sqlx::query_as(&format!(
        "select date_bin(make_interval(secs => $2), s.period_start, $3) as at,
                    sum(s.completed)::int8, sum(s.failed)::int8
             from {}
             group by 1",
        period_rows(
            "job_stats",
            "period_start, completed, failed",
            "$1",
            "$3",
            "$4"
        )
    ))
    .bind(organization_id)
    .bind(step_seconds)
    .bind(since)
    .bind(period.granularity_seconds())
    .fetch_all(&mut **tx)
    .await?;
    let counted: BTreeMap<DateTime<Utc>, (i64, i64)> =
        rows.into_iter().map(|(at, c, f)| (at, (c, f))).collect();
    let mut points = Vec::new();
    let mut at = since;
    while at <= now {
        let (completed, failed) = counted.get(&at).copied().unwrap_or_default();
        points.push(ThroughputPoint {
            at,
            completed,
            failed,
        });
        at += period.step();
    }
    Ok(points)
}

/// Per job type with anything counted: outcomes and timings.
async fn by_type(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    since: DateTime<Utc>,
    granularity: i32,
) -> Result<Vec<TypeMetrics>, sqlx::Error> {
    let counts: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(&format!(
        "select s.job_type::text, sum(s.completed)::int8, sum(s.failed)::int8,
                    sum(s.cancelled)::int8, sum(s.retried)::int8
             from {}
             group by 1",
        period_rows(
            "job_stats",
            "job_type, completed, failed, cancelled, retried",
            "$1",
            "$2",
            "$3"
        )
    ))
    .bind(organization_id)
    .bind(since)
    .bind(granularity)
    .fetch_all(&mut **tx)
    .await?;
    let timings = timings(tx, organization_id, since, granularity, &["wait", "run"]).await?;
    let mut metrics: Vec<TypeMetrics> = counts
        .into_iter()
        .filter_map(|(job_type, completed, failed, cancelled, retried)| {
            let job_type = JobType::parse(&job_type)?;
            let buckets =
                |measure: &str| timings.get(&(job_type.as_str().to_string(), measure.to_string()));
            let wait = buckets("wait");
            let run = buckets("run");
            Some(TypeMetrics {
                completed,
                failed,
                cancelled,
                retried,
                wait_p50_ms: wait.and_then(|b| percentile(b, 0.5)),
                wait_p95_ms: wait.and_then(|b| percentile(b, 0.95)),
                run_p50_ms: run.and_then(|b| percentile(b, 0.5)),
                run_p95_ms: run.and_then(|b| percentile(b, 0.95)),
                ..TypeMetrics::new(job_type)
            })
        })
        .collect();
    metrics.sort_by_key(|m| JobType::ALL.iter().position(|t| *t == m.job_type));
    Ok(metrics)
}

/// Per API called: outcomes and response times.
async fn apis(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    since: DateTime<Utc>,
    granularity: i32,
) -> Result<Vec<ApiMetrics>, sqlx::Error> {
    let counts: Vec<(String, i64, i64, i64)> = sqlx::query_as(&format!(
        "select s.api_name::text, sum(s.succeeded)::int8, sum(s.failed)::int8,
                    sum(s.timed_out)::int8
             from {}
             group by 1
             order by 1",
        period_rows(
            "api_call_stats",
            "api_name, succeeded, failed, timed_out",
            "$1",
            "$2",
            "$3"
        )
    ))
    .bind(organization_id)
    .bind(since)
    .bind(granularity)
    .fetch_all(&mut **tx)
    .await?;
    let timings = timings(tx, organization_id, since, granularity, &["response"]).await?;
    Ok(counts
        .into_iter()
        .map(|(api_name, succeeded, failed, timed_out)| {
            let buckets = timings.get(&(api_name.clone(), "response".to_string()));
            ApiMetrics {
                response_p50_ms: buckets.and_then(|b| percentile(b, 0.5)),
                response_p95_ms: buckets.and_then(|b| percentile(b, 0.95)),
                api_name,
                succeeded,
                failed,
                timed_out,
            }
        })
        .collect())
}

/// The rows of statistics table `table` (its `columns`) that make up a
/// period, as subquery `s`: folded rows of `granularity` seconds since
/// `since`, and rows not folded yet, of `organization` (every one when it is
/// null); the three are parameter placeholders. Two branches rather than one
/// condition with an OR, so each reads its own partial index (index-only for
/// folded rows: migrations/0019).
fn period_rows(
    table: &str,
    columns: &str,
    organization: &str,
    since: &str,
    granularity: &str,
) -> String {
    let own = format!("({organization}::uuid is null or organization_id = {organization})");
    format!(
        "(select {columns} from {table}
          where folded and period_seconds = {granularity} and period_start >= {since} and {own}
          union all
          select {columns} from {table}
          where not folded and period_start >= {since} and {own}) s"
    )
}

/// Bucket counts per (subject, measure) of `measures` since `since`, from
/// rows of `granularity` seconds (and those not folded yet).
async fn timings(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    since: DateTime<Utc>,
    granularity: i32,
    measures: &[&str],
) -> Result<BTreeMap<(String, String), Vec<i64>>, sqlx::Error> {
    let rows: Vec<(String, String, i16, i64)> = sqlx::query_as(&format!(
        "select s.subject::text, s.measure::text, s.bucket, sum(s.samples)::int8
             from {}
             where s.measure = any ($4)
             group by 1, 2, 3",
        period_rows(
            "timing_stats",
            "subject, measure, bucket, samples",
            "$1",
            "$2",
            "$3"
        )
    ))
    .bind(organization_id)
    .bind(since)
    .bind(granularity)
    .bind(measures)
    .fetch_all(&mut **tx)
    .await?;
    let mut buckets: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for (subject, measure, bucket, samples) in rows {
        let counts = buckets
            .entry((subject, measure))
            .or_insert_with(|| vec![0; TIMING_BUCKETS]);
        if let Some(slot) = counts.get_mut(bucket as usize) {
            *slot += samples;
        }
    }
    Ok(buckets)
}
