//! SQL for users and sign-in.

use crate::domain::{CurrentUser, Role};
use crate::server::db::Tx;
use uuid::Uuid;

/// What sign-in needs to know about an email.
#[derive(Debug, sqlx::FromRow)]
pub struct LoginCandidate {
    /// User id.
    pub id: Uuid,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Deactivated users cannot sign in.
    pub is_active: bool,
    /// Their organization, for the audit row.
    pub organization_id: Option<Uuid>,
}

/// Looks up the user with `email` (already lower-cased). The policy on users
/// lets this transaction see exactly that one row through `app.login_email`.
pub async fn find_for_login(
    tx: &mut Tx,
    email: &str,
) -> Result<Option<LoginCandidate>, sqlx::Error> {
    sqlx::query("select set_config('app.login_email', $1, true)")
        .bind(email)
        .execute(&mut **tx)
        .await?;
    sqlx::query_as(
        "select id, password_hash, is_active, organization_id
         from users
         where email = $1",
    )
    .bind(email)
    .fetch_optional(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
struct CurrentUserRecord {
    id: Uuid,
    email: String,
    full_name: String,
    role: String,
    organization_id: Option<Uuid>,
    must_change_password: bool,
}

/// The active user `id` with their organization's name. The transaction
/// starts with only `app.user_id` set; once the user is known, it is narrowed
/// to their organization, which is also what lets it read the name.
pub async fn load_current(tx: &mut Tx, id: Uuid) -> Result<Option<CurrentUser>, sqlx::Error> {
    let record: Option<CurrentUserRecord> = sqlx::query_as(
        "select id, email, full_name, role, organization_id, must_change_password
         from users
         where id = $1 and is_active",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(record) = record else {
        return Ok(None);
    };
    let Some(role) = Role::parse(&record.role) else {
        return Ok(None);
    };
    let organization_name = match record.organization_id {
        Some(org) => match active_organization_name(tx, org).await? {
            Some(name) => Some(name),
            // a deactivated organization's users are signed out at once
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(CurrentUser {
        id: record.id,
        email: record.email,
        full_name: record.full_name,
        role,
        organization_id: record.organization_id,
        organization_name,
        must_change_password: record.must_change_password,
    }))
}

/// The name of organization `org` if it is active; `None` if it is not (or
/// does not exist). From here on the transaction acts in that organization.
pub async fn active_organization_name(
    tx: &mut Tx,
    org: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("select set_config('app.org_id', $1, true)")
        .bind(org.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query_scalar("select name from organizations where id = $1 and is_active")
        .bind(org)
        .fetch_optional(&mut **tx)
        .await
}

/// Records a successful sign-in. From here on the transaction acts as that
/// user in their organization (`app.user_id`, `app.org_id`), which is what
/// lets it write their row and their organization's audit entry.
pub async fn touch_last_login(tx: &mut Tx, user: &LoginCandidate) -> Result<(), sqlx::Error> {
    sqlx::query("select set_config('app.user_id', $1, true), set_config('app.org_id', $2, true)")
        .bind(user.id.to_string())
        .bind(
            user.organization_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
        )
        .execute(&mut **tx)
        .await?;
    sqlx::query("update users set last_login_at = now() where id = $1")
        .bind(user.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A new user to create.
pub struct NewUser<'a> {
    /// Lower-case email.
    pub email: &'a str,
    /// Display name.
    pub full_name: &'a str,
    /// Their role.
    pub role: Role,
    /// `None` exactly for bank admins.
    pub organization_id: Option<Uuid>,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Whether they must choose a new password at their first sign-in.
    pub must_change_password: bool,
}

/// Inserts a user and returns its id.
pub async fn insert(tx: &mut Tx, user: &NewUser<'_>) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (email, full_name, role, organization_id, password_hash,
                            must_change_password)
         values ($1, $2, $3, $4, $5, $6)
         returning id",
    )
    .bind(user.email)
    .bind(user.full_name)
    .bind(user.role.as_str())
    .bind(user.organization_id)
    .bind(user.password_hash)
    .bind(user.must_change_password)
    .fetch_one(&mut **tx)
    .await
}

/// The password hash of user `id` (their own row: the transaction acts as
/// them).
pub async fn password_hash(tx: &mut Tx, id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select password_hash from users where id = $1 and is_active")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Sets user `id`'s password and clears any demand to change it.
pub async fn set_password(tx: &mut Tx, id: Uuid, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update users set password_hash = $2, must_change_password = false,
                          password_changed_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether any user exists at all (bank scope).
pub async fn any_exist(tx: &mut Tx) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from users)")
        .fetch_one(&mut **tx)
        .await
}

/// Which users the Access view lists.
#[derive(Debug, Clone, Default)]
pub struct AccessListing<'a> {
    /// Only this organization's.
    pub organization: Option<Uuid>,
    /// Only those whose email or name contains this (any case).
    pub search: Option<&'a str>,
    /// Only those whose email sorts after this one (the next page).
    pub after: Option<&'a str>,
}

/// Users for the Access view (bank scope), by email: at most `limit` of
/// those `listing` selects, with the sessions of each that still work.
pub async fn list_for_access(
    tx: &mut Tx,
    listing: &AccessListing<'_>,
    limit: i64,
) -> Result<Vec<crate::domain::UserAccess>, sqlx::Error> {
    let pattern = listing
        .search
        .map(|text| format!("%{}%", crate::server::db::job_filter::escape_like(text)));
    sqlx::query_as(
        "select u.id, u.email, u.full_name, u.role, o.name as organization_name, u.is_active,
                u.last_login_at,
                (select count(*) from user_sessions s
                 where s.user_id = u.id
                   and s.expires_at > now() and s.idle_expires_at > now()) as open_sessions
         from users u
         left join organizations o on o.id = u.organization_id
         where ($1::uuid is null or u.organization_id = $1)
           and ($2::text is null or u.email ilike $2 or u.full_name ilike $2)
           and ($3::text is null or u.email > $3)
         order by u.email
         limit $4",
    )
    .bind(listing.organization)
    .bind(pattern)
    .bind(listing.after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Activates or deactivates user `id` (bank scope); false if there is no
/// such user. A deactivated user's sessions are closed at once.
pub async fn set_active(tx: &mut Tx, id: Uuid, active: bool) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query("update users set is_active = $2 where id = $1")
        .bind(id)
        .bind(active)
        .execute(&mut **tx)
        .await?;
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    if !active {
        super::user_sessions::close_all(tx, id, None).await?;
    }
    Ok(true)
}
