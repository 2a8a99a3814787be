//! Copying one device's schedule to many: the targets are chosen by a Fleet filter (search,
//! an org with its customers, status, model, firmware) or by a list of ids, previewed (what changes, what is
//! already the same), then copied — each target gets a new version and an event, and
//! learns of it at its next post. Needs the `control` right; targets outside the scope are
//! never matched (a listed one is a 404).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One device the copy would change (or leave alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyTarget {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub timezone: String,
    /// Its version now (0: no schedule yet).
    pub version: u64,
    /// Its windows now, as text ("no windows" when empty).
    pub before: String,
    /// It already runs exactly these windows: left alone.
    pub unchanged: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyPreview {
    pub source: String,
    /// The windows that would be copied, as text.
    pub windows: String,
    pub targets: Vec<CopyTarget>,
    /// Targets that would change.
    pub changes: usize,
}

/// Devices one copy may reach at most.
pub const MAX_TARGETS: usize = 1_000;

/// What copying `id`'s schedule to the devices matching `filter` (a Fleet query string) or
/// listed in `ids` (comma- or space-separated; wins over the filter) would change.
#[server(endpoint = "schedule_copy_preview")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn preview_copy(
    id: String,
    #[server(default)] filter: String,
    #[server(default)] ids: String,
) -> Result<CopyPreview, AppError> {
    crate::error::respond(ssr::preview(&id, &filter, &ids).await)
}

/// Copies `id`'s schedule to the targets a preview showed. `expect` is the preview's number
/// of changes: when the targets changed since (a device added, a schedule saved), nothing
/// is copied and the answer is a 409 asking for a new preview. Returns how many changed.
#[server(endpoint = "schedule_copy")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn copy_schedule(
    id: String,
    #[server(default)] filter: String,
    #[server(default)] ids: String,
    expect: usize,
) -> Result<usize, AppError> {
    crate::error::respond(
        async {
            use crate::audit::store::DeviceChange;
            let (preview, plan) = ssr::plan(&id, &filter, &ids).await?;
            if preview.changes != expect {
                return Err(AppError::Conflict {
                    message: format!(
                        "the copy would now change {} devices, not {expect}: preview it again",
                        preview.changes
                    ),
                });
            }
            let now = chrono::Utc::now();
            let cache = use_context::<std::sync::Arc<super::cache::ControlCache>>();
            let mut n = 0;
            for (target, device_id, owner) in plan.targets {
                let event = |version| {
                    DeviceChange {
                        device: target.id.clone(),
                        org: owner,
                        kind: "schedule_changed",
                        message: format!(
                            "schedule version {version} ({}), copied from {}: {}",
                            target.timezone, preview.source, preview.windows
                        ),
                    }
                    .by(&plan.caller, now)
                };
                // Guarded by the version previewed: a save in between is a 409 for that one.
                let version = super::store::save(
                    &plan.db,
                    &device_id,
                    Some(target.version),
                    &plan.schedule,
                    &plan.by,
                    now,
                    event,
                )
                .await?;
                if let Some(cache) = &cache {
                    cache.saved(&device_id, version, super::store::hash(&plan.schedule));
                }
                n += 1;
            }
            Ok(n)
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
mod ssr {
    use surrealdb::types::RecordId;

    use super::{CopyPreview, CopyTarget, MAX_TARGETS};
    use crate::accounts::caller::{Caller, Right};
    use crate::control::schedule::Schedule;
    use crate::db::Db;
    use crate::devices::filter::FleetFilter;
    use crate::devices::model::DeviceId;
    use crate::error::AppError;

    /// What a copy needs to run: the targets that change, with their ids and owners.
    pub struct Plan {
        pub db: Db,
        pub caller: Caller,
        pub by: String,
        pub schedule: Schedule,
        pub targets: Vec<(CopyTarget, DeviceId, RecordId)>,
    }

    pub async fn preview(id: &str, filter: &str, ids: &str) -> Result<CopyPreview, AppError> {
        plan(id, filter, ids).await.map(|(preview, _)| preview)
    }

    fn text(schedule: &Schedule) -> String {
        if schedule.windows.is_empty() {
            return "no windows".into();
        }
        schedule
            .windows
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn plan(id: &str, filter: &str, ids: &str) -> Result<(CopyPreview, Plan), AppError> {
        let (db, caller, source) =
            crate::devices::manage::ssr::in_scope(id, Right::Control).await?;
        let source_id = DeviceId::parse(&source.id)?;
        let schedule = crate::control::store::load(&db, &source_id)
            .await?
            .map(|r| r.schedule())
            .ok_or_else(|| {
                AppError::validation(format!("{} has no schedule to copy yet", source.id))
            })?;
        // The targets: listed ids (each must be a live device of the scope), or the filter.
        let listed: Vec<&str> = ids
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        let mut targets: Vec<DeviceId> = if listed.is_empty() {
            let mut filter = FleetFilter::parse_query(filter)?;
            if !filter.narrows() {
                return Err(AppError::validation(
                    "choose the devices: list their ids, or filter by organisation, search text, status, model or firmware",
                ));
            }
            // An organisation means its devices and its customers' (a dealer's, say).
            let mut scope = caller.scope.orgs();
            if let Some(org) = filter.org.take() {
                scope = Some(caller.org_subtree(&db, &org).await?);
            }
            let snapshot = crate::devices::snapshot::snapshot(&db).await?;
            snapshot
                .rows(scope.as_deref(), &filter, chrono::Utc::now())
                .into_iter()
                .map(|r| r.id)
                .collect()
        } else {
            let mut parsed = Vec::new();
            for raw in listed {
                let (_, _, device) =
                    crate::devices::manage::ssr::in_scope(raw, Right::Control).await?;
                parsed.push(DeviceId::parse(&device.id)?);
            }
            parsed
        };
        targets.retain(|t| *t != source_id);
        targets.sort();
        targets.dedup();
        if targets.is_empty() {
            return Err(AppError::validation(
                "no other device matches: nothing to copy to",
            ));
        }
        if targets.len() > MAX_TARGETS {
            return Err(AppError::validation(format!(
                "{} devices match; copy to at most {MAX_TARGETS} at once (narrow the filter)",
                targets.len()
            )));
        }
        let states = crate::devices::store::states(&db, &targets).await?;
        let mut rows = Vec::new();
        let mut plan_targets = Vec::new();
        for state in states {
            let device_id = DeviceId::parse(&state.id)?;
            let current = crate::control::store::load(&db, &device_id).await?;
            let now_schedule = current.as_ref().map(|r| r.schedule()).unwrap_or_default();
            let target = CopyTarget {
                id: state.id.clone(),
                name: state.name.clone(),
                owner: crate::db::key_string(&state.owner),
                timezone: state.timezone.clone(),
                version: current.as_ref().map_or(0, |r| r.version.max(0) as u64),
                before: text(&now_schedule),
                unchanged: current.is_some() && now_schedule == schedule,
            };
            if !target.unchanged {
                plan_targets.push((target.clone(), device_id, state.owner.clone()));
            }
            rows.push(target);
        }
        let preview = CopyPreview {
            source: source.id.clone(),
            windows: text(&schedule),
            changes: plan_targets.len(),
            targets: rows,
        };
        let by = if caller.email.is_empty() {
            caller.actor.clone()
        } else {
            caller.email.clone()
        };
        Ok((
            preview,
            Plan {
                db,
                caller,
                by,
                schedule,
                targets: plan_targets,
            },
        ))
    }
}
