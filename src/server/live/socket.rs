//! `GET /ws`: one websocket per browser tab. Behind the same session gate as
//! every page (signed out: 401), with the Origin checked at the upgrade (a
//! page of another site cannot open it with the user's cookie), and the
//! session re-checked every `session_check` (signed out elsewhere,
//! deactivated: the socket closes with code 4401).
//!
//! The browser says what its tab shows in the query (`?topics=jobs,batches`,
//! bank admins `&org=<id>` when narrowed) and may change it later by sending
//! `{"topics": [...], "org": "<id>" | null, "view": {...} | null}`. It
//! receives JSON arrays of [`LiveUpdate`](crate::domain::live::LiveUpdate),
//! one per coalescing interval with news for it, and, when it named a list
//! page as its `view`, that page as a
//! [`PushedPage`](crate::domain::live::PushedPage) object after the list
//! changed (see `views`); a close with code 4000 means "you fell behind:
//! reload and reconnect".

use super::hub::{Audience, Hub, Interest, Outgoing};
use crate::domain::live::{Topic, ViewRequest};
use crate::domain::CurrentUser;
use crate::error::AppError;
use crate::server::auth::gate::{error_response, same_site_request};
use crate::server::auth::RequestInfo;
use crate::server::db::{Database, Scope};
use crate::server::repo::{user_sessions, users};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Query};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

/// Close code: the hub dropped this viewer (too slow); reload, reconnect.
pub const CLOSE_FELL_BEHIND: u16 = 4000;
/// Close code: the session ended (signed out, expired, deactivated).
pub const CLOSE_SIGNED_OUT: u16 = 4401;

/// The largest message a tab may send (what it shows: topics, an
/// organization and a list page's query); a larger one ends the connection.
pub const MAX_INCOMING_MESSAGE: usize = 16 * 1024;

/// What the websocket endpoint needs, shared by every connection.
#[derive(Clone)]
pub struct Live {
    /// This process's hub.
    pub hub: Hub,
    /// The console's public origin, when configured (for the Origin check).
    pub public_origin: Option<String>,
    /// How often an open connection re-checks its session.
    pub session_check: Duration,
}

/// What a tab asks for, in the query or a later message.
#[derive(Debug, Default, Deserialize)]
pub struct WantedQuery {
    /// Comma-separated topics (`jobs,batches`); none: every topic.
    #[serde(default)]
    pub topics: Option<String>,
    /// The organization a bank admin narrowed the console to.
    #[serde(default)]
    pub org: Option<String>,
}

/// A tab's later change of what it shows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WantedMessage {
    topics: Vec<Topic>,
    #[serde(default)]
    org: Option<Uuid>,
    #[serde(default)]
    view: Option<ViewRequest>,
}

/// The interest of `user` asking for `topics` narrowed to `org`: an
/// organization user may only name their own organization.
pub fn interest_for(
    user: &CurrentUser,
    topics: HashSet<Topic>,
    org: Option<Uuid>,
) -> Result<Interest, AppError> {
    let audience = match user.organization_id {
        None => Audience::Bank { narrowed_to: org },
        Some(own) if org.is_none_or(|asked| asked == own) => Audience::Organization(own),
        Some(_) => return Err(AppError::Forbidden),
    };
    Ok(Interest {
        audience,
        topics,
        view: None,
    })
}

/// Parses `jobs,batches`; empty or absent means every topic.
pub fn parse_topics(text: Option<&str>) -> Result<HashSet<Topic>, AppError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Topic::ALL.into_iter().collect());
    };
    text.split(',')
        .map(|name| {
            Topic::parse(name.trim())
                .ok_or_else(|| AppError::invalid(format!("Unknown live topic {:?}.", name.trim())))
        })
        .collect()
}

/// The upgrade: refused from another site (403), signed out (401), or for a
/// bad query (422); otherwise the connection is served until it ends.
pub async fn upgrade(
    upgrade: WebSocketUpgrade,
    Extension(live): Extension<Live>,
    Extension(db): Extension<Database>,
    Extension(info): Extension<RequestInfo>,
    Query(wanted): Query<WantedQuery>,
    headers: HeaderMap,
) -> Response {
    if !same_site_request(&headers, live.public_origin.as_deref()) {
        tracing::warn!("refused a live connection from another site");
        return error_response(AppError::CrossSite);
    }
    let (Some(user), Some(session_key)) = (info.user.clone(), info.session_key) else {
        return error_response(AppError::Unauthorized);
    };
    let interest = parse_topics(wanted.topics.as_deref()).and_then(|topics| {
        let org = match wanted
            .org
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            Some(text) => Some(
                Uuid::parse_str(text).map_err(|_| AppError::invalid("Choose an organization."))?,
            ),
            None => None,
        };
        interest_for(&user, topics, org)
    });
    let interest = match interest {
        Ok(interest) => interest,
        Err(error) => return error_response(error),
    };
    upgrade
        .max_message_size(MAX_INCOMING_MESSAGE)
        .on_upgrade(move |socket| serve(socket, live, db, user, session_key, interest))
}

/// Serves one connection until the browser leaves, the session ends or the
/// hub drops it.
async fn serve(
    mut socket: WebSocket,
    live: Live,
    db: Database,
    user: CurrentUser,
    session_key: Uuid,
    interest: Interest,
) {
    let mut subscription = live.hub.subscribe(interest);
    let mut session_check = tokio::time::interval(live.session_check);
    session_check.tick().await;
    let close = loop {
        tokio::select! {
            outgoing = subscription.updates.recv() => match outgoing {
                Some(outgoing) => {
                    let text = match outgoing {
                        Outgoing::Updates(updates) => {
                            let Ok(text) = serde_json::to_string(&updates) else { continue };
                            text
                        }
                        Outgoing::Page(text) => text.to_string(),
                    };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                None => break Some((CLOSE_FELL_BEHIND, "reload")),
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<WantedMessage>(&text)
                        .map_err(|_| AppError::invalid("Send {\"topics\": [...], \"org\": ..., \"view\": ...}."))
                        .and_then(|wanted| {
                            let interest = interest_for(&user, wanted.topics.into_iter().collect(), wanted.org)?;
                            Ok(Interest { view: wanted.view, ..interest })
                        })
                    {
                        Ok(interest) => {
                            live.hub.update_interest(subscription.id, interest);
                        }
                        Err(error) => {
                            let refusal = serde_json::json!({ "error": error.to_string() }).to_string();
                            if socket.send(Message::Text(refusal.into())).await.is_err() {
                                break None;
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                Some(Ok(_)) => {}
            },
            _ = session_check.tick() => {
                if !still_signed_in(&db, user.id, session_key).await {
                    break Some((CLOSE_SIGNED_OUT, "signed out"));
                }
            }
        }
    };
    live.hub.unsubscribe(subscription.id);
    if let Some((code, reason)) = close {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
}

/// Whether the user is still active and session `key` still open. A
/// database that does not answer keeps the connection (the next check
/// decides): a blip must not disconnect every viewer.
async fn still_signed_in(db: &Database, user: Uuid, key: Uuid) -> bool {
    let checked = async {
        let mut tx = db.begin(Scope::no_tenant(Some(user))).await?;
        let active = users::load_current(&mut tx, user).await?.is_some()
            && user_sessions::is_open(&mut tx, key, user, None).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(active)
    }
    .await;
    match checked {
        Ok(active) => active,
        Err(error) => {
            tracing::warn!(error = %crate::server::db::loggable(&error), "could not re-check a live connection's session");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(organization: Option<Uuid>) -> CurrentUser {
        CurrentUser {
            id: Uuid::nil(),
            email: "someone@example.com".into(),
            full_name: "Someone".into(),
            role: if organization.is_some() {
                Role::OrgViewer
            } else {
                Role::BankAdmin
            },
            organization_id: organization,
            organization_name: None,
            must_change_password: false,
        }
    }

    #[test]
    fn topics_parse_from_a_comma_list_and_default_to_all() {
        assert_eq!(
            parse_topics(Some("jobs, batches")).unwrap(),
            [Topic::Jobs, Topic::Batches].into_iter().collect()
        );
        assert_eq!(parse_topics(None).unwrap().len(), Topic::ALL.len());
        assert_eq!(
            parse_topics(Some("jobs,secrets")).unwrap_err().to_string(),
            "Unknown live topic \"secrets\"."
        );
    }

    #[test]
    fn an_organization_user_cannot_listen_to_another_organization() {
        let own = Uuid::from_u128(1);
        let viewer = user(Some(own));
        assert_eq!(
            interest_for(&viewer, HashSet::new(), None)
                .unwrap()
                .audience,
            Audience::Organization(own)
        );
        assert_eq!(
            interest_for(&viewer, HashSet::new(), Some(Uuid::from_u128(2))).unwrap_err(),
            AppError::Forbidden
        );
    }

    #[test]
    fn a_bank_admin_listens_to_all_or_narrows_to_one() {
        let admin = user(None);
        assert_eq!(
            interest_for(&admin, HashSet::new(), None).unwrap().audience,
            Audience::Bank { narrowed_to: None }
        );
        assert_eq!(
            interest_for(&admin, HashSet::new(), Some(Uuid::from_u128(2)))
                .unwrap()
                .audience,
            Audience::Bank {
                narrowed_to: Some(Uuid::from_u128(2))
            }
        );
    }
}
