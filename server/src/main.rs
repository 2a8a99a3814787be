//! The `sunfleet` binary.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: rendering pages and SurrealDB's row handling allocate
/// many small short-lived values, and glibc spent ~30% of a Fleet page's CPU in malloc/free
/// (`perf record` during `bench/pages.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Embedded SurrealDB runs its blocking storage work on a pool of at least 16 threads, even
/// on machines with fewer cores. Up to 4 cores, 4 threads (SurrealDB's documented minimum)
/// do the same work, and the idle ones' stacks and allocator heaps were ~10 MB of RSS on
/// 2 cores (`bench/ingest.sh`). Set before any thread starts, since the variable is read once;
/// an operator's own value wins.
const KVS_THREADS_VAR: &str = "SURREAL_KVS_THREADPOOL_SIZE";

fn main() -> ExitCode {
    let small = std::thread::available_parallelism().map_or(true, |n| n.get() <= 4);
    if small && std::env::var_os(KVS_THREADS_VAR).is_none() {
        std::env::set_var(KVS_THREADS_VAR, "4");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sunfleet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(sunfleet::cli::run())
}
