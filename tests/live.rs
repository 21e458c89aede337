//! The live console's websocket over real HTTP: who may open it, and what
//! each viewer receives of the changes published into the hub.

mod common;

use common::{signed_in, spawn_app, spawn_app_with, TestApp};
use futures_util::SinkExt;
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;
use veriphy_jobs::domain::live::{LiveUpdate, PushedPage, Topic};
use veriphy_jobs::domain::{JobRow, Page};
use veriphy_jobs::server::live::{Change, Hub};

const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const BANK_ADMIN: &str = "bank.admin@veriphy.example";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws?query` with `cookie` (and `origin`, if given); the socket, or
/// the HTTP status of the refusal.
async fn open(
    app: &TestApp,
    cookie: &str,
    query: &str,
    origin: Option<&str>,
) -> Result<Socket, u16> {
    open_at(&app.base, cookie, query, origin).await
}

/// [`open`] on the node at `base`.
async fn open_at(
    base: &str,
    cookie: &str,
    query: &str,
    origin: Option<&str>,
) -> Result<Socket, u16> {
    let url = format!("{}/ws?{query}", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("connect: {other}"),
    }
}

/// A socket of `email`'s, signed in, watching the Jobs topic.
async fn watching_jobs(app: &TestApp, email: &str) -> Socket {
    let cookie = signed_in(app, email).await;
    open(app, &cookie, "topics=jobs", None).await.unwrap()
}

/// Waits until the hub has `count` subscribers (the server subscribes just
/// after the handshake).
async fn until_subscribed(app: &TestApp, count: usize) {
    until_hub_has(&app.hub, count).await
}

/// [`until_subscribed`] for any node's hub.
async fn until_hub_has(hub: &Hub, count: usize) {
    for _ in 0..100 {
        if hub.subscribers() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} subscribers, not {count}", hub.subscribers());
}

/// The next batch of updates, within two seconds.
async fn next_updates(socket: &mut Socket) -> Vec<LiveUpdate> {
    let message = tokio::time::timeout(Duration::from_secs(2), socket.next())
        .await
        .expect("an update within 2 s")
        .expect("the socket is open")
        .unwrap();
    match message {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected updates, got {other:?}"),
    }
}

/// Tells the server that each socket's tab shows the first page of the
/// Jobs tab, and waits a moment for the hub to take it in.
async fn show_first_jobs_page(sockets: &mut [&mut Socket]) {
    let wanted = serde_json::json!({
        "topics": ["jobs"],
        "view": { "list": "jobs", "query": {} }
    });
    for socket in sockets {
        socket
            .send(Message::Text(wanted.to_string().into()))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The next pushed page (skipping updates), within three seconds.
async fn next_pushed_page(socket: &mut Socket) -> PushedPage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a page within 3 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            if let Ok(page) = serde_json::from_str::<PushedPage>(&text) {
                return page;
            }
        }
    }
}

fn job_change(organization: Uuid, id: u128) -> Change {
    Change {
        organization_id: organization,
        topic: Topic::Jobs,
        id: Uuid::from_u128(id),
    }
}

#[tokio::test]
async fn the_upgrade_is_refused_without_a_session() {
    let app = spawn_app().await;

    let refused = open(&app, "veriphy_session=nothing", "topics=jobs", None).await;

    assert_eq!(refused.err(), Some(401));
}

#[tokio::test]
async fn the_upgrade_is_refused_from_another_site() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_VIEWER).await;

    let refused = open(&app, &cookie, "topics=jobs", Some("https://evil.example")).await;

    assert_eq!(refused.err(), Some(403));
}

#[tokio::test]
async fn an_organization_user_cannot_listen_to_another_organization() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_VIEWER).await;
    let harbor = app.test_db.organization_id("harbor-credit").await;

    let refused = open(&app, &cookie, &format!("topics=jobs&org={harbor}"), None).await;

    assert_eq!(refused.err(), Some(403));
}

#[tokio::test]
async fn a_viewer_receives_only_its_organization_s_changes() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, NORTHWIND_VIEWER).await;
    let (northwind, harbor) = (
        app.test_db.organization_id("northwind-lending").await,
        app.test_db.organization_id("harbor-credit").await,
    );
    let mut socket = open(&app, &cookie, "topics=jobs", Some(&app.base))
        .await
        .unwrap();
    until_subscribed(&app, 1).await;

    app.hub
        .publish([job_change(harbor, 1), job_change(northwind, 2)]);

    let updates = next_updates(&mut socket).await;
    assert_eq!(
        updates,
        vec![LiveUpdate {
            topic: Topic::Jobs,
            ids: vec![Uuid::from_u128(2)],
            more: false
        }]
    );
}

#[tokio::test]
async fn a_bank_admin_receives_every_organization_s_changes() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, BANK_ADMIN).await;
    let (northwind, harbor) = (
        app.test_db.organization_id("northwind-lending").await,
        app.test_db.organization_id("harbor-credit").await,
    );
    let mut socket = open(&app, &cookie, "topics=jobs", None).await.unwrap();
    until_subscribed(&app, 1).await;

    app.hub
        .publish([job_change(harbor, 1), job_change(northwind, 2)]);

    assert_eq!(next_updates(&mut socket).await[0].ids.len(), 2);
}

#[tokio::test]
async fn a_session_signed_out_elsewhere_is_disconnected() {
    let app = spawn_app_with(|config| config.live_session_check = Duration::from_millis(200)).await;
    let cookie = signed_in(&app, NORTHWIND_VIEWER).await;
    let mut socket = open(&app, &cookie, "topics=jobs", None).await.unwrap();
    until_subscribed(&app, 1).await;
    let mut owner = app.test_db.owner_connection().await;

    sqlx::query("delete from user_sessions")
        .execute(&mut owner)
        .await
        .unwrap();

    let closed = tokio::time::timeout(Duration::from_secs(3), socket.next())
        .await
        .expect("closed within 3 s")
        .expect("a close frame")
        .unwrap();
    match closed {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4401),
        other => panic!("expected a close, got {other:?}"),
    }
    until_subscribed(&app, 0).await;
}

#[tokio::test]
async fn a_change_announced_on_any_connection_reaches_only_its_organization_s_viewers() {
    use veriphy_jobs::server::live::announce;
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let mut northwind_viewer = watching_jobs(&app, NORTHWIND_VIEWER).await;
    let mut harbor_viewer = watching_jobs(&app, "viewer@harbor.example").await;
    until_subscribed(&app, 2).await;

    let mut conn = app.test_db.owner_connection().await;
    announce(&mut conn, vec![job_change(northwind, 7)])
        .await
        .unwrap();

    assert_eq!(
        next_updates(&mut northwind_viewer).await[0].ids,
        vec![Uuid::from_u128(7)]
    );
    let nothing = tokio::time::timeout(Duration::from_millis(800), harbor_viewer.next()).await;
    assert!(nothing.is_err(), "harbor's viewer received {nothing:?}");
}

#[tokio::test]
async fn a_change_announced_in_a_transaction_that_rolls_back_reaches_nobody() {
    use sqlx::Connection;
    use veriphy_jobs::server::live::announce;
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let mut viewer = watching_jobs(&app, NORTHWIND_VIEWER).await;
    until_subscribed(&app, 1).await;
    let mut conn = app.test_db.owner_connection().await;

    let mut tx = conn.begin().await.unwrap();
    announce(&mut tx, vec![job_change(northwind, 1)])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    announce(&mut tx, vec![job_change(northwind, 2)])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        next_updates(&mut viewer).await[0].ids,
        vec![Uuid::from_u128(2)]
    );
}

#[tokio::test]
async fn a_console_action_is_seen_live_by_the_organization_s_other_viewers() {
    let app = spawn_app().await;
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    let admin = signed_in(&app, "admin@northwind.example").await;
    let mut owner = app.test_db.owner_connection().await;
    let pending: Uuid = sqlx::query_scalar(
        "select j.id from jobs j join organizations o on o.id = j.organization_id
         where o.slug = 'northwind-lending' and j.status = 'pending' limit 1",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let mut socket = open(&app, &viewer, "topics=jobs", None).await.unwrap();
    until_subscribed(&app, 1).await;

    let (status, _) = common::call(
        &app,
        &admin,
        "job_action",
        &[("id", &pending.to_string()), ("action", "cancel")],
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(next_updates(&mut socket).await[0].ids, vec![pending]);
}

#[tokio::test]
async fn a_queue_paused_by_the_bank_reloads_every_organization_s_queues_view() {
    let app = spawn_app().await;
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;
    let admin = signed_in(&app, BANK_ADMIN).await;
    let mut socket = open(&app, &viewer, "topics=queues", None).await.unwrap();
    until_subscribed(&app, 1).await;

    let (status, _) = common::call(
        &app,
        &admin,
        "set_queue_paused",
        &[("name", "notifications"), ("paused", "true")],
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(
        next_updates(&mut socket).await,
        vec![LiveUpdate::reload(Topic::Queues)],
        "a reload that names no queue"
    );
}

#[tokio::test]
async fn a_job_enqueued_through_one_node_and_run_by_a_standalone_worker_is_seen_live_on_another() {
    use veriphy_jobs::server::db::Database;
    use veriphy_jobs::server::worker::{Registry, Worker, WorkerConfig};
    let node_a = spawn_app().await;
    let node_b = node_a.other_node().await;
    let organization = node_a.test_db.new_organization().await;
    // sessions live in PostgreSQL: a sign-in on node A is valid on node B
    let cookie = signed_in(&node_a, BANK_ADMIN).await;
    let mut socket = open_at(
        &node_b.base,
        &cookie,
        &format!("topics=jobs&org={organization}"),
        None,
    )
    .await
    .unwrap();
    until_hub_has(&node_b.hub, 1).await;

    let (status, body) = common::call(
        &node_a,
        &cookie,
        "create_job",
        &[
            ("form[organization_id]", &organization.to_string()),
            ("form[job_type]", "other"),
            ("form[job_name]", "Across nodes"),
            ("form[payload]", "{}"),
            ("form[priority]", "normal"),
            ("form[queue]", "default"),
            ("form[max_attempts]", "3"),
            ("form[run_at]", ""),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id: Uuid = serde_json::from_value(body).unwrap();
    assert!(
        next_updates(&mut socket).await[0].ids.contains(&id),
        "enqueued"
    );
    let worker_process = Database::connect(node_a.test_db.owner.clone(), 5)
        .await
        .unwrap();
    let worker = Worker::start(
        worker_process,
        Registry::standard(),
        WorkerConfig {
            poll_interval: Duration::from_millis(100),
            ..WorkerConfig::default()
        },
    )
    .await
    .unwrap();

    assert!(next_updates(&mut socket).await[0].ids.contains(&id), "run");
    worker.shutdown().await;
}

#[tokio::test]
async fn a_changed_list_page_is_pushed_read_in_the_viewer_s_organization_only() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let mut northwind_viewer = watching_jobs(&app, NORTHWIND_VIEWER).await;
    let mut harbor_viewer = watching_jobs(&app, "viewer@harbor.example").await;
    until_subscribed(&app, 2).await;
    show_first_jobs_page(&mut [&mut northwind_viewer, &mut harbor_viewer]).await;

    app.hub.publish([job_change(northwind, 1)]);

    let pushed = next_pushed_page(&mut northwind_viewer).await;
    let page: Page<JobRow> = serde_json::from_value(pushed.page.expect("a page")).unwrap();
    assert!(!page.items.is_empty());
    assert!(page
        .items
        .iter()
        .all(|job| job.organization_id == northwind));
    let nothing = tokio::time::timeout(Duration::from_millis(800), harbor_viewer.next()).await;
    assert!(nothing.is_err(), "harbor's viewer received {nothing:?}");
}

#[tokio::test]
async fn a_hundred_viewers_of_one_page_cost_one_read() {
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let cookie = signed_in(&app, NORTHWIND_VIEWER).await;
    let mut viewers = Vec::new();
    for _ in 0..100 {
        viewers.push(open(&app, &cookie, "topics=jobs", None).await.unwrap());
    }
    show_first_jobs_page(&mut viewers.iter_mut().collect::<Vec<_>>()).await;

    app.hub.publish([job_change(northwind, 1)]);

    let first = next_pushed_page(&mut viewers[0]).await;
    for viewer in &mut viewers[1..] {
        assert_eq!(next_pushed_page(viewer).await, first);
    }
    assert_eq!(app.hub.pages_read(), 1);
}

#[tokio::test]
async fn a_third_party_call_is_announced_to_its_organization_s_api_log_viewers_only() {
    use veriphy_jobs::domain::HttpMethod;
    use veriphy_jobs::server::outbound::logged::record_call;
    use veriphy_jobs::server::outbound::{CallRecord, CallRequest, SendError};
    let app = spawn_app().await;
    let northwind = app.test_db.organization_id("northwind-lending").await;
    let northwind_cookie = signed_in(&app, NORTHWIND_VIEWER).await;
    let harbor_cookie = signed_in(&app, "viewer@harbor.example").await;
    let mut northwind_viewer = open(&app, &northwind_cookie, "topics=api_logs", None)
        .await
        .unwrap();
    let mut harbor_viewer = open(&app, &harbor_cookie, "topics=api_logs", None)
        .await
        .unwrap();
    until_subscribed(&app, 2).await;

    let answer = record_call(
        &app.test_db.db,
        &CallRecord {
            organization_id: northwind,
            integration_id: None,
            api_name: "announced_api".into(),
            retry_count: 0,
            metadata: serde_json::json!({}),
        },
        &CallRequest {
            method: HttpMethod::Get,
            url: "https://api.example/x".into(),
            headers: Vec::new(),
            body: None,
        },
        async { Ok::<_, SendError>((200, "{}".to_string(), None)) },
    )
    .await
    .unwrap();

    let updates = next_updates(&mut northwind_viewer).await;
    assert_eq!(updates[0].topic, Topic::ApiLogs);
    assert_eq!(updates[0].ids, vec![answer.log_id]);
    let nothing = tokio::time::timeout(Duration::from_millis(800), harbor_viewer.next()).await;
    assert!(nothing.is_err(), "harbor's viewer received {nothing:?}");
}
