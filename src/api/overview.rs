//! The Overview tab and the organization filter.

use crate::domain::metrics::Period;
use crate::domain::{OrganizationSummary, Overview};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// The Overview across the caller's scope (a bank admin may narrow to one
/// organization) over `period`.
#[server(endpoint = "overview")]
pub async fn load_overview(
    organization_id: Option<Uuid>,
    period: Period,
) -> Result<Overview, AppError> {
    let caller = crate::server::auth::require_caller().await?;
    let mut tx = caller.begin().await?;
    let overview = crate::server::repo::overview::load(
        &mut tx,
        caller.organization_filter(organization_id),
        period,
    )
    .await?;
    tx.commit().await?;
    Ok(overview)
}

/// Organizations the caller can see: all for bank admins, their own otherwise.
#[server(endpoint = "organizations")]
pub async fn organizations() -> Result<Vec<OrganizationSummary>, AppError> {
    let caller = crate::server::auth::require_caller().await?;
    let mut tx = caller.begin().await?;
    let list = crate::server::repo::organizations::list(&mut tx).await?;
    tx.commit().await?;
    Ok(list)
}
