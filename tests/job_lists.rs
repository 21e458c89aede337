//! The Jobs tab's status filter reaches each status through its own plan
//! (migrations/0017_status_filter_plans.sql: failed_at, cancelled_at,
//! leases); whatever the plan, each status lists exactly its jobs.

mod common;

use chrono::Utc;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::{JobAction, JobErrorKind, JobListFilters, JobStatus, JobType, Priority};
use veriphy_jobs::server::db::{JobFilter, Scope};
use veriphy_jobs::server::queue::{
    self, actions, Attempt, ClaimRequest, Completion, JobError, NewJob, Outcome, RetryPolicy,
    Transition,
};

#[tokio::test]
async fn each_status_filter_lists_exactly_the_jobs_in_that_status() {
    let test = common::fresh_database().await;
    let organization = test.new_organization().await;
    let mut conn = test.db.worker.acquire().await.unwrap();
    let jobs: Vec<NewJob> = (0..5)
        .map(|i| NewJob::new(organization, JobType::Other, "listed", json!({ "i": i })))
        .collect();
    let ids = queue::enqueue_many(&mut conn, &jobs).await.unwrap();
    let claimed = queue::claim(
        &mut conn,
        &ClaimRequest {
            queue: "default",
            job_types: &[JobType::Other],
            limit: 3,
            worker_id: "lists",
            lease_token: Uuid::new_v4(),
            lease: Duration::from_secs(60),
        },
    )
    .await
    .unwrap();
    let now = Utc::now();
    queue::complete_many(&mut conn, &[Completion::of(&claimed[0], now, now, None)])
        .await
        .unwrap();
    let failure = Transition::decide(
        &Outcome::Fail(JobError::new(JobErrorKind::Handler, "no")),
        Attempt {
            number: 1,
            max_attempts: 3,
            started_at: now,
            finished_at: now,
        },
        &RetryPolicy::default(),
        0.5,
    )
    .unwrap();
    let held = queue::HeldJob {
        id: claimed[1].id,
        lease_token: claimed[1].lease_token,
        organization_id: organization,
        batch_id: None,
    };
    assert!(queue::finish(&mut conn, held, now, &failure).await.unwrap());
    let pending: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| claimed.iter().all(|c| c.id != *id))
        .collect();
    actions::apply(
        &mut conn,
        &JobFilter::one(Some(organization), pending[0]),
        JobAction::Cancel,
        "not needed",
    )
    .await
    .unwrap();
    let expected = [
        (JobStatus::Completed, vec![claimed[0].id]),
        (JobStatus::Failed, vec![claimed[1].id]),
        (JobStatus::Running, vec![claimed[2].id]),
        (JobStatus::Cancelled, vec![pending[0]]),
        (JobStatus::Pending, vec![pending[1]]),
    ];
    // an organization's user; a bank admin narrowed to it; a bank admin
    // over every organization (each organization's page merged)
    for (scope, narrowed) in [
        (Scope::organization(organization), Some(organization)),
        (Scope::bank(), Some(organization)),
        (Scope::bank(), None),
    ] {
        for (status, want) in &expected {
            let mut tx = test.db.begin(scope).await.unwrap();
            let filter = JobFilter {
                organization_id: narrowed,
                status: Some(*status),
                ..JobFilter::default()
            };
            let listed: Vec<Uuid> = veriphy_jobs::server::repo::jobs::list(&mut tx, &filter, None)
                .await
                .unwrap()
                .rows
                .into_iter()
                .map(|job| job.id)
                .collect();
            assert_eq!(
                &listed, want,
                "{status:?} as {scope:?}, narrowed to {narrowed:?}"
            );
        }
    }
}

/// Enqueues `count` jobs of `organization` with `priority` in `queue`.
async fn enqueue_some(
    test: &common::TestDb,
    organization: Uuid,
    count: usize,
    priority: Priority,
    queue_name: &str,
) -> Vec<Uuid> {
    let jobs: Vec<NewJob> = (0..count)
        .map(|i| {
            let mut job = NewJob::new(organization, JobType::Other, "listed", json!({ "i": i }));
            job.priority = priority;
            job.queue = queue_name.to_string();
            job
        })
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap()
}

/// The ids a bank admin's Jobs tab lists for `more`, over every organization.
async fn listed(test: &common::TestDb, more: JobListFilters) -> Vec<Uuid> {
    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    let filter = JobFilter {
        more,
        ..JobFilter::default()
    };
    let mut ids: Vec<Uuid> = veriphy_jobs::server::repo::jobs::list(&mut tx, &filter, None)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|job| job.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn priority_and_queue_filters_list_exactly_their_jobs() {
    let test = common::fresh_database().await;
    let organization = test.new_organization().await;
    let mut normal = enqueue_some(&test, organization, 2, Priority::Normal, "default").await;
    let mut urgent = enqueue_some(&test, organization, 2, Priority::Urgent, "default").await;
    let mut reports = enqueue_some(&test, organization, 2, Priority::Normal, "reports").await;
    normal.sort();
    urgent.sort();
    reports.sort();
    let by_priority = |priority| JobListFilters {
        priority: Some(priority),
        ..JobListFilters::default()
    };
    let by_queue = |queue: &str| JobListFilters {
        queue: Some(queue.to_string()),
        ..JobListFilters::default()
    };
    assert_eq!(listed(&test, by_priority(Priority::Urgent)).await, urgent);
    let mut normal_anywhere = [normal.clone(), reports.clone()].concat();
    normal_anywhere.sort();
    assert_eq!(
        listed(&test, by_priority(Priority::Normal)).await,
        normal_anywhere
    );
    assert_eq!(listed(&test, by_queue("reports")).await, reports);
    let mut in_default = [normal, urgent].concat();
    in_default.sort();
    assert_eq!(listed(&test, by_queue("default")).await, in_default);
}

#[tokio::test]
async fn an_uncommon_priority_is_listed_from_its_own_index() {
    let test = common::fresh_database().await;
    let organization = test.new_organization().await;
    enqueue_some(&test, organization, 3000, Priority::Normal, "default").await;
    enqueue_some(&test, organization, 3, Priority::Urgent, "default").await;
    let mut owner = test.owner_connection().await;
    sqlx::query("analyze jobs")
        .execute(&mut owner)
        .await
        .unwrap();
    let scans = || async {
        let mut owner = test.owner_connection().await;
        sqlx::query("select pg_stat_clear_snapshot()")
            .execute(&mut owner)
            .await
            .unwrap();
        sqlx::query_scalar::<_, i64>(
            "select idx_scan from pg_stat_user_indexes
             where indexrelname = 'jobs_uncommon_priority_idx'",
        )
        .fetch_one(&mut owner)
        .await
        .unwrap()
    };
    let before = scans().await;
    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    // as once PostgreSQL settles on a statement's generic plan, which knows
    // the condition but not the bound priority
    sqlx::query("set local plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await
        .unwrap();
    let filter = JobFilter {
        organization_id: Some(organization),
        more: JobListFilters {
            priority: Some(Priority::Urgent),
            ..JobListFilters::default()
        },
        ..JobFilter::default()
    };
    let jobs = veriphy_jobs::server::repo::jobs::list(&mut tx, &filter, None)
        .await
        .unwrap();
    assert_eq!(jobs.rows.len(), 3);
    sqlx::query("select pg_stat_force_next_flush()")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut after = scans().await;
    for _ in 0..100 {
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = scans().await;
    }
    assert_eq!(
        after - before,
        1,
        "the list read jobs_uncommon_priority_idx once"
    );
}

/// Enqueues `count` jobs of `job_type` for `organization` in one statement
/// (one creation time); their ids.
async fn enqueue_typed(
    test: &common::TestDb,
    organization: Uuid,
    count: usize,
    job_type: JobType,
) -> Vec<Uuid> {
    let jobs: Vec<NewJob> = (0..count)
        .map(|i| NewJob::new(organization, job_type, "searched", json!({ "i": i })))
        .collect();
    let mut conn = test.db.worker.acquire().await.unwrap();
    queue::enqueue_many(&mut conn, &jobs).await.unwrap()
}

/// One page of a bank admin's Jobs tab filtered to `job_type` (narrowed to
/// `organization` if given), after `cursor`.
async fn searched(
    test: &common::TestDb,
    organization: Option<Uuid>,
    job_type: JobType,
    cursor: Option<veriphy_jobs::domain::Cursor>,
) -> veriphy_jobs::server::repo::jobs::JobPage {
    let mut tx = test.db.begin(Scope::bank()).await.unwrap();
    let filter = JobFilter {
        organization_id: organization,
        more: JobListFilters {
            job_type: Some(job_type),
            ..JobListFilters::default()
        },
        ..JobFilter::default()
    };
    veriphy_jobs::server::repo::jobs::list(&mut tx, &filter, cursor)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_type_filter_searches_a_window_and_the_next_page_continues_where_it_stopped() {
    use veriphy_jobs::server::repo::jobs::SEARCH_WINDOW;
    let test = common::fresh_database().await;
    let organization = test.new_organization().await;
    let mut old_sms = enqueue_typed(&test, organization, 2, JobType::Sms).await;
    enqueue_typed(
        &test,
        organization,
        SEARCH_WINDOW as usize + 500,
        JobType::Other,
    )
    .await;

    let first = searched(&test, Some(organization), JobType::Sms, None).await;
    assert!(first.rows.is_empty());
    let stopped_at = first.searched_to.expect("the search stopped at its window");
    let second = searched(&test, Some(organization), JobType::Sms, Some(stopped_at)).await;

    let mut found: Vec<Uuid> = second.rows.iter().map(|job| job.id).collect();
    found.sort();
    old_sms.sort();
    assert_eq!(found, old_sms);
    assert_eq!(
        second.searched_to, None,
        "the search reached the oldest job"
    );
}

#[tokio::test]
async fn a_bank_wide_search_shows_only_what_every_organization_has_been_searched_for() {
    let test = common::fresh_database().await;
    let (busy, quiet) = (test.new_organization().await, test.new_organization().await);
    let quiet_oldest = enqueue_typed(&test, quiet, 1, JobType::Sms).await;
    let busy_older = enqueue_typed(&test, busy, 1, JobType::Sms).await;
    enqueue_typed(
        &test,
        busy,
        veriphy_jobs::server::repo::jobs::SEARCH_WINDOW as usize + 500,
        JobType::Other,
    )
    .await;
    let quiet_newest = enqueue_typed(&test, quiet, 1, JobType::Sms).await;

    let first = searched(&test, None, JobType::Sms, None).await;
    let second = searched(&test, None, JobType::Sms, first.searched_to).await;

    let ids = |page: &veriphy_jobs::server::repo::jobs::JobPage| -> Vec<Uuid> {
        page.rows.iter().map(|job| job.id).collect()
    };
    // the quiet organization's old job lies beyond what the busy one's
    // window covered: it waits for the page that searched that far
    assert_eq!(ids(&first), quiet_newest);
    assert_eq!(ids(&second), [busy_older, quiet_oldest].concat());
    assert_eq!(second.searched_to, None);
}
