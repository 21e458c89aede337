//! Failed sign-ins per typed email, shared by every web node
//! (migrations/0023): the account half of sign-in throttling that must hold
//! across nodes. Rows are keyed by a digest of the lowercased email.

use crate::server::db::Tx;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Most stale rows one failure prunes.
const PRUNE_PER_FAILURE: i64 = 100;

fn digest(email: &str) -> Vec<u8> {
    Sha256::digest(email.as_bytes()).to_vec()
}

/// How much longer `email` is locked out, if it is.
pub async fn locked_for(tx: &mut Tx, email: &str) -> Result<Option<Duration>, sqlx::Error> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from locked_until - now())::float8 from sign_in_failures
         where email_digest = $1 and locked_until > now()",
    )
    .bind(digest(email))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Counts a failed sign-in of `email` (failures older than `forget_after`
/// no longer count) and prunes rows past it; returns the failures counted.
pub async fn record_failure(
    tx: &mut Tx,
    email: &str,
    forget_after: Duration,
) -> Result<u32, sqlx::Error> {
    let forget = forget_after.as_secs_f64();
    let failures: i32 = sqlx::query_scalar(
        "insert into sign_in_failures as f (email_digest, failures, last_failure_at)
         values ($1, 1, now())
         on conflict (email_digest) do update set
           failures = case when f.last_failure_at < now() - make_interval(secs => $2)
                           then 1 else f.failures + 1 end,
           last_failure_at = now()
         returning failures",
    )
    .bind(digest(email))
    .bind(forget)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "delete from sign_in_failures where email_digest in (
           select email_digest from sign_in_failures
           where last_failure_at < now() - make_interval(secs => $1)
             and (locked_until is null or locked_until < now())
           limit $2)",
    )
    .bind(forget)
    .bind(PRUNE_PER_FAILURE)
    .execute(&mut **tx)
    .await?;
    Ok(failures.max(0) as u32)
}

/// Locks `email` out for `lockout` from now.
pub async fn lock(tx: &mut Tx, email: &str, lockout: Duration) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update sign_in_failures set locked_until = now() + make_interval(secs => $2)
         where email_digest = $1",
    )
    .bind(digest(email))
    .bind(lockout.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A successful sign-in forgets `email`'s failures.
pub async fn clear(tx: &mut Tx, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from sign_in_failures where email_digest = $1")
        .bind(digest(email))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
