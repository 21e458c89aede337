//! SQL for an organization's integrations. Credentials are stored only
//! sealed ([`Sealed`]: ciphertext and the id of its key), bound to the
//! row's id and column; nothing here decrypts.

use crate::domain::integrations::{
    Channel, IntegrationKind, IntegrationRow, IntegrationSettings, TlsMode, ValidIntegration,
};
use crate::domain::Cursor;
use crate::server::db::{list, Tx};
use crate::server::secrets::Sealed;
use uuid::Uuid;

/// The context a credential is sealed for: its row and column, so a value
/// copied to another row does not open.
pub fn credentials_context(id: Uuid) -> String {
    format!("system_integrations/{id}/credentials")
}

/// The columns of an [`IntegrationRow`] from `system_integrations i` and
/// `organizations o`.
const ROW_COLUMNS: &str = "i.id, i.organization_id, o.name as organization_name, i.name,
     i.integration_type as channel, i.provider as kind, i.base_url, i.port, i.tls_mode,
     i.timeout_seconds, i.is_default, i.is_active, i.config as settings,
     i.last_tested_at, i.last_test_ok, i.created_at, i.metadata ->> 'secret_hint' as secret_hint,
     h.calls_24h, h.success_rate_24h, h.p95_ms_24h";

/// `system_integrations i` with its organization `o` and its health over
/// the last 24 hours `h` (its finished calls, through the integration
/// index of migrations/0025).
const ROW_FROM: &str = "system_integrations i
     join organizations o on o.id = i.organization_id
     cross join lateral (
       select count(*) as calls_24h,
              avg(case when a.is_success then 1.0 else 0.0 end)::float8 as success_rate_24h,
              percentile_cont(0.95) within group (order by a.response_time)::float8 as p95_ms_24h
       from third_party_api_log a
       where a.integration_id = i.id and a.organization_id = i.organization_id
         and a.created_at > now() - interval '24 hours' and a.status <> 'pending'
     ) h";

/// One page of integrations, newest first (the four channels of jobs;
/// webhook endpoints have their own tab).
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    channel: Option<Channel>,
    cursor: Option<Cursor>,
) -> Result<Vec<IntegrationRow>, sqlx::Error> {
    let mut query = list::select(ROW_COLUMNS, ROW_FROM);
    query.push("\n  and i.integration_type in ('email', 'sms', 'whatsapp', 'data_sync')");
    list::organization(&mut query, "i", organization_id);
    list::equals(
        &mut query,
        "i.integration_type",
        channel.map(|c| c.as_str().to_string()),
    );
    list::page(&mut query, "i", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// One integration, as the console shows it.
pub async fn get(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<IntegrationRow>, sqlx::Error> {
    let mut query = list::select(ROW_COLUMNS, ROW_FROM);
    query.push("\n  and i.id = ").push_bind(id);
    list::organization(&mut query, "i", organization_id);
    query.build_query_as().fetch_optional(&mut **tx).await
}

/// Everything a handler or a connection test needs to call an integration.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntegrationTarget {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub organization_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it serves.
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    /// What it speaks.
    #[sqlx(try_from = "String")]
    pub kind: IntegrationKind,
    /// Base URL or SMTP host.
    pub base_url: Option<String>,
    /// SMTP port.
    pub port: Option<i32>,
    /// SMTP security.
    #[sqlx(try_from = "String")]
    pub tls_mode: TlsMode,
    /// Seconds per call.
    pub timeout_seconds: i32,
    /// Whether it may be called.
    pub is_active: bool,
    /// Settings kept in the clear.
    #[sqlx(json)]
    pub settings: IntegrationSettings,
    /// Sealed credentials.
    pub credentials_encrypted: Option<Vec<u8>>,
    /// The id of the key that sealed them.
    pub credentials_key_id: Option<String>,
}

impl IntegrationTarget {
    /// Its sealed credentials, if any.
    pub fn sealed(&self) -> Option<Sealed> {
        match (&self.credentials_encrypted, &self.credentials_key_id) {
            (Some(data), Some(key_id)) => Some(Sealed {
                key_id: key_id.clone(),
                data: data.clone(),
            }),
            _ => None,
        }
    }
}

const TARGET_COLUMNS: &str = "id, organization_id, name, integration_type as channel,
     provider as kind, base_url, port, tls_mode, timeout_seconds, is_active, config as settings,
     credentials_encrypted, credentials_key_id";

/// Integration `id` of `organization`, to be called.
pub async fn target(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<IntegrationTarget>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {TARGET_COLUMNS} from system_integrations
         where id = $1 and organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await
}

/// The integration a job of `channel` uses: the one it names, or its
/// organization's default for the channel.
pub async fn for_job(
    tx: &mut Tx,
    organization_id: Uuid,
    channel: Channel,
    named: Option<Uuid>,
) -> Result<Option<IntegrationTarget>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {TARGET_COLUMNS} from system_integrations
         where organization_id = $1 and integration_type = $2
           and (id = $3 or ($3 is null and is_default))"
    ))
    .bind(organization_id)
    .bind(channel.as_str())
    .bind(named)
    .fetch_optional(&mut **tx)
    .await
}

/// Saves a new integration of `organization_id` with id `id` (the id its
/// credentials were sealed for); a default replaces the channel's earlier
/// default.
pub async fn insert(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    integration: &ValidIntegration,
    credentials: Option<&Sealed>,
    secret_hint: Option<&str>,
) -> Result<(), sqlx::Error> {
    if integration.is_default {
        clear_default(tx, organization_id, integration.channel, id).await?;
    }
    bind_fields(
        sqlx::query(
            "insert into system_integrations
           (id, organization_id, name, integration_type, provider, base_url, port, tls_mode,
            timeout_seconds, is_default, is_active, config, credentials_encrypted,
            credentials_key_id, metadata)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 jsonb_strip_nulls(jsonb_build_object('secret_hint', $15::text)))",
        ),
        Fields {
            id,
            organization_id,
            integration,
            credentials,
            secret_hint,
        },
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Changes integration `id` of `organization_id`; `credentials` replace the
/// stored ones when given. False if there is no such integration.
pub async fn update(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    integration: &ValidIntegration,
    credentials: Option<&Sealed>,
    secret_hint: Option<&str>,
) -> Result<bool, sqlx::Error> {
    if integration.is_default {
        clear_default(tx, organization_id, integration.channel, id).await?;
    }
    let updated = bind_fields(
        sqlx::query(
        "update system_integrations set
           name = $3, integration_type = $4, provider = $5, base_url = $6, port = $7,
           tls_mode = $8, timeout_seconds = $9, is_default = $10, is_active = $11, config = $12,
           credentials_encrypted = case when $13::bytea is null then credentials_encrypted else $13 end,
           credentials_key_id = case when $13::bytea is null then credentials_key_id else $14 end,
           metadata = case when $13::bytea is null then metadata
                           else metadata || jsonb_build_object('secret_hint', $15::text) end,
           last_tested_at = null, last_test_ok = null
         where id = $1 and organization_id = $2",
        ),
        Fields { id, organization_id, integration, credentials, secret_hint },
    )
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// What a save writes, bound in the order both statements number it
/// ($1 id, $2 organization, $3 to $12 the fields, $13 and $14 the sealed
/// credentials and their key id, $15 the secret's masked hint).
struct Fields<'a> {
    id: Uuid,
    organization_id: Uuid,
    integration: &'a ValidIntegration,
    credentials: Option<&'a Sealed>,
    secret_hint: Option<&'a str>,
}

fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    fields: Fields<'q>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let Fields {
        id,
        organization_id,
        integration,
        credentials,
        secret_hint,
    } = fields;
    query
        .bind(id)
        .bind(organization_id)
        .bind(&integration.name)
        .bind(integration.channel.as_str())
        .bind(integration.kind.as_str())
        .bind(&integration.base_url)
        .bind(integration.port.map(i32::from))
        .bind(integration.tls_mode.as_str())
        .bind(integration.timeout_seconds as i32)
        .bind(integration.is_default)
        .bind(integration.is_active)
        .bind(sqlx::types::Json(&integration.settings))
        .bind(credentials.map(|c| c.data.clone()))
        .bind(credentials.map(|c| c.key_id.clone()))
        .bind(secret_hint)
}

async fn clear_default(
    tx: &mut Tx,
    organization_id: Uuid,
    channel: Channel,
    except: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update system_integrations set is_default = false
         where organization_id = $1 and integration_type = $2 and is_default and id <> $3",
    )
    .bind(organization_id)
    .bind(channel.as_str())
    .bind(except)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How many waiting or running jobs of `organization_id` name integration
/// `id` in their payload.
pub async fn jobs_naming(tx: &mut Tx, organization_id: Uuid, id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from jobs
         where organization_id = $1 and status in ('pending', 'running')
           and payload ->> 'integration_id' = $2::text",
    )
    .bind(organization_id)
    .bind(id)
    .fetch_one(&mut **tx)
    .await
}

/// Deletes integration `id` of `organization_id` (its calls stay on record,
/// no longer linked); false if there is no such integration.
pub async fn delete(tx: &mut Tx, organization_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted =
        sqlx::query("delete from system_integrations where id = $1 and organization_id = $2")
            .bind(id)
            .bind(organization_id)
            .execute(&mut **tx)
            .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Records the outcome of a connection test.
pub async fn record_test(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Uuid,
    ok: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update system_integrations set last_tested_at = now(), last_test_ok = $3
         where id = $1 and organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .bind(ok)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every sealed credential: (integration, organization, sealed).
pub async fn all_sealed(tx: &mut Tx) -> Result<Vec<(Uuid, Uuid, Sealed)>, sqlx::Error> {
    let rows: Vec<(Uuid, Uuid, Vec<u8>, String)> = sqlx::query_as(
        "select id, organization_id, credentials_encrypted, credentials_key_id
         from system_integrations where credentials_encrypted is not null
         order by id",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, organization, data, key_id)| (id, organization, Sealed { key_id, data }))
        .collect())
}

/// Replaces integration `id`'s sealed credentials (after a key rotation).
pub async fn reseal(tx: &mut Tx, id: Uuid, sealed: &Sealed) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update system_integrations set credentials_encrypted = $2, credentials_key_id = $3
         where id = $1",
    )
    .bind(id)
    .bind(&sealed.data)
    .bind(&sealed.key_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
