//! Email jobs through a real worker: over SMTP to an in-test server that
//! speaks the protocol on loopback (allowlisted), or, with no email
//! integration, into the outbox — the message, its template, the outcome
//! and the API log row.

mod common;

use common::{fresh_database, TestDb};
use serde_json::json;
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use veriphy_jobs::domain::integrations::IntegrationForm;
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::db::Scope;
use veriphy_jobs::server::outbound::{Allowlist, Outbound};
use veriphy_jobs::server::providers::{Credentials, Providers};
use veriphy_jobs::server::repo::integrations;
use veriphy_jobs::server::secrets::Keyring;
use veriphy_jobs::server::worker::Registry;

const PASSWORD: &str = "smtp-pass-5150";

/// What the SMTP stand-in saw: the AUTH lines' decoded credentials, and
/// each accepted message (envelope recipients and data).
#[derive(Debug, Default)]
struct Mailroom {
    logins: Vec<String>,
    messages: Vec<(Vec<String>, String)>,
}

/// An SMTP server on loopback: plain text, AUTH PLAIN, refusing any
/// recipient whose address contains "reject" (550). Its port.
async fn smtp_server() -> (u16, Arc<Mutex<Mailroom>>) {
    use base64::Engine;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let room = Arc::new(Mutex::new(Mailroom::default()));
    let seen = room.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let room = seen.clone();
            tokio::spawn(async move {
                let (reader, mut writer) = socket.into_split();
                let mut lines = BufReader::new(reader).lines();
                let _ = writer.write_all(b"220 stand-in ESMTP\r\n").await;
                let mut recipients = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        "250-stand-in\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n".into()
                    } else if upper.starts_with("AUTH PLAIN") {
                        let encoded = line.split_whitespace().nth(2).unwrap_or("").to_string();
                        let decoded = base64::engine::general_purpose::STANDARD
                            .decode(encoded)
                            .unwrap_or_default();
                        room.lock()
                            .unwrap()
                            .logins
                            .push(String::from_utf8_lossy(&decoded).replace('\0', "|"));
                        "235 2.7.0 accepted\r\n".into()
                    } else if upper.starts_with("MAIL FROM") {
                        recipients.clear();
                        "250 ok\r\n".into()
                    } else if upper.starts_with("RCPT TO") {
                        if line.contains("reject") {
                            "550 5.1.1 mailbox unavailable\r\n".into()
                        } else {
                            recipients.push(line[8..].trim().to_string());
                            "250 ok\r\n".into()
                        }
                    } else if upper == "DATA" {
                        let _ = writer.write_all(b"354 go ahead\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(body)) = lines.next_line().await {
                            if body == "." {
                                break;
                            }
                            data.push_str(&body);
                            data.push('\n');
                        }
                        room.lock()
                            .unwrap()
                            .messages
                            .push((recipients.clone(), data));
                        "250 2.0.0 queued as 42\r\n".into()
                    } else if upper == "QUIT" {
                        let _ = writer.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        "250 ok\r\n".into()
                    };
                    if writer.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, room)
}

/// The SMTP relay on loopback `port` as its form is filled in, with
/// `password`: the organization's default email integration.
fn relay_form(port: u16, password: &str) -> IntegrationForm {
    IntegrationForm {
        name: "Mail relay".into(),
        channel: "email".into(),
        kind: "smtp".into(),
        base_url: "127.0.0.1".into(),
        port: port.to_string(),
        tls_mode: "none".into(),
        username: "relay-user".into(),
        secret: password.into(),
        sender: "statements@bank.example".into(),
        is_default: "on".into(),
        is_active: "on".into(),
        ..IntegrationForm::default()
    }
}

struct Setup {
    test: TestDb,
    organization: Uuid,
    providers: Arc<Providers>,
}

async fn setup() -> Setup {
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let providers = Arc::new(Providers::new(
        Arc::new(Keyring::ephemeral()),
        Outbound::new(Allowlist::new(["127.0.0.1"])).unwrap(),
        common::test_outbox(),
    ));
    Setup {
        test,
        organization,
        providers,
    }
}

impl Setup {
    /// Makes the SMTP server on `port` the organization's default email
    /// integration.
    async fn smtp_integration(&self, port: u16) -> Uuid {
        let valid = relay_form(port, PASSWORD).validate().unwrap();
        let id = Uuid::new_v4();
        let sealed = self.sealed_password(id, PASSWORD);
        let mut tx = self
            .test
            .db
            .begin(Scope::organization(self.organization))
            .await
            .unwrap();
        integrations::insert(&mut tx, self.organization, id, &valid, Some(&sealed), None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    /// `password` sealed as integration `id`'s credentials.
    fn sealed_password(&self, id: Uuid, password: &str) -> veriphy_jobs::server::secrets::Sealed {
        self.providers.keyring.seal(
            &serde_json::to_string(&Credentials {
                secret: password.into(),
            })
            .unwrap(),
            &integrations::credentials_context(id),
        )
    }

    async fn run(&self, payload: serde_json::Value) -> (String, serde_json::Value) {
        self.test
            .run_one_job(
                Registry::empty().with_providers(self.providers.clone()),
                self.organization,
                JobType::Email,
                payload,
            )
            .await
    }

    /// api_name, status, status_code and the stored request of the only
    /// log row.
    async fn log_row(&self) -> (String, String, Option<i32>, String) {
        let mut owner = self.test.owner_connection().await;
        sqlx::query_as(
            "select api_name, status, status_code, request_payload::text from third_party_api_log",
        )
        .fetch_one(&mut owner)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn an_email_is_delivered_over_smtp_once_with_auth_and_logged_without_the_password() {
    let setup = setup().await;
    let (port, room) = smtp_server().await;
    setup.smtp_integration(port).await;

    let (status, result) = setup
        .run(json!({
            "to": "ada@customer.example",
            "cc": ["bo@customer.example"],
            "subject": "Your statement",
            "text": "Card 4111 1111 1111 1111 statement attached."
        }))
        .await;

    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["delivered_via"], "smtp");
    {
        let room = room.lock().unwrap();
        assert_eq!(room.logins, vec![format!("|relay-user|{PASSWORD}")]);
        assert_eq!(room.messages.len(), 1, "delivered once");
        let (recipients, data) = &room.messages[0];
        assert_eq!(
            recipients,
            &vec![
                "<ada@customer.example>".to_string(),
                "<bo@customer.example>".to_string()
            ]
        );
        assert!(data.contains("Subject: Your statement"), "{data}");
        assert!(data.contains("From: statements@bank.example"), "{data}");
    }
    let (api_name, log_status, code, request) = setup.log_row().await;
    assert_eq!(
        (api_name.as_str(), log_status.as_str(), code),
        ("smtp", "success", Some(250))
    );
    assert!(!request.contains(PASSWORD));
    assert!(!request.contains("4111 1111 1111 1111"), "{request}");
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_job_with_the_server_s_words() {
    let setup = setup().await;
    let (port, room) = smtp_server().await;
    setup.smtp_integration(port).await;

    let (status, result) = setup
        .run(json!({ "to": "reject@customer.example", "subject": "Hi", "text": "x" }))
        .await;

    assert_eq!(status, "failed");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.starts_with("The mail server refused the message for good: permanent error (550)"),
        "{error}"
    );
    assert!(error.contains("mailbox unavailable"), "{error}");
    assert!(room.lock().unwrap().messages.is_empty());
}

#[tokio::test]
async fn without_an_email_integration_a_templated_message_goes_to_the_outbox() {
    let setup = setup().await;

    let (status, result) = setup
        .run(json!({
            "to": "ada@customer.example",
            "template": "welcome",
            "variables": { "name": "Ada <Lovelace>" }
        }))
        .await;

    assert_eq!(status, "completed", "{result}");
    assert_eq!(result["delivered_via"], "email_outbox");
    let dir = setup.providers.outbox.join(setup.organization.to_string());
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(eml.contains("Subject: Welcome, Ada <Lovelace>"), "{eml}");
    assert!(eml.contains("Hello Ada <Lovelace>,"), "{eml}");
    assert!(
        eml.contains("Hello Ada &lt;Lovelace&gt;,"),
        "the HTML part is escaped: {eml}"
    );
    let (api_name, log_status, code, _) = setup.log_row().await;
    assert_eq!(
        (api_name.as_str(), log_status.as_str(), code),
        ("email_outbox", "success", Some(250))
    );
    std::fs::remove_dir_all(&setup.providers.outbox).unwrap();
}

#[tokio::test]
async fn a_template_missing_a_value_fails_and_names_it() {
    let setup = setup().await;

    let (status, result) = setup
        .run(json!({ "to": "ada@customer.example", "template": "notification", "subject": "Notice" }))
        .await;

    assert_eq!(status, "failed");
    assert_eq!(
        result["error"],
        "The template needs a value for \"message\"."
    );
}

#[tokio::test]
async fn a_newsletter_of_a_thousand_emails_from_a_csv_batch_is_delivered_once_each_as_progress_moves(
) {
    use veriphy_jobs::server::worker::{Worker, WorkerConfig};
    let app = common::spawn_app().await;
    let (port, room) = smtp_server().await;
    let admin = common::signed_in(&app, "admin@harbor.example").await;
    let port = port.to_string();
    // the organization's mail server, configured as a person does
    let (saved, body) = common::call(
        &app,
        &admin,
        "save_integration",
        &[
            ("form[name]", "Newsletter relay"),
            ("form[channel]", "email"),
            ("form[kind]", "smtp"),
            ("form[base_url]", "127.0.0.1"),
            ("form[port]", &port),
            ("form[tls_mode]", "none"),
            ("form[username]", "relay-user"),
            ("form[secret]", PASSWORD),
            ("form[sender]", "news@harbor.example"),
            ("form[is_default]", "on"),
            ("form[is_active]", "on"),
        ],
    )
    .await;
    assert_eq!(saved, 200, "{body}");
    let mut recipients = String::from("email,name\n");
    for reader in 0..1000 {
        recipients.push_str(&format!(
            "reader{reader}@customer.example,Reader {reader}\n"
        ));
    }
    let (created, batch) = common::call(
        &app,
        &admin,
        "create_batch",
        &[
            ("form[batch_name]", "November newsletter"),
            ("form[subject]", "November news"),
            ("form[template]", "welcome"),
            ("form[recipients]", &recipients),
        ],
    )
    .await;
    assert_eq!(created, 200, "{batch}");
    let batch = batch.as_str().unwrap().to_string();

    let worker = Worker::start(
        app.test_db.db.clone(),
        Registry::standard().with_providers(app.providers.clone()),
        WorkerConfig {
            poll_interval: std::time::Duration::from_millis(100),
            ..WorkerConfig::default()
        },
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut seen_between = false;
    let detail = loop {
        let (_, detail) = common::call(&app, &admin, "batch_detail", &[("id", &batch)]).await;
        let done =
            detail["processed_jobs"].as_i64().unwrap() + detail["failed_jobs"].as_i64().unwrap();
        seen_between |= done > 0 && done < 1000;
        if done == 1000 || std::time::Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    worker.shutdown().await;

    assert_eq!(detail["processed_jobs"], 1000, "{detail}");
    assert_eq!(detail["failed_jobs"], 0, "{detail}");
    assert_eq!(detail["status"], "completed", "{detail}");
    assert!(seen_between, "progress was seen between none and all");
    let room = room.lock().unwrap();
    let mut delivered: Vec<&str> = room
        .messages
        .iter()
        .flat_map(|(to, _)| to.iter().map(String::as_str))
        .filter(|to| to.contains("@customer.example"))
        .collect();
    assert_eq!(delivered.len(), 1000, "every message delivered once");
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered.len(), 1000, "no reader got two");
    assert!(room.messages.iter().any(|(to, data)| to
        == &vec!["<reader7@customer.example>".to_string()]
        && data.contains("Hello Reader 7")));
}

#[tokio::test]
async fn a_saved_new_password_is_used_by_the_next_message_over_a_new_connection() {
    let setup = setup().await;
    let (port, room) = smtp_server().await;
    let id = setup.smtp_integration(port).await;
    let message = json!({ "to": "ada@customer.example", "subject": "Hi", "text": "One" });
    let (first, _) = setup.run(message.clone()).await;
    // a password of the same length, as a rotation often is
    let renewed = "smtp-pass-6161";
    let valid = relay_form(port, renewed).validate().unwrap();
    let sealed = setup.sealed_password(id, renewed);
    let mut tx = setup
        .test
        .db
        .begin(Scope::organization(setup.organization))
        .await
        .unwrap();
    integrations::update(&mut tx, setup.organization, id, &valid, Some(&sealed), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // past the time a worker reuses what it read
    tokio::time::sleep(veriphy_jobs::server::providers::TARGET_REUSE).await;

    let (second, result) = setup.run(message).await;

    assert_eq!(
        (first.as_str(), second.as_str()),
        ("completed", "completed"),
        "{result}"
    );
    let room = room.lock().unwrap();
    assert_eq!(
        room.logins,
        vec![
            format!("|relay-user|{PASSWORD}"),
            format!("|relay-user|{renewed}")
        ]
    );
}
