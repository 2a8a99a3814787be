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

/// SurrealDB reports expected outcomes inside a write as `anyhow` errors (an UPSERT or an
/// `INSERT … ON DUPLICATE KEY UPDATE` first tries to create the row and catches
/// `RecordExists`), and with `RUST_BACKTRACE=1` in the environment each of those captured a
/// backtrace: `_Unwind_Find_FDE` showed in perf, and `bench/ingest.sh`'s first pass over
/// 5,000 devices gave 1,662 readings/s with it against 4,783 with `RUST_LIB_BACKTRACE=0`
/// (one run each; unrelated runs vary from 2,600 to 4,800). `RUST_LIB_BACKTRACE=0` stops
/// those captures and keeps backtraces for panics; an operator's own value wins.
const LIB_BACKTRACE_VAR: &str = "RUST_LIB_BACKTRACE";

fn main() -> ExitCode {
    let small = std::thread::available_parallelism().map_or(true, |n| n.get() <= 4);
    if small && std::env::var_os(KVS_THREADS_VAR).is_none() {
        std::env::set_var(KVS_THREADS_VAR, "4");
    }
    if std::env::var_os(LIB_BACKTRACE_VAR).is_none() {
        std::env::set_var(LIB_BACKTRACE_VAR, "0");
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
