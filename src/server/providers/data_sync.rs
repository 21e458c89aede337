//! Data-sync jobs: fetch JSON records from the integration's endpoint page
//! by page — following the answer's `next_page` number or `next_cursor`
//! token, up to a bound — and keep each record in `synced_records` under
//! its external id (upserted: running a sync again updates, never
//! duplicates). Every page is one logged call; the job's result counts what
//! was fetched, added and updated.

use super::{call_record, url_of, Providers};
use crate::domain::integrations::{Channel, IntegrationKind};
use crate::domain::{HttpMethod, JobErrorKind};
use crate::server::outbound::{outcome, CallRequest};
use crate::server::queue::{JobError, Outcome};
use crate::server::worker::handlers::{database_error, Handler, HandlerFuture, JobContext};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Most pages one job fetches.
pub const MAX_PAGES: u32 = 100;
/// Most records kept from one page.
pub const MAX_PAGE_RECORDS: usize = 1000;

/// What a data-sync job's payload holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncPayload {
    /// The resource under the integration's base URL (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Most pages to fetch (default 10, at most [`MAX_PAGES`]).
    #[serde(default)]
    pub max_pages: Option<u32>,
    /// The field of each record holding its id (default `id`).
    #[serde(default)]
    pub id_field: Option<String>,
    /// The field of the answer holding the records (default `items`).
    #[serde(default)]
    pub items_field: Option<String>,
    /// The integration to sync from (default: the organization's).
    #[serde(default)]
    pub integration_id: Option<Uuid>,
}

impl SyncPayload {
    /// Checks the payload; the error is the person's to read.
    pub fn check(&self) -> Result<(), String> {
        if let Some(path) = &self.path {
            if !path.starts_with('/')
                || path.contains("//")
                || path.contains(['?', '#'])
                || path.len() > 400
            {
                return Err(
                    "\"path\" starts with a single '/' and has no query or fragment.".into(),
                );
            }
        }
        if self
            .max_pages
            .is_some_and(|pages| !(1..=MAX_PAGES).contains(&pages))
        {
            return Err(format!("\"max_pages\" is from 1 to {MAX_PAGES}."));
        }
        for (name, field) in [
            ("id_field", &self.id_field),
            ("items_field", &self.items_field),
        ] {
            if field
                .as_ref()
                .is_some_and(|f| f.is_empty() || f.len() > 100)
            {
                return Err(format!("\"{name}\" names a field (1 to 100 characters)."));
            }
        }
        Ok(())
    }
}

/// Checks the payload of a new data-sync job.
pub fn check_payload(payload: &Value) -> Result<(), String> {
    let parsed: SyncPayload = serde_json::from_value(payload.clone())
        .map_err(|error| format!("The payload does not fit a data sync: {error}"))?;
    parsed.check()
}

/// Runs data-sync jobs.
pub struct SyncHandler {
    /// The shared provider services.
    pub providers: Arc<Providers>,
}

impl Handler for SyncHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        let providers = self.providers.clone();
        Box::pin(async move { sync(&ctx, &providers).await })
    }
}

/// Where the next page is.
enum NextPage {
    Number(u64),
    Cursor(String),
}

async fn sync(ctx: &JobContext, providers: &Providers) -> Outcome {
    let payload: SyncPayload = match ctx.payload() {
        Ok(payload) => payload,
        Err(outcome) => return outcome,
    };
    if let Err(problem) = payload.check() {
        return Outcome::Fail(JobError::new(JobErrorKind::InvalidPayload, problem));
    }
    let target = match providers
        .integration_for(&ctx.db, &ctx.job, Channel::DataSync, payload.integration_id)
        .await
    {
        Ok(target) => target,
        Err(outcome) => return outcome,
    };
    let credentials = match providers.credentials(&target) {
        Ok(credentials) => credentials,
        Err(outcome) => return outcome,
    };
    let api_name = if target.kind == IntegrationKind::Sandbox {
        "sandbox_data_sync"
    } else {
        "data_sync"
    };
    let path = payload.path.clone().unwrap_or_else(|| "/".into());
    let base = if target.kind == IntegrationKind::Sandbox {
        format!("https://sandbox.veriphy.invalid/data_sync{path}")
    } else {
        url_of(&target, &path)
    };
    let id_field = payload.id_field.as_deref().unwrap_or("id");
    let items_field = payload.items_field.as_deref().unwrap_or("items");
    let max_pages = payload.max_pages.unwrap_or(10);
    let record = call_record(&ctx.job, &target, api_name);
    let (mut pages, mut fetched, mut added, mut updated) = (0u32, 0usize, 0u64, 0u64);
    let mut next: Option<NextPage> = None;
    loop {
        if ctx.cancel.is_cancelled() {
            return Outcome::Retry(JobError::new(
                JobErrorKind::Handler,
                "Stopped between pages.",
            ));
        }
        let url = match &next {
            None => base.clone(),
            Some(NextPage::Number(page)) => format!("{base}?page={page}"),
            Some(NextPage::Cursor(cursor)) => {
                format!("{base}?cursor={}", crate::domain::percent_encode(cursor))
            }
        };
        let request = CallRequest {
            method: HttpMethod::Get,
            url,
            headers: super::auth_headers(&target, &credentials),
            body: None,
        };
        let result = providers.call(&ctx.db, &target, &record, &request).await;
        if let Some(outcome) = outcome::of_call(&result, api_name) {
            return outcome;
        }
        let answer = result.expect("of_call returns None only for a success");
        let document: Value = match serde_json::from_str(&answer.body) {
            Ok(document) => document,
            Err(_) => {
                return Outcome::Fail(JobError::new(
                    JobErrorKind::Handler,
                    format!("{api_name} answered with something other than JSON."),
                ))
            }
        };
        let Some(items) = document.get(items_field).and_then(Value::as_array) else {
            return Outcome::Fail(JobError::new(
                JobErrorKind::Handler,
                format!("{api_name}'s answer has no \"{items_field}\" list."),
            ));
        };
        let records: Vec<(String, Value)> = items
            .iter()
            .take(MAX_PAGE_RECORDS)
            .filter_map(|item| external_id(item.get(id_field)?).map(|id| (id, item.clone())))
            .collect();
        fetched += items.len().min(MAX_PAGE_RECORDS);
        match store(ctx, target.id, &records).await {
            Ok((new, changed)) => {
                added += new;
                updated += changed;
            }
            Err(error) => return database_error("storing synced records", error),
        }
        pages += 1;
        next = match (document.get("next_page"), document.get("next_cursor")) {
            (Some(Value::Number(page)), _) => page.as_u64().map(NextPage::Number),
            (_, Some(Value::String(cursor))) if !cursor.is_empty() => {
                Some(NextPage::Cursor(cursor.clone()))
            }
            _ => None,
        };
        if next.is_none() || pages >= max_pages {
            break;
        }
    }
    Outcome::Completed(Some(json!({
        "pages": pages,
        "fetched": fetched,
        "added": added,
        "updated": updated,
        "more_pages": next.is_some(),
        "integration_id": target.id,
    })))
}

/// A record's id as stored: a string or an integer, at most 255 characters.
fn external_id(value: &Value) -> Option<String> {
    let id = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.chars().count() <= 255 && !id.contains('\0')).then_some(id)
}

/// Upserts one page's records; (added, updated).
async fn store(
    ctx: &JobContext,
    integration: Uuid,
    records: &[(String, Value)],
) -> Result<(u64, u64), sqlx::Error> {
    if records.is_empty() {
        return Ok((0, 0));
    }
    let mut tx = ctx.begin().await?;
    let (ids, data): (Vec<String>, Vec<Value>) = records.iter().cloned().unzip();
    let inserted: Vec<bool> = sqlx::query_scalar(
        "insert into synced_records (organization_id, integration_id, external_id, data, job_id)
         select $1, $2, r.external_id, r.data, $5
         from unnest($3::text[], $4::jsonb[]) as r (external_id, data)
         on conflict (organization_id, integration_id, external_id)
         do update set data = excluded.data, job_id = excluded.job_id, synced_at = now()
         returning (xmax = 0)",
    )
    .bind(ctx.job.organization_id)
    .bind(integration)
    .bind(&ids)
    .bind(&data)
    .bind(ctx.job.id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let added = inserted.iter().filter(|new| **new).count() as u64;
    Ok((added, inserted.len() as u64 - added))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_payload_is_bounded() {
        assert!(check_payload(&json!({ "path": "/records", "max_pages": 5 })).is_ok());
        assert_eq!(
            check_payload(&json!({ "max_pages": 1000 })).unwrap_err(),
            "\"max_pages\" is from 1 to 100."
        );
        assert!(check_payload(&json!({ "path": "records" })).is_err());
        assert!(check_payload(&json!({ "path": "/r?x=1" })).is_err());
    }

    #[test]
    fn record_ids_are_strings_or_integers() {
        assert_eq!(external_id(&json!("abc")), Some("abc".into()));
        assert_eq!(external_id(&json!(42)), Some("42".into()));
        assert_eq!(external_id(&json!({ "a": 1 })), None);
        assert_eq!(external_id(&json!("")), None);
    }
}
