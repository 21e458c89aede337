//! First start: make sure someone can sign in.

use super::auth::password;
use super::db::{audit, users, Database, Scope};
use crate::domain::Role;

/// Default email of the first bank admin (override with VERIPHY_ADMIN_EMAIL).
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@veriphy.local";

/// On an empty database, creates the first bank admin and prints its one-time
/// credentials (or uses VERIPHY_ADMIN_EMAIL / VERIPHY_ADMIN_PASSWORD).
pub async fn ensure_bank_admin(db: &Database) -> Result<(), String> {
    let email = std::env::var("VERIPHY_ADMIN_EMAIL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_string())
        .trim()
        .to_lowercase();
    if !email.contains('@') {
        return Err(format!(
            "VERIPHY_ADMIN_EMAIL {email:?} is not an email address"
        ));
    }
    let given_password = std::env::var("VERIPHY_ADMIN_PASSWORD")
        .ok()
        .filter(|v| !v.is_empty());
    if let Some(given) = &given_password {
        if given.chars().count() < 12 {
            return Err("VERIPHY_ADMIN_PASSWORD must be at least 12 characters".into());
        }
    }

    let mut tx = db.begin(Scope::bank()).await.map_err(|e| e.to_string())?;
    // several servers may start at once on a new database
    sqlx::query("select pg_advisory_xact_lock(hashtext('veriphy-bootstrap-admin'))")
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    if users::any_exist(&mut tx).await.map_err(|e| e.to_string())? {
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
        },
    )
    .await
    .map_err(|e| e.to_string())?;
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
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;

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
