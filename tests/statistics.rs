//! The statistics the engine keeps for the Overview (migrations/0016_overview_statistics.sql): what
//! each statement that ends attempts appends, and how folding keeps the
//! totals while shrinking the rows.

mod common;

use chrono::{Duration as ChronoDuration, Utc};
use common::{fresh_database, TestDb};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::{JobErrorKind, JobType};
use veriphy_jobs::server::queue::{
    self, stats, ClaimRequest, Completion, JobError, NewJob, Outcome, RetryPolicy, Transition,
};

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Totals {
    completed: i64,
    failed: i64,
    cancelled: i64,
    retried: i64,
    timed_runs: i64,
}

/// Totals of `organization`'s statistics: the rows not folded yet and the
/// day rows (each attempt is in exactly one of them).
async fn totals(test: &TestDb, organization: Uuid) -> Totals {
    let mut conn = test.owner_connection().await;
    sqlx::query_as(
        "select coalesce(sum(completed), 0)::int8 as completed,
                coalesce(sum(failed), 0)::int8 as failed,
                coalesce(sum(cancelled), 0)::int8 as cancelled,
                coalesce(sum(retried), 0)::int8 as retried,
                (select coalesce(sum(samples), 0)::int8 from timing_stats
                  where organization_id = $1 and measure = 'run'
                    and (not folded or period_seconds = 86400)) as timed_runs
         from job_stats
         where organization_id = $1 and (not folded or period_seconds = 86400)",
    )
    .bind(organization)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Enqueues `n` jobs of `organization` and claims them all.
async fn claimed(test: &TestDb, organization: Uuid, n: usize) -> Vec<queue::ClaimedJob> {
    let mut conn = test.db.worker.acquire().await.unwrap();
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob::new(organization, JobType::Other, "stat job", json!({ "i": i })))
        .collect();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap();
    queue::claim(
        &mut conn,
        &ClaimRequest {
            queue: "default",
            job_types: &[JobType::Other],
            limit: n as i64,
            worker_id: "stats-test",
            lease_token: Uuid::new_v4(),
            lease: Duration::from_secs(30),
        },
    )
    .await
    .unwrap()
}

fn completion(job: &queue::ClaimedJob, run: ChronoDuration) -> Completion {
    let finished_at = Utc::now();
    Completion::of(job, finished_at - run, finished_at, None)
}

fn held(job: &queue::ClaimedJob) -> queue::HeldJob {
    queue::HeldJob {
        id: job.id,
        lease_token: job.lease_token,
        organization_id: job.organization_id,
        batch_id: job.batch_id,
    }
}

/// Applies `outcome` to `job` as its worker would.
async fn end(test: &TestDb, job: &queue::ClaimedJob, outcome: Outcome) {
    let now = Utc::now();
    let attempt = queue::Attempt {
        number: job.attempts,
        max_attempts: job.max_attempts,
        started_at: now,
        finished_at: now,
    };
    let transition =
        Transition::decide(&outcome, attempt, &RetryPolicy::default(), 0.5).expect("not a success");
    let mut conn = test.db.worker.acquire().await.unwrap();
    assert!(queue::finish(&mut conn, held(job), now, &transition)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_batch_of_completions_counts_each_job_and_its_run_time() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let jobs = claimed(&test, organization, 5).await;
    let completions: Vec<Completion> = jobs
        .iter()
        .map(|job| completion(job, ChronoDuration::milliseconds(300)))
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::complete_many(&mut conn, &completions).await.unwrap();
    assert_eq!(
        totals(&test, organization).await,
        Totals {
            completed: 5,
            failed: 0,
            cancelled: 0,
            retried: 0,
            timed_runs: 5
        }
    );
    // 300 ms lies in bucket 17: [2^8, 2^8.5) ms = [256, 362) ms
    let mut owner = test.owner_connection().await;
    let buckets: Vec<(i16, i32)> = sqlx::query_as(
        "select bucket, samples from timing_stats
         where organization_id = $1 and measure = 'run'",
    )
    .bind(organization)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(buckets, vec![(17, 5)]);
}

#[tokio::test]
async fn failures_retries_and_cancellations_are_counted_by_what_they_ended() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let jobs = claimed(&test, organization, 4).await;
    let error = || JobError::new(JobErrorKind::Handler, "provider down");
    end(&test, &jobs[0], Outcome::Fail(error())).await;
    end(&test, &jobs[1], Outcome::Retry(error())).await;
    end(&test, &jobs[2], Outcome::Cancel("stop".into())).await;
    end(&test, &jobs[3], Outcome::Snooze(Duration::from_secs(60))).await;
    assert_eq!(
        totals(&test, organization).await,
        Totals {
            completed: 0,
            failed: 1,
            cancelled: 1,
            retried: 1,
            timed_runs: 3
        }
    );
}

#[tokio::test]
async fn cancelling_pending_jobs_counts_them_without_a_run_time() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let mut conn = test.db.worker.acquire().await.unwrap();
    let ids = queue::enqueue_many(
        &mut conn,
        &[
            NewJob::new(organization, JobType::Other, "a", json!({})),
            NewJob::new(organization, JobType::Other, "b", json!({})),
        ],
    )
    .await
    .unwrap();
    let filter = veriphy_jobs::server::db::JobFilter {
        organization_id: Some(organization),
        ids,
        ..Default::default()
    };
    queue::actions::apply(
        &mut conn,
        &filter,
        veriphy_jobs::domain::JobAction::Cancel,
        "not needed",
    )
    .await
    .unwrap();
    assert_eq!(
        totals(&test, organization).await,
        Totals {
            completed: 0,
            failed: 0,
            cancelled: 2,
            retried: 0,
            timed_runs: 0
        }
    );
}

#[tokio::test]
async fn folding_keeps_the_totals_in_one_row_per_type_and_period() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    // three statements' rows in one ended minute, two in a minute three days
    // ago (which folds into its hour)
    let mut owner = test.owner_connection().await;
    for minutes_ago in [2, 2, 2, 3 * 24 * 60, 3 * 24 * 60 + 1] {
        sqlx::query(
            "insert into job_stats (organization_id, job_type, period_start, period_seconds,
                                    completed, failed, run_ms_sum)
             values ($1, 'email',
                     date_trunc('minute', now() - make_interval(mins => $2), 'UTC'), 60, 2, 1, 10)",
        )
        .bind(organization)
        .bind(minutes_ago)
        .execute(&mut owner)
        .await
        .unwrap();
    }
    let before = totals(&test, organization).await;
    let mut conn = test.db.worker.acquire().await.unwrap();
    let folded = stats::fold(&mut conn).await.unwrap();
    assert_eq!(folded, 5, "every appended row was folded");
    assert_eq!(totals(&test, organization).await, before);
    let rows: Vec<(i32, i32, i32, bool)> = sqlx::query_as(
        "select period_seconds, sum(completed)::int4, sum(failed)::int4, bool_and(folded)
         from job_stats where organization_id = $1
         group by period_seconds order by period_seconds",
    )
    .bind(organization)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            // minutes are kept for two days: only the recent one's rows
            (60, 6, 3, true),
            // every row is in its hour and its day
            (3600, 10, 5, true),
            (86400, 10, 5, true),
        ]
    );
    let recent_minute_rows: i64 = sqlx::query_scalar(
        "select count(*) from job_stats where organization_id = $1 and period_seconds = 60",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        recent_minute_rows, 1,
        "the recent minute's three rows became one"
    );
}

#[tokio::test]
async fn an_organization_sees_only_its_own_statistics() {
    let test = fresh_database().await;
    let mine = test.new_organization().await;
    let theirs = test.new_organization().await;
    let jobs = claimed(&test, theirs, 2).await;
    let completions: Vec<Completion> = jobs
        .iter()
        .map(|job| completion(job, ChronoDuration::milliseconds(5)))
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::complete_many(&mut conn, &completions).await.unwrap();
    // as a console user of `mine`, row-level security hides the rows
    let mut tx = test
        .db
        .begin(veriphy_jobs::server::db::Scope::organization(mine))
        .await
        .unwrap();
    let visible: i64 = sqlx::query_scalar("select count(*) from job_stats")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(visible, 0);
}

#[tokio::test]
async fn a_third_party_call_is_counted_once_when_it_ends() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let mut owner = test.owner_connection().await;
    let call: Uuid = sqlx::query_scalar(
        "insert into third_party_api_log (organization_id, api_name, endpoint, method, status)
         values ($1, 'sms-gateway', 'https://sms.example/send', 'POST', 'pending')
         returning id",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        api_totals(&mut owner, organization).await,
        (0, 0, 0),
        "pending: not yet"
    );
    for _ in 0..2 {
        // the second update changes nothing that counts
        sqlx::query(
            "update third_party_api_log set status = 'success', is_success = true,
                    status_code = 200, response_time = 120 where id = $1",
        )
        .bind(call)
        .execute(&mut owner)
        .await
        .unwrap();
    }
    assert_eq!(api_totals(&mut owner, organization).await, (1, 0, 1));
}

/// (succeeded, failed, timed responses) of `organization`'s calls.
async fn api_totals(owner: &mut sqlx::PgConnection, organization: Uuid) -> (i64, i64, i64) {
    sqlx::query_as(
        "select coalesce(sum(succeeded), 0)::int8, coalesce(sum(failed), 0)::int8,
                (select coalesce(sum(samples), 0)::int8 from timing_stats
                  where organization_id = $1 and measure = 'response')
         from api_call_stats where organization_id = $1",
    )
    .bind(organization)
    .fetch_one(owner)
    .await
    .unwrap()
}

/// The Overview of `organization` for the last 24 hours, read as a bank admin.
async fn overview_of_the_day(test: &TestDb, organization: Uuid) -> veriphy_jobs::domain::Overview {
    use veriphy_jobs::server::{db::Scope, repo::overview};
    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    overview::load(
        &mut tx,
        Some(organization),
        veriphy_jobs::domain::metrics::Period::Day,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_overview_sums_its_periods_folded_rows_and_the_rows_not_folded_yet() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let mut owner = test.owner_connection().await;
    // (folded, period seconds, hours ago, completed): the day's hour rows and
    // an unfolded row count; minute rows (another size), an hour row from
    // before the period and a day row do not
    for (folded, seconds, hours_ago, completed) in [
        (true, 3600, 2, 1),
        (true, 3600, 5, 10),
        (false, 60, 0, 100),
        (true, 60, 2, 1000),
        (true, 3600, 30, 10_000),
        (true, 86_400, 2, 100_000),
    ] {
        sqlx::query(
            "insert into job_stats (organization_id, job_type, period_start, period_seconds,
                                    completed, folded)
             values ($1, 'email', date_trunc('hour', now() - make_interval(hours => $2), 'UTC'),
                     $3, $4, $5)",
        )
        .bind(organization)
        .bind(hours_ago)
        .bind(seconds)
        .bind(completed)
        .bind(folded)
        .execute(&mut owner)
        .await
        .unwrap();
    }
    let overview = overview_of_the_day(&test, organization).await;
    let email = overview
        .by_type
        .iter()
        .find(|t| t.job_type == JobType::Email)
        .unwrap();
    assert_eq!(email.completed, 111);
    let charted: i64 = overview.throughput.iter().map(|p| p.completed).sum();
    assert_eq!(charted, 111);
}

#[tokio::test]
async fn the_overview_counts_a_few_pending_jobs_one_by_one() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let jobs: Vec<NewJob> = (0..3)
        .map(|i| NewJob::new(organization, JobType::Other, "pending", json!({ "i": i })))
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    let ids = queue::enqueue_many(&mut conn, &jobs).await.unwrap();
    // still listed in its queue entry, but no longer pending
    test.cancel_behind_the_engine(ids[0]).await;
    let overview = overview_of_the_day(&test, organization).await;
    assert_eq!(
        (overview.pending_now, overview.pending_is_estimate),
        (2, false)
    );
}

#[tokio::test]
async fn the_overview_estimates_a_long_backlog_from_the_queue_entries() {
    use veriphy_jobs::server::repo::overview::EXACT_PENDING_LIMIT;
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let listed = EXACT_PENDING_LIMIT + 1;
    let jobs: Vec<NewJob> = (0..listed)
        .map(|i| NewJob::new(organization, JobType::Other, "pending", json!({ "i": i })))
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap();
    let overview = overview_of_the_day(&test, organization).await;
    assert_eq!(
        (overview.pending_now, overview.pending_is_estimate),
        (listed, true)
    );
}
