//! The sandbox provider: accepts a call as its channel's real provider
//! would and answers like it — a message id for messages, a page of
//! records for data sync — without leaving the machine. It can be told to
//! fail a share of calls (`failure_percent`), alternating "busy" (503 with
//! Retry-After) and "invalid" (400) answers, so retries, snoozes and
//! failures can be seen in test environments and the demo. Like a real
//! provider's test account it refuses one reserved number,
//! [`REFUSED_NUMBER`], every time, so a permanent refusal can be shown on
//! purpose. Every call is logged like a real one.

use crate::domain::integrations::Channel;
use crate::server::outbound::logged::record_call;
use crate::server::outbound::{
    CallAnswer, CallBody, CallError, CallRecord, CallRequest, SendError,
};
use crate::server::repo::integrations::IntegrationTarget;
use rand::Rng;
use serde_json::json;
use std::time::Duration;

/// Records `request` as made to `target` and answers it as its channel's
/// provider would.
pub async fn call_logged(
    db: &crate::server::db::Database,
    target: &IntegrationTarget,
    record: &CallRecord,
    request: &CallRequest,
) -> Result<CallAnswer, CallError> {
    let roll: u8 = rand::thread_rng().gen_range(0..100);
    let answer = answer(
        target.channel,
        target.settings.failure_percent,
        roll,
        request,
    );
    record_call(
        db,
        record,
        request,
        async move { Ok::<_, SendError>(answer) },
    )
    .await
}

/// The number the sandbox refuses as not reachable (a fictional number in
/// the range providers reserve for tests).
pub const REFUSED_NUMBER: &str = "+15005550001";

/// The recipient a message request names, without its `+`: the SMS
/// form's `To`, the WhatsApp document's `to`.
fn recipient(request: &CallRequest) -> Option<&str> {
    let to = match request.body.as_ref()? {
        CallBody::Form(fields) => fields
            .iter()
            .find(|(name, _)| name == "To")
            .map(|(_, value)| value.as_str()),
        CallBody::Json(document) => document.get("to").and_then(|to| to.as_str()),
    }?;
    Some(to.trim_start_matches('+'))
}

/// The sandbox's answer to `request` on `channel` when its dice showed
/// `roll` (0–99): a refusal for [`REFUSED_NUMBER`]; a failure when `roll`
/// falls within `failure_percent`.
pub fn answer(
    channel: Channel,
    failure_percent: u8,
    roll: u8,
    request: &CallRequest,
) -> (u16, String, Option<Duration>) {
    if matches!(channel, Channel::Sms | Channel::Whatsapp)
        && recipient(request) == Some(REFUSED_NUMBER.trim_start_matches('+'))
    {
        return (
            400,
            json!({ "error": { "code": "unreachable", "message": format!("The sandbox refuses {REFUSED_NUMBER}: it is not a reachable mobile number.") } })
                .to_string(),
            None,
        );
    }
    if roll < failure_percent {
        return if roll.is_multiple_of(2) {
            (
                503,
                json!({ "error": { "code": "busy", "message": "The sandbox is simulating a busy provider." } })
                    .to_string(),
                Some(Duration::from_secs(5)),
            )
        } else {
            (
                400,
                json!({ "error": { "code": "invalid", "message": "The sandbox is simulating a refused message." } })
                    .to_string(),
                None,
            )
        };
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let body = match channel {
        Channel::Email => {
            json!({ "message_id": format!("<{id}@sandbox.veriphy.invalid>"), "status": "accepted" })
        }
        Channel::Sms => json!({ "sid": format!("SM{id}"), "status": "queued" }),
        Channel::Whatsapp => json!({
            "messaging_product": "whatsapp",
            "messages": [{ "id": format!("wamid.{id}") }]
        }),
        Channel::DataSync => data_page(&request.url),
    };
    (
        if channel == Channel::DataSync {
            200
        } else {
            201
        },
        body.to_string(),
        None,
    )
}

/// Records served per sandbox data-sync page, and pages in all.
const PAGE_RECORDS: u32 = 5;
const PAGES: u32 = 3;

/// A page of sandbox records for a data-sync request: the `page` query
/// parameter picks it (1 when absent); the last one has no next page.
fn data_page(url: &str) -> serde_json::Value {
    let page = reqwest::Url::parse(url)
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(name, _)| name == "page")
                .and_then(|(_, value)| value.parse::<u32>().ok())
        })
        .unwrap_or(1)
        .clamp(1, PAGES);
    let items: Vec<_> = (0..PAGE_RECORDS)
        .map(|i| {
            let n = (page - 1) * PAGE_RECORDS + i + 1;
            json!({ "id": format!("rec-{n}"), "name": format!("Sandbox record {n}"), "score": 600 + n })
        })
        .collect();
    json!({ "items": items, "next_page": (page < PAGES).then_some(page + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HttpMethod;

    fn request(url: &str) -> CallRequest {
        CallRequest {
            method: HttpMethod::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    #[test]
    fn a_share_of_calls_fails_busy_or_invalid_as_told() {
        let sms = request("sandbox://sms");
        assert_eq!(answer(Channel::Sms, 0, 0, &sms).0, 201);
        assert_eq!(answer(Channel::Sms, 30, 29, &sms).0, 400);
        let busy = answer(Channel::Sms, 30, 28, &sms);
        assert_eq!((busy.0, busy.2), (503, Some(Duration::from_secs(5))));
        assert_eq!(answer(Channel::Sms, 30, 30, &sms).0, 201);
    }

    #[test]
    fn the_reserved_number_is_refused_on_both_message_channels() {
        let mut sms = request("sandbox://sms");
        sms.body = Some(CallBody::Form(vec![("To".into(), REFUSED_NUMBER.into())]));
        let mut whatsapp = request("sandbox://whatsapp");
        whatsapp.body = Some(CallBody::Json(serde_json::json!({ "to": "15005550001" })));
        let mut other = request("sandbox://sms");
        other.body = Some(CallBody::Form(vec![("To".into(), "+15005550002".into())]));

        assert_eq!(answer(Channel::Sms, 0, 99, &sms).0, 400);
        assert_eq!(answer(Channel::Whatsapp, 0, 99, &whatsapp).0, 400);
        assert_eq!(answer(Channel::Sms, 0, 99, &other).0, 201);
    }

    #[test]
    fn data_sync_pages_end() {
        let first: serde_json::Value = serde_json::from_str(
            &answer(
                Channel::DataSync,
                0,
                50,
                &request("http://sandbox.invalid/r"),
            )
            .1,
        )
        .unwrap();
        assert_eq!(first["next_page"], 2);
        assert_eq!(first["items"][0]["id"], "rec-1");
        let last: serde_json::Value = serde_json::from_str(
            &answer(
                Channel::DataSync,
                0,
                50,
                &request("http://sandbox.invalid/r?page=3"),
            )
            .1,
        )
        .unwrap();
        assert!(last["next_page"].is_null());
    }
}
