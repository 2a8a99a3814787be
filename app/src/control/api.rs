//! Server functions for schedules: read one device's schedule with its sync state, and
//! save a new version. Anyone with the `control` right may do both for the devices of
//! their scope (DESIGN.md §5: admins anywhere, dealers and partners in their subtree,
//! customers their own devices); reading needs only `read`.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use super::schedule::{SyncState, WindowSpec};
use crate::error::AppError;

/// A device's schedule as the editor and partners see it. Times are in the device's zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub device: String,
    pub name: String,
    pub timezone: String,
    /// The desired version: 0 until a schedule is first saved.
    pub version: u64,
    pub windows: Vec<WindowSpec>,
    /// "2026-11-23 06:05 MST".
    pub updated: Option<String>,
    pub updated_by: Option<String>,
    /// The version the device last reported running, and when.
    pub reported: Option<u64>,
    pub reported_at: Option<String>,
    /// The desired version's hash (what a fetch gives), and the one the device reported.
    pub hash: Option<String>,
    pub reported_hash: Option<String>,
    pub sync: SyncState,
    /// The next runs in local time ("Tue 24 Nov 06:00 → 10:00, run"), at most 5.
    pub next_runs: Vec<String>,
    /// Whether the caller may change it.
    pub editable: bool,
}

/// One device's schedule. Unknown ids and devices outside the caller's scope are a 404.
#[server(endpoint = "schedule")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn get_schedule(id: String) -> Result<ScheduleView, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::Right;
            let (db, caller, device) = ssr::device_in_scope(&id, Right::Read).await?;
            let record = super::store::load_cached(&db, &ssr::id(&device)?).await?;
            ssr::view(
                &device,
                record,
                caller.may(Right::Control),
                chrono::Utc::now(),
            )
        }
        .await,
    )
}

/// Saves `windows` as the device's next schedule version and answers with the result.
/// `base` is the version the change started from: when given and no longer current, the
/// save is refused (409) rather than overwrite someone else's change. `timezone`, when a
/// partner names the zone its windows are written in, must be the device's: windows read
/// in another zone would run at other hours, so a mismatch or an unknown zone is refused
/// (422) rather than ignored; the zone itself is changed under Manage.
#[server(endpoint = "schedule_save", input = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn save_schedule(
    id: String,
    windows: Vec<WindowSpec>,
    #[server(default)] base: Option<u64>,
    #[server(default)] timezone: Option<String>,
) -> Result<ScheduleView, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::Right;
            let (db, caller, device) = ssr::device_in_scope(&id, Right::Control).await?;
            if let Some(zone) = timezone.as_deref().map(str::trim) {
                let zone: chrono_tz::Tz = zone
                    .parse()
                    .map_err(|_| AppError::validation(format!("unknown timezone {zone:?}")))?;
                if zone.name() != device.timezone {
                    return Err(AppError::validation(format!(
                        "the windows are local times of the device's timezone, {}, not {}; \
                         change the device's timezone first",
                        device.timezone,
                        zone.name()
                    )));
                }
            }
            let schedule = super::schedule::Schedule::parse(&windows)
                .map_err(|e| AppError::validation(format!("window {}: {}", e.window, e.message)))?;
            let device_id = ssr::id(&device)?;
            let now = chrono::Utc::now();
            ssr::store(&db, &caller, &device, base, &schedule, "", now).await?;
            let record = super::store::load(&db, &device_id).await?;
            ssr::view(&device, record, true, now)
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::{DateTime, Duration, Utc};
    use chrono_tz::Tz;

    use crate::accounts::caller::Caller;
    use crate::control::schedule::Schedule;
    use crate::db::Db;

    use super::ScheduleView;
    use crate::control::runs::runs;
    use crate::control::schedule::{Action, SyncState};
    use crate::control::store::ScheduleRecord;
    use crate::devices::model::DeviceId;
    use crate::devices::store::DeviceState;
    use crate::error::AppError;

    pub use crate::devices::manage::ssr::in_scope as device_in_scope;

    pub fn id(device: &DeviceState) -> Result<DeviceId, AppError> {
        DeviceId::parse(&device.id)
    }

    /// Stores `schedule` as the device's next version with its event (see `store::save`)
    /// and tells the control cache, so the device hears of it at its next post; `why` is
    /// added to the event's message. Returns the new version.
    pub async fn store(
        db: &Db,
        caller: &Caller,
        device: &DeviceState,
        base: Option<u64>,
        schedule: &Schedule,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, AppError> {
        let device_id = id(device)?;
        let by = if caller.email.is_empty() {
            caller.actor.clone()
        } else {
            caller.email.clone()
        };
        let summary = match schedule.windows.len() {
            0 => "no windows (never runs by schedule)".to_string(),
            _ => schedule
                .windows
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        };
        let event = |version| {
            crate::audit::store::DeviceChange {
                device: device.id.clone(),
                org: device.owner.clone(),
                kind: "schedule_changed",
                message: format!(
                    "schedule version {version} ({}): {summary}{why}",
                    device.timezone
                ),
            }
            .by(caller, now)
        };
        let version =
            crate::control::store::save(db, &device_id, base, schedule, &by, now, event).await?;
        if let Some(cache) =
            leptos::prelude::use_context::<std::sync::Arc<crate::control::cache::ControlCache>>()
        {
            cache.saved(&device_id, version, crate::control::store::hash(schedule));
        }
        Ok(version)
    }

    /// A device's timezone changed: its schedule's local windows now fall at other
    /// instants, and the device holds the old zone's UTC offsets. The same windows go out
    /// again as the next version, so the device fetches them with the new offsets at its
    /// next post and the page shows "pending" until it reports them.
    pub async fn timezone_changed(
        db: &Db,
        caller: &Caller,
        device: &DeviceState,
    ) -> Result<(), AppError> {
        let Some(record) = crate::control::store::load(db, &id(device)?).await? else {
            return Ok(());
        };
        if record.version <= 0 {
            return Ok(());
        }
        let why = "; sent again for the new timezone";
        let base = Some(record.version as u64);
        store(
            db,
            caller,
            device,
            base,
            &record.schedule(),
            why,
            Utc::now(),
        )
        .await?;
        Ok(())
    }

    fn local(t: DateTime<Utc>, tz: Tz) -> String {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    pub fn view(
        device: &DeviceState,
        record: Option<ScheduleRecord>,
        editable: bool,
        now: DateTime<Utc>,
    ) -> Result<ScheduleView, AppError> {
        let tz: Tz = device.timezone.parse().unwrap_or(chrono_tz::UTC);
        let schedule = record
            .as_ref()
            .map(ScheduleRecord::schedule)
            .unwrap_or_default();
        let version = record.as_ref().map_or(0, |r| r.version.max(0) as u64);
        let reported = record
            .as_ref()
            .and_then(|r| r.reported)
            .map(|r| r.max(0) as u64);
        let updated = record
            .as_ref()
            .and_then(|r| r.updated_at)
            .map(|t| local(t, tz));
        let hash = record
            .as_ref()
            .filter(|r| r.version > 0)
            .map(ScheduleRecord::desired_hash);
        let reported_hash = record.as_ref().and_then(|r| r.reported_hash.clone());
        let next_runs = runs(&schedule, tz, now, now + Duration::days(8))
            .into_iter()
            .filter(|r| r.end > now)
            .take(5)
            .map(|r| {
                let what = match r.action {
                    Action::Run => "run".to_string(),
                    Action::Setpoint { setpoint } => format!("at {setpoint} %"),
                };
                format!(
                    "{} → {}, {what}",
                    r.start.with_timezone(&tz).format("%a %d %b %H:%M"),
                    r.end.with_timezone(&tz).format("%a %H:%M"),
                )
            })
            .collect();
        Ok(ScheduleView {
            device: device.id.clone(),
            name: device.name.clone(),
            timezone: device.timezone.clone(),
            version,
            windows: schedule.specs(),
            sync: SyncState::checked(
                version,
                reported,
                updated.clone(),
                hash.as_deref(),
                reported_hash.as_deref(),
            ),
            hash,
            reported_hash,
            updated,
            updated_by: record.as_ref().and_then(|r| r.updated_by.clone()),
            reported,
            reported_at: record
                .as_ref()
                .and_then(|r| r.reported_at)
                .map(|t| local(t, tz)),
            next_runs,
            editable,
        })
    }
}
