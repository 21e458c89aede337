//! SQL for organizations.

use crate::domain::{OrganizationAccess, OrganizationSummary};
use crate::server::db::Tx;
use uuid::Uuid;

/// Organizations visible in the transaction's scope, by name.
pub async fn list(tx: &mut Tx) -> Result<Vec<OrganizationSummary>, sqlx::Error> {
    sqlx::query_as("select id, name from organizations order by lower(name), id")
        .fetch_all(&mut **tx)
        .await
}

/// Creates an organization (bank scope only) and returns its id.
pub async fn insert(tx: &mut Tx, name: &str, slug: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("insert into organizations (name, slug) values ($1, $2) returning id")
        .bind(name)
        .bind(slug)
        .fetch_one(&mut **tx)
        .await
}

/// Every organization with its state and number of users (bank scope).
pub async fn list_for_access(tx: &mut Tx) -> Result<Vec<OrganizationAccess>, sqlx::Error> {
    sqlx::query_as(
        "select o.id, o.name, o.is_active,
                (select count(*) from users u where u.organization_id = o.id) as users,
                coalesce((select sum(f.size_bytes) from stored_files f
                          where f.organization_id = o.id), 0)::bigint as storage_used_bytes,
                o.storage_quota_bytes, o.file_retention_days
         from organizations o
         order by lower(o.name), o.id",
    )
    .fetch_all(&mut **tx)
    .await
}

/// Activates or deactivates organization `id` (bank scope); false if there
/// is no such organization. Its users' sessions are closed when it is
/// deactivated.
pub async fn set_active(tx: &mut Tx, id: Uuid, active: bool) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query("update organizations set is_active = $2 where id = $1")
        .bind(id)
        .bind(active)
        .execute(&mut **tx)
        .await?;
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    if !active {
        super::user_sessions::close_all_of_organization(tx, id).await?;
    }
    Ok(true)
}

/// Sets organization `id`'s storage quota and file retention (bank scope);
/// false if there is no such organization.
pub async fn set_storage(
    tx: &mut Tx,
    id: Uuid,
    quota_bytes: i64,
    file_retention_days: i32,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "update organizations set storage_quota_bytes = $2, file_retention_days = $3 where id = $1",
    )
    .bind(id)
    .bind(quota_bytes)
    .bind(file_retention_days)
    .execute(&mut **tx)
    .await?;
    Ok(changed.rows_affected() == 1)
}
