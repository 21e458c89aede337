//! The sandbox receiver ([`SANDBOX_HOST`](crate::domain::webhooks::SANDBOX_HOST)):
//! answers a delivery as a receiver holding the webhook's current secret
//! would, without leaving the machine. It checks what a careful receiver
//! checks — the three `webhook-*` headers, a timestamp within five
//! minutes, a signature of the body by its secret — and answers 401 when
//! one fails; otherwise 200, or 500 for the share of deliveries its URL
//! asks it to fail.

use super::signing;
use crate::domain::webhooks::SandboxReceiver;
use crate::server::outbound::{CallBody, CallRequest};
use serde_json::json;

/// How far a delivery's timestamp may be from the receiver's clock.
const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The receiver's answer to `request` (status and body), holding `secret`
/// at `now` (Unix seconds); `roll` (0–99) decides whether this delivery is
/// one of the share it fails.
pub fn answer(
    receiver: SandboxReceiver,
    request: &CallRequest,
    secret: &str,
    now: i64,
    roll: u8,
) -> (u16, String) {
    if let Err(refusal) = verify(request, secret, now) {
        return (401, json!({ "error": refusal }).to_string());
    }
    if roll < receiver.failure_percent {
        return (
            500,
            json!({ "error": format!(
                "The sandbox receiver failed this delivery, as its URL asks (fail={}).",
                receiver.failure_percent
            ) })
            .to_string(),
        );
    }
    let id = header(request, "webhook-id").unwrap_or_default();
    (200, json!({ "received": id }).to_string())
}

/// The value of `request`'s header `name`.
fn header<'a>(request: &'a CallRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Whether `request` is a delivery signed with `secret` recently enough.
fn verify(request: &CallRequest, secret: &str, now: i64) -> Result<(), &'static str> {
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header(request, "webhook-id"),
        header(request, "webhook-timestamp"),
        header(request, "webhook-signature"),
    ) else {
        return Err(
            "The webhook-id, webhook-timestamp and webhook-signature headers are required.",
        );
    };
    let timestamp: i64 = timestamp
        .parse()
        .map_err(|_| "The webhook-timestamp is not a number of seconds.")?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err("The webhook-timestamp is more than five minutes away.");
    }
    let body = match &request.body {
        Some(CallBody::Json(value)) => value.to_string(),
        _ => return Err("A delivery posts a JSON body."),
    };
    let expected = signing::sign(secret, id, timestamp, body.as_bytes())
        .ok_or("The receiver's secret is not a valid whsec_ secret.")?;
    if signatures.split(' ').any(|signature| signature == expected) {
        Ok(())
    } else {
        Err("No signature of the webhook-signature header verifies with the receiver's secret.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HttpMethod;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NOW: i64 = 1_800_000_000;

    fn signed_with(secrets: &[&str], timestamp: i64) -> CallRequest {
        let body = json!({ "type": "webhook.test", "data": {} });
        let signature =
            signing::signature_header(secrets, "msg_1", timestamp, body.to_string().as_bytes())
                .unwrap();
        CallRequest {
            method: HttpMethod::Post,
            url: "https://webhook-sandbox.invalid/".into(),
            headers: vec![
                ("webhook-id".into(), "msg_1".into()),
                ("webhook-timestamp".into(), timestamp.to_string()),
                ("webhook-signature".into(), signature),
            ],
            body: Some(CallBody::Json(body)),
        }
    }

    const NEVER_FAILS: SandboxReceiver = SandboxReceiver { failure_percent: 0 };

    #[test]
    fn a_delivery_signed_with_the_receiver_s_secret_is_received() {
        let (status, body) = answer(NEVER_FAILS, &signed_with(&[SECRET], NOW), SECRET, NOW, 0);
        assert_eq!((status, body.as_str()), (200, r#"{"received":"msg_1"}"#));
    }

    #[test]
    fn during_a_rotation_either_signature_is_enough() {
        let other = signing::new_secret();
        let request = signed_with(&[&other, SECRET], NOW);
        assert_eq!(answer(NEVER_FAILS, &request, SECRET, NOW, 0).0, 200);
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let mut request = signed_with(&[SECRET], NOW);
        request.body = Some(CallBody::Json(
            json!({ "type": "webhook.test", "data": { "x": 1 } }),
        ));
        let (status, body) = answer(NEVER_FAILS, &request, SECRET, NOW, 0);
        assert_eq!(status, 401);
        assert!(body.contains("No signature"), "{body}");
    }

    #[test]
    fn an_old_timestamp_is_refused() {
        let request = signed_with(&[SECRET], NOW - TOLERANCE_SECONDS - 1);
        let (status, body) = answer(NEVER_FAILS, &request, SECRET, NOW, 0);
        assert_eq!(status, 401);
        assert!(body.contains("more than five minutes"), "{body}");
    }

    #[test]
    fn the_share_the_url_asks_for_fails_with_500() {
        let receiver = SandboxReceiver {
            failure_percent: 30,
        };
        let request = signed_with(&[SECRET], NOW);
        assert_eq!(answer(receiver, &request, SECRET, NOW, 29).0, 500);
        assert_eq!(answer(receiver, &request, SECRET, NOW, 30).0, 200);
    }
}
