//! Device control (issue 6): weekly run schedules, and — to come — commands and their
//! delivery. The schedule types are shared with the browser; turning a schedule into
//! instants needs the timezone database and stays on the server.

#[cfg(feature = "ssr")]
pub mod runs;
pub mod schedule;
