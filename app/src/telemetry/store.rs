//! SurrealQL for raw telemetry. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::{Array, Datetime, RecordId, SurrealValue, Value};

use crate::db::{internal, Db};
use crate::devices::model::DeviceId;
use crate::error::Result;

/// One stored reading. The id is `telemetry:[device, time]`, so a repeated delivery of the
/// same reading lands on the same record.
#[derive(Debug, Clone, SurrealValue)]
pub struct ReadingRecord {
    pub id: RecordId,
    pub solar_w: f64,
    pub grid_w: f64,
    pub load_w: f64,
    pub motor_rpm: i64,
    pub motor_on: bool,
    pub dc_bus_v: f64,
    pub temperature_c: f64,
    pub fault_code: Option<i64>,
    pub schedule_version: Option<i64>,
}

pub fn reading_record(device: &DeviceId, at: DateTime<Utc>) -> RecordId {
    let key = Array::from(vec![
        Value::String(device.as_str().to_string()),
        Value::Datetime(Datetime::from(at)),
    ]);
    RecordId::new("telemetry", key)
}

/// Stores readings in one statement (one transaction); repeats of stored readings are
/// skipped, so the call is idempotent.
pub async fn insert_readings(db: &Db, readings: Vec<ReadingRecord>) -> Result<()> {
    db.query("INSERT IGNORE INTO telemetry $rows RETURN NONE")
        .bind(("rows", readings))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert readings"))?;
    Ok(())
}

/// How many readings one device has in `[from, to]` (a key-range scan, no table scan).
pub async fn count_readings(
    db: &Db,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64> {
    let mut response = db
        .query("SELECT count() AS n FROM telemetry:[$d, $from]..=[$d, $to] GROUP ALL")
        .bind(("d", device.as_str().to_string()))
        .bind(("from", Datetime::from(from)))
        .bind(("to", Datetime::from(to)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("count readings"))?;
    let counts: Vec<i64> = response
        .take((0, "n"))
        .map_err(internal("count readings"))?;
    Ok(counts.first().copied().unwrap_or(0).max(0) as u64)
}
