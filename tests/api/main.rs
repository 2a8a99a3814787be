//! Integration tests: the real router over HTTP with a fresh SurrealKV database each.

mod accounts;
mod admin;
mod charts;
mod commands;
mod demo;
mod device;
mod fleet;
mod history;
mod ingest;
mod mail;
mod manage;
mod matrix;
mod ops;
mod schedule;
mod series;
