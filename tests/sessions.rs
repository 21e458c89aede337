//! Sessions people can see and end, and bank admins turning users and
//! organizations off: each takes effect on the very next request.

mod common;

use common::{call, signed_in, spawn_app, TestApp};

const VIEWER: &str = "viewer@northwind.example";
const HARBOR_VIEWER: &str = "viewer@harbor.example";
const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const BANK_ADMIN: &str = "bank.admin@veriphy.example";

async fn jobs_status(app: &TestApp, cookie: &str) -> u16 {
    app.get("/jobs", cookie).await.status().as_u16()
}

/// The caller's sessions as the Account page lists them.
async fn sessions(app: &TestApp, cookie: &str) -> Vec<serde_json::Value> {
    let (status, body) = call(app, cookie, "my_sessions", &[]).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// The id of the one listed session that is not the caller's own.
fn other_session(rows: &[serde_json::Value]) -> String {
    let others: Vec<_> = rows.iter().filter(|r| r["current"] == false).collect();
    assert_eq!(others.len(), 1, "{rows:?}");
    others[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_person_sees_each_browser_signed_in_as_them() {
    let app = spawn_app().await;
    let first = signed_in(&app, VIEWER).await;
    let _second = signed_in(&app, VIEWER).await;
    let _someone_else = signed_in(&app, HARBOR_VIEWER).await;

    let rows = sessions(&app, &first).await;

    assert_eq!(rows.len(), 2);
    assert_eq!(rows.iter().filter(|r| r["current"] == true).count(), 1);
    assert_eq!(rows[0]["ip_address"], "127.0.0.1");
}

#[tokio::test]
async fn signing_out_another_session_ends_it_at_its_next_request() {
    let app = spawn_app().await;
    let first = signed_in(&app, VIEWER).await;
    let second = signed_in(&app, VIEWER).await;
    let id = other_session(&sessions(&app, &first).await);

    let (status, body) = call(&app, &first, "sign_out_session", &[("id", &id)]).await;

    assert_eq!(
        (status, body.as_str()),
        (200, Some("That session is signed out."))
    );
    assert_eq!(jobs_status(&app, &second).await, 303);
    assert_eq!(jobs_status(&app, &first).await, 200);
}

#[tokio::test]
async fn the_current_session_is_not_signed_out_from_the_list() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, VIEWER).await;
    let rows = sessions(&app, &cookie).await;
    let own = rows[0]["id"].as_str().unwrap();

    let (status, body) = call(&app, &cookie, "sign_out_session", &[("id", own)]).await;

    assert_eq!(status, 422);
    assert_eq!(
        (body["kind"].as_str(), body["message"].as_str()),
        (
            Some("Invalid"),
            Some("That is this browser's session: use Sign out instead.")
        )
    );
}

#[tokio::test]
async fn someone_else_s_session_cannot_be_signed_out() {
    let app = spawn_app().await;
    let mine = signed_in(&app, VIEWER).await;
    let theirs = signed_in(&app, HARBOR_VIEWER).await;
    let their_id = sessions(&app, &theirs).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, _) = call(&app, &mine, "sign_out_session", &[("id", &their_id)]).await;

    assert_eq!(status, 404);
    assert_eq!(jobs_status(&app, &theirs).await, 200);
}

#[tokio::test]
async fn signing_out_all_other_sessions_keeps_only_this_one() {
    let app = spawn_app().await;
    let keep = signed_in(&app, VIEWER).await;
    let others = [signed_in(&app, VIEWER).await, signed_in(&app, VIEWER).await];

    let (status, body) = call(&app, &keep, "sign_out_other_sessions", &[]).await;

    assert_eq!(
        (status, body.as_str()),
        (200, Some("2 other sessions are signed out."))
    );
    for cookie in &others {
        assert_eq!(jobs_status(&app, cookie).await, 303);
    }
    assert_eq!(sessions(&app, &keep).await.len(), 1);
}

#[tokio::test]
async fn signing_out_removes_the_session_from_the_list() {
    let app = spawn_app().await;
    let stays = signed_in(&app, VIEWER).await;
    let leaves = signed_in(&app, VIEWER).await;

    let (status, _) = call(&app, &leaves, "logout", &[]).await;

    assert_eq!(status, 200);
    assert_eq!(sessions(&app, &stays).await.len(), 1);
}

#[tokio::test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let app = spawn_app().await;
    let here = signed_in(&app, VIEWER).await;
    let elsewhere = signed_in(&app, VIEWER).await;

    let (status, body) = call(
        &app,
        &here,
        "change_password",
        &[
            (
                "current_password",
                veriphy_jobs::server::demo_data::DEFAULT_DEMO_PASSWORD,
            ),
            ("new_password", "a much longer passphrase"),
        ],
    )
    .await;

    assert_eq!(
        (status, body.as_str()),
        (
            200,
            Some("Your password was changed, and your 1 other session signed out.")
        )
    );
    assert_eq!(jobs_status(&app, &elsewhere).await, 303);
    assert_eq!(jobs_status(&app, &here).await, 200);
}

/// The id of the demo user `email`.
async fn user_id(app: &TestApp, email: &str) -> String {
    let mut owner = app.test_db.owner_connection().await;
    let id: uuid::Uuid = sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(&mut owner)
        .await
        .unwrap();
    id.to_string()
}

#[tokio::test]
async fn a_bank_admin_deactivates_a_user_who_is_signed_out_at_once() {
    let app = spawn_app().await;
    let admin = signed_in(&app, BANK_ADMIN).await;
    let viewer = signed_in(&app, VIEWER).await;
    let id = user_id(&app, VIEWER).await;

    let (status, body) = call(
        &app,
        &admin,
        "set_user_active",
        &[("id", &id), ("active", "false")],
    )
    .await;

    assert_eq!(
        (status, body.as_str()),
        (200, Some("The user is deactivated and signed out."))
    );
    assert_eq!(jobs_status(&app, &viewer).await, 303);
    assert_eq!(
        app.login(
            VIEWER,
            veriphy_jobs::server::demo_data::DEFAULT_DEMO_PASSWORD,
            None
        )
        .await
        .status(),
        401
    );
}

#[tokio::test]
async fn a_reactivated_user_signs_in_again() {
    let app = spawn_app().await;
    let admin = signed_in(&app, BANK_ADMIN).await;
    let id = user_id(&app, VIEWER).await;
    call(
        &app,
        &admin,
        "set_user_active",
        &[("id", &id), ("active", "false")],
    )
    .await;

    let (status, _) = call(
        &app,
        &admin,
        "set_user_active",
        &[("id", &id), ("active", "true")],
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(jobs_status(&app, &signed_in(&app, VIEWER).await).await, 200);
}

#[tokio::test]
async fn a_bank_admin_deactivates_an_organization_whose_users_are_signed_out_at_once() {
    let app = spawn_app().await;
    let admin = signed_in(&app, BANK_ADMIN).await;
    let northwind = signed_in(&app, NORTHWIND_ADMIN).await;
    let harbor = signed_in(&app, HARBOR_VIEWER).await;
    let mut owner = app.test_db.owner_connection().await;
    let id = app.test_db.organization_id("northwind-lending").await;

    let (status, _) = call(
        &app,
        &admin,
        "set_organization_active",
        &[("id", &id.to_string()), ("active", "false")],
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(jobs_status(&app, &northwind).await, 303);
    assert_eq!(jobs_status(&app, &harbor).await, 200);
    let open: i64 = sqlx::query_scalar(
        "select count(*) from user_sessions s join users u on u.id = s.user_id
         where u.organization_id = $1",
    )
    .bind(id)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(open, 0, "their session rows are gone");
}

#[tokio::test]
async fn a_bank_admin_cannot_deactivate_themselves() {
    let app = spawn_app().await;
    let admin = signed_in(&app, BANK_ADMIN).await;
    let id = user_id(&app, BANK_ADMIN).await;

    let (status, body) = call(
        &app,
        &admin,
        "set_user_active",
        &[("id", &id), ("active", "false")],
    )
    .await;

    assert_eq!(status, 422);
    assert_eq!(
        (body["kind"].as_str(), body["message"].as_str()),
        (
            Some("Invalid"),
            Some("You cannot deactivate yourself: ask another bank admin.")
        )
    );
}

#[tokio::test]
async fn organization_admins_are_refused_the_access_functions() {
    let app = spawn_app().await;
    let org_admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let id = user_id(&app, VIEWER).await;

    for (function, form) in [
        ("list_organization_access", vec![]),
        ("list_user_access", vec![]),
        (
            "set_user_active",
            vec![("id", id.as_str()), ("active", "false")],
        ),
    ] {
        let (status, _) = call(&app, &org_admin, function, &form).await;
        assert_eq!(status, 403, "{function}");
    }
    assert_eq!(jobs_status(&app, &signed_in(&app, VIEWER).await).await, 200);
}

#[tokio::test]
async fn a_bank_admin_sets_an_organization_s_storage_quota_and_file_retention() {
    let app = spawn_app().await;
    let admin = signed_in(&app, BANK_ADMIN).await;
    let mut owner = app.test_db.owner_connection().await;
    let id = app.test_db.organization_id("northwind-lending").await;

    let (status, body) = call(
        &app,
        &admin,
        "set_organization_storage",
        &[
            ("id", &id.to_string()),
            ("quota_mib", "2048"),
            ("file_retention_days", "30"),
        ],
    )
    .await;

    assert_eq!(
        (status, body.as_str()),
        (200, Some("Storage set to 2048 MiB, files kept 30 days."))
    );
    let (quota, days): (i64, i32) = sqlx::query_as(
        "select storage_quota_bytes, file_retention_days from organizations where id = $1",
    )
    .bind(id)
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!((quota, days), (2048 * 1024 * 1024, 30));
}

/// Adds `count` viewers of Northwind named "Bulk n" (bulk-n@northwind.example).
async fn add_bulk_viewers(app: &TestApp, count: i32) {
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query(
        "insert into users (email, full_name, role, organization_id, password_hash)
         select format('bulk-%s@northwind.example', lpad(g::text, 3, '0')), 'Bulk ' || g,
                'org_viewer', o.id, 'not a hash'
         from generate_series(1, $1) g, organizations o where o.slug = 'northwind-lending'",
    )
    .bind(count)
    .execute(&mut owner)
    .await
    .unwrap();
}

fn emails(page: &serde_json::Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["email"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_access_users_list_goes_on_page_by_page_past_a_hundred() {
    let app = spawn_app().await;
    add_bulk_viewers(&app, 120).await;
    let admin = signed_in(&app, BANK_ADMIN).await;

    let (status, first) = call(&app, &admin, "list_user_access", &[("search", "bulk-")]).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(emails(&first).len(), 100);
    assert_eq!(first["next_after"], "bulk-100@northwind.example");

    let (status, second) = call(
        &app,
        &admin,
        "list_user_access",
        &[("search", "bulk-"), ("after", "bulk-100@northwind.example")],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        emails(&second).first().unwrap(),
        "bulk-101@northwind.example"
    );
    assert_eq!(emails(&second).len(), 20);
    assert!(second["next_after"].is_null());
}

#[tokio::test]
async fn the_access_users_search_matches_email_or_name_literally() {
    let app = spawn_app().await;
    add_bulk_viewers(&app, 3).await;
    let admin = signed_in(&app, BANK_ADMIN).await;

    let (_, by_name) = call(&app, &admin, "list_user_access", &[("search", "bulk 2")]).await;
    let (_, wildcard) = call(&app, &admin, "list_user_access", &[("search", "%")]).await;

    assert_eq!(emails(&by_name), vec!["bulk-002@northwind.example"]);
    assert_eq!(
        emails(&wildcard),
        Vec::<String>::new(),
        "% is a character, not a wildcard"
    );
}

#[tokio::test]
async fn an_access_users_search_with_a_nul_character_is_refused_with_a_message() {
    let app = spawn_app().await;
    let admin = signed_in(&app, BANK_ADMIN).await;

    let (status, body) = call(&app, &admin, "list_user_access", &[("search", "a\0b")]).await;

    assert_eq!(status, 422);
    assert_eq!(
        body["message"].as_str(),
        Some("The search cannot contain a NUL character.")
    );
}
