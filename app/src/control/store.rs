//! Schedules in SurrealDB. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::schedule::{Schedule, WindowSpec};
use crate::audit::store::AuditRecord;
use crate::db::{internal, Db};
use crate::devices::model::DeviceId;
use crate::error::{AppError, Result};
use crate::telemetry::store::EventRecord;

/// A device's stored schedule: what should run (`version`, `windows`) and what the device
/// last said it runs (`reported`).
#[derive(Debug, Clone, SurrealValue)]
pub struct ScheduleRecord {
    pub device: String,
    pub version: i64,
    pub windows: serde_json::Value,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
    pub reported: Option<i64>,
    pub reported_at: Option<DateTime<Utc>>,
    /// The hash of `windows` (`None` in rows from before schema step 11: see `hash`).
    pub hash: Option<String>,
    pub reported_hash: Option<String>,
}

impl ScheduleRecord {
    /// The desired version's hash, as its fetch answer gives it.
    pub fn desired_hash(&self) -> String {
        self.hash.clone().unwrap_or_else(|| hash(&self.schedule()))
    }

    pub fn schedule(&self) -> Schedule {
        stored_schedule(&self.device, &self.windows)
    }
}

/// A row's stored windows. They were checked before they were stored; a row that no longer
/// parses (edited by hand in the database) reads as an empty schedule, loudly.
fn stored_schedule(device: &str, windows: &serde_json::Value) -> Schedule {
    serde_json::from_value::<Vec<WindowSpec>>(windows.clone())
        .ok()
        .and_then(|specs| Schedule::parse(&specs).ok())
        .unwrap_or_else(|| {
            tracing::error!(device = %device, "stored schedule does not parse");
            Schedule::default()
        })
}

/// The `hash` of a schedule: the first 16 hex digits of the SHA-256 of its `windows` as the
/// fetch answer spells them (compact JSON, `windows_json`). A device stores it with the
/// schedule and reports it with `schedule_version`; firmware that lets people change the
/// windows on the device hashes what it then runs.
pub fn hash(schedule: &Schedule) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(windows_json(schedule).to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The windows as stored and as a fetch answer carries them.
pub fn windows_json(schedule: &Schedule) -> serde_json::Value {
    // A Vec of plain structs of strings and numbers always serializes.
    serde_json::to_value(schedule.specs()).unwrap_or_default()
}

pub fn schedule_record(device: &DeviceId) -> RecordId {
    RecordId::new("schedule", device.as_str())
}

pub async fn load(db: &Db, device: &DeviceId) -> Result<Option<ScheduleRecord>> {
    db.query("SELECT * OMIT id FROM ONLY $id")
        .bind(("id", schedule_record(device)))
        .await
        .and_then(|mut r| r.take::<Option<ScheduleRecord>>(0))
        .map_err(internal("loading a schedule"))
}

/// As [`load`], from memory when nothing changed the row since it was last read: the
/// device page shows the schedule on every view. Not for writes, which guard on the
/// version they read (see [`save`]).
pub async fn load_cached(db: &Db, device: &DeviceId) -> Result<Option<ScheduleRecord>> {
    let cache = cache(db);
    let key = device.as_str().to_string();
    if let Some(record) = cache.get(&key) {
        return Ok(record);
    }
    let began = cache.begin();
    let record = load(db, device).await?;
    cache.put(key, record.clone(), began);
    Ok(record)
}

type Cache = crate::db::read_cache::ReadCache<String, Option<ScheduleRecord>>;

fn cache(db: &Db) -> std::sync::Arc<Cache> {
    db.cache(|db| Cache::new((!db.held_alone()).then_some(crate::devices::snapshot::TTL)))
}

/// After a write to the schedule of each of `devices` (and perhaps an event of it), whether
/// or not it went through.
fn written(db: &Db, devices: Vec<String>) {
    cache(db).changed(devices.iter().cloned());
    crate::history::store::written(db, devices);
}

/// Every stored schedule's versions: (device, desired, reported, reported at, fetched at).
pub async fn versions(db: &Db) -> Result<Vec<Versions>> {
    db.query(
        "SELECT device, version, reported, reported_at, fetched_at ?? updated_at AS fetched_at, \
         hash, reported_hash, IF hash = NONE { windows } AS windows FROM schedule",
    )
    .await
    .and_then(|mut r| r.take::<Vec<Versions>>(0))
    .map(|rows| rows.into_iter().map(Versions::hashed).collect())
    .map_err(internal("loading schedule versions"))
}

#[derive(Debug, Clone, SurrealValue)]
pub struct Versions {
    pub device: String,
    pub version: i64,
    pub reported: Option<i64>,
    pub reported_at: Option<DateTime<Utc>>,
    /// When the device last fetched this version (or, before it ever did, when it was set).
    pub fetched_at: Option<DateTime<Utc>>,
    /// The desired version's hash, and the one the device last reported.
    pub hash: Option<String>,
    pub reported_hash: Option<String>,
    /// Only read for rows stored without a hash, to work it out.
    pub windows: Option<serde_json::Value>,
}

impl Versions {
    fn hashed(mut self) -> Self {
        if let Some(windows) = self.windows.take() {
            self.hash = Some(hash(&stored_schedule(&self.device, &windows)));
        }
        self
    }

    /// A device without a schedule row: nothing desired, nothing reported.
    pub fn none(device: &DeviceId) -> Self {
        Versions {
            device: device.as_str().to_string(),
            version: 0,
            reported: None,
            reported_at: None,
            fetched_at: None,
            hash: None,
            reported_hash: None,
            windows: None,
        }
    }
}

/// Records that the device fetched `version` at `at` (a row saved meanwhile is left alone:
/// the device will fetch that one too).
pub async fn fetched(db: &Db, device: &DeviceId, version: u64, at: DateTime<Utc>) -> Result<()> {
    let done = db
        .query("UPDATE $id SET fetched_at = $at WHERE version = $version RETURN NONE")
        .bind(("id", schedule_record(device)))
        .bind(("version", version as i64))
        .bind(("at", at))
        .await
        .and_then(|r| r.check());
    written(db, vec![device.as_str().to_string()]);
    done.map_err(internal("recording a schedule fetch"))?;
    Ok(())
}

/// Stores `schedule` as the next version, provided the stored version is still `base`
/// (when given: the version the editor started from), together with the event that says
/// so (`event` gets the new version): one transaction, so there is never a version
/// without its history entry or the other way round. Returns the new version.
pub async fn save(
    db: &Db,
    device: &DeviceId,
    base: Option<u64>,
    schedule: &Schedule,
    actor: &str,
    now: DateTime<Utc>,
    event: impl FnOnce(u64) -> AuditRecord,
) -> Result<u64> {
    let current = load(db, device).await?;
    let stored = current.as_ref().map_or(0, |c| c.version.max(0) as u64);
    if let Some(base) = base.filter(|b| *b != stored) {
        return Err(conflict(device, base, current.as_ref()));
    }
    let windows = windows_json(schedule);
    let next = stored + 1;
    // Guarded by the version read above, so two saves from the same base cannot both win:
    // the loser's UPDATE matches nothing (and throws) or its CREATE finds the row.
    let query = if current.is_some() {
        "BEGIN TRANSACTION;
         LET $written = (UPDATE $id SET version = $next, windows = $windows, hash = $hash,
             updated_at = $now, updated_by = $actor WHERE version = $stored
             RETURN VALUE version);
         IF $written != [$next] { THROW 'the schedule changed meanwhile' };
         CREATE event CONTENT $event RETURN NONE;
         COMMIT TRANSACTION;"
    } else {
        "BEGIN TRANSACTION;
         CREATE $id SET device = $device, version = $next, windows = $windows,
             hash = $hash, updated_at = $now, updated_by = $actor RETURN NONE;
         CREATE event CONTENT $event RETURN NONE;
         COMMIT TRANSACTION;"
    };
    let written = db
        .query(query)
        .bind(("id", schedule_record(device)))
        .bind(("device", device.as_str().to_string()))
        .bind(("next", next as i64))
        .bind(("stored", stored as i64))
        .bind(("windows", windows))
        .bind(("hash", hash(schedule)))
        .bind(("now", now))
        .bind(("actor", actor.to_string()))
        .bind(("event", event(next)))
        .await
        .and_then(|r| r.check());
    self::written(db, vec![device.as_str().to_string()]);
    match written {
        Ok(_) => Ok(next),
        Err(e) => match load(db, device).await? {
            // Someone else saved in between.
            Some(row) if row.version.max(0) as u64 != stored || current.is_none() => {
                Err(conflict(device, base.unwrap_or(stored), Some(&row)))
            }
            _ => Err(AppError::internal("saving a schedule", e)),
        },
    }
}

fn conflict(device: &DeviceId, base: u64, stored: Option<&ScheduleRecord>) -> AppError {
    let (version, by) = stored.map_or((0, None), |s| (s.version, s.updated_by.clone()));
    AppError::Conflict {
        message: format!(
            "the schedule of {device} is now at version {version}{}, not {base}: reload it and make your change again",
            by.map(|b| format!(" (saved by {b})")).unwrap_or_default()
        ),
    }
}

/// Records the version a device reports (from its newest reading). A device that reports
/// a schedule before one was ever set gets a row at version 0, so the drift shows.
pub async fn set_reported(
    db: &Db,
    device: &DeviceId,
    reported: u64,
    reported_hash: Option<String>,
    at: DateTime<Utc>,
    event: Option<EventRecord>,
) -> Result<()> {
    let done = db
        .query(
            "UPSERT $id SET device = $device, version = version ?? 0, windows = windows ?? [], \
             reported = $reported, reported_hash = $hash, reported_at = $at RETURN NONE; \
             IF $event != NONE { CREATE event CONTENT $event RETURN NONE };",
        )
        .bind(("id", schedule_record(device)))
        .bind(("device", device.as_str().to_string()))
        .bind(("reported", reported as i64))
        .bind(("hash", reported_hash))
        .bind(("at", at))
        .bind(("event", event))
        .await
        .and_then(|r| r.check());
    written(db, vec![device.as_str().to_string()]);
    done.map_err(internal("recording a reported schedule version"))?;
    Ok(())
}

/// Stores first schedules for many devices at once (the demo seed), each at version 1 and
/// reported as running by the device (its seeded history says so). Existing rows are kept.
pub async fn insert_first(
    db: &Db,
    schedules: Vec<(DeviceId, Schedule)>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    #[derive(SurrealValue)]
    struct Row {
        id: RecordId,
        device: String,
        version: i64,
        windows: serde_json::Value,
        hash: String,
        updated_at: DateTime<Utc>,
        updated_by: String,
        reported: i64,
        reported_at: DateTime<Utc>,
    }
    let rows = schedules
        .into_iter()
        .map(|(device, schedule)| Row {
            id: schedule_record(&device),
            device: device.as_str().to_string(),
            version: 1,
            windows: windows_json(&schedule),
            hash: hash(&schedule),
            updated_at: now,
            updated_by: actor.to_string(),
            reported: 1,
            reported_at: now,
        })
        .collect::<Vec<_>>();
    let devices = rows.iter().map(|r| r.device.clone()).collect();
    let done = db
        .query("INSERT IGNORE INTO schedule $rows RETURN NONE")
        .bind(("rows", rows))
        .await
        .and_then(|r| r.check());
    written(db, devices);
    done.map_err(internal("storing first schedules"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::schedule::test_window;

    /// Rows saved before schema step 11 have no `hash`: it is worked out from their
    /// windows, the same as a fetch of them gives. Rows with one keep it.
    #[tokio::test]
    async fn a_row_stored_without_a_hash_gets_the_hash_of_its_windows() {
        let db = crate::db::in_memory(true).await;
        let schedule = Schedule::parse(&[test_window(&["mon", "sat"], "05:30", "09:00")]).unwrap();
        db.query(
            "CREATE schedule:old SET device = 'SF-1-00001', version = 2, windows = $windows;
             CREATE schedule:new SET device = 'SF-1-00002', version = 1, windows = $windows,
                 hash = '00000000deadbeef';",
        )
        .bind(("windows", windows_json(&schedule)))
        .await
        .unwrap()
        .check()
        .unwrap();
        let mut rows = versions(&db).await.unwrap();
        rows.sort_by(|a, b| a.device.cmp(&b.device));
        let hashes: Vec<_> = rows.iter().map(|r| r.hash.clone()).collect();
        assert_eq!(
            hashes,
            [Some(hash(&schedule)), Some("00000000deadbeef".to_string())]
        );
        assert!(
            rows.iter().all(|r| r.windows.is_none()),
            "not kept in the cache"
        );
        assert_eq!(hash(&schedule).len(), 16);
        assert_ne!(hash(&schedule), hash(&Schedule::default()));
    }
}
