//! Small building blocks shared by the tabs.

pub mod action_result;
pub mod badge;
pub mod charts;
pub mod list_page;
pub mod list_table;
pub mod optimistic;
pub mod organization_picker;
pub mod query;
pub mod selection;
pub mod time;
