//! The Jobs tab's status filter reaches each status through its own plan
//! (migrations/0017_status_filter_plans.sql: failed_at, cancelled_at,
//! leases); whatever the plan, each status lists exactly its jobs.

mod common;

use chrono::Utc;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;
use veriphy_jobs::domain::{JobAction, JobErrorKind, JobStatus, JobType};
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
