//! SQL for message templates: an organization's own, in front of the
//! built-in ones of the same name.

use crate::domain::integrations::Channel;
use crate::domain::templates::{builtin, Template, TemplateRow, ValidTemplate};
use crate::domain::Cursor;
use crate::server::db::{list as db_list, Tx};
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

/// Columns of a [`TemplateRow`] from `message_templates t` joined to
/// `organizations o`.
const ROW_COLUMNS: &str = "t.id, t.organization_id, o.name as organization_name, t.name, t.subject,
     t.text_body, t.html_body, t.created_at, t.updated_at";

/// One page of email templates, newest first.
pub async fn list(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    cursor: Option<Cursor>,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    let mut query = db_list::select(
        ROW_COLUMNS,
        "message_templates t join organizations o on o.id = t.organization_id",
    );
    db_list::organization(&mut query, "t", organization_id);
    query.push("\n  and t.channel = 'email'");
    db_list::page(&mut query, "t", cursor);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// One email template, if `organization_id` (any when `None`) has it.
pub async fn get(
    tx: &mut Tx,
    organization_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<TemplateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ROW_COLUMNS}
         from message_templates t join organizations o on o.id = t.organization_id
         where t.id = $1 and t.channel = 'email' and ($2::uuid is null or t.organization_id = $2)"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Stores a new email template of `organization_id`, or (`id` given)
/// changes that one of it; the id, or `None` when there is no such
/// template. A name the organization already uses is a unique violation
/// (`message_templates_organization_id_channel_name_key`).
pub async fn save(
    tx: &mut Tx,
    organization_id: Uuid,
    id: Option<Uuid>,
    template: &ValidTemplate,
) -> Result<Option<Uuid>, sqlx::Error> {
    match id {
        None => {
            sqlx::query_scalar(
                "insert into message_templates
               (organization_id, channel, name, subject, text_body, html_body)
             values ($1, 'email', $2, $3, $4, $5)
             returning id",
            )
            .bind(organization_id)
            .bind(&template.name)
            .bind(&template.subject)
            .bind(&template.text_body)
            .bind(&template.html_body)
            .fetch_optional(&mut **tx)
            .await
        }
        Some(id) => {
            sqlx::query_scalar(
                "update message_templates
             set name = $3, subject = $4, text_body = $5, html_body = $6
             where organization_id = $1 and id = $2 and channel = 'email'
             returning id",
            )
            .bind(organization_id)
            .bind(id)
            .bind(&template.name)
            .bind(&template.subject)
            .bind(&template.text_body)
            .bind(&template.html_body)
            .fetch_optional(&mut **tx)
            .await
        }
    }
}

/// Deletes template `id` of `organization_id`; whether there was one.
pub async fn delete(tx: &mut Tx, organization_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query(
        "delete from message_templates where organization_id = $1 and id = $2 and channel = 'email'",
    )
    .bind(organization_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(deleted.rows_affected() == 1)
}
