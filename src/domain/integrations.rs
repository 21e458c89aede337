//! An organization's integrations — the providers its messaging and
//! data-sync jobs call — as the console shows and edits them. Credentials
//! never travel to the browser except masked.

use super::enums::string_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum!(
    /// Which jobs an integration serves (`integration_type`).
    Channel {
        /// `email` jobs.
        Email => "email",
        /// `sms` jobs.
        Sms => "sms",
        /// `whatsapp` jobs.
        Whatsapp => "whatsapp",
        /// `data_sync` jobs.
        DataSync => "data_sync",
    }
);

impl Channel {
    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Email => "Email",
            Channel::Sms => "SMS",
            Channel::Whatsapp => "WhatsApp",
            Channel::DataSync => "Data sync",
        }
    }

    /// The protocol kind a real provider of this channel speaks (besides
    /// the sandbox, which any channel may use).
    pub fn provider_kind(self) -> IntegrationKind {
        match self {
            Channel::Email => IntegrationKind::Smtp,
            Channel::Sms => IntegrationKind::SmsHttp,
            Channel::Whatsapp => IntegrationKind::WhatsappHttp,
            Channel::DataSync => IntegrationKind::Http,
        }
    }
}

string_enum!(
    /// The protocol an integration speaks (`provider`).
    IntegrationKind {
        /// An SMTP server.
        Smtp => "smtp",
        /// A Twilio-style SMS API: form fields, basic auth.
        SmsHttp => "sms_http",
        /// A WhatsApp Cloud-style JSON API with a bearer token.
        WhatsappHttp => "whatsapp_http",
        /// A generic JSON API (data sync).
        Http => "http",
        /// Accepts and logs calls with realistic answers, never leaving the
        /// machine; can be told to fail a share of them.
        Sandbox => "sandbox",
    }
);

impl IntegrationKind {
    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            IntegrationKind::Smtp => "SMTP server",
            IntegrationKind::SmsHttp => "SMS API (form, basic auth)",
            IntegrationKind::WhatsappHttp => "WhatsApp Cloud API (JSON, bearer token)",
            IntegrationKind::Http => "HTTP JSON API",
            IntegrationKind::Sandbox => "Sandbox (no real calls)",
        }
    }
}

string_enum!(
    /// How an SMTP connection is secured.
    TlsMode {
        /// Plain text (loopback test servers only).
        None => "none",
        /// Plain, upgraded with STARTTLS.
        Starttls => "starttls",
        /// TLS from the first byte.
        Tls => "tls",
    }
);

/// An integration as the console lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct IntegrationRow {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub organization_id: Uuid,
    /// Its organization's name.
    pub organization_name: String,
    /// Its name.
    pub name: String,
    /// What it serves.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub channel: Channel,
    /// What it speaks.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub kind: IntegrationKind,
    /// Base URL (HTTP kinds) or host (SMTP).
    pub base_url: Option<String>,
    /// SMTP port.
    pub port: Option<i32>,
    /// SMTP security.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub tls_mode: TlsMode,
    /// Seconds one call may take.
    pub timeout_seconds: i32,
    /// Used by jobs of its channel that name no integration.
    pub is_default: bool,
    /// Disabled integrations are never called.
    pub is_active: bool,
    /// Non-secret settings (sender, account id, test path, …).
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub settings: IntegrationSettings,
    /// The secret, masked to its last four characters, if one is stored.
    pub secret_hint: Option<String>,
    /// When "test connection" last ran.
    pub last_tested_at: Option<DateTime<Utc>>,
    /// Whether it succeeded.
    pub last_test_ok: Option<bool>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its finished calls of the last 24 hours.
    pub calls_24h: i64,
    /// The share of those that succeeded (0 to 1), if there were any.
    pub success_rate_24h: Option<f64>,
    /// Their 95th-percentile response time in milliseconds.
    pub p95_ms_24h: Option<f64>,
}

impl IntegrationRow {
    /// Its health over the last 24 hours, in words.
    pub fn health(&self) -> String {
        match (self.calls_24h, self.success_rate_24h) {
            (0, _) | (_, None) => "no calls in 24 h".into(),
            (calls, Some(rate)) => format!(
                "{calls} call{} in 24 h, {:.0} % ok{}",
                if calls == 1 { "" } else { "s" },
                rate * 100.0,
                self.p95_ms_24h
                    .map(|ms| format!(", p95 {ms:.0} ms"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The settings an integration keeps in the clear (`config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IntegrationSettings {
    /// The user name or account id the secret belongs to (SMTP user, SMS
    /// account id); empty when the provider needs none.
    pub username: String,
    /// Who messages come from: an email address, a phone number, or a
    /// WhatsApp phone-number id.
    pub sender: String,
    /// The path "test connection" requests with GET (HTTP kinds).
    pub test_path: String,
    /// Sandbox: the share of calls, in percent, answered as failures.
    pub failure_percent: u8,
    /// Whether its calls follow redirects (HTTP kinds; at most
    /// [`MAX_REDIRECTS`], each destination checked like the first). Off:
    /// a redirect is the call's answer, a failure.
    pub follow_redirects: bool,
}

/// Most redirects a call of an integration that follows them takes.
pub const MAX_REDIRECTS: usize = 3;

/// What the integration form sends; every field as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IntegrationForm {
    /// Bank admins choose the organization; others leave it empty.
    pub organization_id: String,
    /// Name.
    pub name: String,
    /// `email`, `sms`, `whatsapp` or `data_sync`.
    pub channel: String,
    /// The kind's stored form.
    pub kind: String,
    /// Base URL (HTTP kinds) or host name (SMTP).
    pub base_url: String,
    /// SMTP port (empty: the TLS mode's usual one).
    pub port: String,
    /// `none`, `starttls` or `tls` (SMTP).
    pub tls_mode: String,
    /// User name or account id.
    pub username: String,
    /// Password or token; empty on an edit keeps the stored one.
    pub secret: String,
    /// Sender address, number or phone-number id.
    pub sender: String,
    /// Path "test connection" requests (HTTP kinds).
    pub test_path: String,
    /// Seconds per call (empty: 10).
    pub timeout_seconds: String,
    /// Sandbox failure share, percent (empty: 0).
    pub failure_percent: String,
    /// Default for its channel: a checked box (`on`, `true`) or not.
    pub is_default: String,
    /// Enabled: a checked box (`on`, `true`) or not.
    pub is_active: String,
    /// Follow redirects: a checked box or not.
    pub follow_redirects: String,
}

/// Whether a form's checkbox value means "checked".
fn checked(value: &str) -> bool {
    matches!(value.trim(), "on" | "true" | "yes" | "1")
}

/// A checked integration form.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidIntegration {
    /// The organization a bank admin chose.
    pub organization_id: Option<Uuid>,
    /// Name, trimmed.
    pub name: String,
    /// Channel.
    pub channel: Channel,
    /// Kind (fits the channel).
    pub kind: IntegrationKind,
    /// Base URL or SMTP host; none for the sandbox.
    pub base_url: Option<String>,
    /// SMTP port.
    pub port: Option<u16>,
    /// SMTP security.
    pub tls_mode: TlsMode,
    /// The new secret, if one was typed.
    pub secret: Option<String>,
    /// Seconds per call.
    pub timeout_seconds: u32,
    /// Default for its channel.
    pub is_default: bool,
    /// Enabled.
    pub is_active: bool,
    /// The settings kept in the clear.
    pub settings: IntegrationSettings,
}

/// Most characters of a secret.
pub const MAX_SECRET: usize = 4096;

impl IntegrationForm {
    /// Checks every field; the error names the first problem in words a
    /// person understands.
    pub fn validate(&self) -> Result<ValidIntegration, String> {
        let organization_id = match self.organization_id.trim() {
            "" => None,
            text => Some(Uuid::parse_str(text).map_err(|_| "Choose an organization.".to_string())?),
        };
        let name = self.name.trim().to_string();
        if name.is_empty() {
            return Err("Give the integration a name.".into());
        }
        if name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err(
                "The name must be at most 255 characters, without control characters.".into(),
            );
        }
        let channel = Channel::parse(self.channel.trim())
            .ok_or_else(|| "Choose what the integration is for.".to_string())?;
        let kind = IntegrationKind::parse(self.kind.trim())
            .ok_or_else(|| "Choose the kind of provider.".to_string())?;
        if kind != IntegrationKind::Sandbox && kind != channel.provider_kind() {
            return Err(format!(
                "{} integrations are {} or the sandbox.",
                channel.label(),
                channel.provider_kind().label()
            ));
        }
        let tls_mode = match self.tls_mode.trim() {
            "" => TlsMode::Tls,
            text => TlsMode::parse(text)
                .ok_or_else(|| "Choose how the connection is secured.".to_string())?,
        };
        let base_url = match kind {
            IntegrationKind::Sandbox => None,
            IntegrationKind::Smtp => Some(smtp_host(&self.base_url)?),
            _ => Some(http_base_url(&self.base_url)?),
        };
        let port = match (kind, self.port.trim()) {
            (IntegrationKind::Smtp, "") => Some(match tls_mode {
                TlsMode::Tls => 465,
                TlsMode::Starttls => 587,
                TlsMode::None => 25,
            }),
            (IntegrationKind::Smtp, text) => Some(
                text.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| "The port is a whole number from 1 to 65535.".to_string())?,
            ),
            _ => None,
        };
        let timeout_seconds = match self.timeout_seconds.trim() {
            "" => 10,
            text => text
                .parse::<u32>()
                .ok()
                .filter(|s| (1..=120).contains(s))
                .ok_or_else(|| {
                    "The timeout is a whole number of seconds from 1 to 120.".to_string()
                })?,
        };
        let failure_percent = match self.failure_percent.trim() {
            "" => 0,
            text => text
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| {
                    "The failure share is a whole percentage from 0 to 100.".to_string()
                })?,
        };
        let secret = Some(self.secret.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if secret
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SECRET || s.chars().any(char::is_control))
        {
            return Err(format!(
                "The password or token must be at most {MAX_SECRET} characters, without control characters."
            ));
        }
        let settings = IntegrationSettings {
            username: short_text(&self.username, "The user name or account id")?,
            sender: short_text(&self.sender, "The sender")?,
            test_path: match self.test_path.trim() {
                "" => "/".into(),
                path if path.starts_with('/') && !path.contains("//") => {
                    short_text(path, "The test path")?
                }
                _ => return Err("The test path starts with a single '/'.".into()),
            },
            failure_percent,
            follow_redirects: checked(&self.follow_redirects)
                && matches!(
                    kind,
                    IntegrationKind::SmsHttp
                        | IntegrationKind::WhatsappHttp
                        | IntegrationKind::Http
                ),
        };
        if channel == Channel::Email
            && kind == IntegrationKind::Smtp
            && !settings.sender.is_empty()
            && !super::forms::plausible_email(&settings.sender)
        {
            return Err("The sender of email is an email address.".into());
        }
        Ok(ValidIntegration {
            organization_id,
            name,
            channel,
            kind,
            base_url,
            port,
            tls_mode,
            secret,
            timeout_seconds,
            is_default: checked(&self.is_default),
            is_active: checked(&self.is_active),
            settings,
        })
    }
}

/// A setting of at most 255 characters without control characters, trimmed.
fn short_text(text: &str, what: &str) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > 255 || text.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be at most 255 characters, without control characters."
        ));
    }
    Ok(text.to_string())
}

/// An HTTP provider's base URL: `http(s)://host[:port][/path]`, no user
/// info, query or fragment. (Whether the host may be called is decided at
/// save and at call time by the destination guard.)
pub fn http_base_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let bad = || {
        "The base URL is http(s)://host[/path], without user name, query or fragment.".to_string()
    };
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || text.len() > 500
        || text.contains(['?', '#', '@', ' '])
        || text.chars().any(char::is_control)
    {
        return Err(bad());
    }
    Ok(text.to_string())
}

/// An SMTP server's host name or address.
pub fn smtp_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if valid {
        Ok(host.to_ascii_lowercase())
    } else {
        Err("The SMTP server is a host name or address, like smtp.example.com.".into())
    }
}

/// Whether `text` is a phone number in E.164 form: `+`, then 8 to 15
/// digits, the first not 0.
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(channel: &str, kind: &str) -> IntegrationForm {
        IntegrationForm {
            name: "Provider".into(),
            channel: channel.into(),
            kind: kind.into(),
            base_url: "https://api.provider.example/v1".into(),
            is_active: "on".into(),
            ..IntegrationForm::default()
        }
    }

    #[test]
    fn a_kind_must_fit_its_channel() {
        assert!(form("sms", "sms_http").validate().is_ok());
        assert!(form("sms", "sandbox").validate().is_ok());
        assert_eq!(
            form("sms", "whatsapp_http").validate().unwrap_err(),
            "SMS integrations are SMS API (form, basic auth) or the sandbox."
        );
    }

    #[test]
    fn smtp_takes_a_host_and_the_tls_mode_s_usual_port() {
        let mut smtp = form("email", "smtp");
        smtp.base_url = "Mail.Example.com".into();
        smtp.tls_mode = "starttls".into();
        let valid = smtp.validate().unwrap();
        assert_eq!(valid.base_url.as_deref(), Some("mail.example.com"));
        assert_eq!(valid.port, Some(587));
        smtp.base_url = "smtp://mail.example.com".into();
        assert!(smtp.validate().unwrap_err().contains("host name"));
    }

    #[test]
    fn base_urls_carry_no_credentials_query_or_fragment() {
        assert_eq!(
            http_base_url("https://api.example.com/v1/").unwrap(),
            "https://api.example.com/v1"
        );
        for bad in [
            "ftp://x",
            "https://",
            "https://user:pw@api.example.com",
            "https://api.example.com/?token=1",
            "https://api.example.com/#x",
        ] {
            assert!(http_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_http_kinds_follow_redirects() {
        let mut sandbox = form("sms", "sandbox");
        sandbox.follow_redirects = "on".into();
        assert!(!sandbox.validate().unwrap().settings.follow_redirects);
        let mut http = form("data_sync", "http");
        http.base_url = "https://api.example.com".into();
        http.follow_redirects = "on".into();
        assert!(http.validate().unwrap().settings.follow_redirects);
        http.follow_redirects = String::new();
        assert!(!http.validate().unwrap().settings.follow_redirects);
    }

    #[test]
    fn numbers_and_shares_are_bounded() {
        let mut sandbox = form("email", "sandbox");
        sandbox.failure_percent = "101".into();
        assert_eq!(
            sandbox.validate().unwrap_err(),
            "The failure share is a whole percentage from 0 to 100."
        );
        sandbox.failure_percent = "20".into();
        sandbox.timeout_seconds = "0".into();
        assert_eq!(
            sandbox.validate().unwrap_err(),
            "The timeout is a whole number of seconds from 1 to 120."
        );
    }

    #[test]
    fn health_says_calls_success_and_p95() {
        let mut row = IntegrationRow {
            id: Uuid::nil(),
            organization_id: Uuid::nil(),
            organization_name: "Org".into(),
            name: "SMS".into(),
            channel: Channel::Sms,
            kind: IntegrationKind::Sandbox,
            base_url: None,
            port: None,
            tls_mode: TlsMode::Tls,
            timeout_seconds: 10,
            is_default: true,
            is_active: true,
            settings: IntegrationSettings::default(),
            secret_hint: None,
            last_tested_at: None,
            last_test_ok: None,
            created_at: Utc::now(),
            calls_24h: 0,
            success_rate_24h: None,
            p95_ms_24h: None,
        };
        assert_eq!(row.health(), "no calls in 24 h");
        row.calls_24h = 12;
        row.success_rate_24h = Some(0.9166);
        row.p95_ms_24h = Some(340.4);
        assert_eq!(row.health(), "12 calls in 24 h, 92 % ok, p95 340 ms");
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert!(is_e164("+447700900123"));
        for bad in [
            "447700900123",
            "+0447700900",
            "+44 7700 900123",
            "+1234567",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
