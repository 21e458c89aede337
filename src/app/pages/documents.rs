//! Uploading a document for analysis (a document_processing job).

use crate::api::overview::organizations;
use crate::domain::CurrentUser;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A plain multipart form posting to `/documents`, which stores the file,
/// enqueues its job and opens the job (or comes back here with the reason).
#[component]
pub fn UploadDocumentPage() -> impl IntoView {
    let bank_admin = use_context::<CurrentUser>().is_some_and(|u| u.is_bank_admin());
    let params = use_query_map();
    let error = move || params.read().get("error");
    let orgs = Resource::new(
        || (),
        move |_| async move {
            if bank_admin {
                organizations().await.unwrap_or_default()
            } else {
                Vec::new()
            }
        },
    );
    view! {
        <section class="form-page" aria-labelledby="page-title">
            <h1 id="page-title">"Process a document"</h1>
            <p class="muted">
                "The document is stored for your organization and analysed: size, SHA-256, "
                "detected type, and page count and text for PDFs. At most 10 MiB."
            </p>
            <form method="post" action="/documents" enctype="multipart/form-data"
                class="stacked-form" data-testid="upload-form">
                {bank_admin.then(|| view! {
                    <label>
                        "Organization"
                        <Transition fallback=|| view! { <select name="organization_id" disabled=true></select> }>
                            <select name="organization_id" required=true>
                                <option value="">"Choose…"</option>
                                {move || orgs.get().unwrap_or_default().into_iter().map(|o| view! {
                                    <option value=o.id.to_string()>{o.name}</option>
                                }).collect_view()}
                            </select>
                        </Transition>
                    </label>
                })}
                <label>"Document"<input type="file" name="file" required=true data-testid="upload-file"/></label>
                <p class="error" role="alert" data-testid="upload-error">{error}</p>
                <button type="submit">"Upload and analyse"</button>
            </form>
        </section>
    }
}
