//! First start: make sure someone can sign in.

use super::auth::password;
use super::config::Config;
use super::db::{Database, Scope};
use super::repo::{audit, users};
use crate::domain::Role;

/// Why the first bank admin could not be created.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BootstrapError(#[from] sqlx::Error);

/// On an empty database, creates the first bank admin and prints its one-time
/// credentials (or uses the configured email and password).
pub async fn ensure_bank_admin(db: &Database, config: &Config) -> Result<(), BootstrapError> {
    let email = config.admin_email.clone();
    let given_password = config.admin_password.clone();

    let mut tx = db.begin(Scope::bank()).await?;
    // several servers may start at once on a new database
    sqlx::query("select pg_advisory_xact_lock(hashtext('veriphy-bootstrap-admin'))")
        .execute(&mut *tx)
        .await?;
    if users::any_exist(&mut tx).await? {
        return Ok(());
    }
    let generated = given_password.is_none();
    let password = given_password.unwrap_or_else(password::generate);
    let hash = password::hash(&password);
    let id = users::insert(
        &mut tx,
        &users::NewUser {
            email: &email,
            full_name: "Bank administrator",
            role: Role::BankAdmin,
            organization_id: None,
            password_hash: &hash,
            // printed on a terminal or set in the environment: the first
            // sign-in replaces it
            must_change_password: true,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        &audit::AuditEntry {
            actor_user_id: Some(id),
            actor_email: Some(email.clone()),
            action: "user.bootstrap".into(),
            target_type: Some("user".into()),
            target_id: Some(id.to_string()),
            summary: serde_json::json!({ "role": "bank_admin", "generated_password": generated }),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;

    if generated {
        eprintln!();
        eprintln!(
            "  First start: created the bank admin account. These credentials are shown once:"
        );
        eprintln!("    email:    {email}");
        eprintln!("    password: {password}");
        eprintln!();
    } else {
        eprintln!("First start: created the bank admin {email} with the password from VERIPHY_ADMIN_PASSWORD.");
    }
    Ok(())
}
