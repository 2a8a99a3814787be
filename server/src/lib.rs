//! The `sunfleet` server: command line, configuration, HTTP router, embedded site, demo data.
//! A library so that integration tests start exactly the router the binary serves.

pub mod assets;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod ingest;
pub mod simulate;

pub use http::{router, AppState};
