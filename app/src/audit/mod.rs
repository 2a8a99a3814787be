//! The audit trail: every change a user or an API key makes is an `event` row naming its
//! actor. Admins read it, filtered by actor, org and time.

mod api;
pub mod model;
mod page;
#[cfg(feature = "ssr")]
pub mod store;

pub use api::{audit_log, AuditLog};
pub use page::AuditPage;
