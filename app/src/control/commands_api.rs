//! Server functions for commands: send one to a device, list a device's newest. Sending
//! needs the `control` right in the device's scope (DESIGN.md §5), reading needs `read`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::command::CommandView;
use crate::error::AppError;

/// A device's newest commands, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandList {
    pub device: String,
    pub timezone: String,
    pub commands: Vec<CommandView>,
    /// Whether the caller may send commands.
    pub may_send: bool,
}

/// Commands listed per device.
pub const LIST_LENGTH: usize = 20;

#[server(endpoint = "commands")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn device_commands(id: String) -> Result<CommandList, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::Right;
            let (db, caller, device) =
                crate::devices::manage::ssr::in_scope(&id, Right::Read).await?;
            let device_id = crate::devices::model::DeviceId::parse(&device.id)?;
            let rows = super::command_store::recent_cached(&db, &device_id, LIST_LENGTH).await?;
            let tz = ssr::zone(&device.timezone);
            Ok(CommandList {
                commands: rows
                    .iter()
                    .map(|r| ssr::view(r, tz))
                    .collect::<Result<_, _>>()?,
                device: device.id,
                timezone: device.timezone,
                may_send: caller.may(Right::Control),
            })
        }
        .await,
    )
}

/// Queues a command for a device: `kind` is start, stop, set_speed (with `percent`),
/// reboot or sync_schedule; `ttl_s` is how long it may wait for the device (default an
/// hour, 60 s to 7 days). A decommissioned device takes no commands (422
/// `device_decommissioned`).
#[server(endpoint = "command_send")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn send_command(
    id: String,
    kind: String,
    #[server(default)] percent: Option<i64>,
    #[server(default)] ttl_s: Option<i64>,
) -> Result<CommandView, AppError> {
    crate::error::respond(
        async {
            use super::command::{Command, DEFAULT_TTL_S, TTL_RANGE_S};
            use super::command_store::{enqueue, NewCommand};
            let (db, caller, device) = ssr::device_for_command(&id).await?;
            let command = Command::parse(&kind, percent).map_err(AppError::validation)?;
            let ttl = ttl_s.unwrap_or(DEFAULT_TTL_S);
            if !(TTL_RANGE_S.0..=TTL_RANGE_S.1).contains(&ttl) {
                return Err(AppError::validation(format!(
                    "a command may wait {} s to {} days, not {ttl} s",
                    TTL_RANGE_S.0,
                    TTL_RANGE_S.1 / 86_400
                )));
            }
            let device_id = crate::devices::model::DeviceId::parse(&device.id)?;
            let now = chrono::Utc::now();
            let by = if caller.email.is_empty() {
                caller.actor.clone()
            } else {
                caller.email.clone()
            };
            let record = enqueue(
                &db,
                NewCommand {
                    device: &device_id,
                    org: device.owner.clone(),
                    command,
                    created_by: by,
                    now,
                    expires_at: now + chrono::Duration::seconds(ttl),
                },
                &caller.actor,
            )
            .await?;
            if let Some(cache) = use_context::<std::sync::Arc<super::cache::ControlCache>>() {
                cache.queued(&record);
                ssr::call_particle(&db, &cache, &device_id, &record);
            }
            ssr::view(&record, ssr::zone(&device.timezone))
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use chrono_tz::Tz;
    use leptos::prelude::use_context;

    use crate::accounts::caller::{caller, Caller, Right};
    use crate::control::cache::ControlCache;
    use crate::control::command::{Ack, CommandView};
    use crate::control::command_store::{self, CommandRecord};
    use crate::control::particle::{CallOutcome, ParticleApi};
    use crate::db::Db;
    use crate::devices::model::DeviceId;
    use crate::devices::store::{states, DeviceState};
    use crate::error::AppError;

    pub fn zone(name: &str) -> Tz {
        name.parse().unwrap_or(chrono_tz::UTC)
    }

    fn local(t: DateTime<Utc>, tz: Tz) -> String {
        t.with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }

    pub fn view(r: &CommandRecord, tz: Tz) -> Result<CommandView, AppError> {
        let command = r.command()?;
        Ok(CommandView {
            id: r.id.max(0) as u64,
            kind: command.kind().into(),
            percent: command.percent(),
            what: command.to_string(),
            state: r.state()?,
            created: local(r.created_at, tz),
            created_by: r.created_by.clone(),
            expires: local(r.expires_at, tz),
            delivered: r.delivered_at.map(|t| local(t, tz)),
            finished: r.finished_at.map(|t| local(t, tz)),
            note: r.note.clone(),
        })
    }

    /// The device a command goes to: in the caller's scope (404 otherwise, as for unknown
    /// ids) and not decommissioned (422, so the reason shows).
    pub async fn device_for_command(id: &str) -> Result<(Db, Caller, DeviceState), AppError> {
        let caller = caller()?;
        caller.require(Right::Control)?;
        let id = DeviceId::parse(id).map_err(|_| AppError::not_found("device"))?;
        let db = crate::db::db()?;
        let device = states(&db, std::slice::from_ref(&id))
            .await?
            .into_iter()
            .next()
            .filter(|s| caller.scope.contains(&s.owner))
            .ok_or(AppError::not_found("device"))?;
        if device.decommissioned {
            return Err(AppError::Unprocessable {
                code: "device_decommissioned",
                message: format!("{id} is decommissioned and takes no commands"),
            });
        }
        Ok((db, caller, device))
    }

    /// With Particle's API configured, hands a command for a Particle device to Particle's
    /// function call at once, in the background; the outcome lands on the command (acked or
    /// failed when the device ran it, a note when it could not be reached).
    pub fn call_particle(
        db: &Db,
        cache: &Arc<ControlCache>,
        device: &DeviceId,
        record: &CommandRecord,
    ) {
        let Some(api) = use_context::<Arc<ParticleApi>>() else {
            return;
        };
        // Particle ids are 24 hex digits (DeviceId keeps them lower-case).
        let id_text = device.as_str();
        let is_particle = id_text.len() == 24 && id_text.bytes().all(|b| b.is_ascii_hexdigit());
        let Ok(command) = record.command() else {
            return;
        };
        if !is_particle {
            return;
        }
        let (db, cache, device) = (db.clone(), cache.clone(), device.clone());
        let id = record.id.max(0) as u64;
        // In line now, in the order the commands were sent; the turn ends when this task does.
        let mut turn = api.turn(device.as_str());
        tokio::spawn(async move {
            turn.wait().await;
            let outcome = api.call(device.as_str(), &command.particle_arg(id)).await;
            let now = Utc::now();
            let result = match outcome {
                CallOutcome::Returned(value) => {
                    // The note first: the ack keeps it (a failure's reason replaces it).
                    let ran = format!("ran through Particle's function call (returned {value})");
                    let ack = Ack {
                        id,
                        ok: value >= 0,
                        error: (value < 0)
                            .then(|| format!("the device's command function returned {value}")),
                    };
                    match command_store::note(&db, id, ran).await {
                        Ok(()) => cache
                            .ack(&db, &device, vec![(0, ack)], now)
                            .await
                            .map(|_| ()),
                        Err(e) => Err(e),
                    }
                }
                CallOutcome::NotDelivered(why) => {
                    command_store::note(
                        &db,
                        id,
                        format!("{why}; it waits for the device's next post"),
                    )
                    .await
                }
            };
            if let Err(e) = result {
                tracing::warn!(command = id, error = %e, "recording a Particle call failed");
            }
            // Recorded: the device's next command may go.
            drop(turn);
        });
    }
}
