//! The migrated schema holds every table and column of the original design
//! note with its type, and the triggers keep derived data consistent.

mod common;

use std::collections::HashMap;

/// (table, column) → (type spelled as information_schema, not null?)
fn seed_columns() -> Vec<(String, String, String, bool)> {
    let text = include_str!("fixtures/seed_tables.sql");
    let mut table = String::new();
    let mut columns = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            table = rest.trim_end_matches(" (").to_string();
            continue;
        }
        if line.is_empty() || line.starts_with(')') || line.starts_with("--") || table.is_empty() {
            continue;
        }
        let definition = line
            .split("--")
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(',');
        let (column, rest) = definition.split_once(' ').unwrap();
        let upper = rest.to_uppercase();
        let kind = if upper.starts_with("UUID") {
            "uuid".to_string()
        } else if let Some(len) = upper.strip_prefix("VARCHAR(") {
            format!("character varying({})", len.split(')').next().unwrap())
        } else if upper.starts_with("JSONB") {
            "jsonb".into()
        } else if upper.starts_with("INTEGER") {
            "integer".into()
        } else if upper.starts_with("TEXT") {
            "text".into()
        } else if upper.starts_with("BOOLEAN") {
            "boolean".into()
        } else if upper.starts_with("TIMESTAMP WITH TIME ZONE") {
            "timestamp with time zone".into()
        } else if upper.starts_with("DECIMAL(5,2)") {
            "numeric(5,2)".into()
        } else {
            panic!("unmapped seed type in {line:?}")
        };
        let not_null = upper.contains("NOT NULL") || upper.contains("PRIMARY KEY");
        columns.push((table.clone(), column.to_string(), kind, not_null));
    }
    columns
}

/// table, column, data type, length, precision, scale, is_nullable
type ColumnInfo = (
    String,
    String,
    String,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    String,
);

#[tokio::test]
async fn every_seed_table_and_column_exists_with_its_type() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let rows: Vec<ColumnInfo> = sqlx::query_as(
        "select table_name::text, column_name::text, data_type::text, character_maximum_length,
                numeric_precision, numeric_scale, is_nullable::text
         from information_schema.columns where table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let actual: HashMap<(String, String), (String, bool)> = rows
        .into_iter()
        .map(
            |(table, column, kind, length, precision, scale, nullable)| {
                let kind = match (kind.as_str(), length, precision, scale) {
                    ("character varying", Some(n), _, _) => format!("character varying({n})"),
                    ("numeric", _, Some(p), Some(s)) => format!("numeric({p},{s})"),
                    _ => kind,
                };
                ((table, column), (kind, nullable == "NO"))
            },
        )
        .collect();

    let expected = seed_columns();
    assert_eq!(
        expected.len(),
        89,
        "the seed note defines 89 columns in five tables"
    );
    let mut problems = Vec::new();
    for (table, column, kind, not_null) in &expected {
        match actual.get(&(table.clone(), column.clone())) {
            None => problems.push(format!("{table}.{column} is missing")),
            Some((actual_kind, _)) if actual_kind != kind => problems.push(format!(
                "{table}.{column} is {actual_kind}, the seed says {kind}"
            )),
            Some((_, actual_not_null)) if *not_null && !actual_not_null => problems.push(format!(
                "{table}.{column} allows NULL, the seed says NOT NULL"
            )),
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "schema differs from the seed note:\n{}",
        problems.join("\n")
    );

    for table in ["organizations", "users", "system_integrations", "audit_log"] {
        assert!(actual.keys().any(|(t, _)| t == table), "{table} is missing");
    }
    let sessions: bool =
        sqlx::query_scalar("select to_regclass('tower_sessions.session') is not null")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(sessions, "the session store table is missing");
}

#[tokio::test]
async fn seed_foreign_keys_exist() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let pairs: Vec<(String, String, String)> = sqlx::query_as(
        "select kcu.table_name::text, kcu.column_name::text, ccu.table_name::text
         from information_schema.table_constraints tc
         join information_schema.key_column_usage kcu on kcu.constraint_name = tc.constraint_name
         join information_schema.constraint_column_usage ccu on ccu.constraint_name = tc.constraint_name
         where tc.constraint_type = 'FOREIGN KEY' and tc.table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    // jobs → organizations, users and job_batches are checked per statement
    // by a trigger instead (see `job_references_are_enforced`).
    for (table, column, referenced) in [
        ("failed_jobs", "job_id", "jobs"),
        ("failed_jobs", "resolved_by", "users"),
        (
            "third_party_api_log",
            "integration_id",
            "system_integrations",
        ),
        ("job_batches", "organization_id", "organizations"),
        ("webhooks", "organization_id", "organizations"),
    ] {
        assert!(
            pairs
                .iter()
                .any(|(t, c, r)| t == table && c == column && r == referenced),
            "missing foreign key {table}.{column} → {referenced}"
        );
    }
}

#[tokio::test]
async fn seed_vocabularies_are_enforced() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let org: uuid::Uuid =
        sqlx::query_scalar("insert into organizations (name, slug) values ('A', 'a') returning id")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let insert_job = |status: &'static str, priority: &'static str, job_type: &'static str| {
        sqlx::query(
            "insert into jobs (organization_id, job_type, job_name, payload, status, priority)
             values ($1, $2, 'x', '{}', $3, $4)",
        )
        .bind(org)
        .bind(job_type)
        .bind(status)
        .bind(priority)
    };
    insert_job("pending", "urgent", "document_processing")
        .execute(&mut conn)
        .await
        .unwrap();
    for (status, priority, job_type) in [
        ("done", "normal", "email"),
        ("pending", "asap", "email"),
        ("pending", "normal", "fax"),
    ] {
        let err = insert_job(status, priority, job_type)
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(
            err.as_database_error().unwrap().is_check_violation(),
            "{status}/{priority}/{job_type}: {err}"
        );
    }
    let bad_method = sqlx::query(
        "insert into third_party_api_log (organization_id, api_name, endpoint, method, status)
         values ($1, 'x', '/x', 'TRACE', 'success')",
    )
    .bind(org)
    .execute(&mut conn)
    .await;
    assert!(bad_method.is_err());
    let bad_event = sqlx::query(
        "insert into webhooks (organization_id, webhook_name, webhook_url, event_type)
         values ($1, 'x', 'https://x.example', 'everything')",
    )
    .bind(org)
    .execute(&mut conn)
    .await;
    assert!(bad_event.is_err());
}

async fn counters(
    conn: &mut sqlx::PgConnection,
    batch: uuid::Uuid,
) -> (i32, i32, i32, i32, String, f64) {
    sqlx::query_as(
        "select total_jobs, pending_jobs, processed_jobs, failed_jobs, status, progress::float8
         from job_batches where id = $1",
    )
    .bind(batch)
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn batch_counters_follow_their_jobs_and_failures_get_a_record() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let org: uuid::Uuid =
        sqlx::query_scalar("insert into organizations (name, slug) values ('A', 'a') returning id")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let batch: uuid::Uuid = sqlx::query_scalar(
        "insert into job_batches (organization_id, batch_name) values ($1, 'b') returning id",
    )
    .bind(org)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into jobs (organization_id, job_type, job_name, payload, batch_id)
         select $1, 'email', 'job ' || n, '{}', $2 from generate_series(1, 4) n",
    )
    .bind(org)
    .bind(batch)
    .execute(&mut conn)
    .await
    .unwrap();

    assert_eq!(
        counters(&mut conn, batch).await,
        (4, 4, 0, 0, "pending".into(), 0.0)
    );

    sqlx::query("update jobs set status = 'running' where job_name = 'job 1'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(counters(&mut conn, batch).await.4, "running");

    sqlx::query(
        "update jobs set status = 'completed' where job_name in ('job 1', 'job 2', 'job 3')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        counters(&mut conn, batch).await,
        (4, 1, 3, 0, "running".into(), 75.0)
    );

    sqlx::query("update jobs set status = 'failed', error_message = 'boom', error_details = '{\"stack_trace\": \"at x\"}' where job_name = 'job 4'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        counters(&mut conn, batch).await,
        (4, 0, 3, 1, "failed".into(), 100.0)
    );

    let (message, stack, resolved): (String, Option<String>, bool) =
        sqlx::query_as("select error_message, stack_trace, is_resolved from failed_jobs where organization_id = $1")
            .bind(org)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        (message.as_str(), stack.as_deref(), resolved),
        ("boom", Some("at x"), false)
    );

    // counters always equal a COUNT over the batch's jobs
    let (by_count, by_counter): (i64, i32) = sqlx::query_as(
        "select (select count(*) from jobs where batch_id = $1 and status = 'completed'),
                (select processed_jobs from job_batches where id = $1)",
    )
    .bind(batch)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(by_count, by_counter as i64);

    sqlx::query("delete from jobs where batch_id = $1 and status = 'completed'")
        .bind(batch)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(counters(&mut conn, batch).await.0, 1);
}

#[tokio::test]
async fn updated_at_is_kept_by_trigger_and_audit_log_is_append_only() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let (id, before): (uuid::Uuid, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "insert into organizations (name, slug, updated_at) values ('A', 'a', now() - interval '1 day')
         returning id, updated_at",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let after: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "update organizations set name = 'B' where id = $1 returning updated_at",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(after > before);

    sqlx::query("insert into audit_log (action) values ('test')")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = sqlx::query("update audit_log set action = 'changed'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(sqlx::query("delete from audit_log")
        .execute(&mut conn)
        .await
        .is_err());
}

/// A BEFORE UPDATE row trigger makes PostgreSQL lock (and log) every row an
/// update touches before changing it, whether or not the trigger's WHEN
/// holds: the engine's claim and completion update thousands of jobs rows a
/// second, so none may exist on `jobs`.
#[tokio::test]
async fn job_updates_have_no_before_row_trigger() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    // tgtype bits: 1 row, 2 before, 16 update
    let before_update_row: Vec<String> = sqlx::query_scalar(
        "select tgname::text from pg_trigger
         where tgrelid = 'jobs'::regclass and not tgisinternal
           and tgtype & (1 | 2 | 16) = (1 | 2 | 16)
         order by tgname",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(before_update_row, Vec::<String>::new());
}

#[tokio::test]
async fn lease_job_ids_are_stored_without_a_compression_attempt() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let storage: String = sqlx::query_scalar(
        "select attstorage::text from pg_attribute
         where attrelid = 'job_leases'::regclass and attname = 'job_ids'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(storage, "e", "external: out of line, never compressed");
}

#[tokio::test]
async fn job_values_are_checked_by_domains_under_their_old_constraint_names() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let orgs = organizations_one_and_two(&mut conn).await;
    // PostgreSQL reads a table's CHECK constraints back from their text at
    // the start of every statement that writes it: only the one that spans
    // two columns and priority's (a generated column reads priority, which
    // so keeps its type) stay on jobs.
    let table_checks: Vec<String> = sqlx::query_scalar(
        "select conname::text from pg_constraint
         where conrelid = 'jobs'::regclass and contype = 'c' order by conname",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        table_checks,
        ["jobs_lease_only_while_running", "jobs_priority_check"]
    );
    for (column, bad, constraint) in [
        ("status", "'sleeping'", "jobs_status_check"),
        ("job_type", "'fax'", "jobs_job_type_check"),
        ("job_name", "'  '", "jobs_job_name_check"),
        ("max_attempts", "0", "jobs_max_attempts_check"),
        ("timeout_seconds", "86401", "jobs_timeout_seconds_check"),
        ("attempts", "-1", "jobs_attempts_check"),
    ] {
        let job: uuid::Uuid = sqlx::query_scalar(
            "insert into jobs (organization_id, job_type, job_name, payload)
             values ($1, 'other', 'x', '{}') returning id",
        )
        .bind(orgs[0])
        .fetch_one(&mut conn)
        .await
        .unwrap();
        let err = sqlx::query(&format!("update jobs set {column} = {bad} where id = $1"))
            .bind(job)
            .execute(&mut conn)
            .await
            .unwrap_err();
        let db = err.as_database_error().unwrap();
        assert_eq!(
            (db.code().as_deref(), db.constraint()),
            (Some("23514"), Some(constraint)),
            "{column} = {bad}"
        );
    }
}

#[tokio::test]
async fn claims_and_completions_stay_hot() {
    const JOBS: i64 = 5;
    use veriphy_jobs::domain::JobType;
    use veriphy_jobs::server::queue::{self, ClaimRequest, Completion, NewJob};
    let test_db = common::fresh_database().await;
    let organization = test_db.new_organization().await;
    // one connection (the only one writing this fresh database), each step
    // its own transaction as in the engine. Five jobs: their three versions
    // each fit on one page, so no update depends on pruning (which any
    // snapshot open elsewhere in the cluster can hold back).
    let mut conn = test_db.db.worker.acquire().await.unwrap();
    // A snapshot held open for the whole test, as a concurrent reader would:
    // no version can be pruned while it lives.
    let mut reader = test_db.db.worker.begin().await.unwrap();
    sqlx::query("set transaction isolation level repeatable read")
        .execute(&mut *reader)
        .await
        .unwrap();
    sqlx::query("select count(*) from jobs")
        .execute(&mut *reader)
        .await
        .unwrap();
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|i| {
            NewJob::new(
                organization,
                JobType::Other,
                "hot",
                serde_json::json!({ "i": i }),
            )
        })
        .collect();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap();
    let claimed = queue::claim(
        &mut conn,
        &ClaimRequest {
            queue: "default",
            job_types: &[JobType::Other],
            limit: JOBS,
            worker_id: "hot-test",
            lease_token: uuid::Uuid::new_v4(),
            lease: std::time::Duration::from_secs(30),
        },
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), JOBS as usize);
    let now = chrono::Utc::now();
    let completions: Vec<Completion> = claimed
        .iter()
        .map(|job| Completion::of(job, now, now, None))
        .collect();
    queue::complete_many(&mut conn, &completions).await.unwrap();
    // the backend hands its counts to the shared statistics once idle
    sqlx::query("select pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (updated, hot): (i64, i64) = sqlx::query_as(
        "select n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname = 'jobs'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    // An index on a column they change would make none of them HOT.
    assert_eq!(
        (updated, hot),
        (2 * JOBS, 2 * JOBS),
        "(updates, HOT updates) of the claims and completions"
    );
    reader.rollback().await.unwrap();
}

/// Inserts the organizations "one" and "two"; returns their ids.
async fn organizations_one_and_two(conn: &mut sqlx::PgConnection) -> Vec<uuid::Uuid> {
    let mut orgs = Vec::new();
    for slug in ["one", "two"] {
        let id: uuid::Uuid = sqlx::query_scalar(
            "insert into organizations (name, slug) values ($1, $1) returning id",
        )
        .bind(slug)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        orgs.push(id);
    }
    orgs
}

#[tokio::test]
async fn queue_names_are_checked_and_failure_records_follow_their_jobs_organization() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let orgs = organizations_one_and_two(&mut conn).await;
    let insert = |queue: &'static str| {
        sqlx::query_scalar::<_, uuid::Uuid>(
            "insert into jobs (organization_id, job_type, job_name, payload, queue)
             values ($1, 'other', 'x', '{}', $2) returning id",
        )
        .bind(orgs[0])
        .bind(queue)
    };
    let job = insert("reports_eu-1").fetch_one(&mut conn).await.unwrap();
    for bad in ["Reports", "a b", "", "ümlaut", "semi;colon"] {
        let err = insert(bad).fetch_one(&mut conn).await.unwrap_err();
        let db = err.as_database_error().unwrap();
        assert_eq!(db.constraint(), Some("queues_name_check"), "{bad:?}");
    }
    // A job's queue is always a registered queue, also when the job moves.
    let registered = |name: &'static str| {
        sqlx::query_scalar::<_, bool>("select exists (select 1 from queues where name = $1)")
            .bind(name)
    };
    assert!(registered("reports_eu-1")
        .fetch_one(&mut conn)
        .await
        .unwrap());
    sqlx::query("update jobs set queue = 'moved' where id = $1")
        .bind(job)
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(registered("moved").fetch_one(&mut conn).await.unwrap());
    let err = sqlx::query("update jobs set queue = 'Moved Again' where id = $1")
        .bind(job)
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("queues_name_check")
    );
    let record = |org: uuid::Uuid| {
        sqlx::query(
            "insert into failed_jobs (job_id, organization_id, job_type, job_name, payload, error_message)
             values ($1, $2, 'other', 'x', '{}', 'boom')",
        )
        .bind(job)
        .bind(org)
    };
    let err = record(orgs[1]).execute(&mut conn).await.unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("failed_jobs_same_organization")
    );
    record(orgs[0]).execute(&mut conn).await.unwrap();
    let moved = sqlx::query("update failed_jobs set organization_id = $1")
        .bind(orgs[1])
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(
        moved.as_database_error().unwrap().constraint(),
        Some("failed_jobs_same_organization")
    );
    // deleting the job takes its (resolved) failure record along
    sqlx::query(
        "update failed_jobs set is_resolved = true, resolved_at = now(), resolution = 'done'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("delete from jobs where id = $1")
        .bind(job)
        .execute(&mut conn)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("select count(*) from failed_jobs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Inserts one job for `organization` on `conn` (inside whatever
/// transaction it has open).
async fn insert_job_for(
    conn: &mut sqlx::PgConnection,
    organization: uuid::Uuid,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    sqlx::query(
        "insert into jobs (organization_id, job_type, job_name, payload) values ($1, 'other', 'x', '{}')",
    )
    .bind(organization)
    .execute(conn)
    .await
}

/// The constraint a refused statement names.
fn refused_by(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> Option<String> {
    let error = result.expect_err("refused");
    let database = error.as_database_error().expect("a database error");
    assert_eq!(database.code().as_deref(), Some("23503"), "{database}");
    database.constraint().map(str::to_string)
}

#[tokio::test]
async fn deleting_an_organization_waits_for_an_enqueue_in_flight_and_sees_its_job() {
    let test_db = common::fresh_database().await;
    let organization = test_db.new_organization().await;
    let mut enqueuer = test_db.owner_connection().await;
    sqlx::query("begin").execute(&mut enqueuer).await.unwrap();
    insert_job_for(&mut enqueuer, organization).await.unwrap();
    let mut deleter = test_db.owner_connection().await;
    let deletion = tokio::spawn(async move {
        sqlx::query("delete from organizations where id = $1")
            .bind(organization)
            .execute(&mut deleter)
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !deletion.is_finished(),
        "the deletion waits for the enqueue"
    );
    sqlx::query("commit").execute(&mut enqueuer).await.unwrap();
    assert_eq!(
        refused_by(deletion.await.unwrap()).as_deref(),
        Some("organizations_referenced_by_jobs")
    );
}

#[tokio::test]
async fn an_enqueue_waits_for_a_deletion_in_flight_and_then_finds_the_organization_gone() {
    let test_db = common::fresh_database().await;
    let organization = test_db.new_organization().await;
    let mut deleter = test_db.owner_connection().await;
    sqlx::query("begin").execute(&mut deleter).await.unwrap();
    sqlx::query("delete from organizations where id = $1")
        .bind(organization)
        .execute(&mut deleter)
        .await
        .unwrap();
    let mut enqueuer = test_db.owner_connection().await;
    let enqueue = tokio::spawn(async move { insert_job_for(&mut enqueuer, organization).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!enqueue.is_finished(), "the enqueue waits for the deletion");
    sqlx::query("commit").execute(&mut deleter).await.unwrap();
    assert_eq!(
        refused_by(enqueue.await.unwrap()).as_deref(),
        Some("jobs_organization_id_fkey")
    );
}

#[tokio::test]
async fn an_enqueue_leaves_its_organization_row_unlocked() {
    let test_db = common::fresh_database().await;
    let organization = test_db.new_organization().await;
    let mut enqueuer = test_db.owner_connection().await;
    sqlx::query("begin").execute(&mut enqueuer).await.unwrap();
    insert_job_for(&mut enqueuer, organization).await.unwrap();
    // A row lock would be written into the row (its xmax) and, with a
    // second enqueue overlapping, turn into a MultiXact.
    let mut other = test_db.owner_connection().await;
    let locked: bool = sqlx::query_scalar(
        "select exists (select 1 from organizations where id = $1 for update nowait)",
    )
    .bind(organization)
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert!(locked, "the organization's row is free to lock");
    sqlx::query("rollback")
        .execute(&mut enqueuer)
        .await
        .unwrap();
}

/// Runs `insert` (an insert without an id, `$1` the organization,
/// returning the id) twice, a few milliseconds apart, and checks that the
/// database made UUIDv7 ids carrying the time they were made, in order.
async fn assert_ids_made_by_the_database_are_time_ordered(insert: &str) {
    let test_db = common::fresh_database().await;
    let organization = test_db.new_organization().await;
    let mut conn = test_db.owner_connection().await;
    let before = chrono::Utc::now().timestamp_millis() as u64;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id: uuid::Uuid = sqlx::query_scalar(insert)
            .bind(organization)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        ids.push(id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let after = chrono::Utc::now().timestamp_millis() as u64;
    for id in &ids {
        assert_eq!(id.get_version_num(), 7, "{id}");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        let (seconds, nanos) = id.get_timestamp().expect("a v7 carries its time").to_unix();
        let millis = seconds * 1000 + u64::from(nanos) / 1_000_000;
        assert!(
            (before..=after).contains(&millis),
            "{id} made at {millis}, between {before} and {after}"
        );
    }
    assert!(ids[0] < ids[1], "{} sorts before {}", ids[0], ids[1]);
}

#[tokio::test]
async fn job_ids_made_by_the_database_are_uuid_v7_in_time_order() {
    assert_ids_made_by_the_database_are_time_ordered(
        "insert into jobs (organization_id, job_type, job_name, payload)
         values ($1, 'other', 'x', '{}') returning id",
    )
    .await;
}

#[tokio::test]
async fn webhook_event_ids_made_by_the_database_are_uuid_v7_in_time_order() {
    assert_ids_made_by_the_database_are_time_ordered(
        "insert into webhook_events (organization_id, event_type, payload, source)
         values ($1, 'webhook.test', '{}', 'console') returning id",
    )
    .await;
}

#[tokio::test]
async fn job_references_are_enforced() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let orgs = organizations_one_and_two(&mut conn).await;
    let batch: uuid::Uuid = sqlx::query_scalar(
        "insert into job_batches (organization_id, batch_name) values ($1, 'b') returning id",
    )
    .bind(orgs[0])
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // many rows in one statement, one of them wrong, fail as a whole
    let insert = |org: uuid::Uuid, batch: Option<uuid::Uuid>, creator: Option<uuid::Uuid>| {
        sqlx::query(
            "insert into jobs (organization_id, job_type, job_name, payload, batch_id, created_by)
             select o, 'other', 'x', '{}',
                    case when n = 1 then $2::uuid end, case when n = 1 then $3::uuid end
             from unnest(array[$1::uuid, $4::uuid]) with ordinality as t (o, n)",
        )
        .bind(org)
        .bind(batch)
        .bind(creator)
        .bind(orgs[0])
    };
    let refused = |result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>| {
        result
            .unwrap_err()
            .as_database_error()
            .and_then(|e| e.constraint().map(str::to_string))
    };
    let nowhere = uuid::Uuid::new_v4();
    assert_eq!(
        refused(insert(nowhere, None, None).execute(&mut conn).await).as_deref(),
        Some("jobs_organization_id_fkey")
    );
    assert_eq!(
        refused(
            insert(orgs[0], Some(nowhere), None)
                .execute(&mut conn)
                .await
        )
        .as_deref(),
        Some("jobs_batch_id_organization_id_fkey")
    );
    assert_eq!(
        refused(insert(orgs[1], Some(batch), None).execute(&mut conn).await).as_deref(),
        Some("jobs_batch_id_organization_id_fkey"),
        "a batch of another organization"
    );
    assert_eq!(
        refused(
            insert(orgs[0], None, Some(nowhere))
                .execute(&mut conn)
                .await
        )
        .as_deref(),
        Some("jobs_created_by_fkey")
    );
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "refused statements leave nothing behind");

    insert(orgs[0], Some(batch), None)
        .execute(&mut conn)
        .await
        .unwrap();
    let moved = sqlx::query("update jobs set organization_id = $1")
        .bind(orgs[1])
        .execute(&mut conn)
        .await;
    assert_eq!(refused(moved).as_deref(), Some("jobs_owners_fixed"));
    for (sql, constraint) in [
        (
            "delete from organizations where slug = 'one'",
            "organizations_referenced_by_jobs",
        ),
        ("delete from job_batches", "job_batches_referenced_by_jobs"),
        (
            "update organizations set id = gen_random_uuid() where slug = 'one'",
            "organizations_referenced_by_jobs",
        ),
    ] {
        let result = sqlx::query(sql).execute(&mut conn).await;
        assert_eq!(refused(result).as_deref(), Some(constraint), "{sql}");
    }
    // an organization without jobs can still go
    sqlx::query("delete from organizations where slug = 'two'")
        .execute(&mut conn)
        .await
        .unwrap();
}

/// What a migrated database consists of, as text: every column, constraint,
/// index, trigger, policy, function body and grant of the application's
/// schemas, in a fixed order.
async fn schema_snapshot(conn: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "select kind || ' ' || item from (
           select 'column' as kind, table_schema || '.' || table_name || '.' || column_name
                  || ' ' || data_type || ' ' || coalesce(column_default, '') || ' ' || is_nullable as item
           from information_schema.columns
           where table_schema in ('public', 'tower_sessions')
           union all
           select 'constraint', conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
           from pg_constraint where connamespace = 'public'::regnamespace
           union all
           select 'index', indexdef from pg_indexes where schemaname in ('public', 'tower_sessions')
           union all
           select 'trigger', pg_get_triggerdef(oid) from pg_trigger where not tgisinternal
           union all
           select 'policy', tablename || ' ' || policyname || ' ' || coalesce(qual, '') || ' '
                  || coalesce(with_check, '')
           from pg_policies
           union all
           select 'function', p.oid::regprocedure::text || ' ' || md5(prosrc)
           from pg_proc p where pronamespace = 'public'::regnamespace
           union all
           select 'grant', grantee || ' ' || privilege_type || ' ' || table_schema || '.' || table_name
           from information_schema.role_table_grants
           where grantee in ('veriphy_app', 'veriphy_worker')
           union all
           select 'reloption', c.relname || ' ' || array_to_string(c.reloptions, ',')
           from pg_class c where c.relnamespace = 'public'::regnamespace and c.reloptions is not null
         ) s
         order by 1",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrating_an_up_to_date_database_again_changes_nothing() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let before = schema_snapshot(&mut conn).await;
    assert!(before.len() > 300, "the snapshot sees the schema");

    veriphy_jobs::server::db::migrate(&test_db.owner)
        .await
        .expect("a second run succeeds");

    assert_eq!(schema_snapshot(&mut conn).await, before);
}

/// Migrates a database whose schema history this build does not have;
/// asserts the refusal names `version` as the first unknown migration.
async fn refused_history(
    test_db: &common::TestDb,
    version: i64,
) -> veriphy_jobs::server::db::MigrationError {
    let error = veriphy_jobs::server::db::migrate(&test_db.owner)
        .await
        .expect_err("an unknown history is refused");
    match &error {
        veriphy_jobs::server::db::MigrationError::OlderBuild { version: found } => {
            assert_eq!(*found, version)
        }
        other => panic!("expected an older build, got {other:?}"),
    }
    error
}

#[tokio::test]
async fn a_database_made_by_an_older_build_gets_one_line_saying_what_to_do() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    // an older build recorded other files under the same versions
    sqlx::query("update _sqlx_migrations set checksum = '\\x00'::bytea where version = 3")
        .execute(&mut conn)
        .await
        .unwrap();

    let error = refused_history(&test_db, 3).await;
    assert_eq!(
        error.to_string(),
        "the database was made by an older build of Veriphy Jobs (its migration 3 is not \
         this build's) and cannot be upgraded; for the embedded default remove the data \
         with `make clean-data`, otherwise point DATABASE_URL at a new database"
    );
}

#[tokio::test]
async fn a_database_with_migrations_this_build_lacks_is_an_older_build() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (9999, 'from another branch', true, '\\x00'::bytea, 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    refused_history(&test_db, 9999).await;
}

#[test]
fn released_migrations_are_never_edited() {
    let recorded: Vec<(i64, String, String)> = include_str!("fixtures/released_migrations.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let version = fields.next().unwrap().parse().unwrap();
            let checksum = fields.next().unwrap().to_string();
            let file = fields.next().unwrap().to_string();
            (version, checksum, file)
        })
        .collect();
    let built: Vec<(i64, String)> = veriphy_jobs::server::db::MIGRATOR
        .iter()
        .map(|m| {
            let hex = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            (m.version, hex)
        })
        .collect();
    for (version, checksum, file) in &recorded {
        let now = built.iter().find(|(v, _)| v == version);
        assert_eq!(
            now.map(|(_, c)| c),
            Some(checksum),
            "released migration {file} was changed or removed: write a new migration instead"
        );
    }
    for (version, _) in &built {
        assert!(
            recorded.iter().any(|(v, _, _)| v == version),
            "migration {version} is not recorded in tests/fixtures/released_migrations.txt"
        );
    }
}

#[tokio::test]
async fn each_failure_episode_keeps_its_own_record_and_open_failures_block_deletion() {
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let orgs = organizations_one_and_two(&mut conn).await;
    let job: uuid::Uuid = sqlx::query_scalar(
        "insert into jobs (organization_id, job_type, job_name, payload, status, error_message)
         values ($1, 'other', 'flaky', '{}', 'failed', 'first failure') returning id",
    )
    .bind(orgs[0])
    .fetch_one(&mut conn)
    .await
    .unwrap();

    let refused = sqlx::query("delete from jobs where id = $1")
        .bind(job)
        .execute(&mut conn)
        .await
        .expect_err("an open failure blocks deletion");
    let db_error = refused.as_database_error().unwrap();
    assert_eq!(
        (db_error.code().as_deref(), db_error.constraint()),
        (Some("23503"), Some("jobs_unresolved_failure"))
    );

    // failing again while open: the same record
    for status in ["pending", "failed"] {
        sqlx::query("update jobs set status = $2, error_message = 'second failure' where id = $1")
            .bind(job)
            .bind(status)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // resolved, then failing again: a new record; the resolution stays
    sqlx::query(
        "update failed_jobs set is_resolved = true, resolved_at = now(), resolution = 'fixed the template'
         where job_id = $1",
    )
    .bind(job)
    .execute(&mut conn)
    .await
    .unwrap();
    for status in ["pending", "failed"] {
        sqlx::query("update jobs set status = $2, error_message = 'third failure' where id = $1")
            .bind(job)
            .bind(status)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let records: Vec<(String, bool, Option<String>)> = sqlx::query_as(
        "select error_message, is_resolved, resolution from failed_jobs
         where job_id = $1 order by created_at, is_resolved desc",
    )
    .bind(job)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        records,
        [
            (
                "second failure".to_string(),
                true,
                Some("fixed the template".to_string())
            ),
            ("third failure".to_string(), false, None),
        ]
    );
}

#[tokio::test]
async fn policies_read_the_callers_scope_once_per_statement() {
    // migrations/0020: app_can_access(organization_id) in a policy is
    // evaluated for every row; the scope belongs in scalar subqueries
    let test_db = common::fresh_database().await;
    let mut conn = test_db.owner_connection().await;
    let per_row: Vec<String> = sqlx::query_scalar(
        "select polrelid::regclass::text || '.' || polname
         from pg_policy
         where coalesce(pg_get_expr(polqual, polrelid), '') like '%app_can_access(%'
            or coalesce(pg_get_expr(polwithcheck, polrelid), '') like '%app_can_access(%'
         order by 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(per_row, Vec::<String>::new());
}
