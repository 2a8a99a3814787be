//! SurrealQL for devices and their latest status. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::model::DeviceId;
use crate::db::{internal, Db};
use crate::error::Result;

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
    /// "map", "typed", "geolocation" or "import".
    pub source: Option<String>,
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

/// A device's editable state, as the importer and the edit forms compare it.
#[derive(Debug, Clone, SurrealValue)]
pub struct DeviceState {
    pub id: String,
    pub name: String,
    pub model: String,
    pub firmware: String,
    pub owner: RecordId,
    pub timezone: String,
    pub location: Option<NewLocation>,
    pub offline_timeout_s: i64,
    pub decommissioned: bool,
}

/// The current state of the given devices (decommissioned ones too); unknown ids absent.
pub async fn states(db: &Db, ids: &[DeviceId]) -> Result<Vec<DeviceState>> {
    let records: Vec<RecordId> = ids.iter().map(device_record).collect();
    let mut response = db
        .query(
            "SELECT record::id(id) AS id, name, model, firmware, owner, timezone, location,
                    offline_timeout_s, decommissioned_at IS NOT NONE AS decommissioned
             FROM $ids",
        )
        .bind(("ids", records))
        .await
        .and_then(|r| r.check())
        .map_err(internal("device states"))?;
    response.take(0).map_err(internal("device states"))
}

/// The nearest dealer org among `owner` and its ancestors: who installed a device it owns.
pub async fn dealer_of(db: &Db, owner: &RecordId) -> Result<Option<RecordId>> {
    let mut response = db
        .query(
            "LET $o = (SELECT ancestors FROM ONLY $owner);
             RETURN SELECT VALUE id FROM array::concat($o.ancestors ?? [], [$owner])
                WHERE kind = 'dealer'",
        )
        .bind(("owner", owner.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("device dealer"))?;
    let dealers: Vec<RecordId> = response.take(1).map_err(internal("device dealer"))?;
    Ok(dealers.into_iter().last())
}

/// Registers one device; `false` when the id is already taken (by a live or a
/// decommissioned device: ids are never reused, their history stays theirs).
pub async fn register(db: &Db, device: NewDevice) -> Result<bool> {
    let mut response = db
        .query(
            "IF record::exists($row.id) { false } ELSE {
                CREATE $row.id CONTENT $row RETURN NONE;
                true
             }",
        )
        .bind(("row", device))
        .await
        .and_then(|r| r.check())
        .map_err(internal("register device"))?;
    let created: Option<bool> = response.take(0).map_err(internal("register device"))?;
    Ok(created.unwrap_or(false))
}

/// Writes a device's editable state (registration-time fields stay).
pub async fn update_states(db: &Db, states: Vec<DeviceState>) -> Result<()> {
    db.query(
        "FOR $s IN $rows {
            UPDATE type::record('device', $s.id) SET name = $s.name, model = $s.model,
                firmware = $s.firmware, owner = $s.owner, timezone = $s.timezone,
                location = $s.location, offline_timeout_s = $s.offline_timeout_s
            RETURN NONE;
         };",
    )
    .bind(("rows", states))
    .await
    .and_then(|r| r.check())
    .map_err(internal("update devices"))?;
    Ok(())
}

/// Hides a device from the live fleet for good; its telemetry, rollups and events stay, and
/// its ingest token stops working.
pub async fn decommission(db: &Db, id: &DeviceId, at: DateTime<Utc>) -> Result<()> {
    db.query(
        "UPDATE $id SET decommissioned_at = $at, token_hash = NONE RETURN NONE;
         UPDATE $status SET online = false RETURN NONE;",
    )
    .bind(("id", device_record(id)))
    .bind(("status", status_record(id)))
    .bind(("at", at))
    .await
    .and_then(|r| r.check())
    .map_err(internal("decommission device"))?;
    Ok(())
}

/// The org that owns a live device, if the device exists and is not decommissioned.
pub async fn live_owner(db: &Db, id: &DeviceId) -> Result<Option<RecordId>> {
    let mut response = db
        .query("RETURN (SELECT VALUE owner FROM $id WHERE decommissioned_at IS NONE)[0]")
        .bind(("id", device_record(id)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("device owner"))?;
    response.take(0).map_err(internal("device owner"))
}

/// device id → (last reading time as RFC 3339 UTC or empty, timezone), for the export.
pub async fn export_details(
    db: &Db,
    ids: &[DeviceId],
) -> Result<std::collections::HashMap<String, (String, String)>> {
    let records: Vec<RecordId> = ids.iter().map(device_record).collect();
    let statuses: Vec<RecordId> = ids.iter().map(status_record).collect();
    let mut response = db
        .query("SELECT record::id(id) AS id, timezone FROM $ids")
        .query("SELECT record::id(id) AS id, last_seen FROM $statuses")
        .bind(("ids", records))
        .bind(("statuses", statuses))
        .await
        .and_then(|r| r.check())
        .map_err(internal("export details"))?;
    #[derive(Debug, SurrealValue)]
    struct Tz {
        id: String,
        timezone: String,
    }
    #[derive(Debug, SurrealValue)]
    struct Seen {
        id: String,
        last_seen: DateTime<Utc>,
    }
    let zones: Vec<Tz> = response.take(0).map_err(internal("export details"))?;
    let seen: Vec<Seen> = response.take(1).map_err(internal("export details"))?;
    let seen: std::collections::HashMap<String, DateTime<Utc>> =
        seen.into_iter().map(|s| (s.id, s.last_seen)).collect();
    Ok(zones
        .into_iter()
        .map(|z| {
            let last = seen
                .get(&z.id)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            (z.id, (last, z.timezone))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> Db {
        let db = crate::db::in_memory(true).await;
        db.query("CREATE org:farm SET name = 'Farm', kind = 'customer', ancestors = []")
            .await
            .unwrap()
            .check()
            .unwrap();
        db
    }

    fn new_device(id: &DeviceId) -> NewDevice {
        NewDevice {
            id: device_record(id),
            name: "Well".into(),
            model: "SPC-5".into(),
            firmware: String::new(),
            owner: RecordId::new("org", "farm"),
            dealer: None,
            location: Some(NewLocation {
                lat: 40.0,
                lon: -105.0,
                accuracy_m: Some(5.0),
                source: Some("typed".into()),
                set_by: Some("test".into()),
                set_at: Some(Utc::now()),
            }),
            timezone: "UTC".into(),
            installed_at: None,
            offline_timeout_s: 600,
            token_hash: None,
        }
    }

    #[tokio::test]
    async fn registering_an_id_twice_creates_it_once() {
        let db = db().await;
        let id = DeviceId::parse("SF-1-1").unwrap();
        assert!(register(&db, new_device(&id)).await.unwrap());
        assert!(!register(&db, new_device(&id)).await.unwrap());
        let states = states(&db, std::slice::from_ref(&id)).await.unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(
            states[0].location.as_ref().unwrap().source.as_deref(),
            Some("typed")
        );
    }

    #[tokio::test]
    async fn a_decommissioned_device_is_not_live() {
        let db = db().await;
        let id = DeviceId::parse("SF-1-2").unwrap();
        register(&db, new_device(&id)).await.unwrap();
        assert!(live_owner(&db, &id).await.unwrap().is_some());
        decommission(&db, &id, Utc::now()).await.unwrap();
        assert!(live_owner(&db, &id).await.unwrap().is_none());
        let fleet = super::super::snapshot::snapshot(&db).await.unwrap();
        assert!(fleet.device(None, &id, Utc::now()).is_none());
        assert!(states(&db, std::slice::from_ref(&id)).await.unwrap()[0].decommissioned);
    }

    #[tokio::test]
    async fn the_snapshot_shows_a_device_only_within_its_owners_scope() {
        let db = db().await;
        let id = DeviceId::parse("SF-1-3").unwrap();
        register(&db, new_device(&id)).await.unwrap();
        let fleet = super::super::snapshot::snapshot(&db).await.unwrap();
        let farm = [RecordId::new("org", "farm")];
        let shown = fleet.device(Some(&farm), &id, Utc::now()).unwrap();
        assert_eq!(shown.timezone, "UTC");
        let placed = shown.location.unwrap();
        assert_eq!(
            (placed.lat, placed.source.as_deref()),
            (40.0, Some("typed"))
        );
        let other = [RecordId::new("org", "other")];
        assert!(fleet.device(Some(&other), &id, Utc::now()).is_none());
    }
}
