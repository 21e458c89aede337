//! The API logs tab over HTTP: each filter lists exactly its calls, a
//! call's detail shows what was stored of it, and neither reaches another
//! organization's calls.

mod common;

use common::{call, signed_in, spawn_app, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

/// Writes a call of `organization`; its id.
async fn logged_call(
    app: &TestApp,
    organization: Uuid,
    api_name: &str,
    method: &str,
    status_code: Option<i32>,
    job: Option<Uuid>,
) -> Uuid {
    let mut owner = app.test_db.owner_connection().await;
    let metadata = match job {
        Some(job) => json!({ "job_id": job, "attempt": 2 }),
        None => json!({}),
    };
    sqlx::query_scalar(
        "insert into third_party_api_log
           (organization_id, api_name, endpoint, method, status_code, status, is_success,
            response_time, request_payload, metadata)
         values ($1, $2, 'https://api.example/x', $3, $4,
                 case when $4 between 200 and 299 then 'success' else 'failed' end,
                 coalesce($4 between 200 and 299, false), 12, '{\"body\": {\"password\": \"[redacted]\"}}', $5)
         returning id",
    )
    .bind(organization)
    .bind(api_name)
    .bind(method)
    .bind(status_code)
    .bind(metadata)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

/// The ids `cookie` lists with `filters`.
async fn listed(app: &TestApp, cookie: &str, filters: &[(&str, &str)]) -> Vec<Uuid> {
    let form: Vec<(String, String)> = filters
        .iter()
        .map(|(name, value)| (format!("query[filters][{name}]"), value.to_string()))
        .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let (status, page) = call(app, cookie, "list_api_logs", &form).await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| Uuid::parse_str(item["id"].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn each_filter_lists_exactly_its_calls_and_only_the_caller_s() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let harbor = app.test_db.organization_id("harbor-credit").await;
    let job = Uuid::new_v4();
    let ok = logged_call(&app, northwind, "filter_api", "POST", Some(201), Some(job)).await;
    let refused = logged_call(&app, northwind, "filter_api", "GET", Some(404), None).await;
    let unanswered = logged_call(&app, northwind, "filter_api", "POST", None, None).await;
    let theirs = logged_call(&app, harbor, "filter_api", "POST", Some(201), Some(job)).await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let mut all = listed(&app, &cookie, &[("api", "filter_api")]).await;
    all.sort();
    let mut expected = vec![ok, refused, unanswered];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        listed(&app, &cookie, &[("api", "filter_api"), ("code", "2xx")]).await,
        vec![ok]
    );
    assert_eq!(
        listed(&app, &cookie, &[("api", "filter_api"), ("code", "4xx")]).await,
        vec![refused]
    );
    assert_eq!(
        listed(&app, &cookie, &[("api", "filter_api"), ("code", "none")]).await,
        vec![unanswered]
    );
    assert_eq!(
        listed(&app, &cookie, &[("api", "filter_api"), ("method", "GET")]).await,
        vec![refused]
    );
    assert_eq!(
        listed(&app, &cookie, &[("job", &job.to_string())]).await,
        vec![ok]
    );
    assert!(!listed(&app, &cookie, &[]).await.contains(&theirs));
}

#[tokio::test]
async fn a_bad_filter_is_refused_with_its_name() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = call(
        &app,
        &cookie,
        "list_api_logs",
        &[("query[filters][code]", "6xx")],
    )
    .await;

    assert_eq!(status, 422);
    assert_eq!(body["message"], "Unknown answer class \"6xx\".");
}

#[tokio::test]
async fn a_call_s_detail_shows_the_stored_request_and_its_job_to_its_organization_only() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let job = Uuid::new_v4();
    let id = logged_call(&app, northwind, "detail_api", "POST", Some(201), Some(job))
        .await
        .to_string();
    let mine = signed_in(&app, NORTHWIND_ADMIN).await;
    let theirs = signed_in(&app, HARBOR_ADMIN).await;

    let (status, detail) = call(&app, &mine, "api_log_detail", &[("id", &id)]).await;
    let (refused, _) = call(&app, &theirs, "api_log_detail", &[("id", &id)]).await;

    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["job_id"], Value::String(job.to_string()));
    assert_eq!(detail["attempt"], 2);
    assert_eq!(detail["request_payload"]["body"]["password"], "[redacted]");
    assert_eq!(refused, 404);
}

/// Writes an ended call of `organization` through `integration` that took
/// `response_ms` and ended `status` (`success`, `failed`, `timeout`).
async fn timed_call(
    app: &TestApp,
    organization: Uuid,
    integration: Option<Uuid>,
    status: &str,
    status_code: Option<i32>,
    response_ms: i32,
    error: Option<&str>,
) {
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query(
        "insert into third_party_api_log
           (organization_id, integration_id, api_name, endpoint, method, status_code, status,
            is_success, response_time, error_message)
         values ($1, $2, 'monitored_api', 'https://api.example/m', 'POST', $3, $4,
                 $4 = 'success', $5, $6)",
    )
    .bind(organization)
    .bind(integration)
    .bind(status_code)
    .bind(status)
    .bind(response_ms)
    .bind(error)
    .execute(&mut owner)
    .await
    .unwrap();
}

/// An integration of `organization` named `name`; its id.
async fn integration(app: &TestApp, organization: Uuid, name: &str) -> Uuid {
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query_scalar(
        "insert into system_integrations (organization_id, name, integration_type, provider)
         values ($1, $2, 'sms', 'sandbox') returning id",
    )
    .bind(organization)
    .bind(name)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

/// The monitoring figures `cookie` reads for `scope` over the last 24 hours.
async fn monitored(app: &TestApp, cookie: &str, scope: &[(&str, String)]) -> (u16, Value) {
    let mut form: Vec<(String, String)> = scope
        .iter()
        .map(|(name, value)| (format!("scope[{name}]"), value.clone()))
        .collect();
    form.push(("period".into(), "Day".into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    call(app, cookie, "api_monitoring", &form).await
}

#[tokio::test]
async fn monitoring_counts_an_api_s_calls_with_their_percentiles_errors_and_answers() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let harbor = app.test_db.organization_id("harbor-credit").await;
    let gateway = integration(&app, northwind, "Gateway").await;
    // 100 successes taking 1..=100 ms, 3 refusals and 2 time-outs
    for ms in 1..=100 {
        timed_call(
            &app,
            northwind,
            Some(gateway),
            "success",
            Some(200),
            ms,
            None,
        )
        .await;
    }
    for _ in 0..3 {
        timed_call(
            &app,
            northwind,
            None,
            "failed",
            Some(422),
            5,
            Some("Invalid number"),
        )
        .await;
    }
    for _ in 0..2 {
        timed_call(
            &app,
            northwind,
            None,
            "timeout",
            None,
            3000,
            Some("no answer in 3 s"),
        )
        .await;
    }
    // another organization's calls of the same API are not counted
    timed_call(&app, harbor, None, "failed", Some(500), 9, Some("theirs")).await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, m) = monitored(&app, &cookie, &[("api_name", "monitored_api".into())]).await;

    assert_eq!(status, 200, "{m}");
    let totals = &m["totals"];
    assert_eq!(
        (
            totals["succeeded"].as_i64(),
            totals["failed"].as_i64(),
            totals["timed_out"].as_i64()
        ),
        (Some(100), Some(3), Some(2))
    );
    // the middle of 1..=100 with three more 5s below it and two 3000s above
    assert_eq!(totals["p50_ms"].as_f64(), Some(50.0));
    // 96 % of the way from the slowest success (100) to the first 3000
    assert!(
        (totals["p99_ms"].as_f64().unwrap() - 2884.0).abs() < 0.01,
        "{totals}"
    );
    assert_eq!(
        m["top_errors"][0],
        json!({"value": "Invalid number", "count": 3})
    );
    assert_eq!(
        m["top_errors"][1],
        json!({"value": "no answer in 3 s", "count": 2})
    );
    assert_eq!(m["top_errors"].as_array().unwrap().len(), 2);
    assert_eq!(m["top_codes"][0], json!({"value": 200, "count": 100}));
    assert_eq!(m["top_codes"][1], json!({"value": 422, "count": 3}));
    assert_eq!(m["top_codes"][2], json!({"value": null, "count": 2}));
    let points: i64 = m["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["figures"]["succeeded"].as_i64().unwrap())
        .sum();
    assert_eq!(points, 100);
}

#[tokio::test]
async fn monitoring_narrowed_to_an_integration_counts_only_its_calls() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let gateway = integration(&app, northwind, "Gateway").await;
    let backup = integration(&app, northwind, "Backup").await;
    timed_call(
        &app,
        northwind,
        Some(gateway),
        "success",
        Some(200),
        10,
        None,
    )
    .await;
    timed_call(
        &app,
        northwind,
        Some(gateway),
        "failed",
        Some(503),
        20,
        Some("down"),
    )
    .await;
    timed_call(
        &app,
        northwind,
        Some(backup),
        "success",
        Some(200),
        30,
        None,
    )
    .await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, m) = monitored(&app, &cookie, &[("integration_id", gateway.to_string())]).await;

    assert_eq!(status, 200, "{m}");
    assert_eq!(m["integration_name"], "Gateway");
    assert_eq!(m["totals"]["succeeded"], 1);
    assert_eq!(m["totals"]["failed"], 1);
    let groups = m["by_integration"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["label"], "Gateway");
}

#[tokio::test]
async fn monitoring_never_counts_another_organization_s_calls_even_when_asked_for_them() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let harbor = app.test_db.organization_id("harbor-credit").await;
    let theirs = integration(&app, harbor, "Harbor gateway").await;
    timed_call(&app, harbor, Some(theirs), "success", Some(200), 10, None).await;
    timed_call(&app, northwind, None, "success", Some(200), 10, None).await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (_, by_org) = monitored(
        &app,
        &cookie,
        &[
            ("organization_id", harbor.to_string()),
            ("api_name", "monitored_api".into()),
        ],
    )
    .await;
    let (status, by_integration) =
        monitored(&app, &cookie, &[("integration_id", theirs.to_string())]).await;

    assert_eq!(
        by_org["totals"]["succeeded"], 1,
        "only northwind's own call"
    );
    assert_eq!(status, 200);
    assert_eq!(by_integration["totals"]["succeeded"], 0);
    assert_eq!(by_integration["integration_name"], Value::Null);
}

#[tokio::test]
async fn monitoring_refuses_an_api_name_with_control_characters() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = monitored(&app, &cookie, &[("api_name", "sms\u{7}".into())]).await;

    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "The API name is at most 255 characters, without control characters."
    );
}
