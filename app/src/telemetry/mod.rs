//! Telemetry: the one-minute readings devices post, their hourly and daily rollups, and the
//! write path the ingest endpoints feed.

mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod rollup;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod write;

pub use api::{telemetry_series, TelemetrySeries};
