//! Provider stand-ins and integrations for tests of the outbound calls:
//! an HTTP server on loopback that records what it receives and answers as
//! told, and integrations saved the way the console saves them.

use super::TestDb;
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use veriphy_jobs::domain::integrations::{IntegrationForm, ValidIntegration};
use veriphy_jobs::server::db::Scope;
use veriphy_jobs::server::outbound::{Allowlist, Outbound};
use veriphy_jobs::server::providers::{Credentials, Providers};
use veriphy_jobs::server::repo::integrations;
use veriphy_jobs::server::secrets::Keyring;

/// The token planted in the SMS integration.
pub const TOKEN: &str = "tok-secret-7781";

/// What a stand-in received: request line, headers (lowercased names) and body.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// `POST /path HTTP/1.1`.
    pub request_line: String,
    /// Lowercased names and their values.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Received {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A provider stand-in answering `status` with `body` (and `extra` header
/// lines); its port and what it received.
pub async fn stand_in(
    status: &'static str,
    extra: &'static str,
    body: &'static str,
) -> (u16, Arc<Mutex<Vec<Received>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let mut reader = BufReader::new(socket);
            let mut got = Received::default();
            reader.read_line(&mut got.request_line).await.unwrap();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap();
                let (name, value) = (name.to_lowercase(), value.trim().to_string());
                if name == "content-length" {
                    length = value.parse().unwrap();
                }
                got.headers.push((name, value));
            }
            let mut sent = vec![0u8; length];
            reader.read_exact(&mut sent).await.unwrap();
            got.body = String::from_utf8(sent).unwrap();
            log.lock().unwrap().push(got);
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(answer.as_bytes()).await;
        }
    });
    (port, received)
}

/// A keyring with one fresh key.
pub fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::ephemeral())
}

/// Provider services sealing with `keyring`, loopback admitted or not.
pub fn providers(keyring: Arc<Keyring>, allow_loopback: bool) -> Arc<Providers> {
    let allowlist = if allow_loopback {
        Allowlist::new(["127.0.0.1"])
    } else {
        Allowlist::default()
    };
    Arc::new(Providers::new(
        keyring,
        Outbound::new(allowlist).unwrap(),
        super::test_outbox(),
    ))
}

/// Saves `form` as `organization`'s integration, its secret sealed with
/// `keyring`; its id.
pub async fn save(
    test: &TestDb,
    keyring: &Keyring,
    organization: Uuid,
    form: IntegrationForm,
) -> Uuid {
    let valid: ValidIntegration = form.validate().unwrap();
    let id = Uuid::new_v4();
    let sealed = valid.secret.as_ref().map(|secret| {
        let text = serde_json::to_string(&Credentials {
            secret: secret.clone(),
        })
        .unwrap();
        keyring.seal(&text, &integrations::credentials_context(id))
    });
    let mut tx = test
        .db
        .begin(Scope::organization(organization))
        .await
        .unwrap();
    integrations::insert(
        &mut tx,
        organization,
        id,
        &valid,
        sealed.as_ref(),
        Some("••••7781"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A default Twilio-style SMS integration at the stand-in on `port`.
pub fn sms_form(port: u16) -> IntegrationForm {
    IntegrationForm {
        name: "SMS provider".into(),
        channel: "sms".into(),
        kind: "sms_http".into(),
        base_url: format!("http://127.0.0.1:{port}/2010-04-01"),
        username: "AC123".into(),
        secret: TOKEN.into(),
        sender: "+15550001111".into(),
        is_default: "on".into(),
        is_active: "on".into(),
        ..IntegrationForm::default()
    }
}

/// A receiver that accepts connections and never answers, holding them
/// open; its port.
pub async fn silent() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}
