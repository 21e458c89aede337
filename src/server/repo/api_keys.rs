//! SQL for API keys: only a key's SHA-256 is stored.

use crate::domain::api_keys::ApiKeyRow;
use crate::domain::Cursor;
use crate::server::db::{list, Tx};
use uuid::Uuid;

/// One page of keys, newest first.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    cursor: Option<Cursor>,
) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    let mut query = list::select(
        "k.id, k.organization_id, o.name as organization_name, k.name, k.prefix, k.created_at,
         k.last_used_at, k.revoked_at",
        "api_keys k join organizations o on o.id = k.organization_id",
    );
    list::organization(&mut query, "k", organization_id);
    list::page(&mut query, "k", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// Stores a new key of `organization_id` by its hash; its id.
pub async fn insert(
    tx: &mut Tx,
    organization_id: Uuid,
    name: &str,
    prefix: &str,
    hash: &[u8],
    created_by: Option<Uuid>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_keys (organization_id, name, prefix, key_hash, created_by)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(organization_id)
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .bind(created_by)
    .fetch_one(&mut **tx)
    .await
}

/// Revokes key `id` of `organization_id` (any when `None`); its name, or
/// `None` when there is no such key not yet revoked.
pub async fn revoke(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "update api_keys set revoked_at = now()
         where id = $1 and revoked_at is null and ($2::uuid is null or organization_id = $2)
         returning organization_id, name",
    )
    .bind(id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await
}

/// The organization a presented key (by its hash) publishes for, if it is
/// known and not revoked; notes its use. Read in the bank's scope: a
/// request with a key has no tenant until this answers.
pub async fn owner_of(tx: &mut Tx, hash: &[u8]) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "update api_keys set last_used_at = now()
         where key_hash = $1 and revoked_at is null
         returning organization_id",
    )
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await
}
