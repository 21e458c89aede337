//! Demo data: two organizations, one user per role, and jobs, batches,
//! failures, API calls and webhooks in every status. Deterministic, and
//! loaded at most once (it checks for the demo organizations first).

use super::auth::password;
use super::db::{Database, Scope, Tx};
use super::queue::import::{import_job, ImportedJob};
use super::queue::JobError;
use super::repo::{organizations, users};
use crate::domain::{JobErrorKind, JobStatus, JobType, Priority, Role};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

pub use super::config::DEFAULT_DEMO_PASSWORD;

/// The demo bank admin's email.
pub const DEMO_BANK_ADMIN: &str = "bank.admin@veriphy.example";

/// The two demo organizations: (name, slug, email domain).
pub const DEMO_ORGANIZATIONS: [(&str, &str, &str); 2] = [
    (
        "Northwind Lending",
        "northwind-lending",
        "northwind.example",
    ),
    ("Harbor Credit Union", "harbor-credit", "harbor.example"),
];

/// Why the demo data was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database has real users: demo accounts, whose password is
    /// published, do not belong there.
    #[error("this database already has users who are not demo accounts; the demo data (whose passwords are published) is for development databases only: load it with --force only if you mean it")]
    NotADemoDatabase,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Loads the demo data unless it is already there, every account with
/// `demo_password`, and prints the accounts. A database with other users is
/// refused unless `force`.
pub async fn load(db: &Database, demo_password: &str, force: bool) -> Result<(), DemoError> {
    let mut tx = db.begin(Scope::bank()).await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('veriphy-seed-demo'))")
        .execute(&mut *tx)
        .await?;
    let already: bool =
        sqlx::query_scalar("select exists (select 1 from organizations where slug = $1)")
            .bind(DEMO_ORGANIZATIONS[0].1)
            .fetch_one(&mut *tx)
            .await?;
    if already {
        eprintln!("Demo data is already loaded.");
        return Ok(());
    }
    if !force && users::any_exist(&mut tx).await? {
        return Err(DemoError::NotADemoDatabase);
    }

    let hash = password::hash(demo_password);
    let mut rng = StdRng::seed_from_u64(20261129);
    let now = Utc::now();
    let mut accounts = vec![(
        DEMO_BANK_ADMIN.to_string(),
        Role::BankAdmin,
        "all organizations".to_string(),
    )];
    insert_user(
        &mut tx,
        DEMO_BANK_ADMIN,
        "Bianca Admin",
        Role::BankAdmin,
        None,
        &hash,
    )
    .await?;

    for (index, (name, slug, domain)) in DEMO_ORGANIZATIONS.iter().enumerate() {
        let org = organizations::insert(&mut tx, name, slug).await?;
        let (admin_name, viewer_name) = if index == 0 {
            ("Nora Whitfield", "Nate Viewer")
        } else {
            ("Hugo Almeida", "Hana Viewer")
        };
        let admin_email = format!("admin@{domain}");
        let viewer_email = format!("viewer@{domain}");
        let admin = insert_user(
            &mut tx,
            &admin_email,
            admin_name,
            Role::OrgAdmin,
            Some(org),
            &hash,
        )
        .await?;
        insert_user(
            &mut tx,
            &viewer_email,
            viewer_name,
            Role::OrgViewer,
            Some(org),
            &hash,
        )
        .await?;
        accounts.push((admin_email, Role::OrgAdmin, name.to_string()));
        accounts.push((viewer_email, Role::OrgViewer, name.to_string()));

        let integrations = seed_integrations(&mut tx, org).await?;
        seed_batches(&mut tx, &mut rng, org, admin, name, now).await?;
        seed_jobs(&mut tx, &mut rng, org, admin, name, now).await?;
        // the jobs were written as they are, not run: count them for the Overview
        sqlx::query("select backfill_job_stats($1)")
            .bind(org)
            .execute(&mut *tx)
            .await?;
        seed_api_log(&mut tx, &mut rng, org, &integrations, now).await?;
        seed_webhooks(&mut tx, org, slug, now).await?;
    }
    tx.commit().await?;

    eprintln!("Loaded the demo data. Accounts (password: {demo_password}):");
    for (email, role, scope) in accounts {
        eprintln!("  {email:<32} {:<20} {scope}", role.label());
    }
    Ok(())
}

/// One demo account (its password is the published demo password).
async fn insert_user(
    tx: &mut Tx,
    email: &str,
    full_name: &str,
    role: Role,
    organization_id: Option<Uuid>,
    password_hash: &str,
) -> Result<Uuid, sqlx::Error> {
    users::insert(
        tx,
        &users::NewUser {
            email,
            full_name,
            role,
            organization_id,
            password_hash,
            must_change_password: false,
        },
    )
    .await
}

fn ago(now: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    now - Duration::minutes(minutes)
}

/// One job to insert.
struct DemoJob {
    job_type: JobType,
    name: String,
    payload: serde_json::Value,
    status: JobStatus,
    priority: Priority,
    queue: &'static str,
    attempts: i32,
    created_at: DateTime<Utc>,
    error: Option<JobError>,
    result: Option<serde_json::Value>,
    batch_id: Option<Uuid>,
    /// when a waiting job is due, if not at its creation
    available_at: Option<DateTime<Utc>>,
}

/// When the demo's waiting messages and syncs are due: scheduled for
/// tomorrow, so the demo (and the browser tests that read it) keeps jobs
/// waiting in every tab while its providers — sandboxes and the outbox —
/// run everything sent from the console at once.
fn scheduled_send(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(18)
}

async fn insert_job(
    tx: &mut Tx,
    org: Uuid,
    created_by: Uuid,
    job: DemoJob,
) -> Result<Uuid, sqlx::Error> {
    let started = !matches!(job.status, JobStatus::Pending) && job.attempts > 0;
    let finished = !matches!(job.status, JobStatus::Pending | JobStatus::Running);
    import_job(
        tx,
        &ImportedJob {
            organization_id: org,
            job_type: job.job_type,
            job_name: job.name,
            payload: job.payload,
            status: job.status,
            priority: job.priority,
            queue: job.queue.to_string(),
            attempts: job.attempts,
            max_attempts: 3,
            created_at: job.created_at,
            available_at: job.available_at,
            started_at: started.then_some(job.created_at + Duration::seconds(1)),
            finished_at: finished.then_some(job.created_at + Duration::seconds(3)),
            error_message: job.error.as_ref().map(|e| e.message.clone()),
            error_details: job.error.as_ref().map(|e| e.details(job.attempts)),
            result: job.result,
            batch_id: job.batch_id,
            created_by: Some(created_by),
        },
    )
    .await
}

const CUSTOMERS: [&str; 12] = [
    "Amara Okafor",
    "Liam Chen",
    "Sofia Rossi",
    "Mateo Garcia",
    "Priya Nair",
    "Jonas Berg",
    "Chloe Martin",
    "Yusuf Demir",
    "Elena Petrova",
    "Kwame Mensah",
    "Aiko Tanaka",
    "Owen Byrne",
];

fn demo_job(rng: &mut StdRng, index: usize, org_name: &str, now: DateTime<Utc>) -> DemoJob {
    let customer = CUSTOMERS[index % CUSTOMERS.len()];
    let email = format!("{}@example.com", customer.to_lowercase().replace(' ', "."));
    let case = format!("CASE-{}", 41000 + index * 7);
    let (job_type, name, payload) = match index % 8 {
        0 => (
            JobType::Email,
            format!("Loan offer email to {customer}"),
            json!({"to": email, "subject": "Your loan offer is ready", "template": "notification",
                   "variables": {"message": format!("Your loan offer for {case} is ready to review."), "case": case}}),
        ),
        1 => (
            JobType::Sms,
            format!("OTP SMS to {customer}"),
            json!({"to": format!("+4477009{:05}", index * 37 % 100000), "body": format!("Veriphy: your one-time code for {case} is {:06}", index * 7919 % 1_000_000)}),
        ),
        2 => (
            JobType::Whatsapp,
            format!("Document reminder on WhatsApp to {customer}"),
            json!({"to": format!("+3161234{:04}", index * 53 % 10000), "template": "document_reminder"}),
        ),
        3 => (
            JobType::DocumentProcessing,
            format!("Extract bank statement for {case}"),
            json!({"document": format!("statements/{case}.pdf"), "case": case}),
        ),
        4 => (
            JobType::ReportGeneration,
            format!("Weekly jobs report for {org_name}"),
            json!({"days": 7}),
        ),
        5 => (
            JobType::DataSync,
            format!("Sync {case} to core banking"),
            json!({"path": format!("/cases/{case}"), "max_pages": 3}),
        ),
        6 => (
            JobType::Webhook,
            format!("Notify case_updated for {case}"),
            json!({"event": "case_updated", "case": case}),
        ),
        _ => (
            JobType::Cleanup,
            "Nightly retention cleanup".to_string(),
            json!({}),
        ),
    };
    let status = JobStatus::ALL[index % JobStatus::ALL.len()];
    let priority = Priority::ALL[(index / 3) % Priority::ALL.len()];
    let attempts = match status {
        JobStatus::Pending => 0,
        JobStatus::Failed => 3,
        _ => 1 + (index % 2) as i32,
    };
    let error = (status == JobStatus::Failed).then(|| {
        let (kind, message) = match job_type {
            JobType::Email => (JobErrorKind::Handler, "SMTP 550: mailbox unavailable"),
            JobType::Sms | JobType::Whatsapp => (
                JobErrorKind::Handler,
                "provider answered 429 Too Many Requests",
            ),
            JobType::DocumentProcessing => (
                JobErrorKind::InvalidPayload,
                "document is encrypted and cannot be read",
            ),
            _ => (JobErrorKind::Timeout, "upstream timed out after 30 s"),
        };
        JobError::new(kind, message)
    });
    let result = (status == JobStatus::Completed)
        .then(|| json!({"ok": true, "duration_ms": rng.gen_range(40..2400)}));
    DemoJob {
        job_type,
        name,
        payload,
        status,
        priority,
        queue: if matches!(job_type, JobType::Email | JobType::Sms | JobType::Whatsapp) {
            "notifications"
        } else {
            "default"
        },
        attempts,
        created_at: ago(now, (index as i64) * 97 + rng.gen_range(0..60)),
        error,
        result,
        batch_id: None,
        available_at: (status == JobStatus::Pending
            && matches!(
                job_type,
                JobType::Email | JobType::Sms | JobType::Whatsapp | JobType::DataSync
            ))
        .then(|| scheduled_send(now)),
    }
}

async fn seed_jobs(
    tx: &mut Tx,
    rng: &mut StdRng,
    org: Uuid,
    admin: Uuid,
    org_name: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // A real document for the document_processing jobs to analyse.
    let statement = crate::server::worker::handlers::document::text_pdf(&[
        &format!("{org_name}: bank statement"),
        "Opening balance 12,400.00  Closing balance 9,870.55",
    ]);
    let document = crate::server::repo::stored_files::insert(
        tx,
        &crate::server::repo::stored_files::NewFile {
            organization_id: org,
            kind: "document",
            file_name: "bank-statement.pdf",
            content_type: "application/pdf",
            content: &statement,
            job_id: None,
            created_by: Some(admin),
        },
    )
    .await?;
    sqlx::query("insert into queues (name) values ('notifications') on conflict do nothing")
        .execute(&mut **tx)
        .await?;
    let mut failed = Vec::new();
    for index in 0..40 {
        let mut job = demo_job(rng, index, org_name, now);
        if job.job_type == JobType::DocumentProcessing {
            job.payload = json!({ "file_id": document });
        }
        let is_failed = job.status == JobStatus::Failed;
        let id = insert_job(tx, org, admin, job).await?;
        if is_failed {
            failed.push(id);
        }
    }
    // resolve some failures so both states show
    for job_id in failed.iter().step_by(3) {
        sqlx::query(
            "update failed_jobs
             set is_resolved = true, resolved_at = now(), resolved_by = $2,
                 resolution = 'Customer contacted by phone; message no longer needed.'
             where job_id = $1",
        )
        .bind(job_id)
        .bind(admin)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn seed_batches(
    tx: &mut Tx,
    rng: &mut StdRng,
    org: Uuid,
    admin: Uuid,
    org_name: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // (name, job statuses, cancelled)
    let plans: [(&str, Vec<JobStatus>, bool); 4] = [
        (
            "October statement emails",
            vec![JobStatus::Completed; 6],
            false,
        ),
        (
            "KYC refresh reminders",
            vec![
                JobStatus::Completed,
                JobStatus::Completed,
                JobStatus::Running,
                JobStatus::Pending,
                JobStatus::Pending,
            ],
            false,
        ),
        (
            "Overdue payment SMS",
            vec![
                JobStatus::Completed,
                JobStatus::Failed,
                JobStatus::Completed,
                JobStatus::Failed,
            ],
            false,
        ),
        (
            "Holiday closure notice",
            vec![
                JobStatus::Completed,
                JobStatus::Cancelled,
                JobStatus::Cancelled,
            ],
            true,
        ),
    ];
    for (batch_index, (name, statuses, cancelled)) in plans.into_iter().enumerate() {
        let created_at = ago(now, 60 * 24 * (batch_index as i64 + 1));
        let batch: Uuid = sqlx::query_scalar(
            "insert into job_batches (organization_id, batch_name, created_by, created_at, updated_at, metadata)
             values ($1, $2, $3, $4, $4, $5) returning id",
        )
        .bind(org)
        .bind(format!("{name} — {org_name}"))
        .bind(admin)
        .bind(created_at)
        .bind(json!({"source": "demo"}))
        .fetch_one(&mut **tx)
        .await?;
        if cancelled {
            sqlx::query("update job_batches set cancelled_at = $2 where id = $1")
                .bind(batch)
                .bind(created_at + Duration::minutes(5))
                .execute(&mut **tx)
                .await?;
        }
        for (index, status) in statuses.into_iter().enumerate() {
            let mut job = demo_job(rng, batch_index * 10 + index, org_name, now);
            let customer = CUSTOMERS[(batch_index * 5 + index) % CUSTOMERS.len()];
            job.job_type = JobType::Email;
            job.name = format!("{name}: {customer}");
            job.payload = json!({
                "to": format!("{}@example.com", customer.to_lowercase().replace(' ', ".")),
                "subject": name,
                "template": "welcome",
                "variables": { "name": customer },
            });
            job.queue = "notifications";
            job.available_at = (status == JobStatus::Pending).then(|| scheduled_send(now));
            job.status = status;
            job.attempts = if status == JobStatus::Pending {
                0
            } else if status == JobStatus::Failed {
                3
            } else {
                1
            };
            job.error = (status == JobStatus::Failed)
                .then(|| JobError::new(JobErrorKind::Handler, "SMTP 550: mailbox unavailable"));
            job.result = (status == JobStatus::Completed).then(|| json!({"ok": true}));
            job.created_at = created_at + Duration::seconds(index as i64);
            job.batch_id = Some(batch);
            insert_job(tx, org, admin, job).await?;
        }
    }
    Ok(())
}

async fn seed_integrations(
    tx: &mut Tx,
    org: Uuid,
) -> Result<Vec<(Uuid, &'static str, &'static str)>, sqlx::Error> {
    // (name, channel, kind, stored base URL or host, port, default, api
    // name and endpoint of the invented log rows)
    let specs = [
        (
            "Transactional email",
            "email",
            "smtp",
            Some("mail.internal"),
            Some(587),
            false,
            "Mail relay",
            "smtp://mail.internal:587",
        ),
        (
            "SMS sandbox",
            "sms",
            "sandbox",
            None,
            None,
            true,
            "sandbox_sms",
            "https://sandbox.veriphy.invalid/sms",
        ),
        (
            "WhatsApp sandbox",
            "whatsapp",
            "sandbox",
            None,
            None,
            true,
            "sandbox_whatsapp",
            "https://sandbox.veriphy.invalid/whatsapp",
        ),
        (
            "Credit bureau sandbox",
            "data_sync",
            "sandbox",
            None,
            None,
            true,
            "sandbox_data_sync",
            "https://sandbox.veriphy.invalid/data_sync",
        ),
    ];
    let mut created = Vec::new();
    for (name, channel, kind, base_url, port, is_default, api_name, endpoint) in specs {
        let id: Uuid = sqlx::query_scalar(
            "insert into system_integrations
               (organization_id, name, integration_type, provider, base_url, port, tls_mode, is_default)
             values ($1, $2, $3, $4, $5, $6, 'starttls', $7) returning id",
        )
        .bind(org)
        .bind(name)
        .bind(channel)
        .bind(kind)
        .bind(base_url)
        .bind(port)
        .bind(is_default)
        .fetch_one(&mut **tx)
        .await?;
        created.push((id, api_name, endpoint));
    }
    Ok(created)
}

async fn seed_api_log(
    tx: &mut Tx,
    rng: &mut StdRng,
    org: Uuid,
    integrations: &[(Uuid, &str, &str)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let endpoints = [
        "/v1/messages",
        "/2010-04-01/Accounts/AC***/Messages.json",
        "/v19.0/***/messages",
        "/v2/credit-report",
    ];
    for index in 0..36 {
        let (integration, api_name, base_url) = integrations[index % integrations.len()];
        let (status, code, error): (&str, Option<i32>, Option<&str>) = match index % 6 {
            0..=2 => (
                "success",
                Some(if index % 2 == 0 { 200 } else { 202 }),
                None,
            ),
            3 => ("failed", Some(503), Some("Service Unavailable")),
            4 => ("timeout", None, Some("no response within 30 s")),
            _ => {
                if index % 12 == 5 {
                    ("pending", None, None)
                } else {
                    ("failed", Some(422), Some("Invalid phone number"))
                }
            }
        };
        let method = ["POST", "POST", "GET", "PUT", "PATCH", "DELETE"][index % 6];
        let created_at = ago(now, (index as i64) * 41 + rng.gen_range(0..30));
        sqlx::query(
            "insert into third_party_api_log (organization_id, integration_id, api_name, endpoint, method,
                 request_payload, response_payload, status_code, response_time, status, error_message,
                 retry_count, is_success, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(org)
        .bind(integration)
        .bind(api_name)
        .bind(format!("{base_url}{}", endpoints[index % endpoints.len()]))
        .bind(method)
        .bind(json!({"authorization": "[redacted]", "reference": format!("REF-{}", 9000 + index)}))
        .bind(code.map(|c| json!({"status": c})))
        .bind(code)
        .bind((status != "pending").then(|| rng.gen_range(35..2900)))
        .bind(status)
        .bind(error)
        .bind(if status == "success" { 0 } else { (index % 3) as i32 })
        .bind(status == "success")
        .bind(created_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn seed_webhooks(
    tx: &mut Tx,
    org: Uuid,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let specs = [
        ("Case system: new cases", "case_created", "active", true, 0),
        ("Case system: updates", "case_updated", "active", true, 1),
        ("Document vault sync", "document_uploaded", "error", true, 7),
        ("Legacy CRM (paused)", "case_closed", "inactive", false, 0),
        ("Ops alerts on failures", "job_failed", "active", true, 0),
    ];
    for (index, (name, event, status, active, failures)) in specs.into_iter().enumerate() {
        sqlx::query(
            "insert into webhooks (organization_id, webhook_name, webhook_url, event_type, status, is_active,
                 headers, failure_count, last_triggered_at, last_success_at, last_failure_at, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(org)
        .bind(name)
        .bind(format!("https://hooks.{slug}.example/veriphy/{event}"))
        .bind(event)
        .bind(status)
        .bind(active)
        .bind(json!({"X-Source": "veriphy-jobs"}))
        .bind(failures)
        .bind(active.then(|| ago(now, 30 + index as i64 * 11)))
        .bind((status == "active").then(|| ago(now, 30 + index as i64 * 11)))
        .bind((failures > 0).then(|| ago(now, 15)))
        .bind(ago(now, 60 * 24 * (10 + index as i64)))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
