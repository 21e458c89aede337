//! Stored files over HTTP: downloads (reports, documents) and document
//! uploads, always in the caller's scope.

use crate::server::auth::context::RequestInfo;
use crate::server::db::{Database, Scope};
use crate::server::repo::stored_files;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

/// `GET /files/{id}`: the file as an attachment, or 404 (also for files
/// of other organizations: their existence is not revealed).
pub async fn download(
    Path(id): Path<String>,
    Extension(info): Extension<RequestInfo>,
    Extension(db): Extension<Database>,
) -> Response {
    let Some(user) = info.user else {
        return (StatusCode::UNAUTHORIZED, "Sign in first.").into_response();
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return (StatusCode::NOT_FOUND, "No such file.").into_response();
    };
    let scope = Scope::for_user(&user);
    let file = async {
        let mut tx = db.begin(scope).await?;
        let file = stored_files::get(&mut tx, user.organization_id, id).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(file)
    }
    .await;
    match file {
        Ok(Some(file)) => (
            [
                (header::CONTENT_TYPE, download_type(&file.content_type)),
                (
                    header::CONTENT_DISPOSITION,
                    content_disposition(&file.file_name),
                ),
                // a file opened in the browser runs nothing and reaches nothing
                (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            ],
            file.content,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No such file.").into_response(),
        Err(error) => {
            tracing::error!(error = %crate::server::db::loggable(&error), "file download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

/// Types a download keeps; anything else (HTML, SVG, scripts: what a
/// browser might run) is sent as `application/octet-stream`.
const DOWNLOAD_TYPES: [&str; 6] = [
    "application/pdf",
    "text/csv",
    "text/plain",
    "image/png",
    "image/jpeg",
    "application/json",
];

/// The Content-Type a stored file is sent with.
fn download_type(declared: &str) -> String {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if DOWNLOAD_TYPES.contains(&essence.as_str()) {
        essence
    } else {
        "application/octet-stream".to_string()
    }
}

/// `attachment` with the file's name per RFC 6266: an ASCII fallback and the
/// exact name percent-encoded as UTF-8.
fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "download".to_string()
    } else {
        fallback
    };
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        crate::domain::percent_encode(name)
    )
}

/// Largest document the console accepts.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Why an upload was refused: the status and a sentence for the person.
struct Refusal(StatusCode, String);

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Refusal(StatusCode::UNPROCESSABLE_ENTITY, message.into())
    }
}

/// `POST /documents` (multipart: `file`, and `organization_id` for bank
/// admins): stores the document and enqueues its document_processing job.
/// Browsers are sent to the job (303) or back to the form with the reason;
/// other clients get the job id, or the 4xx status with the reason.
pub async fn upload(
    Extension(info): Extension<RequestInfo>,
    Extension(db): Extension<Database>,
    headers: axum::http::HeaderMap,
    multipart: axum::extract::Multipart,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    match store_and_enqueue(info, db, multipart).await {
        Ok(job_id) if wants_html => {
            axum::response::Redirect::to(&format!("/jobs/{job_id}")).into_response()
        }
        Ok(job_id) => (StatusCode::CREATED, job_id.to_string()).into_response(),
        Err(Refusal(_, message)) if wants_html => axum::response::Redirect::to(&format!(
            "/documents/new?error={}",
            crate::domain::percent_encode(&message)
        ))
        .into_response(),
        Err(Refusal(status, message)) => (status, message).into_response(),
    }
}

async fn store_and_enqueue(
    info: RequestInfo,
    db: Database,
    mut multipart: axum::extract::Multipart,
) -> Result<uuid::Uuid, Refusal> {
    use crate::domain::JobType;
    use crate::server::queue::{self, NewJob};
    let user = info
        .user
        .clone()
        .ok_or_else(|| Refusal(StatusCode::UNAUTHORIZED, "Sign in first.".into()))?;
    if !user.can_write() {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "Your role may not upload documents.".into(),
        ));
    }
    let mut chosen_org = None;
    let mut document = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Refusal::invalid(format!("The upload could not be read: {}", e.body_text())))?
    {
        match field.name() {
            Some("organization_id") => {
                let text = field.text().await.unwrap_or_default();
                if !text.trim().is_empty() {
                    chosen_org = Some(
                        uuid::Uuid::parse_str(text.trim())
                            .map_err(|_| Refusal::invalid("Choose an organization."))?,
                    );
                }
            }
            Some("file") => {
                let name = field.file_name().map(clean_file_name).unwrap_or_default();
                // what the browser says is kept only when it fits the column
                // and is printable; downloads choose their own type anyway
                let declared = field
                    .content_type()
                    .filter(|t| t.len() <= 255 && !t.chars().any(char::is_control))
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field.bytes().await.map_err(|_| {
                    Refusal(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "The document is larger than 10 MiB.".into(),
                    )
                })?;
                document = Some((name, declared, bytes));
            }
            _ => {}
        }
    }
    let (name, declared, bytes) =
        document.ok_or_else(|| Refusal::invalid("Choose a document to upload."))?;
    if bytes.is_empty() {
        return Err(Refusal::invalid("The document is empty."));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The document is larger than 10 MiB.".into(),
        ));
    }
    let name = if name.is_empty() {
        "document".to_string()
    } else {
        name
    };
    let caller = crate::server::auth::Caller {
        user: user.clone(),
        info,
        db: db.clone(),
    };
    let organization_id = caller
        .target_organization(chosen_org)
        .map_err(|e| Refusal::invalid(e.to_string()))?;
    let stored = async {
        let mut tx = caller.begin().await?;
        let storage = stored_files::lock_storage_use(&mut tx, organization_id)
            .await?
            .ok_or(crate::error::AppError::NotFound)?;
        if !storage.admits(bytes.len()) {
            return Err(crate::error::AppError::Invalid(storage_full_message(
                storage,
                bytes.len(),
            )));
        }
        let file_id = stored_files::insert(
            &mut tx,
            &stored_files::NewFile {
                organization_id,
                kind: "document",
                file_name: &name,
                content_type: &declared,
                content: &bytes,
                job_id: None,
                created_by: Some(user.id),
            },
        )
        .await?;
        let job = NewJob {
            created_by: Some(user.id),
            ..NewJob::new(
                organization_id,
                JobType::DocumentProcessing,
                crate::domain::truncated(&format!("Analyse {name}"), 255),
                serde_json::json!({ "file_id": file_id }),
            )
        };
        let job_id = queue::enqueue(&mut tx, &job).await?;
        caller
            .audit(
                &mut tx,
                Some(organization_id),
                "document.upload",
                "file",
                file_id.to_string(),
                serde_json::json!({ "file_name": name, "size_bytes": bytes.len(), "job_id": job_id }),
            )
            .await?;
        tx.commit().await?;
        Ok::<_, crate::error::AppError>(job_id)
    }
    .await;
    stored.map_err(|error| match error {
        crate::error::AppError::Invalid(message) => Refusal::invalid(message),
        crate::error::AppError::NotFound | crate::error::AppError::Forbidden => Refusal(
            StatusCode::FORBIDDEN,
            "That organization is not yours.".into(),
        ),
        other => {
            tracing::error!(error = %other, "document upload failed");
            Refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; the document was not stored.".into(),
            )
        }
    })
}

/// The last path segment of a browser-given name, printable, at most 255 characters.
fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    base.chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Why an upload does not fit, with the numbers a person needs.
fn storage_full_message(storage: stored_files::StorageUse, needed: usize) -> String {
    format!(
        "Your organization's document storage is full: {} of {} used, and this document needs {}. \
         Stored files are removed after the organization's file retention period; a bank admin can raise the quota (Access tab).",
        human_bytes(storage.used_bytes.max(0) as u64),
        human_bytes(storage.quota_bytes.max(0) as u64),
        human_bytes(needed as u64),
    )
}

/// `1.5 MiB`-style sizes.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inert_types_are_kept() {
        assert_eq!(download_type("application/pdf"), "application/pdf");
        assert_eq!(download_type("text/CSV; charset=utf-8"), "text/csv");
        assert_eq!(download_type("text/html"), "application/octet-stream");
        assert_eq!(download_type("image/svg+xml"), "application/octet-stream");
    }

    #[test]
    fn names_are_given_twice_as_rfc_6266_says() {
        assert_eq!(
            content_disposition("Bericht März.pdf"),
            "attachment; filename=\"Bericht M_rz.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz.pdf"
        );
        assert_eq!(
            content_disposition("\"; evil"),
            "attachment; filename=\"__ evil\"; filename*=UTF-8''%22%3B%20evil"
        );
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(
            super::clean_file_name("C:\\Users\\a\\offer.pdf"),
            "offer.pdf"
        );
        assert_eq!(super::clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(super::clean_file_name("a\u{0}b\n.pdf"), "ab.pdf");
    }

    #[test]
    fn sizes_are_shown_in_the_largest_fitting_unit() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1 << 30), "1.0 GiB");
    }
}
