//! The Leptos application: the HTML shell, the router and the console layout.

pub mod components;
pub mod layout;
pub mod live;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app (server side). Its answer carries the
/// Content-Security-Policy naming this render's script nonce.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(policy) =
            http::HeaderValue::from_str(&crate::server::http::headers::page_policy(&nonce))
        {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // no favicon request (and no 404 in the console)
                <link rel="icon" href="data:,"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The routes of the console. Every route but /login requires a session; the
/// server redirects before rendering when there is none.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/veriphy-jobs.css"/>
        <Title text="Veriphy Jobs"/>
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/login") view=pages::login::LoginPage/>
                <ParentRoute path=path!("") view=layout::ConsoleLayout>
                    <Route path=path!("") view=pages::overview::OverviewPage/>
                    <Route path=path!("jobs") view=pages::jobs::JobsPage/>
                    <Route path=path!("jobs/new") view=pages::jobs::NewJobPage/>
                    <Route path=path!("jobs/:id") view=pages::jobs::JobDetailPage/>
                    <Route path=path!("batches/new") view=pages::batches::NewBatchPage/>
                    <Route path=path!("documents/new") view=pages::documents::UploadDocumentPage/>
                    <Route path=path!("queues") view=pages::queues::QueuesPage/>
                    <Route path=path!("batches") view=pages::batches::BatchesPage/>
                    <Route path=path!("batches/:id") view=pages::batches::BatchDetailPage/>
                    <Route path=path!("failed-jobs") view=pages::failed_jobs::FailedJobsPage/>
                    <Route path=path!("api-logs") view=pages::api_logs::ApiLogsPage/>
                    <Route path=path!("api-logs/monitoring") view=pages::api_monitoring::ApiMonitoringPage/>
                    <Route path=path!("api-logs/:id") view=pages::api_logs::ApiLogDetailPage/>
                    <Route path=path!("webhooks") view=pages::webhooks::WebhooksPage/>
                    <Route path=path!("webhooks/new") view=pages::webhooks::NewWebhookPage/>
                    <Route path=path!("webhooks/events") view=pages::webhooks::WebhookEventsPage/>
                    <Route path=path!("webhooks/api-keys") view=pages::webhooks::ApiKeysPage/>
                    <Route path=path!("webhooks/:id") view=pages::webhooks::WebhookDetailPage/>
                    <Route path=path!("integrations") view=pages::integrations::IntegrationsPage/>
                    <Route path=path!("integrations/new") view=pages::integrations::NewIntegrationPage/>
                    <Route path=path!("integrations/templates") view=pages::templates::TemplatesPage/>
                    <Route path=path!("integrations/templates/new") view=pages::templates::NewTemplatePage/>
                    <Route path=path!("integrations/templates/:id") view=pages::templates::TemplateDetailPage/>
                    <Route path=path!("integrations/:id") view=pages::integrations::IntegrationDetailPage/>
                    <Route path=path!("account") view=pages::account::AccountPage/>
                    <Route path=path!("account/password") view=pages::account::ChangePasswordPage/>
                    <Route path=path!("access") view=pages::access::AccessPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
