//! Uploading a document for analysis (a document_processing job).

use crate::app::components::organization_picker::OrganizationPicker;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A plain multipart form posting to `/documents`, which stores the file,
/// enqueues its job and opens the job (or comes back here with the reason).
#[component]
pub fn UploadDocumentPage() -> impl IntoView {
    let params = use_query_map();
    let error = move || params.read().get("error");
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <h1 id="page-title">"Process a document"</h1>
            <p class="muted">
                "The document is stored for your organization and analysed: size, SHA-256, "
                "detected type, and page count and text for PDFs. At most 10 MiB."
            </p>
            <form method="post" action="/documents" enctype="multipart/form-data"
                class="stacked-form" data-testid="upload-form">
                <OrganizationPicker name="organization_id"/>
                <label>"Document"<input type="file" name="file" required=true data-testid="upload-file"/></label>
                <p class="error" role="alert" data-testid="upload-error">{error}</p>
                <button type="submit">"Upload and analyse"</button>
            </form>
        </section>
    }
}
