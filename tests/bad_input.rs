//! Every server function and endpoint, sent bad input: empty, huge, NUL,
//! wrong type, out of range, malformed ids, foreign ids, forged cursors,
//! malformed UTF-8. Each answer is a 4xx with a message a person can read —
//! never a 500 — and nothing in the database changes.

mod common;

use common::{call, signed_in, spawn_app, TestApp};

const BANK_ADMIN: &str = "bank.admin@veriphy.example";
const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

/// Every table a console action writes, as one digest per table.
async fn snapshot(app: &TestApp) -> Vec<(String, String)> {
    let mut owner = app.test_db.owner_connection().await;
    let mut digests = Vec::new();
    for table in [
        "organizations",
        "users",
        "jobs",
        "job_batches",
        "failed_jobs",
        "queues",
        "queue_organization_limits",
        "stored_files",
        "audit_log",
        "retention_runs",
    ] {
        // a refused password change is audited on purpose (it counts
        // towards the lockout); nothing else may leave a row
        let except = if table == "audit_log" {
            "where t.action <> 'user.password_change_refused'"
        } else {
            ""
        };
        let digest: Option<String> = sqlx::query_scalar(&format!(
            "select md5(string_agg(t::text, ',' order by t::text)) from {table} t {except}"
        ))
        .fetch_one(&mut owner)
        .await
        .unwrap();
        digests.push((table.to_string(), digest.unwrap_or_default()));
    }
    digests
}

/// Ids of a Harbor job, failed-job record and batch (foreign to Northwind;
/// an id nobody has where the demo data holds none).
async fn harbor_ids(app: &TestApp) -> (String, String, String) {
    let mut owner = app.test_db.owner_connection().await;
    let ids: (Option<uuid::Uuid>, Option<uuid::Uuid>, Option<uuid::Uuid>) = sqlx::query_as(
        "select (select j.id from jobs j join organizations o on o.id = j.organization_id
                 where o.slug = 'harbor-credit' limit 1),
                (select f.id from failed_jobs f join organizations o on o.id = f.organization_id
                 where o.slug = 'harbor-credit' limit 1),
                (select b.id from job_batches b join organizations o on o.id = b.organization_id
                 where o.slug = 'harbor-credit' limit 1)",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let id = |found: Option<uuid::Uuid>| found.unwrap_or_else(uuid::Uuid::new_v4).to_string();
    (id(ids.0), id(ids.1), id(ids.2))
}

/// A server function's form fields.
type Form = Vec<(String, String)>;

/// (whose session, function, form, what the case is).
type Case<'a> = (&'a str, &'a str, Form, &'a str);

/// A valid new-job form.
const JOB_FORM: &[(&str, &str)] = &[
    ("form[job_type]", "other"),
    ("form[job_name]", "A job"),
    ("form[payload]", "{}"),
    ("form[priority]", "normal"),
    ("form[queue]", "default"),
    ("form[max_attempts]", "3"),
    ("form[run_at]", ""),
];

/// A valid new-batch form.
const BATCH_FORM: &[(&str, &str)] = &[
    ("form[batch_name]", "Letters"),
    ("form[subject]", "Hello"),
    ("form[template]", "Dear {{name}}"),
    ("form[recipients]", "email,name\na@example.com,A\n"),
    ("form[priority]", "normal"),
];

/// Owned form fields.
fn pairs(list: &[(&str, &str)]) -> Form {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `valid` with `form[field]` set to `value`.
fn form_with(valid: &[(&str, &str)], field: &str, value: &str) -> Form {
    let key = format!("form[{field}]");
    let mut form: Form = pairs(valid)
        .into_iter()
        .filter(|(k, _)| *k != key)
        .collect();
    form.push((key, value.to_string()));
    form
}

/// Asserts a 4xx answer that carries a message.
fn assert_refused(case: &str, status: u16, body: &serde_json::Value) {
    assert!(
        (400..500).contains(&status),
        "{case}: answered {status} {body}"
    );
    let message = body["message"]
        .as_str()
        .or_else(|| body.as_str())
        .unwrap_or_default();
    assert!(!message.trim().is_empty(), "{case}: no message in {body}");
    assert!(
        !message.contains("sqlx") && !message.contains("SQLSTATE") && !message.contains("panicked"),
        "{case}: internal text in {message:?}"
    );
}

#[tokio::test]
async fn every_server_function_refuses_bad_input_with_a_message_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let bank = signed_in(&app, BANK_ADMIN).await;
    let _harbor = signed_in(&app, HARBOR_ADMIN).await;
    let (harbor_job, harbor_failure, harbor_batch) = harbor_ids(&app).await;
    let huge = "x".repeat(300_000);
    let long_name = "n".repeat(256);
    let nul = "bad\u{0}value";
    let not_an_id = "not-a-uuid";

    let job_form = |field: &str, value: &str| form_with(JOB_FORM, field, value);
    let batch_form = |field: &str, value: &str| form_with(BATCH_FORM, field, value);
    let many_columns = format!("email,{}\na@example.com\n", vec!["c"; 300].join(","));
    let long_header = format!("email,{}\na@example.com,x\n", "h".repeat(20_000));

    let cases: Vec<Case> = vec![
        // create_job
        (
            &admin,
            "create_job",
            job_form("job_type", ""),
            "empty job type",
        ),
        (
            &admin,
            "create_job",
            job_form("job_type", "teleport"),
            "unknown job type",
        ),
        (&admin, "create_job", job_form("job_name", ""), "empty name"),
        (
            &admin,
            "create_job",
            job_form("job_name", &long_name),
            "name over 255",
        ),
        (
            &admin,
            "create_job",
            job_form("job_name", nul),
            "NUL in name",
        ),
        (
            &admin,
            "create_job",
            job_form("payload", "{"),
            "payload not JSON",
        ),
        (
            &admin,
            "create_job",
            job_form("payload", "[1,2]"),
            "payload not an object",
        ),
        (
            &admin,
            "create_job",
            job_form("payload", r#"{"a":"\u0000"}"#),
            "NUL in payload",
        ),
        (
            &admin,
            "create_job",
            job_form("payload", &format!("{{\"a\":\"{huge}\"}}")),
            "payload over 256 KiB",
        ),
        (
            &admin,
            "create_job",
            job_form("priority", "asap"),
            "unknown priority",
        ),
        (
            &admin,
            "create_job",
            job_form("queue", "no-such-queue"),
            "unknown queue",
        ),
        (
            &admin,
            "create_job",
            job_form("queue", "Bad Name!"),
            "malformed queue",
        ),
        (
            &admin,
            "create_job",
            job_form("max_attempts", "0"),
            "zero attempts",
        ),
        (
            &admin,
            "create_job",
            job_form("max_attempts", "many"),
            "attempts not a number",
        ),
        (
            &admin,
            "create_job",
            job_form("max_attempts", "99999999999"),
            "attempts out of range",
        ),
        (
            &admin,
            "create_job",
            job_form("run_at", "-30000-01-01T00:00"),
            "run-at before year 1",
        ),
        (
            &admin,
            "create_job",
            job_form("run_at", "yesterday"),
            "run-at not a date",
        ),
        (
            &admin,
            "create_job",
            job_form("organization_id", &harbor_job),
            "another organization",
        ),
        (
            &bank,
            "create_job",
            job_form("organization_id", not_an_id),
            "organization not an id",
        ),
        // create_batch
        (
            &admin,
            "create_batch",
            batch_form("batch_name", ""),
            "empty batch name",
        ),
        (
            &admin,
            "create_batch",
            batch_form("batch_name", nul),
            "NUL in batch name",
        ),
        (
            &admin,
            "create_batch",
            batch_form("recipients", ""),
            "no recipients",
        ),
        (
            &admin,
            "create_batch",
            batch_form("recipients", "name\nA\n"),
            "no email column",
        ),
        (
            &admin,
            "create_batch",
            batch_form("recipients", "email\nnot-an-address\n"),
            "bad address",
        ),
        (
            &admin,
            "create_batch",
            batch_form("recipients", &many_columns),
            "too many columns",
        ),
        (
            &admin,
            "create_batch",
            batch_form("recipients", &long_header),
            "huge column name",
        ),
        (
            &admin,
            "create_batch",
            batch_form("priority", "asap"),
            "unknown batch priority",
        ),
        // job actions and detail
        (
            &admin,
            "job_detail",
            pairs(&[("id", not_an_id)]),
            "detail of a malformed id",
        ),
        (
            &admin,
            "job_detail",
            pairs(&[("id", &harbor_job)]),
            "detail of a foreign job",
        ),
        (
            &admin,
            "job_action",
            pairs(&[("id", &harbor_job), ("action", "cancel")]),
            "cancel a foreign job",
        ),
        (
            &admin,
            "job_action",
            pairs(&[("id", &harbor_job), ("action", "explode")]),
            "unknown action",
        ),
        (
            &admin,
            "job_action",
            pairs(&[("id", not_an_id), ("action", "retry")]),
            "action on a malformed id",
        ),
        (
            &admin,
            "bulk_jobs",
            pairs(&[("action", "delete"), ("expected", "many")]),
            "bulk expected not a number",
        ),
        (
            &admin,
            "bulk_jobs",
            pairs(&[
                ("action", "delete"),
                ("ids[0]", &harbor_job),
                ("expected", "1"),
            ]),
            "bulk on a foreign id",
        ),
        (
            &admin,
            "preview_bulk_jobs",
            pairs(&[("action", "nuke")]),
            "preview unknown action",
        ),
        // lists: filters, cursors, dates
        (
            &admin,
            "list_jobs",
            pairs(&[("query[status]", "exploded")]),
            "unknown status filter",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[("query[cursor]", "forged-cursor")]),
            "forged cursor",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[(
                "query[cursor]",
                "MjAyNi0wMS0wMVQwMDowMDowMFp8bm90LWEtdXVpZA",
            )]),
            "cursor with a bad id",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[("query[filters][from]", "-30000-01-01T00:00")]),
            "date before year 1",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[("query[filters][from]", "99999-01-01T00:00")]),
            "date after 9999",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[("query[filters][nonsense]", "1")]),
            "unknown filter",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[("query[filters][q]", nul)]),
            "NUL in the search",
        ),
        (
            &admin,
            "list_jobs",
            pairs(&[("query[filters][batch]", not_an_id)]),
            "batch filter not an id",
        ),
        (
            &admin,
            "list_batches",
            pairs(&[("query[cursor]", "%%%")]),
            "batch list forged cursor",
        ),
        (
            &admin,
            "list_failed_jobs",
            pairs(&[("query[status]", "maybe")]),
            "failed-jobs unknown status",
        ),
        (
            &admin,
            "list_api_logs",
            pairs(&[("query[filters][nonsense]", "1")]),
            "api-log unknown filter",
        ),
        (
            &admin,
            "list_webhooks",
            pairs(&[("query[cursor]", "!!")]),
            "webhook list forged cursor",
        ),
        // batches and failures of another organization
        (
            &admin,
            "cancel_batch",
            pairs(&[("id", &harbor_batch)]),
            "cancel a foreign batch",
        ),
        (
            &admin,
            "retry_batch_failures",
            pairs(&[("id", not_an_id)]),
            "retry a malformed batch id",
        ),
        (
            &admin,
            "retry_failed_job",
            pairs(&[("id", &harbor_failure)]),
            "retry a foreign failure",
        ),
        (
            &admin,
            "resolve_failed_jobs",
            pairs(&[("ids[0]", &harbor_failure), ("resolution", "done")]),
            "resolve a foreign failure",
        ),
        (
            &admin,
            "resolve_failed_jobs",
            pairs(&[("ids[0]", &harbor_failure), ("resolution", "")]),
            "resolve without a note",
        ),
        // queues (bank admins only; bad names and numbers)
        (
            &admin,
            "create_queue",
            pairs(&[("name", "statements"), ("concurrency", "5")]),
            "org admin creates a queue",
        ),
        (
            &bank,
            "create_queue",
            pairs(&[("name", "Bad Name"), ("concurrency", "5")]),
            "malformed queue name",
        ),
        (
            &bank,
            "create_queue",
            pairs(&[("name", "default"), ("concurrency", "5")]),
            "queue that exists",
        ),
        (
            &bank,
            "create_queue",
            pairs(&[("name", "fresh"), ("concurrency", "0")]),
            "zero concurrency",
        ),
        (
            &bank,
            "create_queue",
            pairs(&[("name", "fresh"), ("concurrency", "ten")]),
            "concurrency not a number",
        ),
        (
            &bank,
            "set_queue_paused",
            pairs(&[("name", "no-such-queue"), ("paused", "true")]),
            "pause an unknown queue",
        ),
        (
            &bank,
            "set_queue_paused",
            pairs(&[("name", "default"), ("paused", "perhaps")]),
            "paused not a bool",
        ),
        (
            &bank,
            "set_queue_concurrency",
            pairs(&[("name", "default"), ("concurrency", "1001")]),
            "concurrency over 1000",
        ),
        (
            &bank,
            "set_queue_cap",
            pairs(&[
                ("name", "default"),
                ("organization_id", not_an_id),
                ("max_running", "3"),
            ]),
            "cap without an organization",
        ),
        (
            &bank,
            "set_queue_cap",
            pairs(&[
                ("name", "default"),
                ("organization_id", &harbor_job),
                ("max_running", "3"),
            ]),
            "cap of an unknown organization",
        ),
        (
            &bank,
            "set_queue_cap",
            pairs(&[
                ("name", "default"),
                ("organization_id", &harbor_job),
                ("max_running", "-1"),
            ]),
            "negative cap",
        ),
        (
            &bank,
            "clear_queue_cap",
            pairs(&[("name", "default"), ("organization_id", &harbor_job)]),
            "lift a cap that does not exist",
        ),
        // accounts and access
        (
            &admin,
            "change_password",
            pairs(&[("current_password", "wrong"), ("new_password", "short")]),
            "short new password",
        ),
        (
            &admin,
            "change_password",
            pairs(&[
                ("current_password", "wrong"),
                ("new_password", "a long enough passphrase"),
            ]),
            "wrong current password",
        ),
        (
            &admin,
            "change_password",
            pairs(&[
                ("current_password", "x"),
                ("new_password", &format!("{nul} long enough")),
            ]),
            "NUL in new password",
        ),
        (
            &admin,
            "sign_out_session",
            pairs(&[("id", not_an_id)]),
            "sign out a malformed session",
        ),
        (
            &admin,
            "sign_out_session",
            pairs(&[("id", &harbor_job)]),
            "sign out an unknown session",
        ),
        (
            &admin,
            "set_user_active",
            pairs(&[("id", &harbor_job), ("active", "false")]),
            "org admin deactivates",
        ),
        (
            &bank,
            "set_user_active",
            pairs(&[("id", &harbor_job), ("active", "false")]),
            "deactivate an unknown user",
        ),
        (
            &bank,
            "set_organization_active",
            pairs(&[("id", not_an_id), ("active", "false")]),
            "deactivate a malformed organization",
        ),
        (
            &bank,
            "set_organization_storage",
            pairs(&[
                ("id", &harbor_job),
                ("quota_mib", "0"),
                ("file_retention_days", "30"),
            ]),
            "zero quota",
        ),
        (
            &bank,
            "set_organization_storage",
            pairs(&[
                ("id", &harbor_job),
                ("quota_mib", "lots"),
                ("file_retention_days", "30"),
            ]),
            "quota not a number",
        ),
        (
            &bank,
            "set_organization_storage",
            pairs(&[
                ("id", &harbor_job),
                ("quota_mib", "10"),
                ("file_retention_days", "99999"),
            ]),
            "retention out of range",
        ),
        (
            &bank,
            "set_organization_storage",
            pairs(&[
                ("id", &harbor_job),
                ("quota_mib", "10"),
                ("file_retention_days", "30"),
            ]),
            "storage of an unknown organization",
        ),
        (
            &admin,
            "set_organization_storage",
            pairs(&[
                ("id", &harbor_job),
                ("quota_mib", "10"),
                ("file_retention_days", "30"),
            ]),
            "org admin sets storage",
        ),
        (
            &admin,
            "overview",
            pairs(&[("organization_id", not_an_id)]),
            "overview of a malformed organization",
        ),
        (
            &admin,
            "no_such_function",
            pairs(&[]),
            "unknown server function",
        ),
    ];

    let before = snapshot(&app).await;
    for (cookie, function, form, case) in &cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, body) = call(&app, cookie, function, &form).await;
        assert_refused(&format!("{function}: {case}"), status, &body);
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused call changed something"
    );
}

#[tokio::test]
async fn sign_in_refuses_bad_input_with_a_message() {
    let app = spawn_app().await;
    let nul = "viewer\u{0}@northwind.example";
    let long = format!("{}@example.com", "a".repeat(400));
    for (email, password, case) in [
        ("", "", "empty"),
        (nul, "x", "NUL in the email"),
        (long.as_str(), "x", "email over 320 characters"),
        (
            "viewer@northwind.example",
            &*"p".repeat(2000),
            "password over 1 KiB",
        ),
    ] {
        let response = app.login(email, password, None).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_refused(case, status, &body);
    }
}

#[tokio::test]
async fn uploads_and_downloads_refuse_bad_input_with_a_message() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let before = snapshot(&app).await;
    let upload = |form: reqwest::multipart::Form| {
        app.client()
            .post(format!("{}/documents", app.base))
            .header("cookie", admin.clone())
            .multipart(form)
            .send()
    };
    let file = |bytes: Vec<u8>, name: &str| {
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string())
    };
    let cases = [
        (reqwest::multipart::Form::new(), "no file"),
        (
            reqwest::multipart::Form::new().part("file", file(Vec::new(), "empty.pdf")),
            "empty file",
        ),
        (
            reqwest::multipart::Form::new()
                .text("organization_id", "not-a-uuid")
                .part("file", file(b"%PDF-1.5".to_vec(), "x.pdf")),
            "organization not an id",
        ),
        (
            reqwest::multipart::Form::new()
                .part("file", file(vec![0u8; 11 * 1024 * 1024], "big.bin")),
            "over 10 MiB",
        ),
    ];
    for (form, case) in cases {
        let response = upload(form).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_refused(case, status, &serde_json::Value::String(text));
    }
    // a file name that is not UTF-8, sent by hand
    let body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\xff\xfe.pdf\"\r\n\r\n%PDF-1.5\r\n--b--\r\n".to_vec();
    let response = app
        .client()
        .post(format!("{}/documents", app.base))
        .header("cookie", admin.clone())
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().as_u16() < 500,
        "malformed UTF-8 in a file name answered {}",
        response.status()
    );
    for path in [
        "/files/not-a-uuid",
        "/files/00000000-0000-0000-0000-000000000000",
    ] {
        let status = app.get(path, &admin).await.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
    }
    let status = app
        .get("/jobs?from=-30000-01-01T00:00", &admin)
        .await
        .status()
        .as_u16();
    assert!(
        status < 500,
        "a page with an out-of-range date answered {status}"
    );
    // the non-UTF-8 upload may have been stored under a cleaned name; nothing else
    let after = snapshot(&app).await;
    for ((table, digest), (_, earlier)) in after.iter().zip(&before) {
        if !matches!(table.as_str(), "stored_files" | "jobs" | "audit_log") {
            assert_eq!(digest, earlier, "{table} changed");
        }
    }
}
