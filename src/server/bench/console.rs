//! The console at a million rows: a database with `n` jobs and `n` API log
//! rows across the two demo organizations (made once, then reused), and the
//! server time of every tab's pages, filters and details as a bank admin
//! and as an organization's admin, one JSON line per page.

use super::serve::{client, failed, load_demo, InProcessConsole};
use super::{load, percentile, round, BenchArgs, BenchError};
use crate::server::db::{self, Database};
use crate::server::demo_data;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor};
use std::time::Instant;
use uuid::Uuid;

/// How the data set is made; raise it when `fill` changes.
const DATA_VERSION: u32 = 4;

/// Loads of each page measured, after one that warms the caches.
const SAMPLES: usize = 10;

/// One page's figures.
#[derive(Debug, Serialize)]
struct PageLine {
    system: &'static str,
    mode: &'static str,
    page: String,
    role: &'static str,
    n: usize,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    max_ms: Option<f64>,
    notes: String,
}

/// Makes (or reuses) the database and prints a line per page.
pub(super) async fn run(options: &PgConnectOptions, args: &BenchArgs) -> Result<(), BenchError> {
    // the version names how the data is made: a change makes a new database
    let name = format!("bench_veriphy_console_v{DATA_VERSION}_{}", args.n);
    let mut admin = sqlx::PgConnection::connect_with(options)
        .await
        .map_err(BenchError::Connect)?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .map_err(BenchError::Connect)?;
    let bench_options = options.clone().database(&name);
    let mut complete = false;
    if exists {
        let mut conn = sqlx::PgConnection::connect_with(&bench_options)
            .await
            .map_err(BenchError::Connect)?;
        complete = sqlx::query_scalar::<_, i64>("select rows from bench_console_data")
            .fetch_optional(&mut conn)
            .await
            .ok()
            .flatten()
            == Some(args.n as i64);
    }
    if !complete {
        if exists {
            admin
                .execute(format!("drop database {name} with (force)").as_str())
                .await
                .map_err(BenchError::CreateDatabase)?;
        }
        admin
            .execute(format!("create database {name}").as_str())
            .await
            .map_err(BenchError::CreateDatabase)?;
    }
    db::migrate(&bench_options).await?;
    let db = Database::connect(bench_options.clone(), 12).await?;
    if !complete {
        fill(&db, &bench_options, args.n).await?;
    }
    let lines = measure(&db, args.n).await?;
    db.app.close().await;
    db.worker.close().await;
    for line in lines {
        println!("{}", serde_json::to_string(&line)?);
    }
    Ok(())
}

/// The demo data, then `n` jobs and `n` API log rows spread over 30 days.
async fn fill(db: &Database, options: &PgConnectOptions, n: usize) -> Result<(), BenchError> {
    let started = Instant::now();
    load_demo(db).await?;
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    // Realistic spreads: most jobs completed, some failed, cancelled,
    // pending or running; types, priorities and queues weighted; ages
    // uniform over 30 days; one job in a thousand names a KYC refresh (what
    // the name search looks for); one in five belongs to a batch.
    sqlx::query(
        "insert into job_batches (organization_id, batch_name, created_at)
         select o.id, 'Bench batch ' || o.slug || ' ' || b, now() - make_interval(hours => b * 3)
         from organizations o cross join generate_series(1, 200) b",
    )
    .execute(&owner)
    .await?;
    owner
        .execute(
            "create temporary table bench_orgs as
               select o.id, row_number() over (order by o.slug) - 1 as k,
                      (select array_agg(b.id order by b.created_at) from job_batches b
                        where b.organization_id = o.id) as batches
               from organizations o",
        )
        .await?;
    sqlx::query(
        "insert into jobs (organization_id, job_type, job_name, payload, status, priority, queue,
                           attempts, max_attempts, available_at, started_at, completed_at,
                           failed_at, cancelled_at, error_message, batch_id, created_at,
                           updated_at)
         select o.id, t.job_type,
                case when g % 1000 = 7 then 'KYC refresh ' || g else 'Statement run ' || g end,
                jsonb_build_object('n', g), s.status, p.priority, q.queue,
                case s.status when 'failed' then 3 when 'pending' then 0 else 1 end, 3,
                c.created_at,
                case when s.status in ('completed', 'failed', 'running')
                     then c.created_at + interval '2 seconds' end,
                case when s.status in ('completed', 'cancelled')
                     then c.created_at + make_interval(secs => 3 + g % 40) end,
                case when s.status = 'failed' then c.created_at + interval '30 seconds' end,
                case when s.status = 'cancelled'
                     then c.created_at + make_interval(secs => 3 + g % 40) end,
                case when s.status = 'failed' then 'Provider answered 503' end,
                case when g % 5 = 0 then o.batches[1 + (g / 5) % cardinality(o.batches)] end,
                c.created_at, c.created_at
         from generate_series(1, $1) g
         join bench_orgs o on o.k = g % 2
         cross join lateral (select now() - make_interval(secs => (g * 2592000.0 / $1)::int)
                               as created_at) c
         cross join lateral (select case
                               when g % 100 < 88 then 'completed'
                               when g % 100 < 92 then 'failed'
                               when g % 100 < 95 then 'cancelled'
                               when g % 1000 = 995 then 'running'
                               else 'pending' end as status) s
         cross join lateral (select (array['email', 'email', 'email', 'sms', 'sms', 'whatsapp',
                                           'document_processing', 'report_generation',
                                           'data_sync', 'webhook', 'cleanup', 'other'])
                                      [1 + g % 12] as job_type) t
         cross join lateral (select case when g % 20 = 3 then 'urgent' when g % 7 = 1 then 'high'
                                         when g % 10 = 9 then 'low' else 'normal' end
                                      as priority) p
         cross join lateral (select case when g % 10 = 4 then 'reports'
                                         when g % 10 = 6 then 'notifications'
                                         else 'default' end as queue) q",
    )
    .bind(n as i64)
    .execute(&owner)
    .await?;
    // running jobs are held by a (benchmark) worker's lease, as claims hold them
    sqlx::query(
        "with leased as (
           insert into job_leases (lease_token, organization_id, worker_id, locked_until, job_ids)
           select gen_random_uuid(), organization_id, 'bench-worker', now() + interval '1 day',
                  array_agg(id)
           from jobs where status = 'running'
           group by organization_id
           returning lease_token, job_ids
         )
         update jobs j set lease_token = l.lease_token, locked_by = 'bench-worker'
         from leased l where j.id = any (l.job_ids)",
    )
    .execute(&owner)
    .await?;
    sqlx::query(
        "insert into third_party_api_log (organization_id, api_name, endpoint, method,
                                          status_code, response_time, status, error_message,
                                          is_success, created_at, updated_at)
         select o.id, a.api_name, a.endpoint, 'POST',
                case s.status when 'success' then 200 when 'failed' then 502 end,
                case when s.status <> 'pending' then 40 + (g * 7919) % 900 end,
                s.status,
                case s.status when 'failed' then 'Bad gateway' when 'timeout' then 'Timed out' end,
                s.status = 'success', c.created_at, c.created_at
         from generate_series(1, $1) g
         join bench_orgs o on o.k = g % 2
         cross join lateral (select now() - make_interval(secs => (g * 2592000.0 / $1)::int)
                               as created_at) c
         cross join lateral (select case when g % 100 < 90 then 'success'
                                         when g % 100 < 96 then 'failed'
                                         when g % 100 < 98 then 'timeout'
                                         else 'pending' end as status) s
         cross join lateral (select (array['Credit bureau', 'Mail relay', 'Twilio SMS',
                                           'WhatsApp Cloud API'])[1 + g % 4] as api_name,
                                    (array['https://bureau.example/v2/score',
                                           'smtp://relay.example:587',
                                           'https://sms.example/Messages.json',
                                           'https://graph.example/messages'])[1 + g % 4]
                                      as endpoint) a",
    )
    .bind(n as i64)
    .execute(&owner)
    .await?;
    // the demo data counted its own jobs: count every finished job once
    owner
        .execute(
            "delete from job_stats;
             delete from timing_stats where measure in ('wait', 'run');
             select backfill_job_stats(id) from bench_orgs;",
        )
        .await?;
    owner.execute("select fold_job_stats()").await?;
    owner.execute("vacuum analyze").await?;
    owner
        .execute("create table bench_console_data (rows bigint not null)")
        .await?;
    sqlx::query("insert into bench_console_data values ($1)")
        .bind(n as i64)
        .execute(&owner)
        .await?;
    owner.close().await;
    eprintln!(
        "made the console benchmark's data ({n} jobs, {n} API log rows) in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Times every page as a bank admin and as an organization's admin.
async fn measure(db: &Database, n: usize) -> Result<Vec<PageLine>, sqlx::Error> {
    let console = InProcessConsole::start(db).await?;
    let browser = client([127, 0, 0, 1].into());
    let northwind: Uuid = sqlx::query_scalar("select id from organizations where slug = $1")
        .bind(demo_data::DEMO_ORGANIZATIONS[0].1)
        .fetch_one(&db.worker)
        .await?;
    let job: Uuid = sqlx::query_scalar(
        "select id from jobs where organization_id = $1 and status = 'failed' limit 1",
    )
    .bind(northwind)
    .fetch_one(&db.worker)
    .await?;
    let batch: Uuid = sqlx::query_scalar(
        "select batch_id from jobs where organization_id = $1 and batch_id is not null limit 1",
    )
    .bind(northwind)
    .fetch_one(&db.worker)
    .await?;
    let mut lines = Vec::new();
    for (role, email) in [
        ("bank_admin", "bank.admin@veriphy.example"),
        ("org_admin", "admin@northwind.example"),
    ] {
        let cookie = console
            .sign_in(&browser, email, demo_data::DEFAULT_DEMO_PASSWORD)
            .await?;
        let (_, _, first_jobs_page) = console.load(&browser, &cookie, "/jobs").await;
        let next_jobs_page = next_page_link(&first_jobs_page)
            .ok_or_else(|| failed("console bench", &"the Jobs tab has no next page"))?;
        let week_ago = (chrono::Utc::now() - chrono::Duration::days(7)).format("%Y-%m-%dT%H:%M");
        let two_weeks_ago =
            (chrono::Utc::now() - chrono::Duration::days(14)).format("%Y-%m-%dT%H:%M");
        let mut pages: Vec<String> = vec![
            "/".into(),
            "/?period=1h".into(),
            "/?period=7d".into(),
            "/?period=30d".into(),
            "/jobs".into(),
            next_jobs_page,
        ];
        for status in ["pending", "running", "completed", "failed", "cancelled"] {
            pages.push(format!("/jobs?status={status}"));
        }
        pages.extend([
            "/jobs?type=whatsapp".to_string(),
            "/jobs?priority=urgent".into(),
            "/jobs?queue=reports".into(),
            format!("/jobs?batch={batch}"),
            format!("/jobs?from={two_weeks_ago}&to={week_ago}"),
            "/jobs?q=KYC".into(),
            "/jobs?status=failed&type=sms".into(),
            format!("/jobs/{job}"),
            "/batches".into(),
            format!("/batches/{batch}"),
            "/failed-jobs".into(),
            "/api-logs".into(),
            "/api-logs?status=failed".into(),
            "/webhooks".into(),
            "/queues".into(),
        ]);
        for page in pages {
            let _ = console.load(&browser, &cookie, &page).await;
            let mut times = Vec::with_capacity(SAMPLES);
            let mut refused = 0;
            for _ in 0..SAMPLES {
                let (ms, status, _) = console.load(&browser, &cookie, &page).await;
                if status != 200 {
                    refused += 1;
                }
                times.push(ms);
            }
            times.sort_by(|a, b| a.total_cmp(b));
            lines.push(PageLine {
                system: "veriphy-jobs",
                mode: "console",
                page,
                role,
                n,
                p50_ms: percentile(&times, 0.5),
                p95_ms: percentile(&times, 0.95),
                max_ms: times.last().copied().map(round),
                notes: format!(
                    "{SAMPLES} loads after one warm-up, whole HTML response; {refused} not 200; {}",
                    load()
                ),
            });
        }
    }
    Ok(lines)
}

/// The href of the Jobs tab's "next page" link in `html`.
fn next_page_link(html: &str) -> Option<String> {
    let at = html.find("data-testid=\"next-page\"")?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..at + html[at..].find('>')?];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_page_link_is_read_from_the_jobs_tab() {
        let html = r#"<nav class="pager"><a href="/jobs?cursor=abc&amp;org=1" data-testid="next-page">Next</a></nav>"#;
        assert_eq!(
            super::next_page_link(html).as_deref(),
            Some("/jobs?cursor=abc&org=1")
        );
        assert_eq!(super::next_page_link("<p>no pager</p>"), None);
    }
}
