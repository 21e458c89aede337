//! The tracing output of a provider call that goes wrong: with every event
//! of every crate captured, neither the integration's token nor a card
//! number (sent, or echoed back by the provider) is ever written — nor does
//! either reach the job's failure. A test binary of its own: it installs
//! the process's only subscriber.

mod common;

use common::fresh_database;
use common::stand_ins::{keyring, providers, save, sms_form, stand_in, TOKEN};
use serde_json::json;
use std::sync::{Arc, Mutex};
use veriphy_jobs::domain::JobType;
use veriphy_jobs::server::worker::Registry;

/// A tracing subscriber's output, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every event of every crate at every level, for the whole process
/// (installed before the test support installs its own; a subscriber of
/// one thread can miss events whose callsites other threads registered).
fn captured_tracing() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(captured.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
            captured
        })
        .clone()
}

#[tokio::test]
async fn a_refusal_echoing_the_token_and_a_card_reaches_neither_the_tracing_output_nor_the_job() {
    let captured = captured_tracing();
    let test = fresh_database().await;
    let organization = test.new_organization().await;
    let (port, _) = stand_in(
        "400 Bad Request",
        "",
        r#"{"message": "Card 4111 1111 1111 1111 refused for account AC123 token tok-secret-7781"}"#,
    )
    .await;
    let keyring = keyring();
    save(&test, &keyring, organization, sms_form(port)).await;

    let (status, _) = test
        .run_one_job(
            Registry::empty().with_providers(providers(keyring, true)),
            organization,
            JobType::Sms,
            json!({ "to": "+447700900123", "body": "Card 4111 1111 1111 1111 is due" }),
        )
        .await;

    assert_eq!(status, "failed");
    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        output.contains(&format!("connecting to 127.0.0.1:{port}")),
        "the call was traced"
    );
    assert!(!output.contains(TOKEN), "the token was traced");
    assert!(
        !output.contains("4111 1111 1111 1111"),
        "the card number was traced"
    );
    let mut owner = test.owner_connection().await;
    let failure: String = sqlx::query_scalar(
        "select j.error_message || coalesce(j.error_details::text, '') || f.error_message
         from jobs j join failed_jobs f on f.job_id = j.id",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert!(
        !failure.contains(TOKEN),
        "the token is in the job's failure: {failure}"
    );
    assert!(
        !failure.contains("4111 1111 1111 1111"),
        "the card is in the job's failure: {failure}"
    );
}
