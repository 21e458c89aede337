//! SQL for stored files (uploaded documents, generated reports).

use crate::server::db::Tx;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A file to store.
#[derive(Debug, Clone)]
pub struct NewFile<'a> {
    /// Owner.
    pub organization_id: Uuid,
    /// `document` or `report`.
    pub kind: &'a str,
    /// Name shown and used for downloads.
    pub file_name: &'a str,
    /// MIME type.
    pub content_type: &'a str,
    /// The bytes.
    pub content: &'a [u8],
    /// The job that produced it.
    pub job_id: Option<Uuid>,
    /// The person who uploaded it.
    pub created_by: Option<Uuid>,
}

/// A stored file with its content.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredFile {
    /// File id.
    pub id: Uuid,
    /// Owner.
    pub organization_id: Uuid,
    /// `document` or `report`.
    pub kind: String,
    /// Name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Hex SHA-256 of `content`.
pub fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores a file and returns its id.
pub async fn insert(tx: &mut Tx, file: &NewFile<'_>) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into stored_files (organization_id, kind, file_name, content_type, size_bytes,
                                   sha256, content, job_id, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning id",
    )
    .bind(file.organization_id)
    .bind(file.kind)
    .bind(file.file_name)
    .bind(file.content_type)
    .bind(file.content.len() as i64)
    .bind(sha256_hex(file.content))
    .bind(file.content)
    .bind(file.job_id)
    .bind(file.created_by)
    .fetch_one(&mut **tx)
    .await
}

/// How much an organization stores and may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct StorageUse {
    /// Bytes of stored files now.
    pub used_bytes: i64,
    /// The organization's quota.
    pub quota_bytes: i64,
}

impl StorageUse {
    /// Whether `more` bytes still fit.
    pub fn admits(&self, more: usize) -> bool {
        self.used_bytes.saturating_add(more as i64) <= self.quota_bytes
    }
}

/// `organization`'s storage use, holding its storage lock until the
/// transaction ends: concurrent uploads of one organization are checked one
/// after the other, so together they cannot pass the quota.
pub async fn lock_storage_use(
    tx: &mut Tx,
    organization: Uuid,
) -> Result<Option<StorageUse>, sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('stored_files/' || $1::text, 0))")
        .bind(organization)
        .execute(&mut **tx)
        .await?;
    sqlx::query_as(
        "select coalesce((select sum(f.size_bytes) from stored_files f
                          where f.organization_id = o.id), 0)::bigint as used_bytes,
                o.storage_quota_bytes as quota_bytes
         from organizations o
         where o.id = $1",
    )
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await
}

/// One file of `organization` (any visible organization when `None`).
pub async fn get(
    tx: &mut Tx,
    organization: Option<Uuid>,
    id: Uuid,
) -> Result<Option<StoredFile>, sqlx::Error> {
    sqlx::query_as(
        "select id, organization_id, kind, file_name, content_type, size_bytes, sha256, content
         from stored_files
         where id = $1 and ($2::uuid is null or organization_id = $2)",
    )
    .bind(id)
    .bind(organization)
    .fetch_optional(&mut **tx)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_fits_up_to_the_quota_and_not_a_byte_beyond() {
        let use_now = super::StorageUse {
            used_bytes: 90,
            quota_bytes: 100,
        };
        assert!(use_now.admits(10));
        assert!(!use_now.admits(11));
    }
}
