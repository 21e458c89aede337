//! `report_generation` jobs: a CSV of the organization's job and third-party
//! API statistics for a period, stored as a file the console can download.

use super::{database_error, Handler, HandlerFuture, JobContext};
use crate::server::queue::{JobError, Outcome};
use crate::server::repo::stored_files::{self, NewFile};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The report handler.
pub struct ReportHandler;

/// Payload: an explicit period, or the last `days` days (default 7).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportPayload {
    #[serde(default)]
    period_start: Option<DateTime<Utc>>,
    #[serde(default)]
    period_end: Option<DateTime<Utc>>,
    #[serde(default)]
    days: Option<i64>,
}

/// One CSV line of statistics.
#[derive(Debug, sqlx::FromRow)]
struct StatLine {
    section: String,
    name: String,
    total: i64,
    succeeded: i64,
    failed: i64,
    other: i64,
    avg_ms: Option<f64>,
    p95_ms: Option<f64>,
}

const HEADER: &str = "section,name,total,succeeded,failed,other,avg_ms,p95_ms";

const STATISTICS: &str = "
    select 'jobs' as section, job_type as name,
           count(*) as total,
           count(*) filter (where status = 'completed') as succeeded,
           count(*) filter (where status = 'failed') as failed,
           count(*) filter (where status not in ('completed', 'failed')) as other,
           avg(extract(epoch from completed_at - started_at) * 1000)
             filter (where status = 'completed')::float8 as avg_ms,
           percentile_cont(0.95) within group (order by extract(epoch from completed_at - started_at) * 1000)
             filter (where status = 'completed')::float8 as p95_ms
    from jobs
    where organization_id = $1 and created_at >= $2 and created_at < $3
    group by job_type
    union all
    select 'api', api_name,
           count(*),
           count(*) filter (where is_success),
           count(*) filter (where status in ('failed', 'timeout')),
           count(*) filter (where not is_success and status not in ('failed', 'timeout')),
           avg(response_time)::float8,
           percentile_cont(0.95) within group (order by response_time)::float8
    from third_party_api_log
    where organization_id = $1 and created_at >= $2 and created_at < $3
    group by api_name
    order by 1 desc, 2";

impl Handler for ReportHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        Box::pin(async move {
            let payload: ReportPayload = match ctx.payload() {
                Ok(p) => p,
                Err(outcome) => return outcome,
            };
            let (start, end) = match period(&payload, Utc::now()) {
                Ok(period) => period,
                Err(message) => {
                    return Outcome::Fail(JobError::new(
                        crate::domain::JobErrorKind::InvalidPayload,
                        message,
                    ))
                }
            };
            let result = async {
                let mut tx = ctx.begin().await?;
                let lines: Vec<StatLine> = sqlx::query_as(STATISTICS)
                    .bind(ctx.job.organization_id)
                    .bind(start)
                    .bind(end)
                    .fetch_all(&mut *tx)
                    .await?;
                let csv = render(&lines);
                let file_name = format!(
                    "report-{}-{}.csv",
                    start.format("%Y%m%d"),
                    end.format("%Y%m%d")
                );
                let file_id = stored_files::insert(
                    &mut tx,
                    &NewFile {
                        organization_id: ctx.job.organization_id,
                        kind: "report",
                        file_name: &file_name,
                        content_type: "text/csv",
                        content: csv.as_bytes(),
                        job_id: Some(ctx.job.id),
                        created_by: None,
                    },
                )
                .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(json!({
                    "file_id": file_id,
                    "file_name": file_name,
                    "rows": lines.len(),
                    "size_bytes": csv.len(),
                    "period_start": start,
                    "period_end": end,
                }))
            }
            .await;
            match result {
                Ok(result) => Outcome::Completed(Some(result)),
                Err(error) => database_error("building the report", error),
            }
        })
    }
}

/// The report's period; errors are sentences for the job's error message.
fn period(
    payload: &ReportPayload,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    match (payload.period_start, payload.period_end, payload.days) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            Err("Give either period_start/period_end or days, not both.".into())
        }
        (Some(start), end, None) => {
            let end = end.unwrap_or(now);
            if start >= end {
                Err("period_start must be before period_end.".into())
            } else if end - start > Duration::days(3660) {
                Err("A report covers at most ten years.".into())
            } else {
                Ok((start, end))
            }
        }
        (None, Some(_), None) => Err("period_end needs a period_start.".into()),
        (None, None, days) => {
            let days = days.unwrap_or(7);
            if !(1..=3660).contains(&days) {
                Err("days must be between 1 and 3660.".into())
            } else {
                Ok((now - Duration::days(days), now))
            }
        }
    }
}

fn render(lines: &[StatLine]) -> String {
    let mut csv = String::from(HEADER);
    csv.push('\n');
    for line in lines {
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            cell(&line.section),
            cell(&line.name),
            line.total,
            line.succeeded,
            line.failed,
            line.other,
            ms(line.avg_ms),
            ms(line.p95_ms)
        ));
    }
    csv
}

/// Quotes a CSV cell when needed and defuses spreadsheet formulas.
fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=cmd()"), "'=cmd()");
    }

    #[test]
    fn period_defaults_to_the_last_week_and_rejects_nonsense() {
        let now = Utc::now();
        let (start, end) = period(&ReportPayload::default(), now).unwrap();
        assert_eq!(end - start, Duration::days(7));
        let backwards = ReportPayload {
            period_start: Some(now),
            period_end: Some(now - Duration::days(1)),
            days: None,
        };
        assert!(period(&backwards, now).is_err());
        let both = ReportPayload {
            period_start: Some(now),
            period_end: None,
            days: Some(3),
        };
        assert!(period(&both, now).is_err());
        let zero = ReportPayload {
            days: Some(0),
            ..Default::default()
        };
        assert!(period(&zero, now).is_err());
    }

    #[test]
    fn render_writes_a_header_and_one_line_per_statistic() {
        let csv = render(&[StatLine {
            section: "jobs".into(),
            name: "email".into(),
            total: 3,
            succeeded: 2,
            failed: 1,
            other: 0,
            avg_ms: Some(12.345),
            p95_ms: None,
        }]);
        assert_eq!(csv, format!("{HEADER}\njobs,email,3,2,1,0,12.3,\n"));
    }
}
