//! Outbound calls and their record in the API call log, against a real
//! PostgreSQL and a provider stand-in on loopback (allowlisted).

mod common;

use common::{fresh_database, TestDb};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::HttpMethod;
use veriphy_jobs::server::outbound::client::{Outbound, Redirects};
use veriphy_jobs::server::outbound::destination::Allowlist;
use veriphy_jobs::server::outbound::logged::{
    CallAnswer, CallBody, CallError, CallRecord, CallRequest,
};

/// A provider stand-in answering every request with `answer` (a full HTTP
/// response); its port.
async fn provider(answer: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    port
}

fn record(organization: Uuid) -> CallRecord {
    CallRecord {
        organization_id: organization,
        integration_id: None,
        api_name: "test_provider".into(),
        retry_count: 2,
        metadata: json!({ "job_id": "00000000-0000-0000-0000-000000000001", "attempt": 2 }),
    }
}

/// Makes `request` for `organization` through `outbound`, logged.
async fn call(
    test: &TestDb,
    outbound: &Outbound,
    organization: Uuid,
    request: CallRequest,
) -> Result<CallAnswer, CallError> {
    outbound
        .call_logged(
            &test.db,
            &record(organization),
            &request,
            Duration::from_secs(5),
            Redirects::Refused,
        )
        .await
}

/// The log row of `id`: status, is_success, status_code, response_time,
/// request and response payloads, error, endpoint.
async fn row(
    test: &TestDb,
    id: Uuid,
) -> (
    String,
    bool,
    Option<i32>,
    Option<i32>,
    Value,
    Option<Value>,
    Option<String>,
    String,
) {
    let mut owner = test.owner_connection().await;
    sqlx::query_as(
        "select status, is_success, status_code, response_time, request_payload,
                response_payload, error_message, endpoint
         from third_party_api_log where id = $1",
    )
    .bind(id)
    .fetch_one(&mut owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_call_is_recorded_with_its_outcome_and_without_credentials() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let body = r#"{"sid":"SM1","card":"4111 1111 1111 1111","auth_token":"t"}"#;
    let answer: &'static str = Box::leak(
        format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    );
    let port = provider(answer).await;
    let outbound = Outbound::new(Allowlist::new(["127.0.0.1"])).unwrap();

    let answered = call(
        &test,
        &outbound,
        organization,
        CallRequest {
            method: HttpMethod::Post,
            url: format!("http://127.0.0.1:{port}/v1/messages?api_key=s3cret"),
            headers: vec![("Authorization".into(), "Basic dXNlcjpwdw==".into())],
            body: Some(CallBody::Json(
                json!({ "To": "+4915112345678", "password": "p" }),
            )),
        },
    )
    .await
    .unwrap();

    assert_eq!(answered.status, 201);
    let (status, success, code, time, request, response, error, endpoint) =
        row(&test, answered.log_id).await;
    assert_eq!(
        (status.as_str(), success, code),
        ("success", true, Some(201))
    );
    assert!(time.is_some_and(|ms| ms >= 0));
    assert_eq!(endpoint, format!("http://127.0.0.1:{port}/v1/messages"));
    assert_eq!(request["headers"]["authorization"], "[redacted]");
    assert_eq!(
        request["body"],
        json!({ "To": "+4915112345678", "password": "[redacted]" })
    );
    let response = response.unwrap();
    assert_eq!(response["body"]["card"], "****1111");
    assert_eq!(response["body"]["auth_token"], "[redacted]");
    assert_eq!(error, None);
}

#[tokio::test]
async fn a_refused_destination_is_recorded_as_a_failed_call() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let outbound = Outbound::new(Allowlist::default()).unwrap();

    let refused = call(
        &test,
        &outbound,
        organization,
        CallRequest {
            method: HttpMethod::Get,
            url: "https://169.254.169.254/latest/meta-data/".into(),
            headers: Vec::new(),
            body: None,
        },
    )
    .await;

    let Err(CallError::Send { log_id, .. }) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    let (status, success, code, _, _, _, error, _) = row(&test, log_id).await;
    assert_eq!((status.as_str(), success, code), ("failed", false, None));
    assert_eq!(
        error.as_deref(),
        Some("169.254.169.254 is an internal address; only public hosts can be called.")
    );
}

#[tokio::test]
async fn an_error_answer_is_a_failed_call_with_its_status() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let port = provider(
        "HTTP/1.1 400 Bad Request\r\ncontent-length: 7\r\nconnection: close\r\n\r\nbad to!",
    )
    .await;
    let outbound = Outbound::new(Allowlist::new(["127.0.0.1"])).unwrap();

    let answered = call(
        &test,
        &outbound,
        organization,
        CallRequest {
            method: HttpMethod::Post,
            url: format!("http://127.0.0.1:{port}/"),
            headers: Vec::new(),
            body: Some(CallBody::Json(json!({}))),
        },
    )
    .await
    .unwrap();

    let (status, success, code, _, _, response, error, _) = row(&test, answered.log_id).await;
    assert_eq!(
        (status.as_str(), success, code),
        ("failed", false, Some(400))
    );
    assert_eq!(response.unwrap()["body"], "bad to!");
    assert_eq!(
        error.as_deref(),
        Some("The provider answered HTTP 400: bad to!")
    );
}

#[tokio::test]
async fn a_call_of_another_organization_is_neither_opened_nor_closed_for_it() {
    let test = fresh_database().await;
    let ours = test.new_organization().await;
    let theirs = test.new_organization().await;
    let port =
        provider("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
    let outbound = Outbound::new(Allowlist::new(["127.0.0.1"])).unwrap();
    let their_call = call(
        &test,
        &outbound,
        theirs,
        CallRequest {
            method: HttpMethod::Get,
            url: format!("http://127.0.0.1:{port}/"),
            headers: Vec::new(),
            body: None,
        },
    )
    .await
    .unwrap();
    let mut handler = test.db.handlers.acquire().await.unwrap();
    let mut owner = test.owner_connection().await;
    sqlx::query(
        "update third_party_api_log set status = 'pending', is_success = false where id = $1",
    )
    .bind(their_call.log_id)
    .execute(&mut owner)
    .await
    .unwrap();

    // closing it in our name closes nothing; opening a row of theirs in our
    // name is refused by row-level security
    let closed: Vec<Uuid> = sqlx::query_scalar(
        "select api_calls_close(array[$1::uuid], array[$2::uuid], array['success'], array[200],
                                array[1], array[null::jsonb], array[null::text], 'x', '{}')",
    )
    .bind(ours)
    .bind(their_call.log_id)
    .fetch_one(&mut *handler)
    .await
    .unwrap();
    let opened = sqlx::query(
        "with bound as (select api_calls_open(array[$1::uuid], array[gen_random_uuid()],
                                              array[null::uuid], array['a'], array['e'],
                                              array['GET'], array[null::jsonb], array[0],
                                              array['{}'::jsonb], 'x', '{}'))
         insert into third_party_api_log (organization_id, api_name, endpoint, method, status)
         select $2, 'b', 'e', 'GET', 'pending' from bound",
    )
    .bind(ours)
    .bind(theirs)
    .execute(&mut *handler)
    .await;

    assert_eq!(closed, Vec::<Uuid>::new());
    let status: String = sqlx::query_scalar("select status from third_party_api_log where id = $1")
        .bind(their_call.log_id)
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(status, "pending");
    let refused = opened.unwrap_err();
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("42501"),
        "{refused}"
    );
}

/// A stand-in answering every request with a redirect to `location`; its port.
async fn redirecting_to(location: String) -> u16 {
    let answer = format!(
        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    provider(Box::leak(answer.into_boxed_str())).await
}

fn get(port: u16) -> CallRequest {
    CallRequest {
        method: HttpMethod::Get,
        url: format!("http://127.0.0.1:{port}/start"),
        headers: Vec::new(),
        body: None,
    }
}

async fn call_with(
    test: &TestDb,
    organization: Uuid,
    port: u16,
    redirects: Redirects,
) -> Result<CallAnswer, CallError> {
    Outbound::new(Allowlist::new(["127.0.0.1"]))
        .unwrap()
        .call_logged(
            &test.db,
            &record(organization),
            &get(port),
            Duration::from_secs(5),
            redirects,
        )
        .await
}

#[tokio::test]
async fn a_redirect_is_the_answer_unless_the_call_follows_redirects() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let end =
        provider("HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndone").await;
    let start = redirecting_to(format!("http://127.0.0.1:{end}/moved")).await;

    let refused = call_with(&test, organization, start, Redirects::Refused)
        .await
        .unwrap();
    let followed = call_with(&test, organization, start, Redirects::Followed)
        .await
        .unwrap();

    assert_eq!(refused.status, 302);
    assert_eq!((followed.status, followed.body.as_str()), (200, "done"));
    let (status, ..) = row(&test, refused.log_id).await;
    assert_eq!(status, "failed");
    let (status, ..) = row(&test, followed.log_id).await;
    assert_eq!(status, "success");
}

#[tokio::test]
async fn a_followed_redirect_into_the_bank_s_network_is_refused() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let start = redirecting_to("https://10.1.2.3/admin".into()).await;

    let refused = call_with(&test, organization, start, Redirects::Followed).await;

    let Err(CallError::Send { error, log_id }) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!(
        error.to_string(),
        "10.1.2.3 is an internal address; only public hosts can be called."
    );
    let (status, ..) = row(&test, log_id).await;
    assert_eq!(status, "failed");
}

#[tokio::test]
async fn a_chain_of_more_than_three_redirects_is_not_followed_to_its_end() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let end =
        provider("HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndone").await;
    let mut next = end;
    for _ in 0..4 {
        next = redirecting_to(format!("http://127.0.0.1:{next}/hop")).await;
    }

    let answer = call_with(&test, organization, next, Redirects::Followed).await;

    let Err(CallError::Send { error, .. }) = answer else {
        panic!("expected the chain to be cut, got {answer:?}");
    };
    assert!(
        error.to_string().contains("More than 3 redirects."),
        "{error}"
    );
}

#[tokio::test]
async fn a_call_not_answered_within_its_timeout_is_recorded_as_timed_out() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let port = common::stand_ins::silent().await;
    let outbound = Outbound::new(Allowlist::new(["127.0.0.1"])).unwrap();

    let result = outbound
        .call_logged(
            &test.db,
            &record(organization),
            &get(port),
            Duration::from_millis(300),
            Redirects::Refused,
        )
        .await;

    let Err(CallError::Send { log_id, error }) = result else {
        panic!("not a failed call: {result:?}");
    };
    assert_eq!(error.to_string(), "No answer within 300ms.");
    let (status, success, code, elapsed, _, response, message, _) = row(&test, log_id).await;
    assert_eq!(
        (status.as_str(), success, code, response, message.as_deref()),
        (
            "timeout",
            false,
            None,
            None,
            Some("No answer within 300ms.")
        )
    );
    assert!(elapsed.unwrap() >= 300, "{elapsed:?}");
}
