//! Demo data: two organizations, one user per role, and jobs, batches,
//! failures and webhooks in every status. Deterministic, and loaded at
//! most once (it checks for the demo organizations first).
//!
//! What the system can really do is not invented: the email, SMS, WhatsApp
//! and data-sync jobs that have run are loaded as due and then run through
//! the outbox and the sandbox integrations ([`run_due`]), so their
//! outcomes, failures and API log rows are real. Those meant to fail carry
//! a real cause: a template nobody has made yet, the sandbox's refused
//! number, a disabled integration. The webhooks post to the sandbox
//! receiver, so their deliveries, counters and statuses are real too
//! ([`settle`]).

use super::auth::password;
use super::db::{Database, Scope, Tx};
use super::queue::import::{import_job, ImportedJob};
use super::queue::JobError;
use super::repo::{organizations, users};
use super::secrets::Keyring;
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
/// refused unless `force`. The demo webhooks' secrets and headers are
/// sealed with `keyring` (the worker delivering them opens them with it).
/// Returns the jobs loaded as due, for [`run_due`] (none when the data was
/// already there).
pub async fn load(
    db: &Database,
    keyring: &Keyring,
    demo_password: &str,
    force: bool,
) -> Result<Vec<Uuid>, DemoError> {
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
        return Ok(Vec::new());
    }
    if !force && users::any_exist(&mut tx).await? {
        return Err(DemoError::NotADemoDatabase);
    }

    let hash = password::hash(demo_password);
    let mut due = Vec::new();
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

        let disabled = seed_integrations(&mut tx, org).await?;
        let mut demo = DemoLoad {
            org,
            admin,
            now,
            disabled_integration: disabled,
            due: &mut due,
        };
        seed_batches(&mut tx, &mut rng, &mut demo, name).await?;
        seed_jobs(&mut tx, &mut rng, &mut demo, name).await?;
        // the jobs were written as they are, not run: count them for the Overview
        sqlx::query("select backfill_job_stats($1)")
            .bind(org)
            .execute(&mut *tx)
            .await?;
        seed_webhooks(&mut tx, keyring, org, slug, &mut due).await?;
    }
    tx.commit().await?;

    eprintln!("Loaded the demo data. Accounts (password: {demo_password}):");
    for (email, role, scope) in accounts {
        eprintln!("  {email:<32} {:<20} {scope}", role.label());
    }
    Ok(due)
}

/// Waits (at most `limit`) until none of the `jobs` is running or due —
/// each ended, or waits for a retry later — while a worker runs them.
/// Returns whether they settled in time.
pub async fn run_due(
    db: &Database,
    jobs: &[Uuid],
    limit: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut tx = db.begin(Scope::bank()).await?;
        let open: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where id = any($1)
               and (status = 'running' or (status = 'pending' and available_at <= now()))",
        )
        .bind(jobs)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if open == 0 {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// What every demo job of one organization is loaded with.
struct DemoLoad<'a> {
    org: Uuid,
    admin: Uuid,
    now: DateTime<Utc>,
    /// The disabled integration a failing data sync names.
    disabled_integration: Uuid,
    /// The jobs loaded as due, to be run for real.
    due: &'a mut Vec<Uuid>,
}

/// Whether demo jobs of `job_type` that have run are run for real rather
/// than loaded as they ended: the types whose providers the demo has (the
/// outbox and the sandboxes).
fn runs_for_real(job_type: JobType) -> bool {
    matches!(
        job_type,
        JobType::Email | JobType::Sms | JobType::Whatsapp | JobType::DataSync
    )
}

/// Gives a job meant to fail a real cause: an email template nobody has
/// made yet (the console's template page fixes it), the sandbox's refused
/// number, a disabled integration.
fn with_failing_cause(payload: &mut serde_json::Value, job_type: JobType, disabled: Uuid) {
    match job_type {
        JobType::Email => payload["template"] = json!(FAILING_TEMPLATE),
        JobType::Sms | JobType::Whatsapp => {
            payload["to"] = json!(crate::server::providers::sandbox::REFUSED_NUMBER)
        }
        JobType::DataSync => payload["integration_id"] = json!(disabled),
        _ => {}
    }
}

/// The email template the demo's failed emails name and no organization
/// has yet.
pub const FAILING_TEMPLATE: &str = "statement_ready";

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

/// Loads `job`; one of a type that [`runs_for_real`] and has run is
/// loaded as due instead (created a moment ago, with a real cause when it
/// is meant to fail) and listed in `demo.due`.
async fn insert_job(
    tx: &mut Tx,
    demo: &mut DemoLoad<'_>,
    mut job: DemoJob,
) -> Result<Uuid, sqlx::Error> {
    let real = runs_for_real(job.job_type)
        && !matches!(job.status, JobStatus::Pending | JobStatus::Cancelled);
    if real {
        if job.status == JobStatus::Failed {
            with_failing_cause(&mut job.payload, job.job_type, demo.disabled_integration);
        }
        job.created_at = demo.now - Duration::seconds(demo.due.len() as i64 + 1);
        job.status = JobStatus::Pending;
        job.attempts = 0;
        job.error = None;
        job.result = None;
        job.available_at = None;
    }
    let started = !matches!(job.status, JobStatus::Pending) && job.attempts > 0;
    let finished = !matches!(job.status, JobStatus::Pending | JobStatus::Running);
    let id = import_job(
        tx,
        &ImportedJob {
            organization_id: demo.org,
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
            created_by: Some(demo.admin),
        },
    )
    .await?;
    if real {
        demo.due.push(id);
    }
    Ok(id)
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
                   "variables": {"name": customer, "message": format!("Your loan offer for {case} is ready to review."), "case": case}}),
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
        // (webhook deliveries come of events, not of loaded jobs)
        6 => (
            JobType::Other,
            format!("Reconcile {case} with the ledger"),
            json!({"delay_ms": 20, "case": case}),
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
        // (the types that run for real fail of a real cause instead)
        let (kind, message) = match job_type {
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
    demo: &mut DemoLoad<'_>,
    org_name: &str,
) -> Result<(), sqlx::Error> {
    let (org, admin, now) = (demo.org, demo.admin, demo.now);
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
        let id = insert_job(tx, demo, job).await?;
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
    demo: &mut DemoLoad<'_>,
    org_name: &str,
) -> Result<(), sqlx::Error> {
    let (org, admin, now) = (demo.org, demo.admin, demo.now);
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
        // (the emails that have run are made and sent as the demo loads;
        // those still waiting keep the batch's day)
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
            // a batch's failures come of real runs
            job.error = None;
            job.result = None;
            job.created_at = created_at + Duration::seconds(index as i64);
            job.batch_id = Some(batch);
            insert_job(tx, demo, job).await?;
        }
    }
    Ok(())
}

/// The demo's integrations: a mail relay that is not the default (so email
/// goes to the outbox), sandboxes as the defaults of the other channels,
/// and a disabled core-banking API. Returns the disabled one's id.
async fn seed_integrations(tx: &mut Tx, org: Uuid) -> Result<Uuid, sqlx::Error> {
    // (name, channel, kind, stored base URL or host, port, default, active)
    let specs = [
        (
            "Transactional email",
            "email",
            "smtp",
            Some("mail.internal"),
            Some(587),
            false,
            true,
        ),
        ("SMS sandbox", "sms", "sandbox", None, None, true, true),
        (
            "WhatsApp sandbox",
            "whatsapp",
            "sandbox",
            None,
            None,
            true,
            true,
        ),
        (
            "Credit bureau sandbox",
            "data_sync",
            "sandbox",
            None,
            None,
            true,
            true,
        ),
        (
            "Legacy core banking",
            "data_sync",
            "http",
            Some("https://core.veriphy.invalid/api"),
            None,
            false,
            false,
        ),
    ];
    let mut disabled = None;
    for (name, channel, kind, base_url, port, is_default, is_active) in specs {
        let id: Uuid = sqlx::query_scalar(
            "insert into system_integrations
               (organization_id, name, integration_type, provider, base_url, port, tls_mode,
                is_default, is_active)
             values ($1, $2, $3, $4, $5, $6, 'starttls', $7, $8) returning id",
        )
        .bind(org)
        .bind(name)
        .bind(channel)
        .bind(kind)
        .bind(base_url)
        .bind(port)
        .bind(is_default)
        .bind(is_active)
        .fetch_one(&mut **tx)
        .await?;
        if !is_active {
            disabled = Some(id);
        }
    }
    Ok(disabled.expect("the demo has a disabled integration"))
}

/// The demo's webhooks, each to the sandbox receiver with its own signing
/// secret and a custom header (sealed like any): case events published as
/// the case system would publish them, delivered for real as the demo
/// loads (their jobs join `due`). One receiver fails a quarter of its
/// deliveries (retried later), one fails every one and goes to `error`
/// after three, one is switched off, one receives the demo's failed jobs.
async fn seed_webhooks(
    tx: &mut Tx,
    keyring: &Keyring,
    org: Uuid,
    slug: &str,
    due: &mut Vec<Uuid>,
) -> Result<(), sqlx::Error> {
    use crate::domain::webhooks::{describe, WebhookForm, SANDBOX_HOST};
    use crate::domain::WebhookEvent;
    use crate::server::repo::webhooks::{self, SavedWebhook};
    use crate::server::webhooks::{new_sealed_secret, raise, sealed_headers, EventSource};
    // (name, receiver path, event, retries, failures before `error`, on,
    // events published)
    let specs = [
        (
            "Case system: new cases",
            "case-system/new-cases",
            WebhookEvent::CaseCreated,
            3,
            10,
            true,
            4,
        ),
        (
            "Case system: updates",
            "case-system/updates?fail=25",
            WebhookEvent::CaseUpdated,
            3,
            10,
            true,
            8,
        ),
        (
            "Document vault sync",
            "document-vault?fail=100",
            WebhookEvent::DocumentUploaded,
            0,
            3,
            true,
            3,
        ),
        (
            "Legacy CRM (paused)",
            "legacy-crm",
            WebhookEvent::CaseClosed,
            3,
            10,
            false,
            0,
        ),
        (
            "Ops alerts on failures",
            "ops-alerts",
            WebhookEvent::JobFailed,
            3,
            10,
            true,
            0,
        ),
    ];
    for (name, path, event, retries, failures, on, _) in specs {
        let form = WebhookForm {
            name: name.into(),
            url: format!("https://{SANDBOX_HOST}/{slug}/{path}"),
            event_type: event.as_str().into(),
            max_retries: retries.to_string(),
            disable_after_failures: failures.to_string(),
            headers: "X-Source: veriphy-demo".into(),
            ..WebhookForm::default()
        }
        .validate()
        .expect("the demo's webhook forms are valid");
        let id = Uuid::new_v4();
        let saved = SavedWebhook {
            form: &form,
            headers: form
                .headers
                .as_ref()
                .map(|headers| sealed_headers(keyring, id, headers)),
        };
        let (_, sealed, hint) = new_sealed_secret(keyring, id);
        webhooks::insert(tx, org, id, &saved, &sealed, &hint).await?;
        if !on {
            webhooks::set_enabled(tx, org, id, false).await?;
        }
    }
    for (_, _, event, _, _, _, published) in specs {
        let (_, example) = describe(event);
        for n in 0..published {
            let mut data = example.clone();
            data["case_id"] = json!(format!("CASE-{}", 41000 + n * 7));
            let key = format!("demo-{}-{n}", event.as_str());
            let hash = crate::server::repo::stored_files::sha256_hex(data.to_string().as_bytes());
            let (_, deliveries) = raise(
                tx,
                org,
                event,
                &data,
                EventSource::Api {
                    idempotency_key: &key,
                    request_hash: &hash,
                },
            )
            .await?;
            due.extend(deliveries);
        }
    }
    Ok(())
}

/// While a worker runs them, waits until the demo's `due` jobs have
/// settled ([`run_due`]), then the webhook deliveries running or due by
/// then — the job.failed events its failing jobs raised —, each at most
/// `limit`. Returns whether both settled in time.
pub async fn settle(
    db: &Database,
    due: &[Uuid],
    limit: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    if !run_due(db, due, limit).await? {
        return Ok(false);
    }
    let mut tx = db.begin(Scope::bank()).await?;
    let deliveries: Vec<Uuid> = sqlx::query_scalar(
        "select id from jobs
         where job_type = 'webhook'
           and (status = 'running' or (status = 'pending' and available_at <= now()))",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    run_due(db, &deliveries, limit).await
}
