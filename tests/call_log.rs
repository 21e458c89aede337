//! The API call log's batched writes (migrations/0030): calls of several
//! organizations opened and closed by one statement, each in its own scope;
//! a refused call failing alone; closing as a HOT update; the statistics
//! counted per statement.

mod common;

use common::{fresh_database, TestDb};
use serde_json::json;
use uuid::Uuid;
use veriphy_jobs::domain::{ApiCallStatus, HttpMethod};
use veriphy_jobs::server::repo::api_logs::{self, CallOutcome, Closing, NewCall};

fn new_call(organization: Uuid, api: &str) -> NewCall {
    NewCall {
        id: Uuid::now_v7(),
        organization_id: organization,
        integration_id: None,
        api_name: api.into(),
        endpoint: "https://api.example/send".into(),
        method: HttpMethod::Post,
        request_payload: Some(json!({ "body": { "to": "+447700900123" } })),
        retry_count: 1,
        metadata: json!({ "attempt": 1 }),
    }
}

fn closing(call: &NewCall, status: ApiCallStatus, code: i32, millis: i32) -> Closing {
    Closing {
        organization_id: call.organization_id,
        id: call.id,
        outcome: CallOutcome {
            status,
            status_code: Some(code),
            response_time_ms: millis,
            response_payload: Some(json!({ "status": code })),
            error_message: (status != ApiCallStatus::Success).then(|| "refused".to_string()),
        },
    }
}

/// (organization, status) of each of `ids`' rows, in the order of `ids`.
async fn rows(test: &TestDb, ids: &[Uuid]) -> Vec<(Uuid, String)> {
    let mut owner = test.owner_connection().await;
    let mut found = Vec::new();
    for id in ids {
        found.push(
            sqlx::query_as("select organization_id, status from third_party_api_log where id = $1")
                .bind(id)
                .fetch_one(&mut owner)
                .await
                .unwrap(),
        );
    }
    found
}

#[tokio::test]
async fn calls_of_two_organizations_are_opened_and_closed_by_one_statement_each_for_its_own() {
    let test = fresh_database().await;
    let (ours, theirs) = (test.new_organization().await, test.new_organization().await);
    let calls = vec![
        new_call(ours, "sms"),
        new_call(theirs, "sms"),
        new_call(ours, "sms"),
    ];
    let mut handler = test.db.handlers.acquire().await.unwrap();
    api_logs::open_calls(&mut handler, &calls).await.unwrap();
    let ids: Vec<Uuid> = calls.iter().map(|c| c.id).collect();
    assert_eq!(
        rows(&test, &ids).await,
        vec![
            (ours, "pending".to_string()),
            (theirs, "pending".to_string()),
            (ours, "pending".to_string()),
        ]
    );

    let closings: Vec<Closing> = calls
        .iter()
        .map(|c| closing(c, ApiCallStatus::Success, 200, 12))
        .collect();
    let closed = api_logs::close_calls(&mut handler, &closings)
        .await
        .unwrap();
    assert_eq!(closed, vec![true, true, true]);
    assert_eq!(
        rows(&test, &ids).await,
        vec![
            (ours, "success".to_string()),
            (theirs, "success".to_string()),
            (ours, "success".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_call_closed_already_or_named_for_another_organization_is_not_closed() {
    let test = fresh_database().await;
    let (ours, theirs) = (test.new_organization().await, test.new_organization().await);
    let (done, theirs_call) = (new_call(ours, "sms"), new_call(theirs, "sms"));
    let mut handler = test.db.handlers.acquire().await.unwrap();
    api_logs::open_calls(&mut handler, &[done.clone(), theirs_call.clone()])
        .await
        .unwrap();
    api_logs::close_calls(
        &mut handler,
        &[closing(&done, ApiCallStatus::Success, 200, 5)],
    )
    .await
    .unwrap();

    let mut in_our_name = closing(&theirs_call, ApiCallStatus::Failed, 500, 5);
    in_our_name.organization_id = ours;
    let closed = api_logs::close_calls(
        &mut handler,
        &[closing(&done, ApiCallStatus::Failed, 500, 5), in_our_name],
    )
    .await
    .unwrap();

    assert_eq!(closed, vec![false, false]);
    assert_eq!(
        rows(&test, &[done.id, theirs_call.id]).await,
        vec![
            (ours, "success".to_string()),
            (theirs, "pending".to_string())
        ]
    );
}

#[tokio::test]
async fn a_call_the_database_refuses_fails_alone_among_calls_written_together() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let mut calls: Vec<NewCall> = (0..20).map(|_| new_call(organization, "sms")).collect();
    // PostgreSQL stores no NUL character in jsonb
    calls[7].request_payload = Some(json!({ "body": "a\u{0}b" }));
    let writes = calls.iter().cloned().map(|call| {
        let writer = test.db.call_log.clone();
        tokio::spawn(async move { writer.open(call).await })
    });
    let mut outcomes = Vec::new();
    for write in writes {
        outcomes.push(write.await.unwrap());
    }

    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(()) => assert_ne!(i, 7, "the call with a NUL was written"),
            Err(error) => {
                assert_eq!(i, 7, "call {i} failed: {error}");
                assert_eq!(
                    error.as_database_error().and_then(|e| e.code()).as_deref(),
                    Some("22P05"),
                    "{error}"
                );
            }
        }
    }
    let mut owner = test.owner_connection().await;
    let written: i64 = sqlx::query_scalar("select count(*) from third_party_api_log")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(written, 19);
}

#[tokio::test]
async fn closed_calls_are_counted_once_per_organization_api_and_minute() {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let calls: Vec<NewCall> = ["sms", "sms", "sms", "whatsapp"]
        .iter()
        .map(|api| new_call(organization, api))
        .collect();
    let mut handler = test.db.handlers.acquire().await.unwrap();
    api_logs::open_calls(&mut handler, &calls).await.unwrap();
    api_logs::close_calls(
        &mut handler,
        &[
            closing(&calls[0], ApiCallStatus::Success, 200, 10),
            closing(&calls[1], ApiCallStatus::Success, 200, 30),
            closing(&calls[2], ApiCallStatus::Failed, 400, 20),
            closing(&calls[3], ApiCallStatus::Timeout, 504, 5000),
        ],
    )
    .await
    .unwrap();

    let mut owner = test.owner_connection().await;
    let counted: Vec<(String, i32, i32, i32, f64)> = sqlx::query_as(
        "select api_name::text, succeeded, failed, timed_out, response_ms_sum
         from api_call_stats where organization_id = $1 order by api_name",
    )
    .bind(organization)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(
        counted,
        vec![
            ("sms".to_string(), 2, 1, 0, 60.0),
            ("whatsapp".to_string(), 0, 0, 1, 5000.0)
        ]
    );
    let timed: i64 = sqlx::query_scalar(
        "select sum(samples)::int8 from timing_stats
         where organization_id = $1 and measure = 'response'",
    )
    .bind(organization)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(timed, 4);
}

#[tokio::test]
async fn closing_a_call_writes_no_index_entry() {
    const CALLS: usize = 5;
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let calls: Vec<NewCall> = (0..CALLS).map(|_| new_call(organization, "sms")).collect();
    let mut handler = test.db.handlers.acquire().await.unwrap();
    api_logs::open_calls(&mut handler, &calls).await.unwrap();
    let closings: Vec<Closing> = calls
        .iter()
        .map(|c| closing(c, ApiCallStatus::Success, 200, 7))
        .collect();
    api_logs::close_calls(&mut handler, &closings)
        .await
        .unwrap();
    // the backend hands its counts to the shared statistics once idle
    sqlx::query("select pg_stat_force_next_flush()")
        .execute(&mut *handler)
        .await
        .unwrap();

    let mut owner = test.owner_connection().await;
    let (updated, hot): (i64, i64) = sqlx::query_as(
        "select n_tup_upd, n_tup_hot_upd from pg_stat_user_tables
         where relname = 'third_party_api_log'",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    // an index on a column closing changes would make none of them HOT
    // (five calls and their closed versions fit on one page, so this does
    // not depend on pruning)
    assert_eq!((updated, hot), (CALLS as i64, CALLS as i64));
}
