//! The live console's server side: one hub per process that gathers changes
//! and hands each connected viewer, every coalescing interval, only what it
//! may see of what its tab shows.

pub mod hub;
pub mod socket;

pub use hub::{Audience, Change, Hub, Interest, Subscription};
pub use socket::Live;

/// How often the hub sends what changed: often enough to feel live, rarely
/// enough that a burst of changes is one message.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
