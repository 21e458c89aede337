//! Row-level security is really in force for the application role: one
//! organization's context never sees or writes another's rows, even with no
//! WHERE clause at all.

mod common;

use uuid::Uuid;
use veriphy_jobs::server::db::Scope;

const TENANT_TABLES: [&str; 8] = [
    "jobs",
    "job_batches",
    "failed_jobs",
    "third_party_api_log",
    "webhooks",
    "system_integrations",
    "users",
    "audit_log",
];

async fn demo_orgs(test_db: &common::TestDb) -> (Uuid, Uuid) {
    veriphy_jobs::server::demo_data::load(
        &test_db.db,
        &veriphy_jobs::server::secrets::Keyring::ephemeral(),
        veriphy_jobs::server::demo_data::DEFAULT_DEMO_PASSWORD,
        false,
    )
    .await
    .unwrap();
    let mut conn = test_db.owner_connection().await;
    let a: Uuid =
        sqlx::query_scalar("select id from organizations where slug = 'northwind-lending'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let b: Uuid = sqlx::query_scalar("select id from organizations where slug = 'harbor-credit'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    // every tenant table has rows of both organizations to hide
    sqlx::query("insert into audit_log (organization_id, action) values ($1, 'a'), ($2, 'b')")
        .bind(a)
        .bind(b)
        .execute(&mut conn)
        .await
        .unwrap();
    // (the demo's calls are made as it loads, by a worker these tests do not run)
    sqlx::query(
        "insert into third_party_api_log (organization_id, api_name, endpoint, method, status)
         values ($1, 'probe', 'https://api.example/a', 'GET', 'pending'),
                ($2, 'probe', 'https://api.example/b', 'GET', 'pending')",
    )
    .bind(a)
    .bind(b)
    .execute(&mut conn)
    .await
    .unwrap();
    for table in TENANT_TABLES {
        let count: i64 = sqlx::query_scalar(&format!(
            "select count(*) from {table} where organization_id = $1"
        ))
        .bind(b)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(count > 0, "{table} has no org-B rows to hide");
    }
    (a, b)
}

#[tokio::test]
async fn the_application_role_is_not_privileged() {
    let test_db = common::fresh_database().await;
    let mut tx = test_db.db.begin(Scope::bank()).await.unwrap();
    let (role, superuser, bypass): (String, bool, bool) = sqlx::query_as(
        "select current_user::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(role, "veriphy_app");
    assert!(!superuser && !bypass);
    let owns_tables: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_tables where schemaname = 'public' and tableowner = current_user)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(!owns_tables, "the application role must not own tables");
    for table in TENANT_TABLES.iter().chain(&["organizations"]) {
        let (enabled, forced): (bool, bool) =
            sqlx::query_as("select relrowsecurity, relforcerowsecurity from pg_class where relname = $1 and relnamespace = 'public'::regnamespace")
                .bind(table)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert!(
            enabled && forced,
            "{table}: RLS enabled={enabled} forced={forced}"
        );
    }
}

#[tokio::test]
async fn organization_context_sees_no_other_organization_rows() {
    let test_db = common::fresh_database().await;
    let (a, b) = demo_orgs(&test_db).await;
    let mut tx = test_db.db.begin(Scope::organization(a)).await.unwrap();
    for table in TENANT_TABLES {
        // deliberately no WHERE clause: only the policy stands between A and B
        let foreign: i64 = sqlx::query_scalar(&format!(
            "select count(*) filter (where organization_id = $1) from {table}"
        ))
        .bind(b)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(
            foreign, 0,
            "{table} leaks organization B rows into A's context"
        );
        let own: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert!(own > 0, "{table}: A should see its own rows");
    }
    let orgs: Vec<Uuid> = sqlx::query_scalar("select id from organizations")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(orgs, vec![a], "A must not learn that B exists");
    // updates and deletes of B rows find nothing to touch
    let touched = sqlx::query("update jobs set job_name = 'hijacked' where organization_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(touched, 0);
    let deleted = sqlx::query("delete from webhooks where organization_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(deleted, 0);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn organization_context_cannot_write_rows_of_another_organization() {
    let test_db = common::fresh_database().await;
    let (a, b) = demo_orgs(&test_db).await;
    let inserts = [
        "insert into jobs (organization_id, job_type, job_name, payload) values ($1, 'email', 'x', '{}')",
        "insert into job_batches (organization_id, batch_name) values ($1, 'x')",
        "insert into webhooks (organization_id, webhook_name, webhook_url, event_type) values ($1, 'x', 'https://x.example', 'case_created')",
        "insert into third_party_api_log (organization_id, api_name, endpoint, method, status) values ($1, 'x', '/x', 'GET', 'success')",
        "insert into system_integrations (organization_id, name, integration_type, provider) values ($1, 'x', 'sms', 'sandbox')",
        "insert into audit_log (organization_id, action) values ($1, 'x')",
    ];
    for statement in inserts {
        let mut tx = test_db.db.begin(Scope::organization(a)).await.unwrap();
        let err = sqlx::query(statement)
            .bind(b)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("row-level security"),
            "{statement}: {err}"
        );
        tx.rollback().await.unwrap();
        // the same write for its own organization is allowed
        let mut tx = test_db.db.begin(Scope::organization(a)).await.unwrap();
        sqlx::query(statement)
            .bind(a)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
    }
    // moving an own row to B is refused too
    let mut tx = test_db.db.begin(Scope::organization(a)).await.unwrap();
    let err = sqlx::query("update webhooks set organization_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn without_context_nothing_is_visible() {
    let test_db = common::fresh_database().await;
    demo_orgs(&test_db).await;
    let mut conn = test_db.db.app.acquire().await.unwrap();
    for table in TENANT_TABLES.iter().chain(&["organizations"]) {
        let count: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(
            count, 0,
            "{table} is visible without an organization context"
        );
    }
}

#[tokio::test]
async fn bank_context_sees_every_organization() {
    let test_db = common::fresh_database().await;
    let (a, b) = demo_orgs(&test_db).await;
    let mut tx = test_db.db.begin(Scope::bank()).await.unwrap();
    let orgs: Vec<Uuid> =
        sqlx::query_scalar("select distinct organization_id from jobs order by 1")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(orgs, expected);
}

/// (id, organization) of the jobs matching `condition`, newest first, as the
/// owner sees them.
async fn newest_first(conn: &mut sqlx::PgConnection, condition: &str) -> Vec<(Uuid, Uuid)> {
    sqlx::query_as(&format!(
        "select id, organization_id from jobs where {condition}
         order by created_at desc, id desc"
    ))
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Every page of the Jobs list for `scope`, following the cursor; the ids in
/// the order shown.
async fn every_listed_job(
    test_db: &common::TestDb,
    scope: Scope,
    filter: &veriphy_jobs::server::db::JobFilter,
) -> Vec<(Uuid, Uuid)> {
    use veriphy_jobs::domain::{Cursor, Page};
    let mut shown = Vec::new();
    let mut cursor = None;
    loop {
        let mut tx = test_db.db.begin(scope).await.unwrap();
        let found = veriphy_jobs::server::repo::jobs::list(&mut tx, filter, cursor)
            .await
            .unwrap();
        let page = Page::from_search(
            found.rows,
            |row| Cursor {
                created_at: row.created_at,
                id: row.id,
            },
            found.searched_to,
        );
        shown.extend(page.items.iter().map(|row| (row.id, row.organization_id)));
        match page.next_cursor {
            Some(token) => cursor = Some(Cursor::decode(&token).unwrap()),
            None => return shown,
        }
    }
}

#[tokio::test]
async fn the_jobs_list_pages_newest_first_for_the_bank_and_for_one_organization() {
    use veriphy_jobs::server::db::JobFilter;
    let test_db = common::fresh_database().await;
    let (a, _) = demo_orgs(&test_db).await;
    let mut conn = test_db.owner_connection().await;

    // The bank-wide list merges every organization's newest jobs.
    let everything = newest_first(&mut conn, "true").await;
    let organizations: std::collections::HashSet<Uuid> =
        everything.iter().map(|(_, org)| *org).collect();
    assert!(everything.len() > 50 && organizations.len() > 1);
    let bank = every_listed_job(&test_db, Scope::bank(), &JobFilter::default()).await;
    assert_eq!(bank, everything);

    // With a condition, still one ordered list across organizations.
    let failed = JobFilter {
        status: Some(veriphy_jobs::domain::JobStatus::Failed),
        ..JobFilter::default()
    };
    let bank_failed = every_listed_job(&test_db, Scope::bank(), &failed).await;
    let expected_failed = newest_first(&mut conn, "status = 'failed'").await;
    assert!(!expected_failed.is_empty());
    assert_eq!(bank_failed, expected_failed);

    // An organization's user sees their own jobs only, in the same order.
    let own = JobFilter {
        organization_id: Some(a),
        ..JobFilter::default()
    };
    let listed = every_listed_job(&test_db, Scope::organization(a), &own).await;
    let theirs: Vec<(Uuid, Uuid)> = everything
        .into_iter()
        .filter(|(_, org)| *org == a)
        .collect();
    assert_eq!(listed, theirs);
}

#[tokio::test]
async fn every_role_works_under_a_statement_timeout() {
    use veriphy_jobs::server::db::{Database, PoolSizes, SessionLimits};
    let test_db = common::fresh_database().await;
    let limits = SessionLimits {
        statement_timeout: std::time::Duration::from_millis(200),
        ..SessionLimits::default()
    };
    let db = Database::connect_with(test_db.owner.clone(), PoolSizes::all(2), limits)
        .await
        .unwrap();
    for pool in [&db.app, &db.handlers, &db.worker] {
        let error = sqlx::query("select pg_sleep(2)")
            .execute(pool)
            .await
            .expect_err("cancelled by statement_timeout");
        let code = error.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("57014"), "{error}");
    }
}

#[tokio::test]
async fn job_handlers_cannot_take_the_consoles_connections() {
    use veriphy_jobs::server::db::{Database, PoolSizes, SessionLimits};
    let test_db = common::fresh_database().await;
    let sizes = PoolSizes {
        console: 2,
        handlers: 2,
        engine: 2,
    };
    let db = Database::connect_with(test_db.owner.clone(), sizes, SessionLimits::default())
        .await
        .unwrap();
    let busy_handlers = [
        db.handlers.acquire().await.unwrap(),
        db.handlers.acquire().await.unwrap(),
    ];
    let console = tokio::time::timeout(std::time::Duration::from_secs(2), db.begin(Scope::bank()))
        .await
        .expect("the console still gets a connection");
    assert!(console.is_ok());
    drop(busy_handlers);
}

#[tokio::test]
async fn data_exceptions_are_the_callers_fault_and_their_text_is_not_shown() {
    use veriphy_jobs::error::AppError;
    let test_db = common::fresh_database().await;
    let mut tx = test_db.db.begin(Scope::bank()).await.unwrap();
    for (statement, expected) in [
        (
            "insert into organizations (name, slug) values (repeat('x', 300), 'long')",
            "A value is too long.",
        ),
        (
            "select '{\"a\": \"\\u0000\"}'::jsonb",
            "Text contains a character that cannot be stored (such as a NUL byte).",
        ),
        (
            "select '294277-01-01'::timestamptz",
            "A date or time is out of range.",
        ),
    ] {
        let error = sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect_err(statement);
        assert!(error
            .as_database_error()
            .unwrap()
            .code()
            .unwrap()
            .starts_with("22"));
        assert_eq!(
            AppError::from(error),
            AppError::invalid(expected),
            "{statement}"
        );
        sqlx::query("rollback").execute(&mut *tx).await.ok();
        tx = test_db.db.begin(Scope::bank()).await.unwrap();
    }
}

#[tokio::test]
async fn demo_data_is_refused_where_real_users_exist_unless_forced() {
    use veriphy_jobs::server::demo_data::{load, DemoError, DEFAULT_DEMO_PASSWORD};
    use veriphy_jobs::server::secrets::Keyring;
    let test_db = common::fresh_database().await;
    let mut owner = test_db.owner_connection().await;
    sqlx::query(
        "insert into users (email, full_name, role, password_hash)
         values ('ops@bank.example', 'Ops', 'bank_admin', 'x')",
    )
    .execute(&mut owner)
    .await
    .unwrap();
    let refused = load(
        &test_db.db,
        &Keyring::ephemeral(),
        DEFAULT_DEMO_PASSWORD,
        false,
    )
    .await;
    assert!(
        matches!(refused, Err(DemoError::NotADemoDatabase)),
        "{refused:?}"
    );
    let demo_users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(demo_users, 1, "nothing was loaded");
    load(
        &test_db.db,
        &Keyring::ephemeral(),
        DEFAULT_DEMO_PASSWORD,
        true,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn logged_database_errors_do_not_quote_what_people_typed() {
    let test_db = common::fresh_database().await;
    let mut tx = test_db.db.begin(Scope::bank()).await.unwrap();
    // PostgreSQL quotes the offending input in the message
    let error = sqlx::query("select $1::text::uuid")
        .bind("jane.doe@customer.example")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("jane.doe"),
        "the raw error quotes it"
    );
    let logged = veriphy_jobs::server::db::loggable(&error);
    assert!(!logged.contains("jane.doe"), "{logged}");
    assert!(logged.contains("SQLSTATE 22P02"), "{logged}");
}
