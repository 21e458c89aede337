//! SQL for organizations.

use crate::domain::OrganizationSummary;
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
