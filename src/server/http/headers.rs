//! Security headers of every answer. Pages get their Content-Security-Policy
//! from the shell (it knows the page's script nonce); every other answer
//! gets a policy that allows nothing.

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The policy of a page rendered with script nonce `nonce`: scripts only
/// from this site or carrying the nonce (Leptos' hydration and streaming
/// scripts do), WebAssembly allowed, no framing, no plugins.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// The policy of everything that is not a page (server-function answers,
/// files, errors).
const NOTHING_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `path` is a static asset that may be cached (the wasm, the CSS).
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path.starts_with("/assets/")
}

/// Adds the security headers; `https` says whether the console is served
/// over https (then browsers are told to keep to it).
pub async fn security_headers(State(https): State<bool>, request: Request, next: Next) -> Response {
    let cacheable = is_static_asset(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NOTHING_POLICY),
        );
    }
    if !cacheable {
        // pages, answers and downloads hold one person's data
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_allow_only_their_own_and_nonced_scripts() {
        let policy = page_policy("abc123");
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn only_the_built_assets_are_cacheable() {
        assert!(is_static_asset("/pkg/veriphy-jobs.wasm"));
        assert!(!is_static_asset("/jobs"));
        assert!(!is_static_asset("/files/1"));
        assert!(!is_static_asset("/api/list_jobs"));
    }
}
