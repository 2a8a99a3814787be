//! `sunfleet --help`: the commands and flags.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

use crate::config::{DbArgs, ServeArgs};
use sunfleet_app::db::Db;

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
    /// Manage webhook integrations (the secrets Particle presents to /ingest/particle).
    /// With the embedded database, stop the server first (it holds the database lock).
    Integration {
        #[command(subcommand)]
        command: IntegrationCommand,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage users. `user add --email you@example.com --persona admin` creates the first
    /// admin. With the embedded database, stop the server first.
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a fleet of demo-style devices (and optionally history) into the database and
    /// exit: for load tests with more devices than the demo's 240.
    Seed {
        /// How many devices (the first 240 are the demo's).
        #[arg(long, default_value_t = crate::demo::DEVICES)]
        devices: usize,
        /// Days of history to write (0: devices only).
        #[arg(long, default_value_t = 0)]
        days: i64,
        /// Write that history for the first N devices only (default: all).
        #[arg(long)]
        history_devices: Option<usize>,
        /// Also write the device ids, one per line, to this file (for load-test scripts).
        #[arg(long)]
        ids_out: Option<std::path::PathBuf>,
        /// Also write this many synthetic events over the last 90 days (for load tests of
        /// the history).
        #[arg(long, default_value_t = 0)]
        events: usize,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Post realistic device readings to a running sunfleet and report what happened.
    Simulate(crate::simulate::SimulateArgs),
}

#[derive(Debug, Subcommand)]
enum IntegrationCommand {
    /// Create an integration and print its secret (shown only this once).
    Add {
        /// A name for it, e.g. particle-production.
        name: String,
    },
    /// List integrations (names and secret prefixes, never secrets).
    List,
    /// Revoke an integration: its secret stops working within seconds.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password comes from SUNFLEET_NEW_PASSWORD, or is generated and
    /// printed once.
    Add {
        #[arg(long)]
        email: String,
        /// admin, partner, dealer or customer.
        #[arg(long)]
        persona: String,
        /// The org (its id, e.g. `acme-farms`); admins default to the operator org, which
        /// is created if the database has none.
        #[arg(long)]
        org: Option<String>,
        /// Display name (default: the part of the email before `@`).
        #[arg(long)]
        name: Option<String>,
    },
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(args) => crate::http::serve(args).await,
        Command::Migrate { db } => migrate(db).await,
        Command::Integration { command, db } => integration(command, db).await,
        Command::User { command, db } => user(command, db).await,
        Command::Seed {
            devices,
            days,
            history_devices,
            ids_out,
            events,
            db,
        } => seed(devices, days, history_devices, ids_out, events, db).await,
        Command::Simulate(args) => crate::simulate::run(args).await.map(|summary| {
            println!("{summary}");
        }),
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

/// Runs `work` on the migrated database, then closes it, whether `work` succeeded or not.
/// An embedded datastore left unclosed is recovered from its write-ahead log at the next
/// start instead of opening from its flushed tables.
async fn with_db<F, Fut>(args: DbArgs, work: F) -> anyhow::Result<()>
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let db = sunfleet_app::db::connect(&args.to_config()).await?;
    let result = match sunfleet_app::db::migrate(&db).await {
        Ok(version) => {
            tracing::debug!(version, "database schema");
            work(db.clone()).await
        }
        Err(e) => Err(e.into()),
    };
    db.close().await;
    result
}

async fn migrate(db: DbArgs) -> anyhow::Result<()> {
    let db = sunfleet_app::db::connect(&db.to_config()).await?;
    let result = sunfleet_app::db::migrate(&db).await;
    db.close().await;
    println!("database schema is at version {}", result?);
    Ok(())
}

async fn integration(command: IntegrationCommand, db: DbArgs) -> anyhow::Result<()> {
    with_db(db, |db| integration_with(command, db)).await
}

async fn integration_with(command: IntegrationCommand, db: Db) -> anyhow::Result<()> {
    use crate::ingest::integrations;
    match command {
        IntegrationCommand::Add { name } => {
            let secret = integrations::add(&db, &name, None).await?;
            println!("integration {name:?} added. Its secret, shown only now:\n\n  {secret}\n");
            println!("Particle webhook: POST <your sunfleet>/ingest/particle with the header");
            println!("  Authorization: Bearer {secret}");
        }
        IntegrationCommand::List => {
            let all = integrations::list(&db).await?;
            if all.is_empty() {
                println!("no integrations; add one with `sunfleet integration add NAME`");
            }
            for i in all {
                let state = match i.revoked_at {
                    Some(t) => format!("revoked {}", t.format("%Y-%m-%d %H:%M UTC")),
                    None => "active".into(),
                };
                println!(
                    "{:<24} {}…  created {}  {state}",
                    i.name,
                    i.prefix,
                    i.created_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        IntegrationCommand::Revoke { name } => {
            integrations::revoke(&db, &name).await?;
            println!("integration {name:?} revoked");
        }
    }
    Ok(())
}

async fn user(command: UserCommand, db: DbArgs) -> anyhow::Result<()> {
    with_db(db, |db| user_with(command, db)).await
}

async fn user_with(command: UserCommand, db: Db) -> anyhow::Result<()> {
    use sunfleet_app::accounts::model::Persona;
    use sunfleet_app::accounts::users::{create_user, UserSpec};
    use sunfleet_app::orgs::store::{self as orgs, org_record, NewOrg};
    match command {
        UserCommand::Add {
            email,
            persona,
            org,
            name,
        } => {
            let persona =
                Persona::parse(&persona).map_err(|e| anyhow::anyhow!("--persona: {e}"))?;
            let org = match (org, persona) {
                (Some(slug), _) => org_record(&slug),
                (None, Persona::Admin) => match orgs::operator(&db).await? {
                    Some(id) => id,
                    None => {
                        let id = org_record("operator");
                        orgs::insert_orgs(
                            &db,
                            vec![NewOrg {
                                id: id.clone(),
                                name: "Operator".into(),
                                kind: "operator".into(),
                                parent: None,
                            }],
                        )
                        .await?;
                        id
                    }
                },
                (None, _) => anyhow::bail!("--org is required for a {persona} user"),
            };
            let (password, generated) = match std::env::var("SUNFLEET_NEW_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (sunfleet_app::accounts::secret::token(""), true),
            };
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string());
            create_user(
                &db,
                UserSpec {
                    email: email.clone(),
                    name,
                    persona,
                    org: org.clone(),
                    password: Some(password.clone()),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{persona} user {} added to {}",
                email.trim().to_lowercase(),
                sunfleet_app::db::key_string(&org)
            );
            if generated {
                println!("Its password, shown only now:\n\n  {password}\n");
            }
        }
    }
    Ok(())
}

async fn seed(
    devices: usize,
    days: i64,
    history_devices: Option<usize>,
    ids_out: Option<std::path::PathBuf>,
    events: usize,
    db: DbArgs,
) -> anyhow::Result<()> {
    if !(0..=366).contains(&days) {
        anyhow::bail!("--days must be between 0 and 366");
    }
    with_db(db, |db| async move {
        seed_with(devices, days, history_devices, ids_out, events, &db).await
    })
    .await
}

async fn seed_with(
    devices: usize,
    days: i64,
    history_devices: Option<usize>,
    ids_out: Option<std::path::PathBuf>,
    events: usize,
    db: &Db,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let history = history_devices.unwrap_or(devices).min(devices);
    crate::demo::seed_with(db, now, devices, days, history).await?;
    if days > 0 {
        sunfleet_app::db::set_flag(db, "demo_seeded").await?;
    }
    let fleet = crate::demo::Fleet::generate_n(now, crate::demo::SEED, devices);
    if events > 0 {
        crate::demo::seed_events(db, &fleet, events, 90, now).await?;
    }
    if let Some(path) = ids_out {
        let ids: String = fleet
            .devices
            .iter()
            .map(|d| format!("{}\n", d.id))
            .collect();
        std::fs::write(&path, ids).with_context(|| format!("writing {}", path.display()))?;
    }
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
