//! What the live console's websocket carries: the browser decodes these, the
//! server's hub (`server::live`) builds them.

use super::ListQuery;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What part of the console a change concerns (a tab subscribes to some).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Jobs: status, attempts, new jobs.
    Jobs,
    /// Batch counters and status.
    Batches,
    /// Failure records opened or resolved (named by their job's id).
    FailedJobs,
    /// Queue settings and backlog.
    Queues,
    /// Third-party API calls.
    ApiLogs,
    /// Webhook deliveries and settings.
    Webhooks,
    /// Jobs that failed just now, named by job id: every signed-in tab
    /// listens, to raise an alert.
    Failures,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 7] = [
        Topic::Jobs,
        Topic::Batches,
        Topic::FailedJobs,
        Topic::Queues,
        Topic::ApiLogs,
        Topic::Webhooks,
        Topic::Failures,
    ];

    /// Its name on the wire (as serde spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Jobs => "jobs",
            Topic::Batches => "batches",
            Topic::FailedJobs => "failed_jobs",
            Topic::Queues => "queues",
            Topic::ApiLogs => "api_logs",
            Topic::Webhooks => "webhooks",
            Topic::Failures => "failures",
        }
    }

    /// The topic named `name`.
    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| topic.as_str() == name)
    }
}

/// Most ids one update names; past it the update says `more` and the
/// browser reloads what it shows instead of patching it.
pub const MAX_IDS_PER_UPDATE: usize = 100;

/// One coalesced message to a viewer: the records of `topic` that changed
/// since the last one, among those the viewer may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveUpdate {
    /// What changed.
    pub topic: Topic,
    /// Which records, in id order (at most [`MAX_IDS_PER_UPDATE`]).
    pub ids: Vec<Uuid>,
    /// More records changed than `ids` names.
    pub more: bool,
}

impl LiveUpdate {
    /// "Reload what you show of `topic`": names nothing, says more changed.
    pub fn reload(topic: Topic) -> Self {
        LiveUpdate {
            topic,
            ids: Vec::new(),
            more: true,
        }
    }
}

/// A list tab whose pages the server computes once for every tab showing
/// the same page to the same audience, and pushes over the websocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListView {
    /// The Jobs tab.
    Jobs,
    /// The Failed jobs tab.
    FailedJobs,
    /// The Batches tab.
    Batches,
    /// The API logs tab.
    ApiLogs,
    /// The Webhooks tab.
    Webhooks,
}

impl ListView {
    /// The topic whose changes make this list out of date.
    pub fn topic(self) -> Topic {
        match self {
            ListView::Jobs => Topic::Jobs,
            ListView::FailedJobs => Topic::FailedJobs,
            ListView::Batches => Topic::Batches,
            ListView::ApiLogs => Topic::ApiLogs,
            ListView::Webhooks => Topic::Webhooks,
        }
    }
}

/// The page a tab shows: which list, filtered and positioned how.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ViewRequest {
    /// Which list.
    pub list: ListView,
    /// Its filters and position, as the tab's URL says.
    pub query: ListQuery,
}

/// A page pushed to a tab, sent as `{"view": …, "page": …}`: the page is
/// the list server function's answer for `view`, or null when the server
/// could not compute it (the tab then asks for it itself, and sees why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushedPage {
    /// The view the page answers (as the tab asked for it).
    pub view: ViewRequest,
    /// The page, in the shape of the list's `Page<T>`.
    pub page: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_topic_is_named_as_serde_names_it() {
        for topic in Topic::ALL {
            assert_eq!(
                serde_json::to_value(topic).unwrap(),
                serde_json::Value::String(topic.as_str().into())
            );
            assert_eq!(Topic::parse(topic.as_str()), Some(topic));
        }
    }
}
