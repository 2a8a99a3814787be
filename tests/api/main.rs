//! Integration tests: the real router over HTTP with a fresh SurrealKV database each.

mod demo;
mod device;
mod fleet;
mod ingest;
mod ops;
mod series;
