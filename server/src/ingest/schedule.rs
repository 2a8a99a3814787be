//! `GET /ingest/v1/devices/{id}/schedule` with the device token: the schedule a device
//! should run, which its ingest answers told it to fetch.
//!
//! Rules, not a year of instants: the windows in local time plus the UTC offset changes of
//! the next 12 months (`utc_offsets`, good until `offsets_until`; ingest answers ask for a
//! fetch again well before then, see `control::cache::REFETCH_AFTER`). A year of instants
//! would be hundreds of entries — more than a controller keeps or Particle carries in a few
//! 512-byte chunks — while
//! windows and two or three offset changes fit in one small answer, and the device needs
//! no timezone database. Local times that happen twice or never (the DST hours) follow
//! `dst_rule`, the rule the server itself uses; `next_runs` gives the next day's runs as
//! UTC instants, already resolved, for devices that would rather not compute at all.
//! `hash` (see `control::store::hash`) is what the device reports as `schedule_hash`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::json;

use sunfleet_app::control::runs::{offset_changes, runs};
use sunfleet_app::control::schedule::Action;
use sunfleet_app::control::store;

use super::{device_by_token, error_response};
use crate::http::AppState;

pub const DST_RULE: &str = "a local time that occurs twice means its first occurrence; \
                            one that does not occur starts when the clocks jump";

pub async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let device = match device_by_token(&state, &id, &headers).await {
        Ok(d) => d,
        Err(e) => return error_response(e, Vec::new()),
    };
    let record = match store::load(&state.db, &device.id).await {
        Ok(r) => r,
        Err(e) => return error_response(e, Vec::new()),
    };
    let schedule = record
        .as_ref()
        .map(store::ScheduleRecord::schedule)
        .unwrap_or_default();
    let version = record.as_ref().map_or(0, |r| r.version.max(0));
    let windows = store::windows_json(&schedule);
    // The zone as stored now, not as cached for ingest: a new zone sends the schedule
    // again (`timezone_changed`), and its fetch must carry the new zone's offsets.
    let tz = match sunfleet_app::devices::store::device_meta(
        &state.db,
        std::slice::from_ref(&device.id),
    )
    .await
    {
        Ok(meta) => meta
            .first()
            .and_then(|m| m.timezone.parse::<chrono_tz::Tz>().ok())
            .unwrap_or(device.tz),
        Err(e) => return error_response(e, Vec::new()),
    };
    let now = Utc::now();
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let until = now + Duration::days(365);
    let offsets: Vec<_> = offset_changes(tz, now, until)
        .into_iter()
        .map(|(from, minutes)| json!({ "from": time(from), "offset_min": minutes }))
        .collect();
    let next_runs: Vec<_> = runs(&schedule, tz, now, now + Duration::days(1))
        .into_iter()
        .map(|r| {
            let setpoint = match r.action {
                Action::Run => 100,
                Action::Setpoint { setpoint } => setpoint,
            };
            json!({ "start": time(r.start), "end": time(r.end), "setpoint": setpoint })
        })
        .collect();
    if version > 0 {
        // Its offsets now run a year from here; the device is told to fetch again before
        // they run out. Not recorded is no reason to withhold the schedule: the device
        // is merely told again.
        let version = version as u64;
        match store::fetched(&state.db, &device.id, version, now).await {
            Ok(()) => state.control.fetched(&device.id, version, now),
            Err(e) => {
                tracing::warn!(device = %device.id, error = %e, "schedule fetch not recorded")
            }
        }
    }
    axum::Json(json!({
        "device": device.id.as_str(),
        "version": version,
        "timezone": tz.name(),
        // Reported back with `schedule_version`: the same windows under another hash
        // mean they were changed on the device (drifted).
        "hash": store::hash(&schedule),
        "windows": windows,
        "utc_offsets": offsets,
        "offsets_until": time(until),
        "dst_rule": DST_RULE,
        "next_runs": next_runs,
    }))
    .into_response()
}
