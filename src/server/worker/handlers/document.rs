//! `document_processing` jobs: analyse an uploaded document (size, SHA-256,
//! detected content type; page count and text for PDFs) and store the
//! findings as the job's result. Uploaded files are untrusted: the parsing
//! runs in a child process with memory, CPU and output limits
//! (`server::sandbox`), and a document that breaks a limit fails its job
//! for good instead of taking the worker down on every attempt.

use super::{database_error, Handler, HandlerFuture, JobContext};
use crate::server::queue::{JobError, Outcome};
use crate::server::repo::stored_files;
use crate::server::sandbox::Analyser;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Most characters of extracted text kept in the result.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// The document handler.
pub struct DocumentHandler {
    /// Runs the analysis in a child process.
    pub analyser: Analyser,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentPayload {
    file_id: Uuid,
}

impl Handler for DocumentHandler {
    fn run(&self, ctx: Arc<JobContext>) -> HandlerFuture {
        let analyser = self.analyser.clone();
        Box::pin(async move {
            let payload: DocumentPayload = match ctx.payload() {
                Ok(p) => p,
                Err(outcome) => return outcome,
            };
            let file = async {
                let mut tx = ctx.begin().await?;
                let file =
                    stored_files::get(&mut tx, Some(ctx.job.organization_id), payload.file_id)
                        .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(file)
            }
            .await;
            let file = match file {
                Ok(Some(file)) => file,
                Ok(None) => {
                    return Outcome::Fail(JobError::new(
                        crate::domain::JobErrorKind::NotFound,
                        format!("Document {} does not exist.", payload.file_id),
                    ))
                }
                Err(error) => return database_error("loading the document", error),
            };
            match analyser.analyse(&file.content).await {
                // a file that says it is a PDF and cannot be read as one
                Ok(result) if result.get("pdf_error").is_some() => Outcome::Fail(JobError::new(
                    crate::domain::JobErrorKind::Handler,
                    format!(
                        "The document is not a readable PDF: {}",
                        result["pdf_error"].as_str().unwrap_or("unknown problem")
                    ),
                )),
                Ok(mut result) => {
                    result["file_id"] = json!(file.id);
                    result["file_name"] = json!(file.file_name);
                    result["declared_content_type"] = json!(file.content_type);
                    Outcome::Completed(Some(result))
                }
                Err(error) if error.is_transient() => Outcome::Retry(JobError::new(
                    crate::domain::JobErrorKind::Handler,
                    format!("The document was not analysed: {error}."),
                )),
                // the document's own doing: another attempt would end the same way
                Err(error) => Outcome::Fail(JobError::new(
                    crate::domain::JobErrorKind::ResourceLimit,
                    format!("The document was not analysed: {error}."),
                )),
            }
        })
    }
}

/// Everything learned from the bytes.
pub fn analyse(content: &[u8]) -> Value {
    let content_type = detect_content_type(content);
    let mut result = json!({
        "size_bytes": content.len(),
        "sha256": stored_files::sha256_hex(content),
        "detected_content_type": content_type,
    });
    match content_type {
        "application/pdf" => match pdf_facts(content) {
            Ok((pages, text)) => {
                result["page_count"] = json!(pages);
                result["text_truncated"] = json!(text.chars().count() > MAX_TEXT_CHARS);
                result["text"] = json!(text.chars().take(MAX_TEXT_CHARS).collect::<String>());
            }
            Err(error) => result["pdf_error"] = json!(error),
        },
        "text/plain" | "text/csv" | "application/json" => {
            let text = String::from_utf8_lossy(content);
            result["line_count"] = json!(text.lines().count());
            result["text_truncated"] = json!(text.chars().count() > MAX_TEXT_CHARS);
            result["text"] = json!(text.chars().take(MAX_TEXT_CHARS).collect::<String>());
        }
        _ => {}
    }
    result
}

/// Content type from the leading bytes (the declared type is not trusted).
pub fn detect_content_type(content: &[u8]) -> &'static str {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
    ];
    for (signature, content_type) in SIGNATURES {
        if content.starts_with(signature) {
            return content_type;
        }
    }
    let Ok(text) = std::str::from_utf8(content) else {
        return "application/octet-stream";
    };
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<Value>(text).is_ok()
    {
        "application/json"
    } else if looks_like_csv(text) {
        "text/csv"
    } else {
        "text/plain"
    }
}

/// At least two lines, all with the same (non-zero) number of commas.
fn looks_like_csv(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    let commas = first.matches(',').count();
    let mut rest = lines.peekable();
    commas > 0 && rest.peek().is_some() && rest.all(|l| l.matches(',').count() == commas)
}

/// Page count and extracted text of a PDF. lopdf bounds what each page's
/// content may inflate to; a page past that bound makes the PDF unreadable
/// here, as does a PDF without pages.
fn pdf_facts(content: &[u8]) -> Result<(usize, String), String> {
    let document =
        lopdf::Document::load_mem(content).map_err(|e| format!("it could not be parsed ({e})"))?;
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    if pages.is_empty() {
        return Err("it has no pages".into());
    }
    let text = document
        .extract_text(&pages)
        .map_err(|e| format!("its text could not be extracted ({e})"))?;
    Ok((pages.len(), text.trim().to_string()))
}

/// A simple PDF with one page per entry of `pages`, each showing its text
/// (demo data, tests).
pub fn text_pdf(pages: &[&str]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids: Vec<Object> = Vec::new();
    for text in pages {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 24.into()]),
                Operation::new("Td", vec![100.into(), 600.into()]),
                Operation::new("Tj", vec![Object::string_literal(*text)]),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            content.encode().unwrap_or_default(),
        ));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => pages.len() as i64,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes)
        .expect("writing to memory cannot fail");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_pages_and_text_are_extracted() {
        let result = analyse(&text_pdf(&["Loan agreement", "Signed by Harbor"]));
        assert_eq!(result["detected_content_type"], "application/pdf");
        assert_eq!(result["page_count"], 2);
        let text = result["text"].as_str().unwrap();
        assert!(text.contains("Loan agreement"), "{text}");
        assert!(text.contains("Signed by Harbor"), "{text}");
    }

    #[test]
    fn content_types_come_from_the_bytes() {
        assert_eq!(detect_content_type(b"\x89PNG\r\n\x1a\nrest"), "image/png");
        assert_eq!(detect_content_type(b"{\"a\": 1}"), "application/json");
        assert_eq!(detect_content_type(b"name,email\nAda,ada@x\n"), "text/csv");
        assert_eq!(detect_content_type(b"hello there"), "text/plain");
        assert_eq!(
            detect_content_type(&[0, 159, 146, 150]),
            "application/octet-stream"
        );
    }

    #[test]
    fn size_and_digest_are_reported_and_broken_pdfs_do_not_panic() {
        let result = analyse(b"%PDF-1.4 not really");
        assert_eq!(result["size_bytes"], 19);
        assert_eq!(result["sha256"].as_str().unwrap().len(), 64);
        assert!(result["pdf_error"].is_string());
    }
}
