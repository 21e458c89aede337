//! Which jobs a list, a count or an action names: the conditions shared by
//! the Jobs tab's lists and previews (`server::repo::jobs`) and the engine's
//! console actions (`server::queue::actions`), so a preview counts exactly
//! what the action then touches.

use super::list;
use crate::domain::{JobListFilters, JobStatus, Priority, DEFAULT_QUEUE};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

/// Filters of the Jobs tab.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Organization condition (see [`super::Scope::organization_filter`]).
    pub organization_id: Option<Uuid>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Type, priority, queue, batch, time range and name text.
    pub more: JobListFilters,
    /// Only these jobs (a selection); empty means no such condition.
    pub ids: Vec<Uuid>,
}

impl JobFilter {
    /// Exactly one job of `organization` (any visible one when `None`).
    pub fn one(organization: Option<Uuid>, id: Uuid) -> Self {
        JobFilter {
            organization_id: organization,
            ids: vec![id],
            ..JobFilter::default()
        }
    }
}

impl JobFilter {
    /// Whether a list with this filter finds its rows only by walking the
    /// organizations' jobs newest first: it filters by type or name text
    /// and by nothing that has an index of its own (status, batch, a
    /// selection, an uncommon priority or queue).
    pub fn walks_the_organization_index(&self) -> bool {
        let more = &self.more;
        let sparse = more.job_type.is_some() || more.name_contains.is_some();
        let indexed = self.status.is_some()
            || !self.ids.is_empty()
            || more.batch_id.is_some()
            || more.priority.is_some_and(|p| p != Priority::Normal)
            || more.queue.as_deref().is_some_and(|q| q != DEFAULT_QUEUE);
        sparse && !indexed
    }

    /// Adds this filter's conditions on jobs aliased `j` (lists, counts and
    /// bulk actions use the same conditions, so a preview counts what the
    /// action then touches).
    pub fn push_conditions(&self, query: &mut QueryBuilder<'_, Postgres>) {
        list::organization(query, "j", self.organization_id);
        list::equals(
            query,
            "j.status",
            self.status.map(|s| s.as_str().to_string()),
        );
        // Conditions the status implies, which lead PostgreSQL to the
        // status's own rows (migrations/0017_status_filter_plans.sql).
        match self.status {
            Some(JobStatus::Failed) => {
                query.push("\n  and j.failed_at is not null");
            }
            Some(JobStatus::Cancelled) => {
                query.push("\n  and j.cancelled_at is not null");
            }
            Some(JobStatus::Running) => {
                // every lease's ids once (a few thousand at most), not a
                // lookup per job row
                query.push(
                    "\n  and j.id = any (array(select h.id from job_leases l
                  cross join unnest(l.job_ids) as h (id)))",
                );
            }
            _ => {}
        }
        if !self.ids.is_empty() {
            query
                .push("\n  and j.id = any(")
                .push_bind(self.ids.clone())
                .push(")");
        }
        let more = &self.more;
        list::equals(
            query,
            "j.job_type",
            more.job_type.map(|t| t.as_str().to_string()),
        );
        list::equals(
            query,
            "j.priority",
            more.priority.map(|p| p.as_str().to_string()),
        );
        list::equals(query, "j.queue", more.queue.clone());
        // Conditions a filter on an uncommon priority or queue implies, which
        // lead PostgreSQL to those jobs' own indexes
        // (migrations/0021_minority_priority_and_queue_indexes.sql).
        if more.priority.is_some_and(|p| p != Priority::Normal) {
            let common = Priority::Normal.as_str();
            query.push(format!("\n  and j.priority <> '{common}'"));
        }
        if more.queue.as_deref().is_some_and(|q| q != DEFAULT_QUEUE) {
            query.push(format!("\n  and j.queue <> '{DEFAULT_QUEUE}'"));
        }
        if let Some(batch) = more.batch_id {
            query.push("\n  and j.batch_id = ").push_bind(batch);
        }
        if let Some(from) = more.created_from {
            query.push("\n  and j.created_at >= ").push_bind(from);
        }
        if let Some(to) = more.created_to {
            query.push("\n  and j.created_at < ").push_bind(to);
        }
        if let Some(text) = &more.name_contains {
            query
                .push("\n  and j.job_name ilike ")
                .push_bind(format!("%{}%", escape_like(text)));
        }
    }
}

/// Escapes `%`, `_` and `\\` so user text matches literally in LIKE.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::JobType;

    #[test]
    fn only_a_type_or_name_filter_without_an_indexed_one_is_searched_in_windows() {
        let with = |status, more| JobFilter {
            status,
            more,
            ..JobFilter::default()
        };
        let by_type = JobListFilters {
            job_type: Some(JobType::Sms),
            ..JobListFilters::default()
        };
        assert!(with(None, by_type.clone()).walks_the_organization_index());
        assert!(with(
            None,
            JobListFilters {
                name_contains: Some("KYC".into()),
                priority: Some(Priority::Normal),
                ..JobListFilters::default()
            }
        )
        .walks_the_organization_index());
        assert!(!with(Some(JobStatus::Failed), by_type.clone()).walks_the_organization_index());
        assert!(!with(
            None,
            JobListFilters {
                queue: Some("reports".into()),
                ..by_type
            }
        )
        .walks_the_organization_index());
        assert!(!with(None, JobListFilters::default()).walks_the_organization_index());
    }

    #[test]
    fn like_wildcards_in_search_text_match_literally() {
        assert_eq!(super::escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(super::escape_like("plain"), "plain");
    }
}
