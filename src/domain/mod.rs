//! Types shared by the server and the browser: no database or HTTP code here.

pub mod api_keys;
pub mod api_log_filters;
pub mod api_monitoring;
pub mod csv;
pub mod enums;
pub mod forms;
pub mod integrations;
pub mod live;
pub mod metrics;
pub mod models;
pub mod page;
pub mod templates;
pub mod webhooks;

pub use enums::*;
pub use forms::*;
pub use models::*;
pub use page::*;
