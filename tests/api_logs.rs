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
