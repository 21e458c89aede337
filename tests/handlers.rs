//! The product's handlers doing real work through a real worker: reports,
//! document analysis, retention cleanup.

mod common;

use common::{fresh_database, TestDb};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::db::Scope;
use veriphy_jobs::server::queue::{self, NewJob};
use veriphy_jobs::server::repo::stored_files::{self, NewFile};
use veriphy_jobs::server::sandbox::{Analyser, Limits};
use veriphy_jobs::server::worker::handlers::document::text_pdf;
use veriphy_jobs::server::worker::{Registry, Worker, WorkerConfig};

async fn organization(test: &TestDb, slug: &str) -> Uuid {
    let mut conn = test.owner_connection().await;
    sqlx::query_scalar("insert into organizations (name, slug) values ($1, $1) returning id")
        .bind(slug)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Runs one job of `job_type` through a standard worker; returns status and result.
async fn run(test: &TestDb, org: Uuid, job_type: JobType, payload: Value) -> (String, Value) {
    test.run_one_job(Registry::standard_with(analyser()), org, job_type, payload)
        .await
}

#[tokio::test]
async fn report_generation_stores_a_csv_of_the_organizations_statistics() {
    let test = fresh_database().await;
    let mine = organization(&test, "mine").await;
    let theirs = organization(&test, "theirs").await;
    let mut owner = test.owner_connection().await;
    for (org, status, count) in [
        (mine, "completed", 3),
        (mine, "failed", 2),
        (theirs, "completed", 7),
    ] {
        for _ in 0..count {
            sqlx::query(
                "insert into jobs (organization_id, job_type, job_name, payload, status,
                                   started_at, completed_at, failed_at, error_message)
                 values ($1, 'email', 'past', '{}', $2, now() - interval '2 s', now(),
                         case when $2 = 'failed' then now() end,
                         case when $2 = 'failed' then 'bounced' end)",
            )
            .bind(org)
            .bind(status)
            .execute(&mut owner)
            .await
            .unwrap();
        }
    }
    sqlx::query(
        "insert into third_party_api_log (organization_id, api_name, endpoint, method, status,
                                          is_success, response_time, status_code)
         values ($1, 'SendGrid', '/v3/mail/send', 'POST', 'success', true, 120, 202),
                ($1, 'SendGrid', '/v3/mail/send', 'POST', 'timeout', false, 5000, null),
                ($2, 'Twilio, Inc.', '/messages', 'POST', 'success', true, 80, 201)",
    )
    .bind(mine)
    .bind(theirs)
    .execute(&mut owner)
    .await
    .unwrap();

    let (status, result) = run(&test, mine, JobType::ReportGeneration, json!({ "days": 1 })).await;
    assert_eq!(status, "completed", "{result}");
    let file_id: Uuid = serde_json::from_value(result["file_id"].clone()).unwrap();
    let mut tx = test.db.begin(Scope::organization(mine)).await.unwrap();
    let file = stored_files::get(&mut tx, Some(mine), file_id)
        .await
        .unwrap()
        .unwrap();
    let csv = String::from_utf8(file.content).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "section,name,total,succeeded,failed,other,avg_ms,p95_ms"
    );
    // The report job itself is running while it counts, so it shows as "other".
    assert!(lines.contains(&"jobs,email,5,3,2,0,2000.0,2000.0"), "{csv}");
    assert!(
        lines.iter().any(|l| l.starts_with("api,SendGrid,2,1,1,0,")),
        "{csv}"
    );
    assert!(
        !csv.contains("Twilio"),
        "another organization's data leaked: {csv}"
    );
    assert_eq!(file.kind, "report");
    assert_eq!(file.sha256, stored_files::sha256_hex(csv.as_bytes()));
    // The other organization cannot read the file.
    let mut tx = test.db.begin(Scope::organization(theirs)).await.unwrap();
    assert!(stored_files::get(&mut tx, None, file_id)
        .await
        .unwrap()
        .is_none());
}

/// The built binary analyses documents (the test harness cannot).
fn analyser() -> Analyser {
    Analyser {
        program: env!("CARGO_BIN_EXE_veriphy-jobs").into(),
        limits: Limits::default(),
    }
}

/// Stores `content` as a document of `org`; its id.
async fn store_document(test: &TestDb, org: Uuid, name: &str, content: &[u8]) -> Uuid {
    let mut tx = test.db.begin(Scope::organization(org)).await.unwrap();
    let file_id = stored_files::insert(
        &mut tx,
        &NewFile {
            organization_id: org,
            kind: "document",
            file_name: name,
            content_type: "application/octet-stream",
            content,
            job_id: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    file_id
}

/// Runs a document job on `content`; status and result (or error).
async fn analyse_document(content: &[u8]) -> (String, Value) {
    let test = fresh_database().await;
    let org = organization(&test, "hostile").await;
    let file_id = store_document(&test, org, "hostile.pdf", content).await;
    run(
        &test,
        org,
        JobType::DocumentProcessing,
        json!({ "file_id": file_id }),
    )
    .await
}

#[tokio::test]
async fn document_processing_reports_digest_type_pages_and_text() {
    let test = fresh_database().await;
    let org = organization(&test, "docs").await;
    let pdf = text_pdf(&["Mortgage offer", "Page two of the offer", "Signatures"]);
    let file_id = store_document(&test, org, "offer.pdf", &pdf).await;

    let (status, result) = run(
        &test,
        org,
        JobType::DocumentProcessing,
        json!({ "file_id": file_id }),
    )
    .await;
    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["page_count"], 3);
    assert_eq!(result["detected_content_type"], "application/pdf");
    assert_eq!(result["size_bytes"], pdf.len());
    assert_eq!(result["sha256"], stored_files::sha256_hex(&pdf));
    assert!(result["text"]
        .as_str()
        .unwrap()
        .contains("Page two of the offer"));

    // Another organization's job cannot reach this file.
    let other = organization(&test, "other").await;
    let (status, result) = run(
        &test,
        other,
        JobType::DocumentProcessing,
        json!({ "file_id": file_id }),
    )
    .await;
    assert_eq!(status, "failed");
    assert!(result["error"].as_str().unwrap().contains("does not exist"));
}

#[tokio::test]
async fn a_deeply_nested_pdf_fails_its_job_and_the_worker_stays_up() {
    let depth = 200_000;
    let mut pdf = b"%PDF-1.5\n1 0 obj\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'[', depth));
    pdf.extend(std::iter::repeat_n(b']', depth));
    pdf.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");

    let (status, result) = analyse_document(&pdf).await;

    assert_eq!(status, "failed", "{result}");
    assert_eq!(
        result["error"],
        "The document is not a readable PDF: it has no pages"
    );
}

#[tokio::test]
async fn a_decompression_bomb_fails_its_job_without_inflating() {
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;
    // a gigabyte of zeros in a few megabytes: beyond lopdf's bound on a
    // page's inflated content (and the analyser's 768 MiB of memory)
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let mut doc = lopdf::Document::load_mem(&text_pdf(&["bomb"])).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    let content_id = doc.get_page_contents(page)[0];
    let stream = lopdf::Stream::new(lopdf::dictionary! { "Filter" => "FlateDecode" }, bomb)
        .with_compression(false);
    doc.objects
        .insert(content_id, lopdf::Object::Stream(stream));
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();

    let (status, result) = analyse_document(&pdf).await;

    assert_eq!(status, "failed", "{result}");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.starts_with("The document is not a readable PDF: its text could not be extracted"),
        "{error}"
    );
}

#[tokio::test]
async fn a_truncated_pdf_fails_its_job_with_the_reason() {
    let pdf = text_pdf(&["Mortgage offer", "Page two"]);

    let (status, result) = analyse_document(&pdf[..pdf.len() / 2]).await;

    assert_eq!(status, "failed", "{result}");
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .starts_with("The document is not a readable PDF:"),
        "{result}"
    );
}

#[tokio::test]
async fn a_diagnostic_job_asked_to_fail_fails_for_good_with_its_message() {
    let test = fresh_database().await;
    let org = organization(&test, "diagnostic").await;

    let (status, result) = run(
        &test,
        org,
        JobType::Other,
        json!({ "fail_with": "checking the alerts" }),
    )
    .await;

    assert_eq!(status, "failed");
    assert_eq!(
        result["error"],
        json!("Diagnostic failure: checking the alerts")
    );
}

#[tokio::test]
async fn a_bad_payload_fails_at_once_with_a_clear_message() {
    let test = fresh_database().await;
    let org = organization(&test, "bad").await;
    let (status, result) = run(
        &test,
        org,
        JobType::DocumentProcessing,
        json!({ "file": 1 }),
    )
    .await;
    assert_eq!(status, "failed");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.contains("document_processing") && error.contains("file_id"),
        "{error}"
    );
}

#[tokio::test]
async fn cleanup_prunes_only_what_retention_allows_in_chunks() {
    let test = fresh_database().await;
    let org = organization(&test, "retained").await;
    let other = organization(&test, "untouched").await;
    let mut owner = test.owner_connection().await;
    let insert_job = |org: Uuid, status: &'static str, age_days: i32| {
        let options = test.owner.clone();
        async move {
            let mut conn = PgConnection::connect_with(&options).await.unwrap();
            sqlx::query_scalar::<_, Uuid>(
                "insert into jobs (organization_id, job_type, job_name, payload, status,
                                   started_at, completed_at, failed_at, error_message, created_at)
                 values ($1, 'sms', 'old', '{}', $2,
                         now() - make_interval(days => $3),
                         case when $2 in ('completed', 'cancelled') then now() - make_interval(days => $3) end,
                         case when $2 = 'failed' then now() - make_interval(days => $3) end,
                         case when $2 = 'failed' then 'undeliverable' end,
                         now() - make_interval(days => $3))
                 returning id",
            )
            .bind(org)
            .bind(status)
            .bind(age_days)
            .fetch_one(&mut conn)
            .await
            .unwrap()
        }
    };
    for _ in 0..5 {
        insert_job(org, "completed", 40).await;
    }
    insert_job(org, "cancelled", 40).await;
    let recent = insert_job(org, "completed", 5).await;
    let open_failure = insert_job(org, "failed", 40).await;
    let resolved_failure = insert_job(org, "failed", 200).await;
    // its job is past retention, its failure record (resolved lately) is not
    let recently_resolved = insert_job(org, "failed", 200).await;
    let foreign = insert_job(other, "completed", 40).await;
    for (job, days) in [(resolved_failure, 100), (recently_resolved, 10)] {
        sqlx::query(
            "update failed_jobs set is_resolved = true,
                    resolved_at = now() - make_interval(days => $2), resolution = 'handled'
             where job_id = $1",
        )
        .bind(job)
        .bind(days)
        .execute(&mut owner)
        .await
        .unwrap();
    }
    sqlx::query(
        "insert into third_party_api_log (organization_id, api_name, endpoint, method, status, created_at)
         values ($1, 'Old API', '/x', 'GET', 'success', now() - interval '100 days'),
                ($1, 'New API', '/x', 'GET', 'success', now() - interval '1 day')",
    )
    .bind(org)
    .execute(&mut owner)
    .await
    .unwrap();

    let (status, result) = run(&test, org, JobType::Cleanup, json!({ "chunk_size": 2 })).await;
    assert_eq!(status, "completed", "{result}");
    // 5 completed + 1 cancelled + the job whose failure was resolved long ago
    assert_eq!(result["deleted"]["jobs"], 7, "{result}");
    assert_eq!(result["deleted"]["api_logs"], 1);
    assert!(result["chunks"].as_u64().unwrap() > 4, "{result}");
    let remaining: Vec<Uuid> =
        sqlx::query_scalar("select id from jobs where job_type = 'sms' order by id")
            .fetch_all(&mut owner)
            .await
            .unwrap();
    let mut expected = vec![recent, open_failure, recently_resolved, foreign];
    expected.sort();
    assert_eq!(remaining, expected);
    let pruned: i64 = sqlx::query_scalar(
        "select coalesce(sum(jsonb_array_length(summary -> 'deleted')), 0)::bigint
         from audit_log where action = 'job.prune' and organization_id = $1",
    )
    .bind(org)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(pruned, 7, "every pruned job is named in the audit log");
    let apis: Vec<String> = sqlx::query_scalar("select api_name from third_party_api_log")
        .fetch_all(&mut owner)
        .await
        .unwrap();
    assert_eq!(apis, ["New API"]);
}

/// The ids of every stored file.
async fn stored_file_ids(owner: &mut PgConnection) -> Vec<Uuid> {
    sqlx::query_scalar("select id from stored_files")
        .fetch_all(owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn cleanup_removes_stored_files_past_the_organization_s_retention() {
    let test = fresh_database().await;
    let org = organization(&test, "files").await;
    let old = store_document(&test, org, "old.pdf", b"old").await;
    let new = store_document(&test, org, "new.pdf", b"new").await;
    let mut owner = test.owner_connection().await;
    sqlx::query("update stored_files set created_at = now() - interval '100 days' where id = $1")
        .bind(old)
        .execute(&mut owner)
        .await
        .unwrap();

    let (status, result) = run(&test, org, JobType::Cleanup, json!({})).await;

    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["deleted"]["stored_files"], 1, "{result}");
    let files = stored_file_ids(&mut owner).await;
    assert_eq!(files, vec![new]);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'file.prune'
           and summary -> 'deleted' -> 0 ->> 'name' = 'old.pdf'",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn cleanup_keeps_an_old_file_that_a_waiting_document_job_will_read() {
    let test = fresh_database().await;
    let org = organization(&test, "files").await;
    let needed = store_document(&test, org, "needed.pdf", b"needed").await;
    let unneeded = store_document(&test, org, "unneeded.pdf", b"unneeded").await;
    let mut owner = test.owner_connection().await;
    sqlx::query("update stored_files set created_at = now() - interval '100 days'")
        .execute(&mut owner)
        .await
        .unwrap();
    {
        let mut conn = test.db.worker.acquire().await.unwrap();
        let mut later = NewJob::new(
            org,
            JobType::DocumentProcessing,
            "scheduled analysis",
            json!({ "file_id": needed }),
        );
        later.available_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
        queue::enqueue(&mut conn, &later).await.unwrap();
    }

    let (status, result) = run(&test, org, JobType::Cleanup, json!({})).await;

    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["deleted"]["stored_files"], 1, "{result}");
    let files = stored_file_ids(&mut owner).await;
    assert_eq!(
        files,
        vec![needed],
        "{unneeded} went, the needed one stayed"
    );
}

#[tokio::test]
async fn concurrent_offers_schedule_each_active_organization_s_cleanup_once_a_day() {
    use veriphy_jobs::server::queue::retention;
    let test = fresh_database().await;
    let active = [
        organization(&test, "first").await,
        organization(&test, "second").await,
    ];
    let inactive = organization(&test, "dormant").await;
    let mut owner = test.owner_connection().await;
    sqlx::query("update organizations set is_active = false where id = $1")
        .bind(inactive)
        .execute(&mut owner)
        .await
        .unwrap();

    let offers: Vec<_> = (0..4)
        .map(|_| {
            let pool = test.db.worker.clone();
            tokio::spawn(async move {
                let mut conn = pool.acquire().await.unwrap();
                retention::schedule_today(&mut conn).await.unwrap()
            })
        })
        .collect();
    let mut scheduled = Vec::new();
    for offer in offers {
        scheduled.extend(offer.await.unwrap());
    }

    scheduled.sort();
    let mut expected = active.to_vec();
    expected.sort();
    assert_eq!(scheduled, expected);
    let jobs: Vec<(Uuid, String)> = sqlx::query_as(
        "select organization_id, job_name from jobs where job_type = 'cleanup' order by organization_id",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        jobs,
        expected
            .iter()
            .map(|org| (*org, retention::DAILY_CLEANUP_NAME.to_string()))
            .collect::<Vec<_>>()
    );
    let linked: i64 =
        sqlx::query_scalar("select count(*) from retention_runs r join jobs j on j.id = r.job_id")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert_eq!(linked, 2);
}

#[tokio::test]
async fn two_workers_with_the_daily_schedule_run_one_cleanup_per_organization() {
    let test = fresh_database().await;
    let orgs = [
        organization(&test, "one").await,
        organization(&test, "two").await,
    ];
    let config = || WorkerConfig {
        poll_interval: Duration::from_millis(100),
        retention_check_every: Some(Duration::from_millis(50)),
        ..WorkerConfig::default()
    };
    let mut workers = Vec::new();
    for _ in 0..2 {
        workers.push(
            Worker::start(
                test.db.clone(),
                Registry::standard_with(analyser()),
                config(),
            )
            .await
            .unwrap(),
        );
    }
    let mut owner = test.owner_connection().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let done: i64 = sqlx::query_scalar(
            "select count(*) from jobs where job_type = 'cleanup' and status = 'completed'",
        )
        .fetch_one(&mut owner)
        .await
        .unwrap();
        if done == orgs.len() as i64 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "cleanups did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // several more offers from both workers change nothing
    tokio::time::sleep(Duration::from_millis(300)).await;
    for worker in workers {
        worker.shutdown().await;
    }
    let per_organization: Vec<i64> = sqlx::query_scalar(
        "select count(*) from jobs where job_type = 'cleanup' group by organization_id",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(per_organization, vec![1, 1]);
}

#[tokio::test]
async fn expired_sessions_are_pruned_and_working_ones_kept() {
    use veriphy_jobs::server::queue::retention;
    let test = fresh_database().await;
    let org = organization(&test, "sessions").await;
    let mut owner = test.owner_connection().await;
    let user: Uuid = sqlx::query_scalar(
        "insert into users (organization_id, email, full_name, role, password_hash)
         values ($1, 'someone@sessions.example', 'Someone', 'org_viewer', 'x') returning id",
    )
    .bind(org)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let working: Uuid = sqlx::query_scalar(
        "insert into user_sessions (id, user_id, expires_at, idle_expires_at)
         values (gen_random_uuid(), $1, now() + interval '1 hour', now() - interval '1 minute'),
                (gen_random_uuid(), $1, now() - interval '1 minute', now() + interval '10 minutes'),
                (gen_random_uuid(), $1, now() + interval '1 hour', now() + interval '10 minutes')
         returning id",
    )
    .bind(user)
    .fetch_all(&mut owner)
    .await
    .unwrap()[2];

    let mut conn = test.db.worker.acquire().await.unwrap();
    let (sessions, _) = retention::prune_expired_sessions(&mut conn).await.unwrap();

    assert_eq!(sessions, 2);
    let left: Vec<Uuid> = sqlx::query_scalar("select id from user_sessions")
        .fetch_all(&mut owner)
        .await
        .unwrap();
    assert_eq!(left, vec![working]);
}
