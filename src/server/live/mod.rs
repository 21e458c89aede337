//! The live console's server side: one hub per process that gathers changes
//! and hands each connected viewer, every coalescing interval, only what it
//! may see of what its tab shows.

pub mod hub;

pub use hub::{Audience, Change, Hub, Interest, Subscription};
