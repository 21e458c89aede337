//! Email templates over HTTP: writers of an organization manage its own
//! templates, which batches and email jobs then use; viewers read; no one
//! reaches another organization's.

mod common;

use common::{call, signed_in, spawn_app, TestApp};
use serde_json::Value;
use uuid::Uuid;

const NORTHWIND_ADMIN: &str = "admin@northwind.example";
const NORTHWIND_VIEWER: &str = "viewer@northwind.example";
const HARBOR_ADMIN: &str = "admin@harbor.example";

/// `cookie` saves a template (a new one when `id` is `None`).
async fn save(
    app: &TestApp,
    cookie: &str,
    id: Option<Uuid>,
    name: &str,
    text: &str,
) -> (u16, Value) {
    let id = id.map(|id| id.to_string()).unwrap_or_default();
    let mut form = vec![
        ("form[name]", name),
        ("form[subject]", "Your {{month}} statement"),
        ("form[text_body]", text),
        ("form[html_body]", ""),
    ];
    if !id.is_empty() {
        form.push(("id", id.as_str()));
    }
    call(app, cookie, "save_template", &form).await
}

fn id_of(body: &Value) -> Uuid {
    Uuid::parse_str(body.as_str().expect("an id")).unwrap()
}

#[tokio::test]
async fn a_saved_template_is_what_a_batch_then_uses() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let batch = vec![
        ("form[batch_name]", "Statements"),
        ("form[subject]", "Statement"),
        ("form[template]", "statement_ready"),
        (
            "form[recipients]",
            "email,name,month\nada@bank.example,Ada,March\n",
        ),
    ];

    let (saved, body) = save(&app, &admin, None, "statement_ready", "Dear {{name}}").await;
    let (created, batch_body) = call(&app, &admin, "create_batch", &batch).await;

    assert_eq!(saved, 200, "{body}");
    assert_eq!(created, 200, "{batch_body}");
    let (status, detail) = call(
        &app,
        &admin,
        "template_detail",
        &[("id", &id_of(&body).to_string())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(detail["text_body"], "Dear {{name}}");
    assert_eq!(detail["subject"], "Your {{month}} statement");
}

#[tokio::test]
async fn an_edit_changes_the_template_and_is_audited() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, body) = save(&app, &admin, None, "reminder", "Hello {{name}}").await;
    let id = id_of(&body);

    let (status, _) = save(&app, &admin, Some(id), "reminder", "Hi again {{name}}").await;

    assert_eq!(status, 200);
    let (_, detail) = call(&app, &admin, "template_detail", &[("id", &id.to_string())]).await;
    assert_eq!(detail["text_body"], "Hi again {{name}}");
    let mut owner = app.test_db.owner_connection().await;
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where target_id = $1 order by created_at, action",
    )
    .bind(id.to_string())
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert_eq!(actions, vec!["template.create", "template.update"]);
}

#[tokio::test]
async fn a_second_template_of_the_same_name_is_refused() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    save(&app, &admin, None, "reminder", "Hello").await;

    let (status, body) = save(&app, &admin, None, "reminder", "Hello again").await;

    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        "This organization already has a template with that name."
    );
}

#[tokio::test]
async fn a_template_with_an_open_place_is_refused_with_where_it_is() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;

    let (status, body) = save(&app, &admin, None, "reminder", "Dear {{name").await;

    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "The text body has a \"{{\" without its \"}}\"."
    );
}

#[tokio::test]
async fn a_viewer_reads_templates_but_cannot_save_one() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    save(&app, &admin, None, "reminder", "Hello").await;
    let viewer = signed_in(&app, NORTHWIND_VIEWER).await;

    let (listed, page) = call(&app, &viewer, "list_templates", &[]).await;
    let (status, body) = save(&app, &viewer, None, "mine", "Hello").await;

    assert_eq!(listed, 200);
    assert_eq!(page["items"][0]["name"], "reminder");
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn another_organization_s_template_is_not_found_for_reading_changing_or_deleting() {
    let app = spawn_app().await;
    let harbor = signed_in(&app, HARBOR_ADMIN).await;
    let (_, body) = save(&app, &harbor, None, "theirs", "Hello").await;
    let theirs = id_of(&body);
    let northwind = signed_in(&app, NORTHWIND_ADMIN).await;

    let (read, _) = call(
        &app,
        &northwind,
        "template_detail",
        &[("id", &theirs.to_string())],
    )
    .await;
    let (changed, _) = save(&app, &northwind, Some(theirs), "theirs", "Mine now").await;
    let (deleted, _) = call(
        &app,
        &northwind,
        "delete_template",
        &[("id", &theirs.to_string())],
    )
    .await;
    let (_, listed) = call(&app, &northwind, "list_templates", &[]).await;

    assert_eq!((read, changed, deleted), (404, 404, 404));
    assert_eq!(listed["items"], Value::Array(vec![]));
    let (_, still) = call(
        &app,
        &harbor,
        "template_detail",
        &[("id", &theirs.to_string())],
    )
    .await;
    assert_eq!(still["text_body"], "Hello");
}

#[tokio::test]
async fn a_deleted_template_is_gone_and_batches_naming_it_are_refused_again() {
    let app = spawn_app().await;
    let admin = signed_in(&app, NORTHWIND_ADMIN).await;
    let (_, body) = save(&app, &admin, None, "statement_ready", "Dear {{name}}").await;
    let id = id_of(&body);

    let (status, message) = call(&app, &admin, "delete_template", &[("id", &id.to_string())]).await;

    assert_eq!(status, 200);
    assert_eq!(message, "Deleted template \"statement_ready\".");
    let (read, _) = call(&app, &admin, "template_detail", &[("id", &id.to_string())]).await;
    assert_eq!(read, 404);
    let batch = [
        ("form[batch_name]", "Statements"),
        ("form[subject]", "Statement"),
        ("form[template]", "statement_ready"),
        ("form[recipients]", "email,name\nada@bank.example,Ada\n"),
    ];
    let (refused, body) = call(&app, &admin, "create_batch", &batch).await;
    assert_eq!(refused, 422);
    assert_eq!(
        body["message"],
        "There is no email template named \"statement_ready\"; the built-in ones are welcome and notification."
    );
}
