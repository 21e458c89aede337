//! The browser's end of the live console: one websocket per tab to `/ws`,
//! told which topics the current view shows; updates land in [`LiveFeed`],
//! which views watch with [`on_live_change`]. The connection reconnects
//! with growing, jittered delays, pauses while the tab is hidden, and each
//! time it opens asks every view to reload (what changed since the view was
//! read, before the connection or during a gap, was sent to nobody).

use crate::domain::live::{LiveUpdate, PushedPage, Topic, ViewRequest};
use leptos::prelude::*;

/// The state of the tab's live connection, as the indicator shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Opening (first time or after a drop).
    Connecting,
    /// Open: changes arrive as they happen.
    Live,
    /// Closed; the next attempt is scheduled.
    Offline,
    /// The tab is hidden: closed until it is shown again.
    Paused,
}

impl Connection {
    /// The indicator's words.
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "Connecting…",
            Connection::Live => "Live",
            Connection::Offline => "Offline — retrying",
            Connection::Paused => "Paused",
        }
    }

    /// A stable name for styling and tests.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Offline => "offline",
            Connection::Paused => "paused",
        }
    }
}

/// The live state a signed-in page shares with its views.
#[derive(Debug, Clone, Copy)]
pub struct LiveFeed {
    /// The connection's state.
    pub connection: RwSignal<Connection>,
    /// The latest batch of updates, numbered so that two equal batches still
    /// count as two.
    pub latest: RwSignal<(u64, Vec<LiveUpdate>)>,
    /// The list page the tab shows, which the server pushes when it
    /// changes (set by the list while it is on the page).
    pub view: RwSignal<Option<ViewRequest>>,
    /// The latest page the server pushed.
    pub pushed: RwSignal<Option<PushedPage>>,
    /// Moves each time the connection (re)opens: what a view shows may have
    /// changed unseen, and nothing will be pushed for it until it changes
    /// again, so views read it themselves.
    pub reopened: RwSignal<u64>,
}

impl LiveFeed {
    fn new() -> Self {
        LiveFeed {
            connection: RwSignal::new(Connection::Connecting),
            latest: RwSignal::new((0, Vec::new())),
            view: RwSignal::new(None),
            pushed: RwSignal::new(None),
            reopened: RwSignal::new(0),
        }
    }

    /// Hands a batch of updates to the views.
    pub fn deliver(&self, updates: Vec<LiveUpdate>) {
        self.latest.update(|(serial, latest)| {
            *serial += 1;
            *latest = updates;
        });
    }

    /// Asks every view to reload (after a gap in the connection). Alerts
    /// are not views: nothing is raised for what may have failed meanwhile.
    pub fn reload_everything(&self) {
        self.reopened.update(|n| *n += 1);
        self.deliver(
            Topic::ALL
                .iter()
                .filter(|topic| **topic != Topic::Failures)
                .map(|topic| LiveUpdate::reload(*topic))
                .collect(),
        );
    }
}

/// The topics the view at `path` shows (the server sends nothing else),
/// and new failures, which every tab alerts about.
pub fn topics_for_path(path: &str) -> Vec<Topic> {
    let section = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let mut topics = match section {
        "" => vec![
            Topic::Jobs,
            Topic::Batches,
            Topic::FailedJobs,
            Topic::ApiLogs,
        ],
        "jobs" | "documents" => vec![Topic::Jobs],
        "batches" => vec![Topic::Batches, Topic::Jobs],
        "failed-jobs" => vec![Topic::FailedJobs],
        "queues" => vec![Topic::Queues, Topic::Jobs],
        "api-logs" => vec![Topic::ApiLogs],
        // a webhook's deliveries are API calls
        "webhooks" => vec![Topic::Webhooks, Topic::ApiLogs],
        _ => Vec::new(),
    };
    topics.push(Topic::Failures);
    topics
}

/// Calls `on_change` with every update of `topic` that reaches this tab
/// (in the browser only; nothing happens during the server's render).
pub fn on_live_change(topic: Topic, on_change: impl Fn(&LiveUpdate) + 'static) {
    let Some(feed) = use_context::<LiveFeed>() else {
        return;
    };
    Effect::new(move |_| {
        feed.latest.with(|(_, updates)| {
            updates
                .iter()
                .filter(|update| update.topic == topic)
                .for_each(&on_change)
        })
    });
}

/// A counter that moves (throttled) whenever an update of one of `topics`
/// for which `concerns` holds reaches this tab: put it in a resource's key
/// and the resource reloads with the change.
pub fn live_version(
    topics: &'static [Topic],
    concerns: impl Fn(&LiveUpdate) -> bool + 'static,
) -> RwSignal<u32> {
    let version = RwSignal::new(0u32);
    let reload = Throttle::new(move || version.update(|n| *n += 1));
    let concerns = std::rc::Rc::new(concerns);
    for topic in topics {
        let (reload, concerns) = (reload.clone(), concerns.clone());
        on_live_change(*topic, move |update| {
            if concerns(update) {
                reload.call();
            }
        });
    }
    version
}

/// Calls `reload` shortly after the first of a burst of calls, then at most
/// once a second while calls keep coming: a busy queue makes a viewer
/// reload once a second, not at every update.
#[derive(Clone)]
pub struct Throttle {
    state: std::rc::Rc<std::cell::Cell<ThrottleState>>,
    reload: std::rc::Rc<dyn Fn()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThrottleState {
    Idle,
    Scheduled,
    Cooling,
    CoolingWithMore,
}

/// How long a first call waits for the rest of its burst.
const BURST: std::time::Duration = std::time::Duration::from_millis(150);
/// The least time between two reloads.
const COOL_DOWN: std::time::Duration = std::time::Duration::from_secs(1);

impl Throttle {
    /// A throttle around `reload`.
    pub fn new(reload: impl Fn() + 'static) -> Self {
        Throttle {
            state: std::rc::Rc::new(std::cell::Cell::new(ThrottleState::Idle)),
            reload: std::rc::Rc::new(reload),
        }
    }

    /// Asks for a reload.
    pub fn call(&self) {
        match self.state.get() {
            ThrottleState::Idle => {
                self.state.set(ThrottleState::Scheduled);
                let this = self.clone();
                set_timeout(move || this.fire(), BURST);
            }
            ThrottleState::Cooling => self.state.set(ThrottleState::CoolingWithMore),
            ThrottleState::Scheduled | ThrottleState::CoolingWithMore => {}
        }
    }

    fn fire(&self) {
        (self.reload)();
        self.state.set(ThrottleState::Cooling);
        let this = self.clone();
        set_timeout(
            move || {
                if this.state.get() == ThrottleState::CoolingWithMore {
                    this.fire();
                } else {
                    this.state.set(ThrottleState::Idle);
                }
            },
            COOL_DOWN,
        );
    }
}

/// Provides the [`LiveFeed`] to the signed-in page; in the browser, opens
/// and keeps the connection.
pub fn provide_live_feed() {
    let feed = LiveFeed::new();
    provide_context(feed);
    #[cfg(feature = "hydrate")]
    browser::start(feed);
}

/// Shows the connection's state.
#[component]
pub fn LiveIndicator() -> impl IntoView {
    let feed = expect_context::<LiveFeed>();
    let state = move || feed.connection.get();
    view! {
        <span class="live-indicator" data-testid="live-status" data-state=move || state().as_str()
            aria-live="polite">
            <span class="dot" aria-hidden="true"></span>
            {move || state().label()}
        </span>
    }
}

/// One alert raised by a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its number (to dismiss it).
    pub key: u64,
    /// What it says.
    pub text: String,
    /// Where its link goes.
    pub href: String,
}

/// Most alerts shown at once; older ones give way.
const MAX_ALERTS: usize = 4;

/// How long an alert stays unless dismissed: long enough to read and
/// follow, short enough not to sit on the page's own controls.
const ALERT_SHOWN_FOR: std::time::Duration = std::time::Duration::from_secs(15);

/// The alert an update of new failures raises: one job by name of its
/// page, several by count.
pub fn failure_alert(update: &LiveUpdate, key: u64) -> Option<Alert> {
    match (update.ids.as_slice(), update.more) {
        // a reload request names no failure
        ([], _) => None,
        ([id], false) => Some(Alert {
            key,
            text: "A job failed.".into(),
            href: format!("/jobs/{id}"),
        }),
        (ids, more) => Some(Alert {
            key,
            text: format!("{}{} jobs failed.", ids.len(), if more { "+" } else { "" }),
            href: "/failed-jobs".into(),
        }),
    }
}

/// Alerts for jobs that fail while the tab is open: each with a link, a
/// dismiss button, and announced to screen readers.
#[component]
pub fn FailureAlerts() -> impl IntoView {
    let alerts = RwSignal::new(Vec::<Alert>::new());
    let next_key = std::cell::Cell::new(0u64);
    on_live_change(Topic::Failures, move |update| {
        next_key.set(next_key.get() + 1);
        if let Some(alert) = failure_alert(update, next_key.get()) {
            let key = alert.key;
            alerts.update(|shown| {
                shown.push(alert);
                let excess = shown.len().saturating_sub(MAX_ALERTS);
                shown.drain(..excess);
            });
            set_timeout(
                move || {
                    alerts
                        .try_update(|shown| shown.retain(|a| a.key != key))
                        .unwrap_or(())
                },
                ALERT_SHOWN_FOR,
            );
        }
    });
    view! {
        <div class="alerts" aria-live="assertive" data-testid="alerts">
            <For each=move || alerts.get() key=|alert| alert.key let:alert>
                <div class="alert" role="alert" data-testid="failure-alert">
                    <span>{alert.text.clone()}</span>
                    <a href=alert.href.clone()>"View"</a>
                    <button type="button" class="secondary" aria-label="Dismiss this alert"
                        on:click=move |_| alerts.update(|shown| shown.retain(|a| a.key != alert.key))>
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}

/// How long to wait before reconnection attempt `attempt` (1, 2, …): 1 s
/// doubling to at most 30 s, then spread by ±30 % (`spread` in 0..1) so
/// that tabs dropped together do not return together.
pub fn reconnect_delay_ms(attempt: u32, spread: f64) -> u32 {
    let base = 1000f64 * 2f64.powi(attempt.saturating_sub(1).min(5) as i32);
    let base = base.min(30_000.0);
    (base * (0.7 + 0.6 * spread.clamp(0.0, 1.0))).round() as u32
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{reconnect_delay_ms, topics_for_path, Connection, LiveFeed};
    use crate::domain::live::{LiveUpdate, PushedPage};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;
    use web_sys::wasm_bindgen::closure::Closure;
    use web_sys::wasm_bindgen::JsCast;

    /// The connection's mutable state (browser main thread only).
    #[derive(Default)]
    struct State {
        socket: Option<web_sys::WebSocket>,
        /// failed attempts since the last open connection
        attempts: u32,
        /// what the view shows: sent on open and on every navigation
        wanted: String,
    }

    type Shared = Rc<RefCell<State>>;

    pub(super) fn start(feed: LiveFeed) {
        let state: Shared = Rc::new(RefCell::new(State::default()));
        let location = leptos_router::hooks::use_location();
        let query = leptos_router::hooks::use_query_map();
        // what the view shows follows the route
        {
            let state = state.clone();
            Effect::new(move |_| {
                let topics = topics_for_path(&location.pathname.get());
                let org = query
                    .read()
                    .get("org")
                    .and_then(|o| uuid::Uuid::parse_str(&o).ok());
                let view = feed.view.get();
                let wanted =
                    serde_json::json!({ "topics": topics, "org": org, "view": view }).to_string();
                let socket = {
                    let mut s = state.borrow_mut();
                    s.wanted = wanted.clone();
                    s.socket.clone()
                };
                if let Some(socket) = socket {
                    if socket.ready_state() == web_sys::WebSocket::OPEN {
                        let _ = socket.send_with_str(&wanted);
                    }
                }
            });
        }
        // Effects run after hydration: connect then.
        {
            let state = state.clone();
            Effect::new(move |started: Option<()>| {
                if started.is_none() {
                    connect(&state, feed);
                    watch_visibility(state.clone(), feed);
                }
            });
        }
    }

    fn socket_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/ws", location.host().ok()?))
    }

    fn is_hidden() -> bool {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden())
    }

    fn connect(state: &Shared, feed: LiveFeed) {
        if is_hidden() {
            feed.connection.set(Connection::Paused);
            return;
        }
        let Some(url) = socket_url() else { return };
        let Ok(socket) = web_sys::WebSocket::new(&url) else {
            schedule_reconnect(state.clone(), feed);
            return;
        };
        feed.connection.set(Connection::Connecting);

        let on_open = {
            let state = state.clone();
            let socket = socket.clone();
            Closure::<dyn FnMut()>::new(move || {
                let wanted = {
                    let mut s = state.borrow_mut();
                    s.attempts = 0;
                    s.wanted.clone()
                };
                let _ = socket.send_with_str(&wanted);
                feed.connection.set(Connection::Live);
                // What the page shows was read before this connection
                // existed (the server's render, or before a gap): whatever
                // changed in between was sent to nobody, so views reload.
                feed.reload_everything();
            })
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    if let Ok(updates) = serde_json::from_str::<Vec<LiveUpdate>>(&text) {
                        feed.deliver(updates);
                    } else if let Ok(page) = serde_json::from_str::<PushedPage>(&text) {
                        feed.pushed.set(Some(page));
                    }
                }
            },
        );
        let on_close = {
            let state = state.clone();
            let socket = socket.clone();
            Closure::<dyn FnMut()>::new(move || {
                let current = {
                    let mut s = state.borrow_mut();
                    let current = s.socket.as_ref() == Some(&socket);
                    if current {
                        s.socket = None;
                    }
                    current
                };
                // a socket closed on purpose (hidden tab) was replaced or dropped already
                if current {
                    schedule_reconnect(state.clone(), feed);
                }
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // The handlers live as long as the socket, which lives as long as the tab.
        on_open.forget();
        on_message.forget();
        on_close.forget();
        state.borrow_mut().socket = Some(socket);
    }

    fn schedule_reconnect(state: Shared, feed: LiveFeed) {
        if is_hidden() {
            feed.connection.set(Connection::Paused);
            return;
        }
        feed.connection.set(Connection::Offline);
        let attempt = {
            let mut s = state.borrow_mut();
            s.attempts += 1;
            s.attempts
        };
        let delay = reconnect_delay_ms(attempt, web_sys::js_sys::Math::random());
        set_timeout(
            move || {
                if state.borrow().socket.is_none() {
                    connect(&state, feed);
                }
            },
            Duration::from_millis(u64::from(delay)),
        );
    }

    /// Closes the connection while the tab is hidden and reopens it (and
    /// reloads what the view shows) when it is shown again.
    fn watch_visibility(state: Shared, feed: LiveFeed) {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let on_change = Closure::<dyn FnMut()>::new(move || {
            if is_hidden() {
                let socket = state.borrow_mut().socket.take();
                if let Some(socket) = socket {
                    let _ = socket.close();
                }
                feed.connection.set(Connection::Paused);
            } else if state.borrow().socket.is_none() {
                connect(&state, feed);
            }
        });
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            on_change.as_ref().unchecked_ref(),
        );
        on_change.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnecting_waits_longer_each_time_up_to_half_a_minute_with_jitter() {
        assert_eq!(reconnect_delay_ms(1, 0.5), 1000);
        assert_eq!(reconnect_delay_ms(2, 0.5), 2000);
        assert_eq!(reconnect_delay_ms(6, 0.5), 30_000);
        assert_eq!(reconnect_delay_ms(40, 0.5), 30_000);
        assert_eq!(reconnect_delay_ms(1, 0.0), 700);
        assert_eq!(reconnect_delay_ms(1, 1.0), 1300);
    }

    #[test]
    fn one_failed_job_links_to_itself_and_several_to_the_failures() {
        let id = uuid::Uuid::from_u128(5);
        let update = |ids: Vec<uuid::Uuid>, more| LiveUpdate {
            topic: Topic::Failures,
            ids,
            more,
        };
        assert_eq!(
            failure_alert(&update(vec![id], false), 1).unwrap().href,
            format!("/jobs/{id}")
        );
        let many = failure_alert(&update(vec![id, id], true), 2).unwrap();
        assert_eq!(
            (many.text.as_str(), many.href.as_str()),
            ("2+ jobs failed.", "/failed-jobs")
        );
        assert_eq!(failure_alert(&update(vec![], false), 3), None);
        assert_eq!(
            failure_alert(&update(vec![], true), 4),
            None,
            "a reload request"
        );
    }

    #[test]
    fn each_view_listens_to_what_it_shows() {
        assert_eq!(topics_for_path("/jobs"), vec![Topic::Jobs, Topic::Failures]);
        assert_eq!(
            topics_for_path("/jobs/0190-abc"),
            vec![Topic::Jobs, Topic::Failures]
        );
        assert_eq!(
            topics_for_path("/"),
            vec![
                Topic::Jobs,
                Topic::Batches,
                Topic::FailedJobs,
                Topic::ApiLogs,
                Topic::Failures
            ]
        );
        assert_eq!(topics_for_path("/account"), vec![Topic::Failures]);
        assert_eq!(
            topics_for_path("/webhooks/0190-abc"),
            vec![Topic::Webhooks, Topic::ApiLogs, Topic::Failures]
        );
    }
}
