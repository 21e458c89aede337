//! Changes between processes. Whatever writes a job, batch, failure record
//! or queue announces what it changed with a NOTIFY on one channel (inside
//! its transaction where it has one, so a rolled-back change is never
//! announced), and every `serve` process's hub listens on that channel with
//! one connection. A viewer on any node so sees what any worker, node or
//! console did, and viewers cost the database nothing: each process reads
//! the channel once, whatever the number of viewers.
//!
//! A payload is lines of `organization topic id id …` (at most
//! [`MAX_IDS_PER_UPDATE`] ids; a line `organization topic *` says that more
//! changed than are named, and viewers reload instead of patching).

use super::hub::{Change, Hub};
use crate::domain::live::{Topic, MAX_IDS_PER_UPDATE};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use uuid::Uuid;

/// The PostgreSQL channel changes travel on.
pub const CHANNEL: &str = "veriphy_live";

/// Most bytes of one payload (PostgreSQL refuses 8,000 and more).
const MAX_PAYLOAD: usize = 7_900;

/// What one payload says changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Records named by id.
    pub changes: Vec<Change>,
    /// (organization, topic) pairs where more changed than was named.
    pub overflow: Vec<(Uuid, Topic)>,
}

impl Announcement {
    /// Adds everything `other` says.
    pub fn extend(&mut self, other: Announcement) {
        self.changes.extend(other.changes);
        self.overflow.extend(other.overflow);
    }

    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.overflow.is_empty()
    }

    /// Hands what it says to `hub`.
    pub fn publish_to(self, hub: &Hub) {
        hub.publish(self.changes);
        for (organization, topic) in self.overflow {
            hub.publish_overflow(organization, topic);
        }
    }
}

impl From<Vec<Change>> for Announcement {
    fn from(changes: Vec<Change>) -> Self {
        Announcement {
            changes,
            overflow: Vec::new(),
        }
    }
}

/// The payloads that announce `announcement`: one line per organization and
/// topic, lines packed into payloads under PostgreSQL's limit.
pub fn encode(announcement: &Announcement) -> Vec<String> {
    let mut grouped: BTreeMap<(Uuid, Topic), BTreeSet<Uuid>> = BTreeMap::new();
    for change in &announcement.changes {
        grouped
            .entry((change.organization_id, change.topic))
            .or_default()
            .insert(change.id);
    }
    let mut overflowing: BTreeSet<(Uuid, Topic)> = announcement.overflow.iter().copied().collect();
    let mut lines = Vec::new();
    for ((organization, topic), ids) in &grouped {
        if ids.len() > MAX_IDS_PER_UPDATE {
            overflowing.insert((*organization, *topic));
        }
        if overflowing.contains(&(*organization, *topic)) {
            continue;
        }
        let mut line = format!("{organization} {}", topic.as_str());
        for id in ids {
            line.push(' ');
            line.push_str(&id.to_string());
        }
        lines.push(line);
    }
    lines.extend(
        overflowing
            .iter()
            .map(|(organization, topic)| format!("{organization} {} *", topic.as_str())),
    );
    let mut payloads: Vec<String> = Vec::new();
    for line in lines {
        match payloads.last_mut() {
            Some(last) if last.len() + 1 + line.len() <= MAX_PAYLOAD => {
                last.push('\n');
                last.push_str(&line);
            }
            _ => payloads.push(line),
        }
    }
    payloads
}

/// Reads a payload; lines it cannot read are skipped (a newer build may
/// announce more than this one knows).
pub fn decode(payload: &str) -> Announcement {
    let mut announcement = Announcement::default();
    for line in payload.lines() {
        let mut words = line.split(' ');
        let (Some(Ok(organization_id)), Some(Some(topic))) = (
            words.next().map(str::parse::<Uuid>),
            words.next().map(Topic::parse),
        ) else {
            continue;
        };
        for word in words {
            if word == "*" {
                announcement.overflow.push((organization_id, topic));
            } else if let Ok(id) = word.parse() {
                announcement.changes.push(Change {
                    organization_id,
                    topic,
                    id,
                });
            }
        }
    }
    announcement
}

/// A common table expression named `announced` that announces the payloads
/// bound as parameter `$param` (a `text[]`, from [`encode`]) once the CTE
/// `after` has rows: a writing statement announces what it wrote in the
/// same round trip and the same commit. (A NOTIFY gives its transaction an
/// id, so a NOTIFY of its own would cost a commit of its own.)
pub fn announced_cte(after: &str, param: usize) -> String {
    format!(
        "announced as (
           select count(pg_notify('{CHANNEL}', p)) as n
           from unnest(${param}::text[]) as p
           where exists (select 1 from {after})
         )"
    )
}

/// Announces `announcement` on `conn`: within the caller's transaction, the
/// NOTIFY is delivered at its commit (and never if it rolls back).
pub async fn announce(
    conn: &mut PgConnection,
    announcement: impl Into<Announcement>,
) -> Result<(), sqlx::Error> {
    notify(conn, announcement.into(), false).await
}

/// Announces, in a transaction of its own, what a statement that already
/// committed changed (the claim). Its commit does not wait for the disk: a
/// lost announcement costs viewers a reload, never data.
pub async fn announce_committed(
    conn: &mut PgConnection,
    announcement: impl Into<Announcement>,
) -> Result<(), sqlx::Error> {
    notify(conn, announcement.into(), true).await
}

async fn notify(
    conn: &mut PgConnection,
    announcement: Announcement,
    asynchronous_commit: bool,
) -> Result<(), sqlx::Error> {
    let payloads = encode(&announcement);
    if payloads.is_empty() {
        return Ok(());
    }
    // set_config(…, true) lasts for this statement's own transaction only
    sqlx::query(
        "select case when $3 then set_config('synchronous_commit', 'off', true) end,
                count(pg_notify($1, payload))
         from unnest($2::text[]) as p (payload)",
    )
    .bind(CHANNEL)
    .bind(&payloads)
    .bind(asynchronous_commit)
    .execute(conn)
    .await?;
    Ok(())
}

/// Feeds `hub` with every announcement, for as long as the hub lives.
/// After the listening connection was lost (and announcements with it),
/// the hub tells every viewer to reload.
pub fn spawn_listener(hub: &Hub, pool: PgPool) {
    let weak = hub.downgrade();
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            let Some(hub) = weak.upgrade() else { return };
            let started = std::time::Instant::now();
            match listen(&hub, &pool).await {
                Ok(()) => return,
                // the process is shutting down: nothing to listen for
                Err(sqlx::Error::PoolClosed) => return,
                Err(_) if pool.is_closed() => return,
                Err(error) => {
                    failures = failures_after(failures, started.elapsed());
                    tracing::warn!(error = %crate::server::db::loggable(&error), "live feed listener lost; reconnecting");
                    hub.resync();
                }
            }
            drop(hub);
            tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(20)))).await;
        }
    });
}

/// A listening connection that lasted this long was a success: the next
/// failure waits as after a first one.
const SERVED_WELL: Duration = Duration::from_secs(30);

/// Failures in a row once a connection that lasted `served` failed.
fn failures_after(failures: u32, served: Duration) -> u32 {
    if served >= SERVED_WELL {
        1
    } else {
        failures + 1
    }
}

/// Listens until the connection fails (an error) or the hub is gone (Ok).
async fn listen(hub: &Hub, pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let weak = hub.downgrade();
    loop {
        match listener.try_recv().await? {
            Some(notification) => {
                let Some(hub) = weak.upgrade() else {
                    return Ok(());
                };
                decode(notification.payload()).publish_to(&hub);
            }
            // reconnected by sqlx: what was sent meanwhile is lost
            None => {
                let Some(hub) = weak.upgrade() else {
                    return Ok(());
                };
                tracing::warn!("live feed connection re-established; viewers reload");
                hub.resync();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(organization: u128, topic: Topic, id: u128) -> Change {
        Change {
            organization_id: Uuid::from_u128(organization),
            topic,
            id: Uuid::from_u128(id),
        }
    }

    #[test]
    fn reconnects_back_off_until_a_connection_serves_well() {
        let quick = Duration::from_millis(10);
        assert_eq!(failures_after(0, quick), 1);
        assert_eq!(failures_after(7, quick), 8);
        assert_eq!(failures_after(7, SERVED_WELL), 1);
    }

    #[test]
    fn what_is_encoded_decodes_to_the_same_changes() {
        let changes = vec![
            change(1, Topic::Jobs, 10),
            change(1, Topic::Jobs, 11),
            change(1, Topic::Batches, 5),
            change(2, Topic::FailedJobs, 20),
        ];
        let payloads = encode(&Announcement::from(changes.clone()));
        assert_eq!(payloads.len(), 1);
        let mut decoded = decode(&payloads[0]).changes;
        decoded.sort_by_key(|c| (c.organization_id, c.topic, c.id));
        let mut expected = changes;
        expected.sort_by_key(|c| (c.organization_id, c.topic, c.id));
        assert_eq!(decoded, expected);
    }

    #[test]
    fn too_many_ids_of_one_organization_become_a_reload_marker() {
        let changes: Vec<Change> = (0..=MAX_IDS_PER_UPDATE as u128)
            .map(|i| change(1, Topic::Jobs, i))
            .chain([change(2, Topic::Jobs, 7)])
            .collect();
        let payloads = encode(&Announcement::from(changes));
        let decoded = decode(&payloads.join("\n"));
        assert_eq!(decoded.overflow, vec![(Uuid::from_u128(1), Topic::Jobs)]);
        assert_eq!(decoded.changes, vec![change(2, Topic::Jobs, 7)]);
    }

    #[test]
    fn payloads_stay_under_the_notification_limit() {
        // many organizations with many ids each
        let changes: Vec<Change> = (0..50u128)
            .flat_map(|org| (0..90u128).map(move |i| change(org, Topic::Jobs, org * 1000 + i)))
            .collect();
        let payloads = encode(&Announcement::from(changes.clone()));
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let decoded: usize = payloads.iter().map(|p| decode(p).changes.len()).sum();
        assert_eq!(decoded, changes.len());
    }

    #[test]
    fn unreadable_lines_are_skipped() {
        let id = Uuid::from_u128(3);
        let org = Uuid::from_u128(1);
        let payload = format!("nonsense\n{org} unknown_topic {id}\n{org} jobs {id} not-an-id");
        assert_eq!(
            decode(&payload).changes,
            vec![Change {
                organization_id: org,
                topic: Topic::Jobs,
                id
            }]
        );
    }

    #[test]
    fn nothing_to_announce_is_no_payload() {
        assert!(encode(&Announcement::default()).is_empty());
    }
}
