//! SurrealQL for devices and their latest status. Server-only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::model::{
    Connectivity, DeviceDetail, DeviceId, FleetList, FleetRow, LatestStatus, Location,
};
use crate::db::{internal, Db};
use crate::error::Result;
use crate::ui::format::ago;

#[derive(Debug, SurrealValue)]
struct FleetDevice {
    id: String,
    name: String,
    model: String,
    owner: Option<String>,
    offline_timeout_s: i64,
}

/// The latest-status row as stored.
#[derive(Debug, Clone, SurrealValue)]
pub struct StatusRecord {
    pub id: RecordId,
    /// Time of the newest reading.
    pub last_seen: DateTime<Utc>,
    /// When the server last received anything from the device (offline detection).
    pub last_heard: Option<DateTime<Utc>>,
    pub online: bool,
    pub fault_code: Option<i64>,
    pub solar_w: f64,
    pub grid_w: f64,
    pub load_w: f64,
    pub motor_rpm: i64,
    pub motor_on: bool,
    pub dc_bus_v: f64,
    pub temperature_c: f64,
}

impl StatusRecord {
    /// The latest-status row for `reading`, last heard from at `heard`.
    pub fn from_reading(
        device: &DeviceId,
        reading: &crate::telemetry::model::Status,
        heard: DateTime<Utc>,
        online: bool,
    ) -> Self {
        StatusRecord {
            id: status_record(device),
            last_seen: reading.time,
            last_heard: Some(heard),
            online,
            fault_code: reading.fault_code,
            solar_w: reading.solar_w,
            grid_w: reading.grid_w,
            load_w: reading.load_w,
            motor_rpm: reading.motor_rpm,
            motor_on: reading.motor_on,
            dc_bus_v: reading.dc_bus_v,
            temperature_c: reading.temperature_c,
        }
    }
}

/// A device as written at registration (the demo seed uses it; the registration UI will).
#[derive(Debug, Clone, SurrealValue)]
pub struct NewDevice {
    pub id: RecordId,
    pub name: String,
    pub model: String,
    pub firmware: String,
    pub owner: RecordId,
    pub dealer: Option<RecordId>,
    pub location: Option<NewLocation>,
    pub timezone: String,
    pub installed_at: Option<DateTime<Utc>>,
    pub offline_timeout_s: i64,
    /// sha-256 (hex) of the ingest token; the token itself is shown once, never stored.
    pub token_hash: Option<String>,
}

#[derive(Debug, Clone, SurrealValue)]
pub struct NewLocation {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub set_by: Option<String>,
    pub set_at: Option<DateTime<Utc>>,
}

/// What ingest needs to know about a device.
#[derive(Debug, Clone, SurrealValue)]
pub struct DeviceMeta {
    pub id: String,
    pub timezone: String,
    pub owner: Option<RecordId>,
    pub token_hash: Option<String>,
    pub offline_timeout_s: i64,
    pub decommissioned: bool,
}

/// The ingest view of the given devices; unknown ids are absent from the result.
pub async fn device_meta(db: &Db, ids: &[DeviceId]) -> Result<Vec<DeviceMeta>> {
    let records: Vec<RecordId> = ids.iter().map(device_record).collect();
    let mut response = db
        .query(
            "SELECT record::id(id) AS id, timezone, owner, token_hash, offline_timeout_s,
                    decommissioned_at IS NOT NONE AS decommissioned
             FROM $ids",
        )
        .bind(("ids", records))
        .await
        .and_then(|r| r.check())
        .map_err(internal("device meta"))?;
    response.take(0).map_err(internal("device meta"))
}

/// Sets (or replaces) a device's ingest token hash.
pub async fn set_token_hash(db: &Db, id: &DeviceId, hash: &str) -> Result<()> {
    db.query("UPDATE $id SET token_hash = $hash RETURN NONE")
        .bind(("id", device_record(id)))
        .bind(("hash", hash.to_string()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("set device token"))?;
    Ok(())
}

/// Whether the device exists and its owner is in `scope` (`None`: all orgs).
pub async fn in_scope(db: &Db, scope: Option<&[RecordId]>, id: &DeviceId) -> Result<bool> {
    let mut response = db
        .query("SELECT VALUE owner FROM ONLY $device")
        .bind(("device", device_record(id)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("device owner"))?;
    let owner: Option<RecordId> = response.take(0).map_err(internal("device owner"))?;
    Ok(owner.is_some_and(|o| scope.is_none_or(|orgs| orgs.contains(&o))))
}

/// Ids of the devices (decommissioned ones too: their history stays theirs) owned by `orgs`.
pub async fn ids_in(db: &Db, orgs: &[RecordId]) -> Result<Vec<String>> {
    let mut response = db
        .query("SELECT VALUE record::id(id) FROM device WHERE owner IN $orgs")
        .bind(("orgs", orgs.to_vec()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("devices in scope"))?;
    response.take(0).map_err(internal("devices in scope"))
}

pub fn device_record(id: &DeviceId) -> RecordId {
    RecordId::new("device", id.as_str())
}

pub fn status_record(id: &DeviceId) -> RecordId {
    RecordId::new("device_status", id.as_str())
}

/// Registers devices in one statement; ids that already exist are left alone.
pub async fn insert_devices(db: &Db, devices: Vec<NewDevice>) -> Result<()> {
    db.query("INSERT IGNORE INTO device $rows RETURN NONE")
        .bind(("rows", devices))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert devices"))?;
    Ok(())
}

/// Writes latest-status rows, replacing older ones.
pub async fn upsert_statuses(db: &Db, statuses: Vec<StatusRecord>) -> Result<()> {
    db.query(
        "INSERT INTO device_status $rows ON DUPLICATE KEY UPDATE
            last_seen = $input.last_seen, last_heard = $input.last_heard, online = $input.online,
            fault_code = $input.fault_code, solar_w = $input.solar_w,
            grid_w = $input.grid_w, load_w = $input.load_w, motor_rpm = $input.motor_rpm,
            motor_on = $input.motor_on, dc_bus_v = $input.dc_bus_v,
            temperature_c = $input.temperature_c
         RETURN NONE",
    )
    .bind(("rows", statuses))
    .await
    .and_then(|r| r.check())
    .map_err(internal("upsert device status"))?;
    Ok(())
}

/// The most recent reading time of any device, if any device ever reported.
pub async fn latest_seen(db: &Db) -> Result<Option<DateTime<Utc>>> {
    let mut response = db
        .query("SELECT VALUE last_seen FROM device_status ORDER BY last_seen DESC LIMIT 1")
        .await
        .and_then(|r| r.check())
        .map_err(internal("latest seen"))?;
    let latest: Vec<DateTime<Utc>> = response.take(0).map_err(internal("latest seen"))?;
    Ok(latest.into_iter().next())
}

fn connectivity(status: Option<&StatusRecord>, timeout_s: i64, now: DateTime<Utc>) -> Connectivity {
    match status {
        None => Connectivity::NeverSeen,
        // Contact, not reading time, decides: a device sending its backlog is online.
        Some(s)
            if s.online
                && (now - s.last_heard.unwrap_or(s.last_seen)).num_seconds() <= timeout_s =>
        {
            Connectivity::Online
        }
        Some(_) => Connectivity::Offline,
    }
}

/// The live fleet (decommissioned devices excluded) of the orgs in `scope` (`None`: all
/// orgs), filtered by `query` over name, id, owner, model and firmware, case-insensitively.
#[tracing::instrument(skip(db, scope))]
pub async fn fleet(
    db: &Db,
    scope: Option<Vec<RecordId>>,
    query: &str,
    now: DateTime<Utc>,
) -> Result<FleetList> {
    let mut response = db
        .query(
            "SELECT record::id(id) AS id, name, model, owner.name AS owner, offline_timeout_s
             FROM device
             WHERE decommissioned_at IS NONE AND ($all OR owner IN $orgs) AND (
                $q = ''
                OR string::lowercase(name) CONTAINS $q
                OR string::lowercase(record::id(id)) CONTAINS $q
                OR string::lowercase(owner.name ?? '') CONTAINS $q
                OR string::lowercase(model) CONTAINS $q
                OR string::lowercase(firmware) CONTAINS $q
             )
             ORDER BY name",
        )
        .query("SELECT * FROM device_status")
        .query(
            "SELECT VALUE count() FROM device
             WHERE decommissioned_at IS NONE AND ($all OR owner IN $orgs) GROUP ALL",
        )
        .bind(("q", query.to_lowercase()))
        .bind(("all", scope.is_none()))
        .bind(("orgs", scope.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("fleet query"))?;
    let devices: Vec<FleetDevice> = response.take(0).map_err(internal("fleet rows"))?;
    let statuses: Vec<StatusRecord> = response.take(1).map_err(internal("fleet status"))?;
    let total: Vec<i64> = response.take(2).map_err(internal("fleet count"))?;
    let statuses: HashMap<String, StatusRecord> = statuses
        .into_iter()
        .filter_map(|s| key_of(&s.id).map(|k| (k, s)))
        .collect();
    let rows = devices
        .into_iter()
        .filter_map(|d| {
            // A row whose id no longer parses is skipped (and logged), not fatal to the page.
            let id = DeviceId::parse(&d.id)
                .inspect_err(|_| tracing::warn!(id = %d.id, "device with an invalid id"))
                .ok()?;
            let status = statuses.get(&d.id);
            Some(FleetRow {
                connectivity: connectivity(status, d.offline_timeout_s, now),
                fault_code: status.and_then(|s| s.fault_code),
                last_seen_ago: status.map(|s| ago((now - s.last_seen).num_seconds())),
                solar_w: status.map(|s| s.solar_w),
                grid_w: status.map(|s| s.grid_w),
                id,
                name: d.name,
                owner: d.owner.unwrap_or_default(),
                model: d.model,
            })
        })
        .collect();
    Ok(FleetList {
        rows,
        total: total.first().copied().unwrap_or(0).max(0) as u64,
    })
}

#[derive(Debug, SurrealValue)]
struct DeviceRecord {
    name: String,
    model: String,
    firmware: String,
    owner: Option<String>,
    dealer: Option<String>,
    timezone: String,
    lat: Option<f64>,
    lon: Option<f64>,
    installed_at: Option<DateTime<Utc>>,
    offline_timeout_s: i64,
    owner_id: RecordId,
}

/// One device with its latest status, or `None` when no such device exists or its owner
/// is outside `scope` (`None`: all orgs) — the same answer, so ids cannot be probed.
#[tracing::instrument(skip(db, scope))]
pub async fn device(
    db: &Db,
    scope: Option<&[RecordId]>,
    id: &DeviceId,
    now: DateTime<Utc>,
) -> Result<Option<DeviceDetail>> {
    let mut response = db
        .query(
            "SELECT name, model, firmware, owner.name AS owner, dealer.name AS dealer, timezone,
                    location.lat AS lat, location.lon AS lon, installed_at, offline_timeout_s,
                    owner AS owner_id
             FROM ONLY $device",
        )
        .query("SELECT * FROM ONLY $status")
        .bind(("device", device_record(id)))
        .bind(("status", status_record(id)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("device query"))?;
    let Some(d): Option<DeviceRecord> = response.take(0).map_err(internal("device row"))? else {
        return Ok(None);
    };
    if scope.is_some_and(|orgs| !orgs.contains(&d.owner_id)) {
        return Ok(None);
    }
    let status: Option<StatusRecord> = response.take(1).map_err(internal("device status"))?;
    let tz: chrono_tz::Tz = d.timezone.parse().unwrap_or(chrono_tz::UTC);
    let latest = status.as_ref().map(|s| LatestStatus {
        at_local: s
            .last_seen
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        ago: ago((now - s.last_seen).num_seconds()),
        solar_w: s.solar_w,
        grid_w: s.grid_w,
        load_w: s.load_w,
        motor_on: s.motor_on,
        motor_rpm: s.motor_rpm,
        dc_bus_v: s.dc_bus_v,
        temperature_c: s.temperature_c,
        fault_code: s.fault_code,
    });
    Ok(Some(DeviceDetail {
        id: id.clone(),
        connectivity: connectivity(status.as_ref(), d.offline_timeout_s, now),
        installed_on: d
            .installed_at
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string()),
        location: d.lat.zip(d.lon).map(|(lat, lon)| Location { lat, lon }),
        name: d.name,
        model: d.model,
        firmware: d.firmware,
        owner: d.owner.unwrap_or_default(),
        dealer: d.dealer,
        timezone: d.timezone,
        offline_timeout_min: d.offline_timeout_s / 60,
        latest,
    }))
}

fn key_of(id: &RecordId) -> Option<String> {
    match &id.key {
        surrealdb::types::RecordIdKey::String(s) => Some(s.clone()),
        _ => None,
    }
}
