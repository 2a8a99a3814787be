//! SurrealQL for raw telemetry, rollups and events. Server-only.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use surrealdb::types::{Array, Bytes, Datetime, RecordId, SurrealValue, Value};

use super::model::{MetricStat, Point, Resolution, Series, Status, MAX_POINTS};
use super::rollup::{date_label, Rollup, Sample, Stat};
use crate::db::{internal, Db};
use crate::devices::model::DeviceId;
use crate::devices::store::StatusRecord;
use crate::error::{AppError, Result};

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
    pub schedule_hash: Option<String>,
    pub extra: Option<serde_json::Value>,
}

impl ReadingRecord {
    pub fn new(device: &DeviceId, s: &Status) -> Self {
        ReadingRecord {
            id: reading_record(device, s.time),
            solar_w: s.solar_w,
            grid_w: s.grid_w,
            load_w: s.load_w,
            motor_rpm: s.motor_rpm,
            motor_on: s.motor_on,
            dc_bus_v: s.dc_bus_v,
            temperature_c: s.temperature_c,
            fault_code: s.fault_code,
            schedule_version: s.schedule_version,
            schedule_hash: s.schedule_hash.clone(),
            extra: (!s.extra.is_empty()).then(|| serde_json::Value::Object(s.extra.clone())),
        }
    }
}

impl ReadingRecord {
    /// The record as the row to insert, without its NONE fields (a reading without a fault,
    /// schedule hash or extra fields). SurrealDB never stores NONE, but before dropping a
    /// field it converts, merges, type-checks and prunes it like any other, per row.
    pub fn into_row(self) -> Value {
        match self.into_value() {
            Value::Object(mut row) => {
                row.retain(|_, v| !matches!(v, Value::None));
                Value::Object(row)
            }
            other => other,
        }
    }

    /// The reading as a `Status` again (`time` is the second half of its id).
    pub fn status(self, time: DateTime<Utc>) -> Status {
        Status {
            time,
            solar_w: self.solar_w,
            grid_w: self.grid_w,
            load_w: self.load_w,
            motor_rpm: self.motor_rpm,
            motor_on: self.motor_on,
            dc_bus_v: self.dc_bus_v,
            temperature_c: self.temperature_c,
            fault_code: self.fault_code,
            schedule_version: self.schedule_version,
            schedule_hash: self.schedule_hash,
            extra: match self.extra {
                Some(serde_json::Value::Object(map)) => map,
                _ => Default::default(),
            },
        }
    }
}

/// `[device, time]`: the key of a reading, and of a rollup bucket (with its start time).
fn device_time_key(device: &DeviceId, at: DateTime<Utc>) -> Array {
    Array::from(vec![
        Value::String(device.as_str().to_string()),
        Value::Datetime(Datetime::from(at)),
    ])
}

pub fn reading_record(device: &DeviceId, at: DateTime<Utc>) -> RecordId {
    RecordId::new("telemetry", device_time_key(device, at))
}

pub fn hour_record(device: &DeviceId, start: DateTime<Utc>) -> RecordId {
    RecordId::new("rollup_hour", device_time_key(device, start))
}

pub fn day_record(device: &DeviceId, start: DateTime<Utc>) -> RecordId {
    RecordId::new("rollup_day", device_time_key(device, start))
}

/// A rollup bucket as stored (`rollup_hour` and `rollup_day` share the shape).
#[derive(Debug, Clone, SurrealValue)]
pub struct RollupRecord {
    pub id: RecordId,
    pub device: String,
    pub start: DateTime<Utc>,
    pub date: String,
    pub hours: i64,
    pub count: i64,
    pub solar_wh: f64,
    pub grid_wh: f64,
    pub load_wh: f64,
    /// min, max, sum of each metric in `rollup::METRICS` order, as little-endian f64.
    pub stats: Bytes,
}

impl RollupRecord {
    pub fn new(
        id: RecordId,
        device: &DeviceId,
        start: DateTime<Utc>,
        date: NaiveDate,
        hours: i64,
        r: &Rollup,
    ) -> Self {
        let mut stats = Vec::with_capacity(18 * 8);
        for s in r.stats {
            // An empty bucket has no min or max; store 0 rather than infinities.
            let (min, max) = if s.min.is_finite() {
                (s.min, s.max)
            } else {
                (0.0, 0.0)
            };
            for x in [min, max, s.sum] {
                stats.extend_from_slice(&x.to_le_bytes());
            }
        }
        RollupRecord {
            id,
            device: device.as_str().to_string(),
            start,
            date: date_label(date),
            hours,
            count: r.count,
            solar_wh: r.energy_wh[0],
            grid_wh: r.energy_wh[1],
            load_wh: r.energy_wh[2],
            stats: Bytes::from(stats),
        }
    }

    pub fn rollup(&self) -> Rollup {
        unpack(
            self.count,
            &self.stats,
            [self.solar_wh, self.grid_wh, self.load_wh],
        )
    }
}

/// A rollup from its stored parts (`stats` as [`RollupRecord::stats`]).
fn unpack(count: i64, stats: &[u8], energy_wh: [f64; 3]) -> Rollup {
    let mut values = stats
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("BUG: chunks of 8")));
    let mut out = [Stat {
        min: 0.0,
        max: 0.0,
        sum: 0.0,
    }; 6];
    for s in &mut out {
        s.min = values.next().unwrap_or(0.0);
        s.max = values.next().unwrap_or(0.0);
        s.sum = values.next().unwrap_or(0.0);
    }
    Rollup {
        count,
        stats: out,
        energy_wh,
    }
}

/// An `event` row: something that happened to a device (or, later, a user action).
#[derive(Debug, Clone, SurrealValue)]
pub struct EventRecord {
    pub time: DateTime<Utc>,
    pub device: Option<String>,
    pub org: Option<RecordId>,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub actor: Option<String>,
}

/// Readings as rows to insert ([`ReadingRecord::into_row`]).
pub fn rows(readings: Vec<ReadingRecord>) -> Vec<Value> {
    readings.into_iter().map(ReadingRecord::into_row).collect()
}

/// Inserts `$readings` (rows from [`rows`]), skipping repeats, without SurrealDB processing
/// each field of each row against its definition.
///
/// That processing is a type check here, and [`ReadingRecord`]'s Rust types already make
/// it: `telemetry`'s fields have nothing but a `TYPE` (no `VALUE`, `DEFAULT` or `ASSERT`),
/// and the table has no event, view or live query, which import mode would skip too. The
/// table stays SCHEMAFULL: a field it does not define is still dropped. Measured by a probe
/// of 30-row transactions, skipping it saves about a tenth of SurrealDB's CPU per reading,
/// on the path every ingest batch waits for (39–44 µs a row with it, 34–35 µs without).
/// `OPTION IMPORT` holds for the rest of the query, so it is switched off again here.
/// `a_reading_written_without_field_processing_is_stored_as_with_it` and
/// `tables_written_without_field_processing_only_declare_types` keep both true.
pub const INSERT_READINGS: &str = "OPTION IMPORT;
    INSERT IGNORE INTO telemetry $readings RETURN NONE;
    OPTION IMPORT = false;";

/// Stores readings in one statement (one transaction); repeats of stored readings are
/// skipped, so the call is idempotent.
pub async fn insert_readings(db: &Db, readings: Vec<ReadingRecord>) -> Result<()> {
    db.query(INSERT_READINGS)
        .bind(("readings", rows(readings)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert readings"))?;
    Ok(())
}

/// Replaces rollup rows wholesale (the caller computed them from what is stored).
pub async fn replace_rollups(
    db: &Db,
    hours: Vec<RollupRecord>,
    days: Vec<RollupRecord>,
) -> Result<()> {
    db.query("BEGIN TRANSACTION")
        .query(REPLACE_ROLLUPS)
        .query("COMMIT TRANSACTION")
        .bind(("hour_ids", ids(&hours)))
        .bind(("day_ids", ids(&days)))
        .bind(("hours", hours))
        .bind(("days", days))
        .await
        .and_then(|r| r.check())
        .map_err(internal("replace rollups"))?;
    Ok(())
}

const REPLACE_ROLLUPS: &str = "
    DELETE $hour_ids RETURN NONE;
    INSERT INTO rollup_hour $hours RETURN NONE;
    DELETE $day_ids RETURN NONE;
    INSERT INTO rollup_day $days RETURN NONE;";

fn ids(rows: &[RollupRecord]) -> Vec<RecordId> {
    rows.iter().map(|r| r.id.clone()).collect()
}

/// What is stored for a batch about to be written.
pub struct Stored {
    pub statuses: Vec<StatusRecord>,
    pub readings: Vec<RecordId>,
    pub hours: Vec<RollupRecord>,
    pub days: Vec<RollupRecord>,
}

/// Reads the given records in one round trip; ids with no record are simply absent.
pub async fn load(
    db: &Db,
    statuses: Vec<RecordId>,
    readings: Vec<RecordId>,
    hours: Vec<RecordId>,
    days: Vec<RecordId>,
) -> Result<Stored> {
    let mut response = db
        .query("SELECT * FROM $statuses")
        .query("SELECT VALUE id FROM $readings")
        .query("SELECT * FROM $hours")
        .query("SELECT * FROM $days")
        .bind(("statuses", statuses))
        .bind(("readings", readings))
        .bind(("hours", hours))
        .bind(("days", days))
        .await
        .and_then(|r| r.check())
        .map_err(internal("load batch state"))?;
    Ok(Stored {
        statuses: response.take(0).map_err(internal("load statuses"))?,
        readings: response.take(1).map_err(internal("load reading ids"))?,
        hours: response.take(2).map_err(internal("load hour rollups"))?,
        days: response.take(3).map_err(internal("load day rollups"))?,
    })
}

/// A reading as [`read_samples`] selects it: time, then the metrics in `METRIC_NAMES`
/// order. An array rather than an object: no keys to build per row and take apart again
/// (a day of raw readings is 1,440 rows).
type SampleRow = (DateTime<Utc>, f64, f64, f64, i64, f64, f64);

/// One device's stored readings in `[from, to]`, oldest first (a key-range scan).
pub async fn samples(
    db: &Db,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Sample>> {
    read_samples(db, device, from, to, None).await
}

/// At most `limit` of [`samples`], the oldest.
async fn read_samples(
    db: &Db,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: Option<i64>,
) -> Result<Vec<Sample>> {
    read_range(db, device, from, to, true, limit).await
}

/// The readings from `from` to `to` (included if `to_included`), at most `limit`.
async fn read_range(
    db: &Db,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    to_included: bool,
    limit: Option<i64>,
) -> Result<Vec<Sample>> {
    macro_rules! select {
        ($from:literal) => {
            concat!(
                "SELECT VALUE [record::id(id)[1], solar_w, grid_w, load_w, motor_rpm, dc_bus_v,
                        temperature_c] ",
                $from
            )
        };
    }
    let sql = match (to_included, limit) {
        (true, None) => select!("FROM telemetry:[$d, $from]..=[$d, $to]"),
        (true, Some(_)) => select!("FROM telemetry:[$d, $from]..=[$d, $to] LIMIT $limit"),
        (false, None) => select!("FROM telemetry:[$d, $from]..[$d, $to]"),
        (false, Some(_)) => select!("FROM telemetry:[$d, $from]..[$d, $to] LIMIT $limit"),
    };
    let mut response = db
        .query(sql)
        .bind(("limit", limit.unwrap_or_default()))
        .bind(("d", device.as_str().to_string()))
        .bind(("from", Datetime::from(from)))
        .bind(("to", Datetime::from(to)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("read samples"))?;
    let rows: Vec<SampleRow> = response.take(0).map_err(internal("read samples"))?;
    Ok(rows
        .into_iter()
        .map(|(time, solar, grid, load, rpm, bus, temperature)| Sample {
            time,
            values: [solar, grid, load, rpm as f64, bus, temperature],
        })
        .collect())
}

/// As [`read_samples`] with a limit, the range read as two halves at once, one per core:
/// SurrealDB decodes the rows of a scan one after another on one thread, and a day of raw
/// readings (1,440 rows) was most of a one-device chart's time. Short ranges are read
/// whole.
async fn read_samples_split(
    db: &Db,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Sample>> {
    if to - from < chrono::Duration::hours(6) {
        return read_samples(db, device, from, to, Some(limit)).await;
    }
    let mid = from + (to - from) / 2;
    let later = {
        let (db, device) = (db.clone(), device.clone());
        tokio::spawn(async move { read_samples(&db, &device, mid, to, Some(limit)).await })
    };
    let mut rows = read_range(db, device, from, mid, false, Some(limit)).await?;
    let later = later
        .await
        .map_err(|e| AppError::internal("read samples", e))??;
    rows.extend(later);
    rows.truncate(limit.max(0) as usize);
    Ok(rows)
}

/// One stored reading, if there is one at exactly `at`.
pub async fn reading(db: &Db, device: &DeviceId, at: DateTime<Utc>) -> Result<Option<Status>> {
    let mut response = db
        .query("SELECT * FROM ONLY $id")
        .bind(("id", reading_record(device, at)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("read a reading"))?;
    let row: Option<ReadingRecord> = response.take(0).map_err(internal("read a reading"))?;
    Ok(row.map(|r| r.status(at)))
}

/// The times of one device's readings after `after` (not at it), oldest first: a key-range
/// scan from there on.
pub async fn reading_times_after(
    db: &Db,
    device: &DeviceId,
    after: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    // Readings are refused more than minutes ahead of the clock: a century is "no end".
    let end = Utc::now() + chrono::Duration::days(36_525);
    let mut response = db
        .query("SELECT VALUE record::id(id)[1] FROM telemetry:[$d, $after]>..=[$d, $end]")
        .bind(("d", device.as_str().to_string()))
        .bind(("after", Datetime::from(after)))
        .bind(("end", Datetime::from(end)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("find readings after the latest"))?;
    response
        .take(0)
        .map_err(internal("find readings after the latest"))
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

/// Rollup rows of one device in `[from, to)` by bucket start (`table` is `rollup_hour` or
/// `rollup_day`).
pub async fn rollups(
    db: &Db,
    table: RollupTable,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RollupRecord>> {
    let sql = match table {
        RollupTable::Hour => "SELECT * FROM rollup_hour:[$d, $from]..[$d, $to]",
        RollupTable::Day => "SELECT * FROM rollup_day:[$d, $from]..[$d, $to]",
    };
    let mut response = db
        .query(sql)
        .bind(("d", device.as_str().to_string()))
        .bind(("from", Datetime::from(from)))
        .bind(("to", Datetime::from(to)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("read rollups"))?;
    response.take(0).map_err(internal("read rollups"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupTable {
    Hour,
    Day,
}

/// Events of one device, newest first.
pub async fn device_events(db: &Db, device: &DeviceId, limit: i64) -> Result<Vec<EventRecord>> {
    let mut response = db
        .query(
            "SELECT time, device, org, kind, severity, message, actor FROM event
             WHERE device = $d ORDER BY time DESC LIMIT $limit",
        )
        .bind(("d", device.as_str().to_string()))
        .bind(("limit", limit))
        .await
        .and_then(|r| r.check())
        .map_err(internal("read events"))?;
    response.take(0).map_err(internal("read events"))
}

/// A refused delivery, kept with its raw body for an admin to inspect.
#[derive(Debug, Clone, SurrealValue)]
pub struct DeadLetter {
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub code: String,
    pub message: String,
    pub device: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

pub async fn insert_dead_letter(db: &Db, letter: DeadLetter) -> Result<()> {
    db.query("CREATE dead_letter CONTENT $letter RETURN NONE")
        .bind(("letter", letter))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert dead letter"))?;
    Ok(())
}

/// The most recent dead letters, newest first.
pub async fn dead_letters(db: &Db, limit: i64) -> Result<Vec<DeadLetter>> {
    let mut response = db
        .query("SELECT * OMIT id FROM dead_letter ORDER BY received_at DESC LIMIT $limit")
        .bind(("limit", limit))
        .await
        .and_then(|r| r.check())
        .map_err(internal("read dead letters"))?;
    response.take(0).map_err(internal("read dead letters"))
}

fn point_of(t: DateTime<Utc>, r: &Rollup, day: Option<String>) -> Point {
    let n = r.count.max(1) as f64;
    Point {
        day,
        t,
        count: r.count,
        metrics: r
            .stats
            .iter()
            .map(|s| MetricStat {
                min: s.min,
                avg: s.sum / n,
                max: s.max,
            })
            .collect(),
        energy_wh: Some(r.energy_wh),
    }
}

/// One device's series, or `None` if there is no such device.
pub async fn device_series(
    db: &Db,
    device: &DeviceId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: Resolution,
) -> Result<Option<Series>> {
    let mut response = db
        .query("SELECT VALUE timezone FROM ONLY $device")
        .bind(("device", crate::devices::store::device_record(device)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("series device"))?;
    let Some(timezone): Option<String> = response.take(0).map_err(internal("series device"))?
    else {
        return Ok(None);
    };
    let points = match resolution {
        // One more than fits tells [`series`] the range holds too many.
        Resolution::Raw => read_samples_split(db, device, from, to, MAX_POINTS + 2)
            .await?
            .into_iter()
            .filter(|s| s.time < to)
            .map(|s| Point {
                day: None,
                t: s.time,
                count: 1,
                metrics: s.values.iter().map(|&v| MetricStat::one(v)).collect(),
                energy_wh: None,
            })
            .collect(),
        Resolution::Hour | Resolution::Day => {
            let table = if resolution == Resolution::Hour {
                RollupTable::Hour
            } else {
                RollupTable::Day
            };
            // The bucket containing `from` starts before it.
            let back = if table == RollupTable::Hour {
                chrono::Duration::hours(1)
            } else {
                chrono::Duration::hours(25)
            };
            rollups(db, table, device, from - back, to)
                .await?
                .into_iter()
                .filter(|r| r.start + back > from)
                .map(|r| {
                    let day = (table == RollupTable::Day).then(|| r.date.clone());
                    point_of(r.start, &r.rollup(), day)
                })
                .collect()
        }
    };
    Ok(Some(Series {
        device: Some(device.as_str().to_string()),
        resolution,
        from,
        to,
        timezone: Some(timezone),
        points,
    }))
}

#[derive(Debug, SurrealValue)]
struct FleetBucket {
    start: DateTime<Utc>,
    day: Option<String>,
    count: i64,
    solar_wh: f64,
    grid_wh: f64,
    load_wh: f64,
}

/// The fleet's energy per bucket: per UTC hour (a device's local hour is a UTC hour but in
/// zones with a half-hour offset, whose hours count in the UTC hour they start in), or per
/// local calendar day, each device's own (starting at different instants across zones).
/// Either way a range has at most one point per hour or day, whatever the zones.
pub async fn fleet_series(
    db: &Db,
    scope: Option<Vec<RecordId>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: Resolution,
) -> Result<Series> {
    let sql = match resolution {
        Resolution::Day => {
            "SELECT date AS day, time::min(start) AS start, math::sum(count) AS count,
                    math::sum(solar_wh) AS solar_wh, math::sum(grid_wh) AS grid_wh,
                    math::sum(load_wh) AS load_wh
             FROM rollup_day WHERE start >= $from AND start < $to AND ($all OR device IN $devices)
             GROUP BY day ORDER BY day"
        }
        _ => {
            "SELECT time::floor(start, 1h) AS start, math::sum(count) AS count,
                    math::sum(solar_wh) AS solar_wh, math::sum(grid_wh) AS grid_wh,
                    math::sum(load_wh) AS load_wh
             FROM rollup_hour WHERE start >= $from AND start < $to AND ($all OR device IN $devices)
             GROUP BY start ORDER BY start"
        }
    };
    // A local day's rows may fall in both halves: its buckets are merged.
    let (mut buckets, later) = read_fleet_rows::<FleetBucket>(db, sql, &scope, from, to).await?;
    if !later.is_empty() {
        merge_buckets(&mut buckets, later);
    }
    Ok(Series {
        device: None,
        resolution,
        from,
        to,
        timezone: None,
        points: buckets
            .into_iter()
            .map(|b| Point {
                t: b.start,
                day: b.day,
                count: b.count,
                metrics: Vec::new(),
                energy_wh: Some([b.solar_wh, b.grid_wh, b.load_wh]),
            })
            .collect(),
    })
}

/// The rows `sql` selects from the devices of `scope` (`None`: all) in `[from, to)`, binding
/// `$from`, `$to`, `$all` and `$devices`. A range of 12 h or more is read as two halves at
/// once, one per core (as `read_samples_split`), split on the hour: the earlier half's rows
/// first, the later half's second (empty for a shorter range).
async fn read_fleet_rows<T: SurrealValue + Send + 'static>(
    db: &Db,
    sql: &'static str,
    scope: &Option<Vec<RecordId>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(Vec<T>, Vec<T>)> {
    let devices = match scope {
        Some(orgs) => crate::devices::store::ids_in(db, orgs).await?,
        None => Vec::new(),
    };
    let read = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let (db, all, devices) = (db.clone(), scope.is_none(), devices.clone());
        async move {
            let mut response = db
                .query(sql)
                .bind(("from", Datetime::from(from)))
                .bind(("to", Datetime::from(to)))
                .bind(("all", all))
                .bind(("devices", devices))
                .await
                .and_then(|r| r.check())
                .map_err(internal("fleet series"))?;
            let rows: Vec<T> = response.take(0).map_err(internal("fleet series"))?;
            Ok::<_, AppError>(rows)
        }
    };
    let mid = super::rollup::hour_start(from + (to - from) / 2, &chrono_tz::UTC);
    if to - from >= chrono::Duration::hours(12) && mid > from {
        let later = tokio::spawn(read(mid, to));
        let earlier = read(from, mid).await?;
        let later = later
            .await
            .map_err(|e| AppError::internal("fleet series", e))??;
        Ok((earlier, later))
    } else {
        Ok((read(from, to).await?, Vec::new()))
    }
}

#[derive(Debug, SurrealValue)]
struct FleetRow {
    start: DateTime<Utc>,
    date: String,
    count: i64,
    solar_wh: f64,
    grid_wh: f64,
    load_wh: f64,
    stats: Bytes,
}

/// A fleet bucket being summed up from its devices' rollups.
struct StatsBucket {
    start: DateTime<Utc>,
    day: Option<String>,
    rollup: Rollup,
}

/// [`fleet_series`] with each metric's min, mean and max over the fleet's readings in each
/// bucket ([`SeriesOf::FleetStats`]): the rows are read (two halves of the range at once)
/// and summed here, as the stats are packed bytes SurrealDB cannot add up.
pub async fn fleet_stats_series(
    db: &Db,
    scope: Option<Vec<RecordId>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: Resolution,
) -> Result<Series> {
    let daily = resolution == Resolution::Day;
    let sql = if daily {
        "SELECT start, date, count, solar_wh, grid_wh, load_wh, stats FROM rollup_day
         WHERE start >= $from AND start < $to AND ($all OR device IN $devices)"
    } else {
        "SELECT start, date, count, solar_wh, grid_wh, load_wh, stats FROM rollup_hour
         WHERE start >= $from AND start < $to AND ($all OR device IN $devices)"
    };
    let (mut rows, later) = read_fleet_rows::<FleetRow>(db, sql, &scope, from, to).await?;
    rows.extend(later);
    let mut index: HashMap<(Option<String>, Option<DateTime<Utc>>), usize> = HashMap::new();
    let mut buckets: Vec<StatsBucket> = Vec::new();
    for row in rows {
        let (start, day) = if daily {
            (row.start, Some(row.date))
        } else {
            (super::rollup::hour_start(row.start, &chrono_tz::UTC), None)
        };
        let key = (day.clone(), (!daily).then_some(start));
        let r = unpack(
            row.count,
            &row.stats,
            [row.solar_wh, row.grid_wh, row.load_wh],
        );
        match index.get(&key) {
            Some(&i) => {
                let b = &mut buckets[i];
                b.start = b.start.min(start);
                b.rollup.merge(&r);
            }
            None => {
                index.insert(key, buckets.len());
                buckets.push(StatsBucket {
                    start,
                    day,
                    rollup: r,
                });
            }
        }
    }
    buckets.sort_by(|a, b| match (&a.day, &b.day) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.start.cmp(&b.start),
    });
    Ok(Series {
        device: None,
        resolution,
        from,
        to,
        timezone: None,
        points: buckets
            .into_iter()
            .map(|b| point_of(b.start, &b.rollup, b.day))
            .collect(),
    })
}

/// Adds `later`'s buckets to `buckets` (both in order): a bucket of the same day or hour is
/// summed into the one there, with the earlier start.
fn merge_buckets(buckets: &mut Vec<FleetBucket>, later: Vec<FleetBucket>) {
    let key = |b: &FleetBucket| (b.day.clone(), b.day.is_none().then_some(b.start));
    let mut index: HashMap<_, usize> = (buckets.iter().enumerate())
        .map(|(i, b)| (key(b), i))
        .collect();
    for b in later {
        match index.get(&key(&b)) {
            Some(&i) => {
                let a = &mut buckets[i];
                a.start = a.start.min(b.start);
                a.count += b.count;
                a.solar_wh += b.solar_wh;
                a.grid_wh += b.grid_wh;
                a.load_wh += b.load_wh;
            }
            None => {
                index.insert(key(&b), buckets.len());
                buckets.push(b);
            }
        }
    }
    buckets.sort_by(|a, b| match (&a.day, &b.day) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.start.cmp(&b.start),
    });
}

/// What a series is of: one device, or the devices of some orgs (`None`: every device).
pub enum SeriesOf {
    Device(DeviceId),
    /// The fleet's energy per bucket (its total power), from SurrealDB's sums.
    Fleet(Option<Vec<RecordId>>),
    /// As `Fleet`, and each metric's min, mean and max over the fleet's readings in each
    /// bucket (rpm, volts and degrees have no fleet total), summed up here from every
    /// device's rollup: dearer than `Fleet`, so only charts that show such a line ask.
    FleetStats(Option<Vec<RecordId>>),
}

/// A series at the `requested` resolution, or else at the finest one that keeps it within
/// [`MAX_POINTS`]. The range's length decides first ([`Resolution::auto`] counts a reading a
/// minute); what was read decides last, as a device may post more often than that. Then an
/// automatic resolution steps coarser and a requested one is refused. `None` if the device
/// does not exist.
pub async fn series(
    db: &Db,
    of: &SeriesOf,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    requested: Option<Resolution>,
) -> Result<Option<Series>> {
    let fleet = !matches!(of, SeriesOf::Device(_));
    let mut resolution = match requested {
        Some(r) if r.fits(from, to) => r,
        Some(r) => return Err(too_many_points(r)),
        None => Resolution::auto(from, to, fleet)
            .ok_or_else(|| AppError::validation("the range is longer than 2000 days"))?,
    };
    loop {
        let series = match of {
            SeriesOf::Device(id) => match device_series(db, id, from, to, resolution).await? {
                Some(series) => series,
                None => return Ok(None),
            },
            SeriesOf::Fleet(orgs) => fleet_series(db, orgs.clone(), from, to, resolution).await?,
            SeriesOf::FleetStats(orgs) => {
                fleet_stats_series(db, orgs.clone(), from, to, resolution).await?
            }
        };
        if series.points.len() <= MAX_POINTS as usize {
            return Ok(Some(series));
        }
        resolution = match (requested, resolution.coarser()) {
            (None, Some(coarser)) => coarser,
            _ => return Err(too_many_points(resolution)),
        };
    }
}

fn too_many_points(resolution: Resolution) -> AppError {
    AppError::validation(format!(
        "{resolution:?} points over that range would be more than {MAX_POINTS}; \
         choose a coarser resolution or a shorter range"
    ))
}

#[derive(Debug, SurrealValue)]
struct DayEnergy {
    device: String,
    date: String,
    solar_wh: f64,
    grid_wh: f64,
}

#[derive(Debug, SurrealValue)]
struct DeviceZone {
    id: String,
    timezone: String,
}

/// Solar and grid energy (Wh) of today, each device's own local today, summed over the
/// devices of `scope` (`None`: all).
pub async fn energy_today(
    db: &Db,
    scope: Option<Vec<RecordId>>,
    now: DateTime<Utc>,
) -> Result<(f64, f64)> {
    let all = scope.is_none();
    let mut response = db
        .query(
            "SELECT record::id(id) AS id, timezone FROM device
             WHERE decommissioned_at IS NONE AND ($all OR owner IN $orgs)",
        )
        .bind(("all", all))
        .bind(("orgs", scope.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("energy today"))?;
    let zones: Vec<DeviceZone> = response.take(0).map_err(internal("energy today"))?;
    // The scope's device ids bound as a list: a subquery here would run once per row.
    let devices: Vec<String> = if all {
        Vec::new()
    } else {
        zones.iter().map(|z| z.id.clone()).collect()
    };
    let mut response = db
        .query(
            "SELECT device, date, solar_wh, grid_wh FROM rollup_day
             WHERE start > $since AND ($all OR device IN $devices)",
        )
        .bind(("all", all))
        .bind(("devices", devices))
        .bind(("since", Datetime::from(now - chrono::Duration::hours(40))))
        .await
        .and_then(|r| r.check())
        .map_err(internal("energy today"))?;
    let days: Vec<DayEnergy> = response.take(0).map_err(internal("energy today"))?;
    let today: std::collections::HashMap<String, String> = zones
        .into_iter()
        .map(|z| {
            let tz: chrono_tz::Tz = z.timezone.parse().unwrap_or(chrono_tz::UTC);
            (z.id, date_label(now.with_timezone(&tz).date_naive()))
        })
        .collect();
    Ok(days
        .iter()
        .filter(|d| today.get(&d.device) == Some(&d.date))
        .fold((0.0, 0.0), |(s, g), d| (s + d.solar_wh, g + d.grid_wh)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(start: &str, day: Option<&str>, count: i64, solar_wh: f64) -> FleetBucket {
        FleetBucket {
            start: start.parse().unwrap(),
            day: day.map(str::to_string),
            count,
            solar_wh,
            grid_wh: 1.0,
            load_wh: 2.0,
        }
    }

    #[tokio::test]
    async fn a_reading_is_inserted_without_its_none_fields_and_reads_back_the_same() {
        let db = crate::db::in_memory(true).await;
        let device = DeviceId::parse("SF-ROWS-0001").unwrap();
        let at: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let bare = Status::parse(
            &serde_json::json!({
                "time": at.to_rfc3339(), "solar_w": 600.0, "grid_w": 0.0, "load_w": 600.0,
                "motor_rpm": 1500, "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 30.0,
            }),
            None,
            at,
        )
        .unwrap();
        let full = Status::parse(
            &serde_json::json!({
                "time": (at + chrono::Duration::minutes(1)).to_rfc3339(), "solar_w": 1.5,
                "grid_w": 2.0, "load_w": 3.5, "motor_rpm": 0, "motor_on": false,
                "dc_bus_v": 12.0, "temperature_c": -4.0, "fault_code": 7,
                "schedule_version": 3, "schedule_hash": "9F2C44D01BA7E3C5", "fw_build": "abc",
            }),
            None,
            at + chrono::Duration::minutes(1),
        )
        .unwrap();

        let Value::Object(row) = ReadingRecord::new(&device, &bare).into_row() else {
            panic!("a reading is an object");
        };
        let keys: Vec<&str> = row.keys().map(String::as_str).collect();
        for absent in ["fault_code", "schedule_version", "schedule_hash", "extra"] {
            assert!(!keys.contains(&absent), "{absent} in {keys:?}");
        }
        assert!(
            keys.contains(&"solar_w") && keys.contains(&"id"),
            "{keys:?}"
        );

        let records = [&bare, &full].map(|s| ReadingRecord::new(&device, s));
        insert_readings(&db, records.to_vec()).await.unwrap();
        for status in [&bare, &full] {
            let stored = reading(&db, &device, status.time).await.unwrap();
            assert_eq!(stored.as_ref(), Some(status));
        }
    }

    #[tokio::test]
    async fn a_reading_written_without_field_processing_is_stored_as_with_it() {
        let db = crate::db::in_memory(true).await;
        let at: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let statuses = [
            serde_json::json!({
                "time": at.to_rfc3339(), "solar_w": 600.0, "grid_w": 0.0, "load_w": 600.0,
                "motor_rpm": 1500, "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 30.0,
            }),
            serde_json::json!({
                "time": at.to_rfc3339(), "solar_w": 1, "grid_w": 2, "load_w": 3,
                "motor_rpm": 0, "motor_on": false, "dc_bus_v": 12, "temperature_c": -4,
                "fault_code": 7, "schedule_version": 3, "schedule_hash": "9F2C44D01BA7E3C5",
                "fw_build": "abc", "nested": {"a": [1, 2.5, "x"]},
            }),
        ]
        .map(|json| Status::parse(&json, None, at).unwrap());
        let checked = DeviceId::parse("SF-CHECKED-01").unwrap();
        let unchecked = DeviceId::parse("SF-UNCHECKED-01").unwrap();
        for (i, status) in statuses.iter().enumerate() {
            let status = Status {
                time: at + chrono::Duration::minutes(i as i64),
                ..status.clone()
            };
            db.query("INSERT IGNORE INTO telemetry $readings RETURN NONE")
                .bind((
                    "readings",
                    rows(vec![ReadingRecord::new(&checked, &status)]),
                ))
                .await
                .unwrap()
                .check()
                .unwrap();
            insert_readings(&db, vec![ReadingRecord::new(&unchecked, &status)])
                .await
                .unwrap();
        }
        let stored = |device: &DeviceId| {
            let (db, device) = (db.clone(), device.as_str().to_string());
            async move {
                let mut response = db
                    .query(
                        "SELECT * OMIT id FROM telemetry WHERE record::id(id)[0] = $d
                         ORDER BY id",
                    )
                    .bind(("d", device))
                    .await
                    .unwrap();
                response.take::<Vec<Value>>(0).unwrap()
            }
        };
        let (with, without) = (stored(&checked).await, stored(&unchecked).await);
        assert_eq!(with.len(), 2);
        assert_eq!(with, without);
    }

    #[tokio::test]
    async fn tables_written_without_field_processing_only_declare_types() {
        let db = crate::db::in_memory(true).await;
        let mut response = db.query("INFO FOR TABLE telemetry").await.unwrap();
        let info = response
            .take::<Option<Value>>(0)
            .unwrap()
            .unwrap()
            .into_json_value();
        for observers in ["events", "lives", "tables"] {
            assert_eq!(
                info[observers],
                serde_json::json!({}),
                "{observers}: {info}"
            );
        }
        let fields = info["fields"].as_object().unwrap();
        assert!(fields.len() >= 10, "{info}");
        for definition in fields.values() {
            let definition = definition.as_str().unwrap();
            assert!(definition.contains(" TYPE "), "{definition}");
            for clause in [
                " VALUE ",
                " DEFAULT ",
                " ASSERT ",
                " READONLY",
                " COMPUTED",
                " REFERENCE",
            ] {
                assert!(!definition.contains(clause), "{definition}");
            }
        }
    }

    #[test]
    fn a_local_day_read_in_two_halves_is_one_bucket_with_its_earliest_start() {
        // Devices in two zones: 2026-03-08 starts at 07:00Z in Denver and 05:00Z in New York,
        // and the range was split at 06:00Z.
        let mut first = vec![
            bucket("2026-03-07T05:00:00Z", Some("2026-03-07"), 10, 100.0),
            bucket("2026-03-08T05:00:00Z", Some("2026-03-08"), 3, 30.0),
        ];
        let later = vec![
            bucket("2026-03-08T07:00:00Z", Some("2026-03-08"), 4, 40.0),
            bucket("2026-03-09T05:00:00Z", Some("2026-03-09"), 5, 50.0),
        ];
        merge_buckets(&mut first, later);
        let days: Vec<_> = first
            .iter()
            .map(|b| {
                (
                    b.day.clone().unwrap(),
                    b.start.to_rfc3339(),
                    b.count,
                    b.solar_wh,
                )
            })
            .collect();
        assert_eq!(
            days,
            vec![
                (
                    "2026-03-07".into(),
                    "2026-03-07T05:00:00+00:00".into(),
                    10,
                    100.0
                ),
                (
                    "2026-03-08".into(),
                    "2026-03-08T05:00:00+00:00".into(),
                    7,
                    70.0
                ),
                (
                    "2026-03-09".into(),
                    "2026-03-09T05:00:00+00:00".into(),
                    5,
                    50.0
                ),
            ]
        );
        assert_eq!(first[1].grid_wh, 2.0);
        assert_eq!(first[1].load_wh, 4.0);
    }

    #[test]
    fn hours_read_in_two_halves_stay_apart_and_in_order() {
        let mut first = vec![bucket("2026-03-08T05:00:00Z", None, 2, 20.0)];
        let later = vec![
            bucket("2026-03-08T06:00:00Z", None, 3, 30.0),
            bucket("2026-03-08T07:00:00Z", None, 4, 40.0),
        ];
        merge_buckets(&mut first, later);
        let counts: Vec<i64> = first.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![2, 3, 4]);
    }
}
