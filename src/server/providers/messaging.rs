//! SMS and WhatsApp jobs: one message to one E.164 number through the
//! organization's integration, in the provider's request shape — form
//! fields with basic auth for the SMS API (Twilio's shape), JSON with a
//! bearer token for the WhatsApp Cloud API (text or template messages).

use super::{call_record, url_of, Providers};
use crate::domain::integrations::{is_e164, Channel, IntegrationKind};
use crate::domain::{HttpMethod, JobErrorKind};
use crate::server::outbound::{outcome, CallBody, CallRequest};
use crate::server::queue::{JobError, Outcome};
use crate::server::repo::integrations::IntegrationTarget;
use crate::server::worker::handlers::{Handler, HandlerFuture, JobContext};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Most characters of a message body.
pub const MAX_BODY: usize = 1600;

/// What an SMS or WhatsApp job's payload holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagePayload {
    /// The recipient, in E.164 form (`+447700900123`).
    pub to: String,
    /// The text (SMS; WhatsApp text messages).
    #[serde(default)]
    pub body: Option<String>,
    /// A WhatsApp template approved at the provider, instead of a body.
    #[serde(default)]
    pub template: Option<String>,
    /// The template's language (WhatsApp; default `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// The integration to send through (default: the organization's).
    #[serde(default)]
    pub integration_id: Option<Uuid>,
}

impl MessagePayload {
    /// Checks the payload of a job of `channel`; the error is the person's
    /// to read (it answers a 422 at enqueue, and fails a job that slipped
    /// past).
    pub fn check(&self, channel: Channel) -> Result<(), String> {
        if !is_e164(&self.to) {
            return Err(format!(
                "\"to\" must be a phone number in E.164 form, like +447700900123 (got {:?}).",
                crate::domain::truncated(&self.to, 40)
            ));
        }
        let body = self
            .body
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        match (channel, body, self.template.as_deref()) {
            (_, Some(body), None) if body.chars().count() <= MAX_BODY => Ok(()),
            (_, Some(_), None) => Err(format!("\"body\" must be at most {MAX_BODY} characters.")),
            (Channel::Whatsapp, None, Some(name))
                if !name.is_empty()
                    && name.len() <= 512
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                Ok(())
            }
            (Channel::Whatsapp, None, Some(_)) => Err(
                "\"template\" is a WhatsApp template name: lowercase letters, digits and '_'."
                    .into(),
            ),
            (Channel::Whatsapp, _, _) => Err("Give either \"body\" or \"template\".".into()),
            _ => Err("Give the message's \"body\".".into()),
        }
    }
}

/// Checks the payload of a new job of `channel` (SMS or WhatsApp).
pub fn check_payload(channel: Channel, payload: &Value) -> Result<(), String> {
    let parsed: MessagePayload = serde_json::from_value(payload.clone()).map_err(|error| {
        format!(
            "The payload does not fit a {} message: {error}",
            channel.label()
        )
    })?;
    parsed.check(channel)
}

/// Sends SMS or WhatsApp jobs.
pub struct MessageHandler {
    /// Which channel.
    pub channel: Channel,
    /// The shared provider services.
    pub providers: Arc<Providers>,
}

impl Handler for MessageHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        let channel = self.channel;
        let providers = self.providers.clone();
        Box::pin(async move { send(&ctx, channel, &providers).await })
    }
}

async fn send(ctx: &JobContext, channel: Channel, providers: &Providers) -> Outcome {
    let payload: MessagePayload = match ctx.payload() {
        Ok(payload) => payload,
        Err(outcome) => return outcome,
    };
    if let Err(problem) = payload.check(channel) {
        return Outcome::Fail(JobError::new(JobErrorKind::InvalidPayload, problem));
    }
    let target = match providers
        .integration_for(&ctx.db, &ctx.job, channel, payload.integration_id)
        .await
    {
        Ok(target) => target,
        Err(outcome) => return outcome,
    };
    let credentials = match providers.credentials(&target) {
        Ok(credentials) => credentials,
        Err(outcome) => return outcome,
    };
    let api_name = api_name(channel, target.kind);
    let mut request = match channel {
        Channel::Whatsapp => whatsapp_request(&target, &payload),
        _ => sms_request(&target, &payload),
    };
    request.headers = super::auth_headers(&target, &credentials);
    let record = call_record(&ctx.job, &target, api_name);
    let result = providers.call(&ctx.db, &target, &record, &request).await;
    if let Some(outcome) = outcome::of_call(&result, api_name) {
        return outcome;
    }
    let answer = result.expect("of_call returns None only for a success");
    let answered: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let message_id = answered
        .get("sid")
        .or_else(|| answered.pointer("/messages/0/id"))
        .cloned()
        .unwrap_or(Value::Null);
    Outcome::Completed(Some(json!({
        "message_id": message_id,
        "api_log_id": answer.log_id,
        "integration_id": target.id,
    })))
}

/// The name a call is logged under.
fn api_name(channel: Channel, kind: IntegrationKind) -> &'static str {
    match (channel, kind) {
        (Channel::Whatsapp, IntegrationKind::Sandbox) => "sandbox_whatsapp",
        (Channel::Whatsapp, _) => "whatsapp_cloud",
        (_, IntegrationKind::Sandbox) => "sandbox_sms",
        _ => "sms_api",
    }
}

/// The SMS API's request: form fields To, From, Body to the account's
/// Messages resource.
pub fn sms_request(target: &IntegrationTarget, payload: &MessagePayload) -> CallRequest {
    let account = &target.settings.username;
    CallRequest {
        method: HttpMethod::Post,
        url: endpoint(target, &format!("/Accounts/{account}/Messages.json")),
        headers: Vec::new(),
        body: Some(CallBody::Form(vec![
            ("To".into(), payload.to.clone()),
            ("From".into(), target.settings.sender.clone()),
            ("Body".into(), payload.body.clone().unwrap_or_default()),
        ])),
    }
}

/// The WhatsApp Cloud API's request: a text or template message to the
/// sender phone number's messages resource.
pub fn whatsapp_request(target: &IntegrationTarget, payload: &MessagePayload) -> CallRequest {
    let to = payload.to.trim_start_matches('+');
    let message = match &payload.template {
        Some(name) => json!({
            "messaging_product": "whatsapp",
            "to": to,
            "type": "template",
            "template": { "name": name, "language": { "code": payload.language.as_deref().unwrap_or("en") } }
        }),
        None => json!({
            "messaging_product": "whatsapp",
            "to": to,
            "type": "text",
            "text": { "body": payload.body.clone().unwrap_or_default() }
        }),
    };
    CallRequest {
        method: HttpMethod::Post,
        url: endpoint(target, &format!("/{}/messages", target.settings.sender)),
        headers: Vec::new(),
        body: Some(CallBody::Json(message)),
    }
}

/// `path` under the integration's base URL; the sandbox's own address
/// names its channel.
fn endpoint(target: &IntegrationTarget, path: &str) -> String {
    if target.kind == IntegrationKind::Sandbox {
        format!(
            "https://sandbox.veriphy.invalid/{}{path}",
            target.channel.as_str()
        )
    } else {
        url_of(target, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(to: &str, body: Option<&str>, template: Option<&str>) -> MessagePayload {
        MessagePayload {
            to: to.into(),
            body: body.map(str::to_string),
            template: template.map(str::to_string),
            language: None,
            integration_id: None,
        }
    }

    #[test]
    fn a_message_goes_to_an_e164_number_with_a_body_or_a_whatsapp_template() {
        assert!(payload("+447700900123", Some("Hi"), None)
            .check(Channel::Sms)
            .is_ok());
        assert!(payload("+447700900123", None, Some("kyc_reminder"))
            .check(Channel::Whatsapp)
            .is_ok());
        assert_eq!(
            payload("07700 900123", Some("Hi"), None).check(Channel::Sms).unwrap_err(),
            "\"to\" must be a phone number in E.164 form, like +447700900123 (got \"07700 900123\")."
        );
        assert_eq!(
            payload("+447700900123", None, Some("kyc"))
                .check(Channel::Sms)
                .unwrap_err(),
            "Give the message's \"body\"."
        );
        assert!(
            payload("+447700900123", Some(&"x".repeat(MAX_BODY + 1)), None)
                .check(Channel::Sms)
                .is_err()
        );
    }

    #[test]
    fn unknown_payload_fields_are_refused() {
        let refused = check_payload(
            Channel::Sms,
            &json!({ "to": "+447700900123", "body": "x", "bcc": "y" }),
        )
        .unwrap_err();
        assert!(refused.contains("unknown field `bcc`"), "{refused}");
    }
}
