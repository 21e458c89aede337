//! The statistics the engine keeps as it works (migrations/0016_overview_statistics.sql): every
//! statement that ends attempts appends, in the same statement, rows that
//! count them by organization, job type and minute, and their wait and run
//! times by logarithmic bucket. A worker folds them (`fold`).

use sqlx::PgConnection;

/// Common table expressions that append statistics for the ended attempts
/// listed by the CTE `source`, whose columns are `organization_id`,
/// `job_type`, `outcome` ('completed', 'failed', 'cancelled' or 'retried'),
/// `finished_at`, and `wait_ms` and `run_ms` (null for a job that never
/// ran: it adds to the counts, not to the timings).
pub fn recorded_cte(source: &str) -> String {
    format!(
        "stats_counted as (
           insert into job_stats (organization_id, job_type, period_start, period_seconds,
                                  completed, failed, cancelled, retried, wait_ms_sum, run_ms_sum)
           select s.organization_id, s.job_type, date_trunc('minute', s.finished_at, 'UTC'), 60,
                  count(*) filter (where s.outcome = 'completed'),
                  count(*) filter (where s.outcome = 'failed'),
                  count(*) filter (where s.outcome = 'cancelled'),
                  count(*) filter (where s.outcome = 'retried'),
                  coalesce(sum(greatest(s.wait_ms, 0)) filter (where s.run_ms is not null), 0),
                  coalesce(sum(greatest(s.run_ms, 0)), 0)
           from {source} s
           group by 1, 2, 3
         ),
         stats_timed as (
           insert into timing_stats (organization_id, subject, measure, period_start,
                                     period_seconds, bucket, samples)
           select s.organization_id, s.job_type, m.measure,
                  date_trunc('minute', s.finished_at, 'UTC'), 60, m.bucket, count(*)
           from {source} s
           cross join lateral (values ('wait', timing_bucket(greatest(s.wait_ms, 0))),
                                      ('run', timing_bucket(greatest(s.run_ms, 0))))
             as m (measure, bucket)
           where s.run_ms is not null
           group by 1, 2, 3, 4, 6
         )"
    )
}

/// Folds the rows of ended minutes (and of minutes older than two days into
/// hours); returns how many rows were folded away. Safe to call from any
/// number of workers: one folds, the others return 0 at once.
pub async fn fold(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select fold_job_stats()")
        .fetch_one(conn)
        .await
}
