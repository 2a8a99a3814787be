//! Event history (issue 6): what happened to devices and who did what — faults, online and
//! offline, commands and their outcome, schedule changes, registrations, locations, user
//! actions — per device and per scope, filtered, paged by cursor and exported as CSV.

mod api;
mod card;
pub mod model;
mod page;
#[cfg(feature = "ssr")]
pub mod store;

#[cfg(feature = "ssr")]
pub use api::ssr::history_csv;
pub use api::{history, History};
pub use card::{recent_events, RecentData, RecentEvents};
pub use page::HistoryPage;
