//! SQL for the sessions people see: one row per sign-in, named by the
//! session record's key. Each query names the user as well as the session,
//! and row-level security admits only one's own rows (bank admins: all).

use crate::domain::SessionRow;
use crate::server::db::Tx;
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

/// Records a new sign-in of `user` as session `key`.
pub async fn open(
    tx: &mut Tx,
    key: Uuid,
    user: Uuid,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into user_sessions (id, user_id, ip_address, user_agent)
         values ($1, $2, left($3, 64), left($4, 400))",
    )
    .bind(key)
    .bind(user)
    .bind(ip_address)
    .bind(user_agent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether session `key` of `user` is still open; with `touch`, records
/// activity now as well.
pub async fn is_open(tx: &mut Tx, key: Uuid, user: Uuid, touch: bool) -> Result<bool, sqlx::Error> {
    let sql = if touch {
        "update user_sessions set last_seen_at = now()
         where id = $1 and user_id = $2
         returning true"
    } else {
        "select true from user_sessions where id = $1 and user_id = $2"
    };
    let found: Option<bool> = sqlx::query_scalar(sql)
        .bind(key)
        .bind(user)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

/// `user`'s sessions that are still within both timeouts, most recently
/// active first; `current` marks the caller's own.
pub async fn list_open(
    tx: &mut Tx,
    user: Uuid,
    current: Uuid,
    idle: Duration,
    absolute: Duration,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, created_at, last_seen_at, ip_address, user_agent, id = $2 as current
         from user_sessions
         where user_id = $1
           and last_seen_at > now() - make_interval(secs => $3)
           and created_at > now() - make_interval(secs => $4)
         order by last_seen_at desc, id",
    )
    .bind(user)
    .bind(current)
    .bind(idle.as_secs_f64())
    .bind(absolute.as_secs_f64())
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

/// Removes sessions past either timeout, and the session store's expired
/// records; returns how many of each.
pub async fn prune(
    conn: &mut PgConnection,
    idle: Duration,
    absolute: Duration,
) -> Result<(u64, u64), sqlx::Error> {
    let sessions = sqlx::query(
        "delete from user_sessions
         where last_seen_at < now() - make_interval(secs => $1)
            or created_at < now() - make_interval(secs => $2)",
    )
    .bind(idle.as_secs_f64())
    .bind(absolute.as_secs_f64())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let records = sqlx::query("delete from tower_sessions.session where expiry_date < now()")
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok((sessions, records))
}
