//! Device control (issue 6): weekly run schedules — checked windows, versions the device
//! is told of in its ingest answers, the sync state, the editor — and one-off commands with their delivery and acknowledgement.
//! The schedule types are shared with the browser; turning a schedule into instants needs
//! the timezone database and stays on the server.

pub mod api;
#[cfg(feature = "ssr")]
pub mod cache;
pub mod command;
pub mod command_card;
#[cfg(feature = "ssr")]
pub mod command_store;
pub mod commands_api;
pub mod copy;
pub mod copy_card;
#[cfg(feature = "ssr")]
pub mod particle;
#[cfg(feature = "ssr")]
pub mod runs;
pub mod schedule;
pub mod schedule_card;
#[cfg(feature = "ssr")]
pub mod store;
