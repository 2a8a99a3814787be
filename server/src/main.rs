//! The `sunfleet` binary.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: rendering pages and SurrealDB's row handling allocate
/// many small short-lived values, and glibc spent ~30% of a Fleet page's CPU in malloc/free
/// (`perf record` during `bench/pages.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    sunfleet::cli::run().await
}
