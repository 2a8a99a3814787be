//! The `sunfleet` binary.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    sunfleet::cli::run().await
}
