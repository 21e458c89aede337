//! Calls to the outside world (integrations, webhooks): where a call may go
//! and what of it may be kept. Every outbound request goes through the one
//! [`client`], is checked against [`destination`] at connect time, and is
//! recorded only through [`redact`].

pub mod client;
pub mod destination;
pub mod logged;
pub mod outcome;
pub mod redact;

pub use client::{Outbound, Redirects, SendError};
pub use destination::Allowlist;
pub use logged::{CallAnswer, CallBody, CallError, CallRecord, CallRequest};
