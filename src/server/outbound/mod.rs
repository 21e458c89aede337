//! Calls to the outside world (integrations, webhooks): where a call may go
//! and what of it may be kept. Every outbound request is checked against
//! [`destination`] at connect time and recorded only through [`redact`].

pub mod destination;
pub mod redact;
