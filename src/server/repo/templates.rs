//! SQL for message templates: an organization's own, in front of the
//! built-in ones of the same name.

use crate::domain::integrations::Channel;
use crate::domain::templates::{builtin, Template};
use crate::server::db::Tx;
use uuid::Uuid;

/// The template `name` of `channel` that `organization_id` uses: its own,
/// or the built-in one; none if neither exists.
pub async fn find(
    tx: &mut Tx,
    organization_id: Uuid,
    channel: Channel,
    name: &str,
) -> Result<Option<Template>, sqlx::Error> {
    let own: Option<(String, Option<String>, String, Option<String>)> = sqlx::query_as(
        "select name, subject, text_body, html_body from message_templates
         where organization_id = $1 and channel = $2 and name = $3",
    )
    .bind(organization_id)
    .bind(channel.as_str())
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match own {
        Some((name, subject, text_body, html_body)) => Some(Template {
            name,
            subject: subject.unwrap_or_default(),
            text_body,
            html_body,
        }),
        None => builtin(name),
    })
}
