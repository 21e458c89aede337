//! Authentication: passwords, sessions, the per-request gate, and how server
//! functions learn who is calling.

pub mod context;
pub mod gate;
pub mod password;
pub mod session;
pub mod throttle;

pub use context::{caller, require_caller, Caller, RequestInfo};
