//! Email jobs: a message — its own subject and bodies, or a template
//! filled with variables — sent over SMTP through the organization's email
//! integration (STARTTLS or TLS, authenticated, connections pooled per
//! integration), or, when the organization has none, written as an `.eml`
//! file to the outbox (`<data>/outbox/<organization>/<job>.eml`) so a fresh
//! install works without a mail server. Each conversation or outbox write
//! is one API log row.

use super::{call_record, Providers};
use crate::domain::integrations::{Channel, IntegrationKind, TlsMode};
use crate::domain::templates::render;
use crate::domain::{plausible_email, HttpMethod, JobErrorKind};
use crate::server::outbound::logged::record_call;
use crate::server::outbound::{outcome, CallBody, CallRecord, CallRequest, SendError};
use crate::server::queue::{JobError, Outcome};
use crate::server::repo::integrations::{self, IntegrationTarget};
use crate::server::worker::handlers::{database_error, Handler, HandlerFuture, JobContext};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Most recipients (to, cc and bcc together) of one message.
pub const MAX_RECIPIENTS: usize = 50;
/// Who outbox messages and integrations without a sender come from.
pub const DEFAULT_SENDER: &str = "Veriphy Jobs <no-reply@veriphy.invalid>";

/// One address or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Addresses {
    /// One address.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Addresses {
    fn list(&self) -> Vec<&str> {
        match self {
            Addresses::One(one) => vec![one.as_str()],
            Addresses::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }
}

/// What an email job's payload holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailPayload {
    /// Recipients.
    pub to: Addresses,
    /// Copies.
    #[serde(default)]
    pub cc: Option<Addresses>,
    /// Blind copies.
    #[serde(default)]
    pub bcc: Option<Addresses>,
    /// The subject (a template's own otherwise).
    #[serde(default)]
    pub subject: Option<String>,
    /// Text body.
    #[serde(default)]
    pub text: Option<String>,
    /// HTML body.
    #[serde(default)]
    pub html: Option<String>,
    /// A template instead of bodies: the organization's or a built-in one.
    #[serde(default)]
    pub template: Option<String>,
    /// The template's values.
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// The integration to send through (default: the organization's, else
    /// the outbox).
    #[serde(default)]
    pub integration_id: Option<Uuid>,
}

impl EmailPayload {
    /// Checks the payload; the error is the person's to read.
    pub fn check(&self) -> Result<(), String> {
        let all: Vec<&str> = [Some(&self.to), self.cc.as_ref(), self.bcc.as_ref()]
            .into_iter()
            .flatten()
            .flat_map(Addresses::list)
            .collect();
        if self.to.list().is_empty() {
            return Err("\"to\" names at least one address.".into());
        }
        if all.len() > MAX_RECIPIENTS {
            return Err(format!(
                "A message goes to at most {MAX_RECIPIENTS} addresses."
            ));
        }
        if let Some(bad) = all.iter().find(|a| !plausible_email(a)) {
            return Err(format!(
                "{:?} is not an email address.",
                crate::domain::truncated(bad, 80)
            ));
        }
        if self
            .subject
            .as_deref()
            .is_some_and(|s| s.chars().count() > 998 || s.contains(['\r', '\n']))
        {
            return Err("The subject is one line of at most 998 characters.".into());
        }
        match (&self.template, &self.text, &self.html) {
            (Some(name), None, None) if crate::domain::templates::valid_name(name) => Ok(()),
            (Some(_), None, None) => {
                Err("\"template\" uses lowercase letters, digits, '-' and '_'.".into())
            }
            (None, text, html) if text.is_some() || html.is_some() => {
                if self.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    Err("A message without a template needs a \"subject\".".into())
                } else {
                    Ok(())
                }
            }
            (Some(_), _, _) => {
                Err("Give either \"template\" or \"text\"/\"html\", not both.".into())
            }
            _ => Err("Give the message's \"text\" or \"html\", or a \"template\".".into()),
        }
    }
}

/// Checks the payload of a new email job.
pub fn check_payload(payload: &Value) -> Result<(), String> {
    let parsed: EmailPayload = serde_json::from_value(payload.clone())
        .map_err(|error| format!("The payload does not fit an email: {error}"))?;
    parsed.check()
}

/// Sends email jobs.
pub struct EmailHandler {
    /// The shared provider services.
    pub providers: Arc<Providers>,
}

impl Handler for EmailHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        let providers = self.providers.clone();
        Box::pin(async move { send(&ctx, &providers).await })
    }
}

/// Subject and bodies, ready to send.
struct Content {
    subject: String,
    text: Option<String>,
    html: Option<String>,
}

async fn send(ctx: &JobContext, providers: &Providers) -> Outcome {
    let payload: EmailPayload = match ctx.payload() {
        Ok(payload) => payload,
        Err(outcome) => return outcome,
    };
    if let Err(problem) = payload.check() {
        return Outcome::Fail(JobError::new(JobErrorKind::InvalidPayload, problem));
    }
    let (target, content) = match prepare(ctx, &payload).await {
        Ok(prepared) => prepared,
        Err(outcome) => return outcome,
    };
    if target.as_ref().is_some_and(|t| !t.is_active) {
        return Outcome::Fail(JobError::new(
            JobErrorKind::Handler,
            format!(
                "Integration \"{}\" is disabled.",
                target.map(|t| t.name).unwrap_or_default()
            ),
        ));
    }
    let sender = target
        .as_ref()
        .map(|t| t.settings.sender.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SENDER);
    let message = match build_message(ctx.job.id, sender, &payload, &content) {
        Ok(message) => message,
        Err(problem) => return Outcome::Fail(JobError::new(JobErrorKind::InvalidPayload, problem)),
    };
    let logged = logged_request(&payload, &content, sender);
    let (record, result) = match &target {
        None => {
            let path = providers
                .outbox
                .join(ctx.job.organization_id.to_string())
                .join(format!("{}.eml", ctx.job.id));
            let record = CallRecord {
                organization_id: ctx.job.organization_id,
                integration_id: None,
                api_name: "email_outbox".into(),
                retry_count: ctx.job.attempts,
                metadata: json!({ "job_id": ctx.job.id, "attempt": ctx.job.attempts }),
            };
            let request = CallRequest {
                url: format!(
                    "file:///outbox/{}/{}.eml",
                    ctx.job.organization_id, ctx.job.id
                ),
                ..logged
            };
            let result = record_call(&ctx.db, &record, &request, write_outbox(path, message)).await;
            (record, result)
        }
        Some(target) if target.kind == IntegrationKind::Sandbox => {
            let record = call_record(&ctx.job, target, "sandbox_email");
            let request = CallRequest {
                url: "https://sandbox.veriphy.invalid/email".into(),
                ..logged
            };
            let result = providers.call(&ctx.db, target, &record, &request).await;
            (record, result)
        }
        Some(target) => {
            let credentials = match providers.credentials(target) {
                Ok(credentials) => credentials,
                Err(outcome) => return outcome,
            };
            let record = call_record(&ctx.job, target, "smtp");
            let request = CallRequest {
                url: format!(
                    "smtp://{}:{}",
                    target.base_url.as_deref().unwrap_or(""),
                    target.port.unwrap_or(465)
                ),
                ..logged
            };
            let exchange = providers.smtp_send(target, &credentials, message);
            let result = record_call(&ctx.db, &record, &request, exchange).await;
            (record, result)
        }
    };
    if let Some(outcome) =
        smtp_outcome(&result).or_else(|| outcome::of_call(&result, &record.api_name))
    {
        return outcome;
    }
    let answer = result.expect("of_call returns None only for a success");
    Outcome::Completed(Some(json!({
        "api_log_id": answer.log_id,
        "integration_id": target.map(|t| t.id),
        "delivered_via": record.api_name,
        "answer": crate::domain::truncated(&answer.body, 200),
    })))
}

/// A mail server's refusal in its own words: a permanent one (5xx reply)
/// fails the job, a transient one (4xx reply) tries again later. Anything
/// else is judged like any call ([`outcome::of_call`]).
fn smtp_outcome(
    result: &Result<crate::server::outbound::CallAnswer, crate::server::outbound::CallError>,
) -> Option<Outcome> {
    match result {
        Ok(answer) if answer.status == SMTP_PERMANENT => Some(Outcome::Fail(JobError::new(
            JobErrorKind::Handler,
            format!(
                "The mail server refused the message for good: {}",
                answer.body
            ),
        ))),
        Ok(answer) if answer.status == SMTP_TRANSIENT => Some(Outcome::Retry(JobError::new(
            JobErrorKind::Handler,
            format!(
                "The mail server refused the message for now: {}",
                answer.body
            ),
        ))),
        _ => None,
    }
}

/// How an SMTP refusal is written in the log's status-code column: a
/// permanent reply as 422, a transient one as 502 (the codes an HTTP
/// provider's refusals of the same kind carry).
const SMTP_PERMANENT: u16 = 422;
const SMTP_TRANSIENT: u16 = 502;

/// The integration the job sends through (none: the outbox) and its
/// rendered content.
async fn prepare(
    ctx: &JobContext,
    payload: &EmailPayload,
) -> Result<(Option<IntegrationTarget>, Content), Outcome> {
    let mut tx = ctx
        .begin()
        .await
        .map_err(|e| database_error("preparing the email", e))?;
    let target = integrations::for_job(
        &mut tx,
        ctx.job.organization_id,
        Channel::Email,
        payload.integration_id,
    )
    .await
    .map_err(|e| database_error("finding the email integration", e))?;
    if payload.integration_id.is_some() && target.is_none() {
        return Err(Outcome::Fail(JobError::new(
            JobErrorKind::Handler,
            "The job names an email integration its organization does not have.",
        )));
    }
    let content = match &payload.template {
        None => Content {
            subject: payload.subject.clone().unwrap_or_default(),
            text: payload.text.clone(),
            html: payload.html.clone(),
        },
        Some(name) => {
            let template = crate::server::repo::templates::find(
                &mut tx,
                ctx.job.organization_id,
                Channel::Email,
                name,
            )
            .await
            .map_err(|e| database_error("reading the template", e))?
            .ok_or_else(|| {
                Outcome::Fail(JobError::new(
                    JobErrorKind::NotFound,
                    format!("There is no email template named \"{name}\"."),
                ))
            })?;
            let mut variables = payload.variables.clone();
            if let Some(subject) = &payload.subject {
                variables
                    .entry("subject")
                    .or_insert_with(|| Value::String(subject.clone()));
            }
            let fill = |text: &str, html: bool| {
                render(text, &variables, html).map_err(|problem| {
                    Outcome::Fail(JobError::new(JobErrorKind::InvalidPayload, problem))
                })
            };
            Content {
                subject: match &payload.subject {
                    Some(subject) => subject.clone(),
                    None => fill(&template.subject, false)?,
                },
                text: Some(fill(&template.text_body, false)?),
                html: template
                    .html_body
                    .as_deref()
                    .map(|h| fill(h, true))
                    .transpose()?,
            }
        }
    };
    let _ = tx.commit().await;
    Ok((target, content))
}

/// The message as sent: a Message-ID derived from the job (so a provider
/// that deduplicates sees a retry as the same message).
fn build_message(
    job: Uuid,
    sender: &str,
    payload: &EmailPayload,
    content: &Content,
) -> Result<Message, String> {
    let mailbox = |text: &str| -> Result<Mailbox, String> {
        text.parse::<Mailbox>().map_err(|_| {
            format!(
                "{:?} is not an email address.",
                crate::domain::truncated(text, 80)
            )
        })
    };
    let mut builder = Message::builder()
        .from(mailbox(sender)?)
        .subject(content.subject.clone())
        .message_id(Some(format!("<{job}@veriphy-jobs>")));
    for to in payload.to.list() {
        builder = builder.to(mailbox(to)?);
    }
    for cc in payload.cc.iter().flat_map(Addresses::list) {
        builder = builder.cc(mailbox(cc)?);
    }
    for bcc in payload.bcc.iter().flat_map(Addresses::list) {
        builder = builder.bcc(mailbox(bcc)?);
    }
    let message = match (&content.text, &content.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        )),
        (None, Some(html)) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html.clone()),
        ),
        (text, None) => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(text.clone().unwrap_or_default()),
        ),
    };
    message.map_err(|error| format!("The message cannot be built: {error}"))
}

/// The message as logged (redacted and capped by the log).
fn logged_request(payload: &EmailPayload, content: &Content, sender: &str) -> CallRequest {
    let list = |a: &Option<Addresses>| a.as_ref().map(|a| a.list().join(", "));
    CallRequest {
        method: HttpMethod::Post,
        url: String::new(),
        headers: Vec::new(),
        body: Some(CallBody::Json(json!({
            "from": sender,
            "to": payload.to.list().join(", "),
            "cc": list(&payload.cc),
            "bcc": list(&payload.bcc),
            "subject": content.subject,
            "text": content.text,
            "html": content.html.is_some(),
            "template": payload.template,
        }))),
    }
}

/// Writes `message` as an `.eml` file (replacing an earlier attempt's) and
/// answers like a mail server that accepted it.
async fn write_outbox(
    path: std::path::PathBuf,
    message: Message,
) -> Result<(u16, String, Option<Duration>), SendError> {
    let bytes = message.formatted();
    let written = async {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let partial = path.with_extension("eml.partial");
        tokio::fs::write(&partial, &bytes).await?;
        tokio::fs::rename(&partial, &path).await
    }
    .await;
    match written {
        Ok(()) => Ok((
            250,
            format!("written to the outbox ({} bytes)", bytes.len()),
            None,
        )),
        Err(error) => Err(SendError::Failed(format!(
            "the outbox could not be written: {error}"
        ))),
    }
}

impl Providers {
    /// Sends `message` over SMTP through `target` (its pooled transport),
    /// answering in the log's terms: 250 accepted, a transient refusal
    /// [`SMTP_TRANSIENT`], a permanent one [`SMTP_PERMANENT`].
    pub(super) async fn smtp_send(
        &self,
        target: &IntegrationTarget,
        credentials: &super::Credentials,
        message: Message,
    ) -> Result<(u16, String, Option<Duration>), SendError> {
        let transport = self.smtp_transport(target, credentials).await?;
        let timeout = Duration::from_secs(target.timeout_seconds.max(1) as u64);
        match tokio::time::timeout(timeout, transport.send(message)).await {
            Err(_) => Err(SendError::Timeout(timeout)),
            Ok(Ok(response)) => Ok((
                250,
                format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
                None,
            )),
            Ok(Err(error)) if error.is_transient() => Ok((SMTP_TRANSIENT, error.to_string(), None)),
            Ok(Err(error)) if error.is_permanent() => Ok((SMTP_PERMANENT, error.to_string(), None)),
            Ok(Err(error)) => Err(SendError::Failed(error.to_string())),
        }
    }

    /// The pooled transport of `target`, made (or made again after its
    /// settings changed) on first use. The server's name is resolved here
    /// through the destination guard, and the connection made to the
    /// address it approved, with the name kept for TLS.
    async fn smtp_transport(
        &self,
        target: &IntegrationTarget,
        credentials: &super::Credentials,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        use lettre::transport::smtp::PoolConfig;
        let host = target.base_url.clone().unwrap_or_default();
        let port = target.port.unwrap_or(465) as u16;
        // every save seals the secret with a fresh nonce (its first bytes),
        // so a changed password always makes a new transport
        let nonce: String = target
            .credentials_encrypted
            .iter()
            .flatten()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let fingerprint = format!(
            "{host}|{port}|{}|{}|{}|{nonce}",
            target.tls_mode,
            target.settings.username,
            target.credentials_key_id.as_deref().unwrap_or(""),
        );
        if let Some((known, transport)) = self.smtp.lock().expect("smtp lock").get(&target.id) {
            if *known == fingerprint {
                return Ok(transport.clone());
            }
        }
        let allowlist = self.outbound.allowlist();
        if target.tls_mode == TlsMode::None && !allowlist.admits(&host) {
            return Err(SendError::Refused(
                crate::server::outbound::destination::DestinationError::PlainSmtp,
            ));
        }
        let address = crate::server::outbound::destination::resolve(&host, port, allowlist)
            .await
            .map_err(SendError::Refused)?
            .first()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let tls = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|error| SendError::Failed(error.to_string()))
        };
        let tls = match target.tls_mode {
            TlsMode::Tls => Tls::Wrapper(tls(&host)?),
            TlsMode::Starttls => Tls::Required(tls(&host)?),
            TlsMode::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(
                target.timeout_seconds.max(1) as u64
            )))
            .pool_config(PoolConfig::new().max_size(8));
        if !credentials.secret.is_empty() {
            builder = builder.credentials(Credentials::new(
                target.settings.username.clone(),
                credentials.secret.clone(),
            ));
        }
        let transport = builder.build();
        self.smtp
            .lock()
            .expect("smtp lock")
            .insert(target.id, (fingerprint, transport.clone()));
        Ok(transport)
    }

    /// Connects, secures and authenticates to `target`'s SMTP server
    /// without sending: "test connection".
    pub async fn smtp_test(
        &self,
        target: &IntegrationTarget,
        credentials: &super::Credentials,
    ) -> Result<(u16, String, Option<Duration>), SendError> {
        let transport = self.smtp_transport(target, credentials).await?;
        let timeout = Duration::from_secs(target.timeout_seconds.max(1) as u64);
        match tokio::time::timeout(timeout, transport.test_connection()).await {
            Err(_) => Err(SendError::Timeout(timeout)),
            Ok(Ok(true)) => Ok((250, "connected, secured and authenticated".into(), None)),
            Ok(Ok(false)) => Ok((502, "the server did not accept the connection".into(), None)),
            Ok(Err(error)) if error.is_permanent() => Ok((SMTP_PERMANENT, error.to_string(), None)),
            Ok(Err(error)) => Err(SendError::Failed(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(value: Value) -> EmailPayload {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_message_has_recipients_and_a_body_or_a_template() {
        assert!(
            payload(json!({ "to": "a@example.com", "subject": "Hi", "text": "x" }))
                .check()
                .is_ok()
        );
        assert!(payload(
            json!({ "to": ["a@example.com"], "template": "welcome", "variables": { "name": "A" } })
        )
        .check()
        .is_ok());
        assert_eq!(
            payload(json!({ "to": "a@example.com", "text": "x" }))
                .check()
                .unwrap_err(),
            "A message without a template needs a \"subject\"."
        );
        assert_eq!(
            payload(json!({ "to": "not-an-address", "subject": "s", "text": "x" }))
                .check()
                .unwrap_err(),
            "\"not-an-address\" is not an email address."
        );
        assert!(payload(
            json!({ "to": "a@example.com", "subject": "a\r\nBcc: x@example.com", "text": "x" })
        )
        .check()
        .is_err());
    }

    #[test]
    fn the_message_id_follows_the_job_and_both_bodies_are_sent() {
        let job = Uuid::from_u128(7);
        let content = Content {
            subject: "Statement".into(),
            text: Some("plain".into()),
            html: Some("<p>rich</p>".into()),
        };
        let message = build_message(
            job,
            DEFAULT_SENDER,
            &payload(json!({ "to": "a@example.com", "template": "x" })),
            &content,
        )
        .unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(
            text.contains(&format!("Message-ID: <{job}@veriphy-jobs>")),
            "{text}"
        );
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("plain") && text.contains("<p>rich</p>"));
    }
}
