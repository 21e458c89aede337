//! The demo as `seed-demo` loads it: its messages, syncs and webhook
//! deliveries run for real by a worker, so what the console shows of them
//! is what happened.

mod common;

use common::{fresh_database, test_providers};
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::server::demo_data;
use veriphy_jobs::server::worker::{Registry, Worker, WorkerConfig};

/// Per demo webhook of Northwind: (name, status, failure_count, whether it
/// has had a success, delivery attempts by outcome).
type WebhookState = (String, String, i32, bool, Vec<(String, i64)>);

#[tokio::test]
async fn the_demo_s_webhooks_are_delivered_for_real_as_it_loads() {
    let test = fresh_database().await;
    let providers = test_providers();
    let due = demo_data::load(
        &test.db,
        &providers.keyring,
        demo_data::DEFAULT_DEMO_PASSWORD,
        false,
    )
    .await
    .unwrap();
    let worker = Worker::start(
        test.db.clone(),
        Registry::standard().with_providers(providers),
        WorkerConfig {
            poll_interval: Duration::from_millis(50),
            ..WorkerConfig::default()
        },
    )
    .await
    .unwrap();
    let settled = demo_data::settle(&test.db, &due, Duration::from_secs(60))
        .await
        .unwrap();
    worker.shutdown().await;
    assert!(settled, "the demo's jobs settled");

    let mut owner = test.owner_connection().await;
    let northwind: Uuid =
        sqlx::query_scalar("select id from organizations where slug = 'northwind-lending'")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    let rows: Vec<(Uuid, String, String, i32, bool)> = sqlx::query_as(
        "select id, webhook_name::text, status::text, failure_count, last_success_at is not null
         from webhooks where organization_id = $1 order by webhook_name",
    )
    .bind(northwind)
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let mut states: Vec<WebhookState> = Vec::new();
    for (id, name, status, failures, succeeded) in rows {
        let attempts: Vec<(String, i64)> = sqlx::query_as(
            "select status::text, count(*) from third_party_api_log
             where metadata ->> 'webhook_id' = $1 group by 1 order by 1",
        )
        .bind(id.to_string())
        .fetch_all(&mut owner)
        .await
        .unwrap();
        states.push((name, status, failures, succeeded, attempts));
    }

    let by_name = |name: &str| {
        states
            .iter()
            .find(|state| state.0 == name)
            .unwrap_or_else(|| panic!("no webhook {name}: {states:?}"))
            .clone()
    };
    let new_cases = by_name("Case system: new cases");
    assert_eq!(
        (new_cases.1.as_str(), new_cases.2, new_cases.3, new_cases.4),
        ("active", 0, true, vec![("success".to_string(), 4)])
    );
    let vault = by_name("Document vault sync");
    assert_eq!(
        (vault.1.as_str(), vault.2, vault.3, vault.4),
        ("error", 3, false, vec![("failed".to_string(), 3)]),
        "three failed deliveries in a row put it in error"
    );
    let paused = by_name("Legacy CRM (paused)");
    assert_eq!(
        (paused.1.as_str(), paused.4),
        ("inactive", Vec::new()),
        "switched off: nothing delivered"
    );
    let ops = by_name("Ops alerts on failures");
    assert!(
        ops.3
            && ops
                .4
                .iter()
                .any(|(status, n)| status == "success" && *n > 0),
        "the demo's failed jobs were delivered as job.failed: {ops:?}"
    );
    let updates = by_name("Case system: updates");
    let attempted: i64 = updates.4.iter().map(|(_, n)| n).sum();
    assert!(
        attempted >= 8,
        "each of the eight updates was attempted: {updates:?}"
    );
}
