//! SQL for the sessions people see: one row per sign-in, named by the
//! session record's key, with its own absolute and idle limits (so listing
//! and pruning need no settings). Each query names the user as well as the session,
//! and row-level security admits only one's own rows (bank admins: all).

use crate::domain::SessionRow;
use crate::server::auth::session::SessionPolicy;
use crate::server::db::Tx;
use std::time::Duration;
use uuid::Uuid;

/// Records a new sign-in of `user` as session `key`, ending after `policy`'s
/// absolute limit or its idle limit without activity.
pub async fn open(
    tx: &mut Tx,
    key: Uuid,
    user: Uuid,
    policy: &SessionPolicy,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into user_sessions (id, user_id, expires_at, idle_expires_at, ip_address, user_agent)
         values ($1, $2, now() + make_interval(secs => $3), now() + make_interval(secs => $4),
                 left($5, 64), left($6, 400))",
    )
    .bind(key)
    .bind(user)
    .bind(policy.absolute.as_secs_f64())
    .bind(policy.idle.as_secs_f64())
    .bind(ip_address)
    .bind(user_agent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether session `key` of `user` is still open; with `touch` (the idle
/// limit), records activity now and moves the idle limit forward.
pub async fn is_open(
    tx: &mut Tx,
    key: Uuid,
    user: Uuid,
    touch: Option<Duration>,
) -> Result<bool, sqlx::Error> {
    let found: Option<bool> = sqlx::query_scalar(
        "update user_sessions set
           last_seen_at = case when $3 then now() else last_seen_at end,
           idle_expires_at = case when $3 then now() + make_interval(secs => $4)
                                  else idle_expires_at end
         where id = $1 and user_id = $2
           and expires_at > now() and idle_expires_at > now()
         returning true",
    )
    .bind(key)
    .bind(user)
    .bind(touch.is_some())
    .bind(touch.unwrap_or_default().as_secs_f64())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// `user`'s sessions that still work, most recently active first; `current`
/// marks the caller's own.
pub async fn list_open(
    tx: &mut Tx,
    user: Uuid,
    current: Uuid,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, created_at, last_seen_at, ip_address, user_agent, id = $2 as current
         from user_sessions
         where user_id = $1 and expires_at > now() and idle_expires_at > now()
         order by last_seen_at desc, id",
    )
    .bind(user)
    .bind(current)
    .fetch_all(&mut **tx)
    .await
}

/// Signs out session `key` of `user`; false if there is no such session.
pub async fn close(tx: &mut Tx, user: Uuid, key: Uuid) -> Result<bool, sqlx::Error> {
    let closed = sqlx::query("delete from user_sessions where id = $1 and user_id = $2")
        .bind(key)
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(closed.rows_affected() == 1)
}

/// Signs out every session of `user` except `keep` (none: all of them);
/// returns how many.
pub async fn close_all(tx: &mut Tx, user: Uuid, keep: Option<Uuid>) -> Result<u64, sqlx::Error> {
    let closed =
        sqlx::query("delete from user_sessions where user_id = $1 and id is distinct from $2")
            .bind(user)
            .bind(keep)
            .execute(&mut **tx)
            .await?;
    Ok(closed.rows_affected())
}

/// Signs out every session of `organization`'s users; returns how many.
pub async fn close_all_of_organization(
    tx: &mut Tx,
    organization: Uuid,
) -> Result<u64, sqlx::Error> {
    let closed = sqlx::query(
        "delete from user_sessions s
         using users u
         where s.user_id = u.id and u.organization_id = $1",
    )
    .bind(organization)
    .execute(&mut **tx)
    .await?;
    Ok(closed.rows_affected())
}
