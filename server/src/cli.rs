//! `sunfleet --help`: the commands and flags.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

use crate::config::{DbArgs, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "sunfleet",
    version,
    about = "Fleet cloud for solar-powered motor and pump controllers",
    long_about = "Fleet cloud for solar-powered motor and pump controllers.\n\n\
        Every setting can also come from the environment (shown as [env: …]); a flag wins \
        over the environment. Logging: SUNFLEET_LOG (e.g. info, debug), \
        SUNFLEET_LOG_FORMAT=json for JSON lines."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web app and APIs.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(args) => crate::http::serve(args).await,
        Command::Migrate { db } => migrate(db).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line for people; the chain is already in it.
            eprintln!("sunfleet: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(db: DbArgs) -> anyhow::Result<()> {
    let db = sunfleet_app::db::connect(&db.to_config()).await?;
    let version = sunfleet_app::db::migrate(&db).await?;
    println!("database schema is at version {version}");
    Ok(())
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("SUNFLEET_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,surrealdb=warn,surrealkv=warn"));
    let json = std::env::var("SUNFLEET_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
