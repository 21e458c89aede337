//! Veriphy Jobs: the background-processing console and worker of Veriphy Bank.
//!
//! `domain` and `error` are shared by browser and server; `api` holds the server
//! functions (callable from both sides); `app` the Leptos components; `server`
//! everything that only runs on the server (database, auth, CLI, worker).

#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod domain;
pub mod error;

#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // lets browser tests (and people) tell server HTML from a live app
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
