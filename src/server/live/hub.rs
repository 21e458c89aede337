//! The hub: producers [`Hub::publish`] changes (cheap: a push under a short
//! lock); [`Hub::flush`], run every coalescing interval by one task, groups
//! what arrived by organization and topic and offers each subscriber only
//! the changes of organizations it may see and topics it asked for. A
//! subscriber whose queue is full is dropped rather than waited for: one
//! slow browser never holds back the others, and a dropped one reconnects
//! and reloads.

use super::views::{page_message, ViewKey, ViewSource, Views};
use crate::domain::live::{LiveUpdate, Topic, ViewRequest, MAX_IDS_PER_UPDATE};
use crate::server::db::Reach;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;
use uuid::Uuid;

/// One record that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Whose record it is.
    pub organization_id: Uuid,
    /// What kind of record.
    pub topic: Topic,
    /// Which record.
    pub id: Uuid,
}

/// Whose changes a viewer may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A bank admin: every organization's, or only the one they narrowed
    /// the console to.
    Bank {
        /// The organization the console is narrowed to, if any.
        narrowed_to: Option<Uuid>,
    },
    /// An organization's user: only that organization's.
    Organization(Uuid),
}

/// The organization under which the bank's own records (queues and their
/// settings) are announced: every viewer may learn that they changed, but
/// never which ones (the hub passes on no id of theirs).
pub const BANK_WIDE: Uuid = Uuid::nil();

impl Audience {
    /// Whether a change of `organization` may reach this viewer.
    pub fn admits(&self, organization: Uuid) -> bool {
        if organization == BANK_WIDE {
            return true;
        }
        match self {
            Audience::Bank { narrowed_to: None } => true,
            Audience::Bank {
                narrowed_to: Some(only),
            }
            | Audience::Organization(only) => *only == organization,
        }
    }

    /// Whose rows a page pushed to this viewer is read for.
    pub fn reach(&self) -> Reach {
        match self {
            Audience::Bank { .. } => Reach::Bank,
            Audience::Organization(own) => Reach::Organization(*own),
        }
    }
}

/// What one connected tab wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interest {
    /// Whose changes it may see.
    pub audience: Audience,
    /// What its tab shows.
    pub topics: HashSet<Topic>,
    /// The list page its tab shows, pushed to it when its topic changes
    /// (none: the tab reloads what it shows itself).
    pub view: Option<ViewRequest>,
}

impl Interest {
    /// The pushed view this interest shows, for its audience.
    fn view_key(&self) -> Option<ViewKey> {
        self.view.as_ref().map(|view| ViewKey {
            reach: self.audience.reach(),
            view: view.clone(),
        })
    }
}

/// What a viewer's socket sends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// The coalesced updates of one flush.
    Updates(Vec<LiveUpdate>),
    /// A pushed page, already in its wire form (one text for every viewer
    /// of the view).
    Page(Arc<str>),
}

/// Updates queued per subscriber before it counts as too slow.
pub const SUBSCRIBER_QUEUE: usize = 32;

struct Subscriber {
    id: u64,
    interest: Interest,
    sender: mpsc::Sender<Outgoing>,
}

/// A viewer's end: coalesced updates and pushed pages arrive on `updates`;
/// `None` means the hub dropped it (too slow, or shutting down) and it
/// should reload.
pub struct Subscription {
    /// This subscriber's number (to change its interest or leave).
    pub id: u64,
    /// Batches of updates, one per coalescing interval with news for it,
    /// and the pages of its view.
    pub updates: mpsc::Receiver<Outgoing>,
}

/// One per process; cheap to clone.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.subscribers())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    pending: Mutex<Pending>,
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
    /// pushed views, once a source to read them is installed
    views: Mutex<Option<Views>>,
    /// pushed views read so far
    pages_read: AtomicU64,
}

/// What arrived since the last flush.
#[derive(Default)]
struct Pending {
    changes: Vec<Change>,
    /// (organization, topic) where more changed than was named
    overflow: Vec<(Uuid, Topic)>,
    /// changes may have been missed: every viewer reloads
    resync: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.overflow.is_empty() && !self.resync
    }
}

/// The changes of one organization and topic in one flush.
#[derive(Default)]
struct Group {
    ids: BTreeSet<Uuid>,
    more: bool,
}

/// A hub reference that does not keep it alive (for background tasks that
/// should end with it).
#[derive(Clone)]
pub struct WeakHub {
    inner: Weak<Inner>,
}

impl WeakHub {
    /// The hub, while any [`Hub`] clone is alive.
    pub fn upgrade(&self) -> Option<Hub> {
        self.inner.upgrade().map(|inner| Hub { inner })
    }
}

impl Hub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Hub::default()
    }

    /// Lets viewers have their list pages pushed, read through `source`.
    /// Without it a tab's view is ignored and the tab reloads itself.
    pub fn push_views_from(&self, source: ViewSource) {
        *self.inner.views.lock().expect("hub lock") = Some(Views::new(source));
    }

    /// Records changes for the next flush.
    pub fn publish(&self, changes: impl IntoIterator<Item = Change>) {
        self.inner
            .pending
            .lock()
            .expect("hub lock")
            .changes
            .extend(changes);
    }

    /// Records that more of `organization`'s `topic` changed than was named:
    /// its viewers reload what they show.
    pub fn publish_overflow(&self, organization: Uuid, topic: Topic) {
        self.inner
            .pending
            .lock()
            .expect("hub lock")
            .overflow
            .push((organization, topic));
    }

    /// Records that changes may have been missed (the feed was cut): at the
    /// next flush every viewer reloads every topic it shows.
    pub fn resync(&self) {
        self.inner.pending.lock().expect("hub lock").resync = true;
    }

    /// A reference that does not keep the hub alive.
    pub fn downgrade(&self) -> WeakHub {
        WeakHub {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Adds a viewer.
    pub fn subscribe(&self, interest: Interest) -> Subscription {
        let (sender, updates) = mpsc::channel(SUBSCRIBER_QUEUE);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .subscribers
            .lock()
            .expect("hub lock")
            .push(Subscriber {
                id,
                interest,
                sender,
            });
        Subscription { id, updates }
    }

    /// Changes what subscriber `id` wants (a tab switched, a bank admin
    /// narrowed the console); false if it is gone.
    pub fn update_interest(&self, id: u64, interest: Interest) -> bool {
        let mut subscribers = self.inner.subscribers.lock().expect("hub lock");
        match subscribers.iter_mut().find(|s| s.id == id) {
            Some(subscriber) => {
                subscriber.interest = interest;
                true
            }
            None => false,
        }
    }

    /// Removes subscriber `id`.
    pub fn unsubscribe(&self, id: u64) {
        self.inner
            .subscribers
            .lock()
            .expect("hub lock")
            .retain(|s| s.id != id);
    }

    /// Flushes every `every` on a task of its own, for as long as any clone
    /// of this hub is alive.
    pub fn spawn_flusher(&self, every: std::time::Duration) {
        let weak = self.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(hub) = weak.upgrade() else { return };
                hub.flush();
                hub.start_due_views();
            }
        });
    }

    /// How many pushed pages this hub has read (each served every viewer
    /// of its view and audience).
    pub fn pages_read(&self) -> u64 {
        self.inner.pages_read.load(Ordering::Relaxed)
    }

    /// How many viewers are connected.
    pub fn subscribers(&self) -> usize {
        self.inner.subscribers.lock().expect("hub lock").len()
    }

    /// Sends what arrived since the last flush to every subscriber that may
    /// see some of it; drops subscribers that are gone or too slow. Returns
    /// how many subscribers were sent something.
    pub fn flush(&self) -> usize {
        let pending = std::mem::take(&mut *self.inner.pending.lock().expect("hub lock"));
        if pending.is_empty() {
            return 0;
        }
        // organization → topic → ids, each set in id order and deduplicated
        let mut grouped: BTreeMap<Uuid, BTreeMap<Topic, Group>> = BTreeMap::new();
        for change in pending.changes {
            grouped
                .entry(change.organization_id)
                .or_default()
                .entry(change.topic)
                .or_default()
                .ids
                .insert(change.id);
        }
        for (organization, topic) in pending.overflow {
            grouped
                .entry(organization)
                .or_default()
                .entry(topic)
                .or_default()
                .more = true;
        }
        let mut subscribers = self.inner.subscribers.lock().expect("hub lock");
        let mut views = self.inner.views.lock().expect("hub lock");
        let mut sent = 0;
        subscribers.retain(|subscriber| {
            let updates = if pending.resync {
                reload_everything(&subscriber.interest)
            } else {
                updates_for(&subscriber.interest, &grouped)
            };
            if updates.is_empty() {
                return !subscriber.sender.is_closed();
            }
            if let (Some(views), Some(key)) = (views.as_mut(), subscriber.interest.view_key()) {
                if updates
                    .iter()
                    .any(|update| update.topic == key.view.list.topic())
                {
                    views.mark_due(key, subscriber.id);
                }
            }
            match subscriber.sender.try_send(Outgoing::Updates(updates)) {
                Ok(()) => {
                    sent += 1;
                    true
                }
                // full: too slow; closed: gone. Either way it leaves, and a
                // slow one reconnects and reloads.
                Err(_) => false,
            }
        });
        sent
    }
}

impl Hub {
    /// Starts reading the pushed views that are due (each on a task of its
    /// own, a few at a time); each viewer waiting for one receives its page.
    pub fn start_due_views(&self) {
        let due = match self.inner.views.lock().expect("hub lock").as_mut() {
            Some(views) => views.take_due(std::time::Instant::now()),
            None => return,
        };
        for read in due {
            self.inner.pages_read.fetch_add(1, Ordering::Relaxed);
            let weak = self.downgrade();
            tokio::spawn(async move {
                let result = {
                    let _permit = read.permits.acquire().await;
                    read.read.await
                };
                let message: Arc<str> = page_message(read.key.view.clone(), result).into();
                if let Some(hub) = weak.upgrade() {
                    hub.deliver_page(&read.key, &read.waiting, message);
                }
            });
        }
    }

    /// Sends a read page to the viewers that waited for it and still show
    /// that view to that audience.
    fn deliver_page(&self, key: &ViewKey, waiting: &BTreeSet<u64>, message: Arc<str>) {
        if let Some(views) = self.inner.views.lock().expect("hub lock").as_mut() {
            views.finished(key);
        }
        self.inner
            .subscribers
            .lock()
            .expect("hub lock")
            .retain(|subscriber| {
                if !waiting.contains(&subscriber.id)
                    || subscriber.interest.view_key().as_ref() != Some(key)
                {
                    return true;
                }
                // full or gone: it leaves, as at a flush
                subscriber
                    .sender
                    .try_send(Outgoing::Page(message.clone()))
                    .is_ok()
            });
    }
}

/// The updates one interest gets out of a flush's grouped changes.
fn updates_for(
    interest: &Interest,
    grouped: &BTreeMap<Uuid, BTreeMap<Topic, Group>>,
) -> Vec<LiveUpdate> {
    let mut per_topic: BTreeMap<Topic, Group> = BTreeMap::new();
    for (organization, topics) in grouped {
        if !interest.audience.admits(*organization) {
            continue;
        }
        for (topic, group) in topics {
            if interest.topics.contains(topic) {
                let merged = per_topic.entry(*topic).or_default();
                if *organization == BANK_WIDE {
                    // said as "reload": their ids are nobody's to see
                    merged.more = true;
                } else {
                    merged.ids.extend(&group.ids);
                    merged.more |= group.more;
                }
            }
        }
    }
    per_topic
        .into_iter()
        .map(|(topic, group)| LiveUpdate {
            topic,
            more: group.more || group.ids.len() > MAX_IDS_PER_UPDATE,
            ids: group.ids.into_iter().take(MAX_IDS_PER_UPDATE).collect(),
        })
        .collect()
}

/// After a gap in the feed: reload every topic the tab shows.
fn reload_everything(interest: &Interest) -> Vec<LiveUpdate> {
    let mut topics: Vec<Topic> = interest.topics.iter().copied().collect();
    topics.sort();
    topics.into_iter().map(LiveUpdate::reload).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn change(organization: u128, topic: Topic, id: u128) -> Change {
        Change {
            organization_id: org(organization),
            topic,
            id: Uuid::from_u128(id),
        }
    }

    fn watching(audience: Audience, topics: &[Topic]) -> Interest {
        Interest {
            audience,
            topics: topics.iter().copied().collect(),
            view: None,
        }
    }

    /// The updates of the next message, which must be updates.
    fn next_updates(subscription: &mut Subscription) -> Vec<LiveUpdate> {
        match subscription.updates.try_recv().unwrap() {
            Outgoing::Updates(updates) => updates,
            other => panic!("expected updates, got {other:?}"),
        }
    }

    #[test]
    fn a_viewer_of_one_organization_receives_nothing_of_another() {
        let hub = Hub::new();
        let mut b = hub.subscribe(watching(Audience::Organization(org(2)), &[Topic::Jobs]));
        hub.publish([change(1, Topic::Jobs, 10)]);

        assert_eq!(hub.flush(), 0);
        assert!(b.updates.try_recv().is_err());
    }

    #[test]
    fn a_bank_admin_narrowed_to_one_organization_receives_only_its_changes() {
        let hub = Hub::new();
        let mut narrowed = hub.subscribe(watching(
            Audience::Bank {
                narrowed_to: Some(org(1)),
            },
            &[Topic::Jobs],
        ));
        let mut everything = hub.subscribe(watching(
            Audience::Bank { narrowed_to: None },
            &[Topic::Jobs],
        ));
        hub.publish([change(1, Topic::Jobs, 10), change(2, Topic::Jobs, 20)]);

        hub.flush();

        let narrowed_ids: Vec<Uuid> = next_updates(&mut narrowed)[0].ids.clone();
        assert_eq!(narrowed_ids, vec![Uuid::from_u128(10)]);
        assert_eq!(next_updates(&mut everything)[0].ids.len(), 2);
    }

    #[test]
    fn changes_between_flushes_arrive_as_one_update_per_topic_without_repeats() {
        let hub = Hub::new();
        let mut viewer = hub.subscribe(watching(
            Audience::Organization(org(1)),
            &[Topic::Jobs, Topic::Batches],
        ));
        hub.publish([change(1, Topic::Jobs, 11), change(1, Topic::Jobs, 10)]);
        hub.publish([change(1, Topic::Jobs, 11), change(1, Topic::Batches, 5)]);

        hub.flush();

        let updates = next_updates(&mut viewer);
        assert_eq!(
            updates,
            vec![
                LiveUpdate {
                    topic: Topic::Jobs,
                    ids: vec![Uuid::from_u128(10), Uuid::from_u128(11)],
                    more: false
                },
                LiveUpdate {
                    topic: Topic::Batches,
                    ids: vec![Uuid::from_u128(5)],
                    more: false
                },
            ]
        );
        assert!(viewer.updates.try_recv().is_err(), "one message per flush");
    }

    #[test]
    fn a_bank_wide_change_reaches_every_viewer_without_its_ids() {
        let hub = Hub::new();
        let mut northwind =
            hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Queues]));
        let mut narrowed = hub.subscribe(watching(
            Audience::Bank {
                narrowed_to: Some(org(2)),
            },
            &[Topic::Queues],
        ));
        hub.publish([Change {
            organization_id: BANK_WIDE,
            topic: Topic::Queues,
            id: Uuid::from_u128(7),
        }]);

        assert_eq!(hub.flush(), 2);

        for viewer in [&mut northwind, &mut narrowed] {
            assert_eq!(
                next_updates(viewer),
                vec![LiveUpdate::reload(Topic::Queues)]
            );
        }
    }

    #[test]
    fn topics_a_tab_does_not_show_are_not_sent() {
        let hub = Hub::new();
        let mut viewer = hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Queues]));
        hub.publish([change(1, Topic::Jobs, 1)]);

        assert_eq!(hub.flush(), 0);
        assert!(viewer.updates.try_recv().is_err());
    }

    #[test]
    fn a_flood_of_changes_is_capped_and_marked_for_a_reload() {
        let hub = Hub::new();
        let mut viewer = hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Jobs]));
        hub.publish((0..500).map(|id| change(1, Topic::Jobs, id)));

        hub.flush();

        let update = &next_updates(&mut viewer)[0];
        assert_eq!(update.ids.len(), MAX_IDS_PER_UPDATE);
        assert!(update.more);
    }

    #[test]
    fn a_slow_viewer_is_dropped_and_the_others_still_receive() {
        let hub = Hub::new();
        let mut slow = hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Jobs]));
        let mut quick = hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Jobs]));
        for round in 0..=SUBSCRIBER_QUEUE as u128 {
            hub.publish([change(1, Topic::Jobs, round)]);
            hub.flush();
            next_updates(&mut quick);
        }

        assert_eq!(hub.subscribers(), 1, "the slow one left");
        let mut received = 0;
        loop {
            match slow.updates.try_recv() {
                Ok(_) => received += 1,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    panic!("the slow viewer is still connected")
                }
            }
        }
        assert_eq!(
            received, SUBSCRIBER_QUEUE,
            "what it had queued, then the end"
        );
    }

    #[test]
    fn a_viewer_that_went_away_is_removed_at_the_next_flush() {
        let hub = Hub::new();
        let gone = hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Jobs]));
        drop(gone);
        hub.publish([change(2, Topic::Jobs, 1)]);

        hub.flush();

        assert_eq!(hub.subscribers(), 0);
    }

    #[test]
    fn a_changed_interest_applies_from_the_next_flush() {
        let hub = Hub::new();
        let mut viewer = hub.subscribe(watching(
            Audience::Bank {
                narrowed_to: Some(org(1)),
            },
            &[Topic::Jobs],
        ));
        assert!(hub.update_interest(
            viewer.id,
            watching(
                Audience::Bank {
                    narrowed_to: Some(org(2))
                },
                &[Topic::Jobs]
            )
        ));
        hub.publish([change(1, Topic::Jobs, 1), change(2, Topic::Jobs, 2)]);

        hub.flush();

        assert_eq!(next_updates(&mut viewer)[0].ids, vec![Uuid::from_u128(2)]);
    }

    #[test]
    fn an_overflow_reaches_only_that_organizations_viewers_as_a_reload() {
        let hub = Hub::new();
        let mut a = hub.subscribe(watching(Audience::Organization(org(1)), &[Topic::Jobs]));
        let mut b = hub.subscribe(watching(Audience::Organization(org(2)), &[Topic::Jobs]));
        hub.publish_overflow(org(1), Topic::Jobs);

        hub.flush();

        assert_eq!(next_updates(&mut a), vec![LiveUpdate::reload(Topic::Jobs)]);
        assert!(b.updates.try_recv().is_err());
    }

    #[test]
    fn after_a_gap_every_viewer_reloads_every_topic_it_shows() {
        let hub = Hub::new();
        let mut viewer = hub.subscribe(watching(
            Audience::Organization(org(2)),
            &[Topic::Batches, Topic::Jobs],
        ));
        hub.resync();

        hub.flush();

        let updates = next_updates(&mut viewer);
        assert_eq!(
            updates
                .iter()
                .map(|u| (u.topic, u.more, u.ids.len()))
                .collect::<Vec<_>>(),
            vec![(Topic::Jobs, true, 0), (Topic::Batches, true, 0)]
        );
    }

    mod pushed_views {
        use super::*;
        use crate::domain::live::{ListView, PushedPage};
        use crate::domain::ListQuery;
        use crate::server::db::Scope;

        fn jobs_view() -> ViewRequest {
            ViewRequest {
                list: ListView::Jobs,
                query: ListQuery::default(),
            }
        }

        fn showing(audience: Audience) -> Interest {
            Interest {
                view: Some(jobs_view()),
                ..watching(audience, &[Topic::Jobs])
            }
        }

        /// A hub whose views read as `{"reach": "<scope's reach>"}` and
        /// that counts its reads.
        fn counting_hub() -> (Hub, Arc<Mutex<Vec<Scope>>>) {
            let reads = Arc::new(Mutex::new(Vec::new()));
            let hub = Hub::new();
            let seen = reads.clone();
            hub.push_views_from(Arc::new(move |scope: Scope, _view| {
                seen.lock().unwrap().push(scope);
                Box::pin(
                    async move { Ok(serde_json::json!({ "reach": format!("{:?}", scope.reach) })) },
                )
            }));
            (hub, reads)
        }

        /// Skips the updates and returns the next pushed page.
        async fn next_page(subscription: &mut Subscription) -> PushedPage {
            loop {
                let next = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    subscription.updates.recv(),
                )
                .await
                .expect("a page within 5 s")
                .expect("still subscribed");
                if let Outgoing::Page(text) = next {
                    return serde_json::from_str(&text).unwrap();
                }
            }
        }

        #[tokio::test]
        async fn one_read_serves_every_viewer_of_a_view_and_no_other_organization() {
            let (hub, reads) = counting_hub();
            let mut first = hub.subscribe(showing(Audience::Organization(org(1))));
            let mut second = hub.subscribe(showing(Audience::Organization(org(1))));
            let mut other = hub.subscribe(showing(Audience::Organization(org(2))));
            hub.publish([change(1, Topic::Jobs, 10)]);

            hub.flush();
            hub.start_due_views();

            let expected =
                serde_json::json!({ "reach": format!("{:?}", Reach::Organization(org(1))) });
            assert_eq!(next_page(&mut first).await.page, Some(expected.clone()));
            assert_eq!(next_page(&mut second).await.page, Some(expected));
            assert_eq!(*reads.lock().unwrap(), vec![Scope::organization(org(1))]);
            assert!(other.updates.try_recv().is_err(), "org 2 was sent nothing");
        }

        #[tokio::test]
        async fn a_bank_admin_and_an_organization_viewer_never_share_a_read() {
            let (hub, reads) = counting_hub();
            let mut admin = hub.subscribe(showing(Audience::Bank { narrowed_to: None }));
            let mut viewer = hub.subscribe(showing(Audience::Organization(org(1))));
            hub.publish([change(1, Topic::Jobs, 10)]);

            hub.flush();
            hub.start_due_views();

            let admin_page = next_page(&mut admin).await.page.unwrap();
            let viewer_page = next_page(&mut viewer).await.page.unwrap();
            assert_eq!(admin_page["reach"], "Bank");
            assert_eq!(
                viewer_page["reach"],
                format!("{:?}", Reach::Organization(org(1)))
            );
            assert_eq!(reads.lock().unwrap().len(), 2);
        }

        #[tokio::test]
        async fn a_viewer_that_changed_its_view_meanwhile_gets_no_stale_page() {
            let (hub, _) = counting_hub();
            let mut viewer = hub.subscribe(showing(Audience::Organization(org(1))));
            hub.publish([change(1, Topic::Jobs, 10)]);
            hub.flush();
            next_updates(&mut viewer);
            hub.update_interest(
                viewer.id,
                watching(Audience::Organization(org(1)), &[Topic::Jobs]),
            );

            hub.start_due_views();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;

            assert!(viewer.updates.try_recv().is_err());
        }

        #[tokio::test]
        async fn changes_of_a_topic_the_view_does_not_list_read_nothing() {
            let (hub, reads) = counting_hub();
            let mut viewer = hub.subscribe(Interest {
                topics: [Topic::Jobs, Topic::Batches].into_iter().collect(),
                ..showing(Audience::Organization(org(1)))
            });
            hub.publish([change(1, Topic::Batches, 10)]);

            hub.flush();
            hub.start_due_views();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;

            next_updates(&mut viewer);
            assert!(reads.lock().unwrap().is_empty());
        }
    }
}
