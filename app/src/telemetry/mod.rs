//! Telemetry: the one-minute readings devices post. (The ingest endpoints, rollups and
//! query API arrive with the telemetry issue; the demo seed writes through this store.)

#[cfg(feature = "ssr")]
pub mod store;
