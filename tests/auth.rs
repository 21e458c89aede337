//! Sign-in, sign-out and the gate, over real HTTP against the real router.

mod common;

use common::{session_cookie, session_set_cookie, spawn_app};

const PASSWORD: &str = veriphy_jobs::server::demo_data::DEFAULT_DEMO_PASSWORD;
const VIEWER: &str = "viewer@northwind.example";

#[tokio::test]
async fn signed_out_pages_redirect_and_server_functions_answer_401() {
    let app = spawn_app().await;
    let client = app.client();
    for path in [
        "/",
        "/jobs",
        "/batches",
        "/failed-jobs",
        "/api-logs",
        "/webhooks",
    ] {
        let response = client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login"), "{path} → {location}");
        assert!(
            response.text().await.unwrap().is_empty(),
            "no HTML before sign-in"
        );
    }
    for function in [
        "list_jobs",
        "list_batches",
        "list_failed_jobs",
        "list_api_logs",
        "list_webhooks",
        "overview",
        "organizations",
        "current_user",
        "logout",
    ] {
        let response = client
            .post(format!("{}/api/{function}", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{function}");
    }
    let login_page = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login_page.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_identical() {
    let app = spawn_app().await;
    let wrong = app.login(VIEWER, "wrong password", None).await;
    let unknown = app
        .login("nobody@nowhere.example", "wrong password", None)
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(session_cookie(&wrong).is_none() && session_cookie(&unknown).is_none());
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(wrong, unknown);
    assert!(wrong.contains("Email or password is incorrect."), "{wrong}");
}

#[tokio::test]
async fn empty_or_malformed_login_input_is_a_clear_client_error() {
    let app = spawn_app().await;
    let empty = app.login("", "", None).await;
    assert_eq!(empty.status(), 422);
    assert!(empty
        .text()
        .await
        .unwrap()
        .contains("Enter your email and password."));
    let missing = app
        .client()
        .post(format!("{}/api/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert!(missing.status().is_client_error(), "{}", missing.status());
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_changes_the_session_id() {
    let app = spawn_app().await;
    let first = app.login(VIEWER, PASSWORD, None).await;
    assert!(
        first.status().is_success() || first.status().is_redirection(),
        "{}",
        first.status()
    );
    let set_cookie = session_set_cookie(&first).expect("session cookie");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie_a = session_cookie(&first).unwrap();

    // signing in again from that session yields a new id; the old one is dead
    let second = app.login(VIEWER, PASSWORD, Some(&cookie_a)).await;
    let cookie_b = session_cookie(&second).expect("new session cookie");
    assert_ne!(cookie_a, cookie_b);
    let client = app.client();
    let with_old = client
        .get(format!("{}/jobs", app.base))
        .header("cookie", &cookie_a)
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_old.status(),
        303,
        "the pre-login session id must not stay valid"
    );
    let with_new = client
        .get(format!("{}/jobs", app.base))
        .header("cookie", &cookie_b)
        .send()
        .await
        .unwrap();
    assert_eq!(with_new.status(), 200);
    assert!(with_new.text().await.unwrap().contains("Jobs"));
}

#[tokio::test]
async fn logout_makes_the_old_cookie_useless() {
    let app = spawn_app().await;
    let login = app.login(VIEWER, PASSWORD, None).await;
    let cookie = session_cookie(&login).unwrap();
    let client = app.client();
    let me = client
        .post(format!("{}/api/current_user", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(me.text().await.unwrap().contains(VIEWER));

    let logout = client
        .post(format!("{}/api/logout", app.base))
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        logout.status().is_success() || logout.status().is_redirection(),
        "{}",
        logout.status()
    );

    let after = client
        .post(format!("{}/api/current_user", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let page = client
        .get(format!("{}/", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
}

#[tokio::test]
async fn cross_site_state_changing_requests_are_refused() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    let client = app.client();
    let forged = client
        .post(format!("{}/api/logout", app.base))
        .header("cookie", &cookie)
        .header("origin", "https://attacker.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // the session survived the forged request
    let me = client
        .post(format!("{}/api/current_user", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // a cross-site login attempt is refused before any password check
    let login = client
        .post(format!("{}/api/login", app.base))
        .header("origin", "https://attacker.example")
        .form(&[("email", VIEWER), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
}

#[tokio::test]
async fn org_users_only_ever_get_their_organization_and_bad_filters_are_422() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    let client = app.client();
    let list = |body: &'static str| {
        client
            .post(format!("{}/api/list_jobs", app.base))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let response = list("").await.unwrap();
    assert_eq!(response.status(), 200);
    let page: serde_json::Value = response.json().await.unwrap();
    let names: std::collections::HashSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["organization_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["Northwind Lending".to_string()].into_iter().collect()
    );

    let bad_status = list("query[status]=exploded").await.unwrap();
    assert_eq!(bad_status.status(), 422);
    assert!(bad_status
        .text()
        .await
        .unwrap()
        .contains("Unknown status filter"));
    let bad_cursor = list("query[cursor]=garbage").await.unwrap();
    assert_eq!(bad_cursor.status(), 422);
    assert!(bad_cursor.text().await.unwrap().contains("page link"));
}

#[tokio::test]
async fn after_sign_in_only_paths_of_this_application_are_followed() {
    let app = spawn_app().await;
    for (next, expected) in [
        ("/jobs?status=failed", "/jobs?status=failed"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
    ] {
        // a browser's form post: the answer is a redirect
        let response = app
            .client()
            .post(format!("{}/api/login", app.base))
            .header("accept", "text/html")
            .form(&[("email", VIEWER), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "{next:?}: {}",
            response.status()
        );
        assert_eq!(
            response.headers()["location"].to_str().unwrap(),
            expected,
            "{next:?}"
        );
    }
}

#[tokio::test]
async fn a_session_that_cannot_be_decoded_is_signed_out_not_an_error() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query("update tower_sessions.session set data = '\\xc1ffff'::bytea")
        .execute(&mut owner)
        .await
        .unwrap();

    let client = app.client();
    let login = client
        .get(format!("{}/login", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let jobs = client
        .get(format!("{}/jobs", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.status(), 303);
    assert!(jobs.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
}

/// The status of `/jobs` with `cookie`: 200 signed in, 303 signed out.
async fn jobs_status(app: &common::TestApp, cookie: &str) -> u16 {
    app.get("/jobs", cookie).await.status().as_u16()
}

#[tokio::test]
async fn activity_extends_the_idle_timeout_and_idleness_ends_the_session() {
    use std::time::Duration;
    let app = common::spawn_app_with(|config| {
        config.session_idle = Duration::from_secs(2);
    })
    .await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    // active for twice the idle timeout: still signed in
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(jobs_status(&app, &cookie).await, 200);
    }
    // then idle for longer than the timeout: signed out
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(jobs_status(&app, &cookie).await, 303);
}

#[tokio::test]
async fn sessions_end_at_the_absolute_limit_however_active() {
    use std::time::Duration;
    let app = common::spawn_app_with(|config| {
        config.session_idle = Duration::from_secs(60);
        config.session_absolute = Duration::from_secs(3);
    })
    .await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    assert_eq!(jobs_status(&app, &cookie).await, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(jobs_status(&app, &cookie).await, 200);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(jobs_status(&app, &cookie).await, 303);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_out_for_a_growing_while() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(
            app.login(VIEWER, "wrong password", None).await.status(),
            401
        );
    }
    // the sixth failure starts a lockout
    assert_eq!(
        app.login(VIEWER, "wrong password", None).await.status(),
        401
    );
    let locked = app.login(VIEWER, PASSWORD, None).await;
    assert_eq!(locked.status(), 429);
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_lockout_message(locked).await;
    let mut owner = app.test_db.owner_connection().await;
    let lockouts: i64 = sqlx::query_scalar(
        "select count(*) from audit_log
         where action = 'login.failed' and summary ? 'locked_out_seconds'",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert_eq!(lockouts, 1, "the lockout is audited");
    // once it has passed, the right password works again
    tokio::time::sleep(std::time::Duration::from_secs(retry_after + 1)).await;
    assert!(session_cookie(&app.login(VIEWER, PASSWORD, None).await).is_some());
}

#[tokio::test]
async fn an_account_locked_out_through_one_node_is_locked_out_on_another() {
    let app = spawn_app().await;
    let other = app.other_node().await;
    for _ in 0..6 {
        assert_eq!(
            app.login(VIEWER, "wrong password", None).await.status(),
            401
        );
    }

    let elsewhere = other.login(VIEWER, PASSWORD).await;

    assert_eq!(elsewhere.status(), 429);
    assert_lockout_message(elsewhere).await;
}

/// Asserts that `answer` tells the person to wait after too many failures.
async fn assert_lockout_message(answer: reqwest::Response) {
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many failed sign-ins. Try again in"),
        "{body}"
    );
}

#[tokio::test]
async fn text_typed_into_the_email_field_is_not_audited_unless_it_is_an_address() {
    let app = spawn_app().await;
    assert_eq!(
        app.login("hunter2-my-password", "x", None).await.status(),
        401
    );
    let mut owner = app.test_db.owner_connection().await;
    let (email, summary): (Option<String>, serde_json::Value) =
        sqlx::query_as("select actor_email, summary from audit_log where action = 'login.failed'")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert_eq!(email, None);
    assert_eq!(summary["email"], "not an address");
}

#[tokio::test]
async fn a_flood_of_wrong_sign_ins_does_not_fail_a_signed_in_users_pages() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    let flood: Vec<_> = (0..60)
        .map(|i| {
            let (client, base) = (app.client(), app.base.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/api/login"))
                    .header("accept", "application/json")
                    .form(&[
                        ("email", format!("nobody{i}@flood.example")),
                        ("password", "wrong".to_string()),
                    ])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let page = app.get("/jobs", &cookie).await;
        assert_eq!(page.status(), 200);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    for answer in flood {
        let status = answer.await.unwrap().unwrap();
        assert!(matches!(status, 401 | 429 | 503), "{status}");
    }
}

#[tokio::test]
async fn readiness_says_whether_the_database_and_schema_are_ready() {
    let app = spawn_app().await;
    let ready = app
        .client()
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"database": "ok", "schema": "ok", "worker": "not in this process"})
    );

    // a database whose newest migration did not complete is not ready
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query(
        "update _sqlx_migrations set success = false
         where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    let behind = app
        .client()
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(behind.status(), 503);
    let body: serde_json::Value = behind.json().await.unwrap();
    assert_eq!(body["schema"], "behind");
}

#[tokio::test]
async fn a_deactivated_organizations_users_are_signed_out_and_cannot_sign_in() {
    let app = spawn_app().await;
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    assert_eq!(jobs_status(&app, &cookie).await, 200);
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query("update organizations set is_active = false where slug = 'northwind-lending'")
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(jobs_status(&app, &cookie).await, 303, "signed out at once");
    assert_eq!(app.login(VIEWER, PASSWORD, None).await.status(), 401);
    assert!(session_cookie(&app.login("viewer@harbor.example", PASSWORD, None).await).is_some());
}

#[tokio::test]
async fn with_a_public_url_the_origin_check_does_not_trust_the_host_header() {
    let app = common::spawn_app_with(|config| {
        config.public_url = Some("https://jobs.veriphy.example".into());
    })
    .await;
    let sign_in_from = |origin: String| {
        let app = &app;
        async move {
            app.client()
                .post(format!("{}/api/login", app.base))
                .header("origin", origin)
                .header("accept", "application/json")
                .form(&[("email", VIEWER), ("password", "wrong")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // the Host header matches this origin, but it is not the console's
    assert_eq!(sign_in_from(app.base.clone()).await, 403);
    assert_eq!(
        sign_in_from("https://jobs.veriphy.example".into()).await,
        401
    );
}

#[tokio::test]
async fn a_user_who_must_change_their_password_does_so_before_anything_else() {
    let app = spawn_app().await;
    let mut owner = app.test_db.owner_connection().await;
    sqlx::query("update users set must_change_password = true where email = $1")
        .bind(VIEWER)
        .execute(&mut owner)
        .await
        .unwrap();
    let cookie = session_cookie(&app.login(VIEWER, PASSWORD, None).await).unwrap();
    let page = app.get("/jobs", &cookie).await;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/account/password");
    assert_eq!(app.get("/account/password", &cookie).await.status(), 200);
    let call = |function: &'static str, form: Vec<(&'static str, String)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let response = app
                .client()
                .post(format!("{}/api/{function}", app.base))
                .header("cookie", cookie)
                .header("accept", "application/json")
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
            (status, body)
        }
    };
    let (status, body) = call("list_jobs", vec![]).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            403,
            Some("Choose a new password first: Account, Change password.")
        )
    );
    let change = |current: &str, new: &str| {
        vec![
            ("current_password", current.to_string()),
            ("new_password", new.to_string()),
        ]
    };
    let (status, body) = call("change_password", change(PASSWORD, "short")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("The new password needs at least 12 characters."))
    );
    let (status, body) = call(
        "change_password",
        change("not my password", "a long new passphrase"),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (422, Some("The current password is not right."))
    );
    let (status, body) = call("change_password", change(PASSWORD, "a long new passphrase")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, Some("Your password was changed."))
    );
    assert_eq!(app.get("/jobs", &cookie).await.status(), 200);
    assert_eq!(app.login(VIEWER, PASSWORD, None).await.status(), 401);
    assert!(session_cookie(&app.login(VIEWER, "a long new passphrase", None).await).is_some());
}

#[tokio::test]
async fn the_first_start_admin_must_choose_a_new_password() {
    use veriphy_jobs::server::config::Config;
    let test_db = common::fresh_database().await;
    let mut config = Config::defaults();
    config.admin_password = Some("given in the environment".into());
    veriphy_jobs::server::bootstrap::ensure_bank_admin(&test_db.db, &config)
        .await
        .unwrap();
    let mut owner = test_db.owner_connection().await;
    let must_change: bool =
        sqlx::query_scalar("select must_change_password from users where email = $1")
            .bind(&config.admin_email)
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert!(must_change);
}
