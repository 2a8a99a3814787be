//! The status a device posts once a minute, parsed once at the edge (STYLE: parse, don't
//! validate). Shared by the server (ingest) and the browser (charts).

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One reading, checked: finite, physically possible values and a plausible time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The device's own time of the reading (UTC).
    pub time: DateTime<Utc>,
    pub solar_w: f64,
    pub grid_w: f64,
    pub load_w: f64,
    pub motor_rpm: i64,
    pub motor_on: bool,
    pub dc_bus_v: f64,
    pub temperature_c: f64,
    /// `None` when the device reports no fault (a `fault_code` of 0 means none).
    pub fault_code: Option<i64>,
    pub schedule_version: Option<i64>,
    /// The `hash` of the schedule the device runs, as its fetch gave it (or as the firmware
    /// computes it over the windows it holds), lowercase hex: a device whose windows were
    /// changed by hand reports its version with another hash, and shows as drifted.
    pub schedule_hash: Option<String>,
    /// Fields this version of sunfleet does not know, kept as sent.
    pub extra: Map<String, Value>,
}

/// Why one reading was not stored. `code` is stable; partners and firmware match on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Readings older than this are firmware clock faults, not history.
pub fn earliest_valid_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0)
        .single()
        .expect("BUG: constant date")
}

/// How far ahead of the server's clock a device's clock may run.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

const WATTS_MAX: f64 = 1_000_000.0;

impl Status {
    /// Parses one status object. `fallback_time` is used when the device sent no `time`
    /// (Particle's `published_at`, or the time of receipt); `now` bounds the future.
    pub fn parse(
        value: &Value,
        fallback_time: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Status, Rejection> {
        let Value::Object(fields) = value else {
            return Err(Rejection::new(
                "invalid_status",
                "a status is a JSON object",
            ));
        };
        let mut fields = fields.clone();
        let time = match fields.remove("time") {
            Some(v) => parse_time(&v)?,
            None => fallback_time
                .ok_or_else(|| Rejection::new("missing_field", "`time` is required"))?,
        };
        if time < earliest_valid_time() {
            return Err(Rejection::new(
                "time_too_old",
                format!("`time` {time} is before 2015; is the device clock set?"),
            ));
        }
        if time > now + MAX_CLOCK_SKEW {
            return Err(Rejection::new(
                "time_in_future",
                format!("`time` {time} is more than 5 minutes ahead of the server clock"),
            ));
        }
        let fault_code = optional_int(&mut fields, "fault_code", 0, 65_535)?.filter(|c| *c != 0);
        Ok(Status {
            time,
            solar_w: float(&mut fields, "solar_w", 0.0, WATTS_MAX)?,
            grid_w: float(&mut fields, "grid_w", 0.0, WATTS_MAX)?,
            load_w: float(&mut fields, "load_w", 0.0, WATTS_MAX)?,
            motor_rpm: int(&mut fields, "motor_rpm", 0, 100_000)?,
            motor_on: boolean(&mut fields, "motor_on")?,
            dc_bus_v: float(&mut fields, "dc_bus_v", 0.0, 2_000.0)?,
            temperature_c: float(&mut fields, "temperature_c", -80.0, 200.0)?,
            fault_code,
            schedule_version: optional_int(&mut fields, "schedule_version", 0, i64::MAX)?,
            schedule_hash: hash(&mut fields, "schedule_hash")?,
            extra: fields,
        })
    }

    /// The JSON a device posts for this reading (used by the simulator and tests).
    pub fn to_json(&self) -> Value {
        let mut body = self.extra.clone();
        body.insert("time".into(), Value::String(self.time.to_rfc3339()));
        body.insert("solar_w".into(), self.solar_w.into());
        body.insert("grid_w".into(), self.grid_w.into());
        body.insert("load_w".into(), self.load_w.into());
        body.insert("motor_rpm".into(), self.motor_rpm.into());
        body.insert("motor_on".into(), self.motor_on.into());
        body.insert("dc_bus_v".into(), self.dc_bus_v.into());
        body.insert("temperature_c".into(), self.temperature_c.into());
        body.insert("fault_code".into(), self.fault_code.unwrap_or(0).into());
        if let Some(v) = self.schedule_version {
            body.insert("schedule_version".into(), v.into());
        }
        if let Some(h) = &self.schedule_hash {
            body.insert("schedule_hash".into(), h.clone().into());
        }
        Value::Object(body)
    }
}

/// RFC 3339 text, or seconds (or milliseconds, when too large to be seconds) since 1970.
fn parse_time(value: &Value) -> Result<DateTime<Utc>, Rejection> {
    let bad = || {
        Rejection::new(
            "invalid_value",
            "`time` must be an RFC 3339 date-time or a Unix timestamp",
        )
    };
    match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad()),
        Value::Number(n) => {
            let secs = n.as_f64().filter(|s| s.is_finite()).ok_or_else(bad)?;
            // Seconds until the year 5138; beyond that the firmware sends milliseconds.
            let millis = if secs.abs() < 1e11 {
                secs * 1000.0
            } else {
                secs
            };
            if millis.abs() > 1e15 {
                return Err(bad());
            }
            Utc.timestamp_millis_opt(millis as i64)
                .single()
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn number(fields: &mut Map<String, Value>, name: &str) -> Result<Option<f64>, Rejection> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(Rejection::new(
                "invalid_value",
                format!("`{name}` is not a finite number"),
            )),
        },
        Some(_) => Err(Rejection::new(
            "invalid_value",
            format!("`{name}` must be a number"),
        )),
    }
}

fn in_range(name: &str, x: f64, min: f64, max: f64) -> Result<f64, Rejection> {
    if x < min || x > max {
        return Err(Rejection::new(
            "value_out_of_range",
            format!("`{name}` = {x} is outside {min}..={max}"),
        ));
    }
    Ok(x)
}

fn float(
    fields: &mut Map<String, Value>,
    name: &str,
    min: f64,
    max: f64,
) -> Result<f64, Rejection> {
    let x = number(fields, name)?
        .ok_or_else(|| Rejection::new("missing_field", format!("`{name}` is required")))?;
    in_range(name, x, min, max)
}

fn optional_int(
    fields: &mut Map<String, Value>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Rejection> {
    let Some(x) = number(fields, name)? else {
        return Ok(None);
    };
    if x.fract() != 0.0 {
        return Err(Rejection::new(
            "invalid_value",
            format!("`{name}` must be a whole number"),
        ));
    }
    in_range(name, x, min as f64, max as f64).map(|x| Some(x as i64))
}

fn int(fields: &mut Map<String, Value>, name: &str, min: i64, max: i64) -> Result<i64, Rejection> {
    optional_int(fields, name, min, max)?
        .ok_or_else(|| Rejection::new("missing_field", format!("`{name}` is required")))
}

/// 8 to 64 hex digits, kept lowercase (firmware may print either case).
fn hash(fields: &mut Map<String, Value>, name: &str) -> Result<Option<String>, Rejection> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if (8..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(_) => Err(Rejection::new(
            "invalid_value",
            format!("`{name}` must be 8 to 64 hex digits"),
        )),
    }
}

fn boolean(fields: &mut Map<String, Value>, name: &str) -> Result<bool, Rejection> {
    match fields.remove(name) {
        Some(Value::Bool(b)) => Ok(b),
        // Some firmware sends 0/1.
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(false),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(true),
        None | Some(Value::Null) => Err(Rejection::new(
            "missing_field",
            format!("`{name}` is required"),
        )),
        Some(_) => Err(Rejection::new(
            "invalid_value",
            format!("`{name}` must be true or false"),
        )),
    }
}

/// What an ingest request stored: repeats count as accepted (the device may forget them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReceipt {
    /// Readings now durable (new ones and repeats of stored ones).
    pub accepted: usize,
    /// Of those, how many were already stored.
    pub duplicates: usize,
    /// Readings not stored, by their position in the request.
    pub rejected: Vec<RejectedReading>,
    /// Present when the device does not run the desired schedule: fetch it from `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleNotice>,
    /// Commands to run, in id order; run each id once (a command is handed out again until
    /// it is acknowledged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<crate::control::command::CommandOrder>,
    /// Acknowledgements in the request that were not taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acks_rejected: Vec<crate::control::command::AckRejected>,
}

/// "A newer schedule waits for you": kept short, as Particle hands a webhook's answer to
/// the device in 512-byte chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleNotice {
    pub version: u64,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedReading {
    pub index: usize,
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_resolution_is_the_finest_that_keeps_a_range_within_2000_points() {
        let to = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let auto = |span: Duration, fleet| Resolution::auto(to - span, to, fleet);
        assert_eq!(auto(Duration::minutes(2_000), false), Some(Resolution::Raw));
        assert_eq!(
            auto(Duration::minutes(2_001), false),
            Some(Resolution::Hour)
        );
        assert_eq!(
            auto(Duration::hours(1), true),
            Some(Resolution::Hour),
            "fleets: no raw"
        );
        assert_eq!(auto(Duration::hours(2_000), false), Some(Resolution::Hour));
        assert_eq!(auto(Duration::hours(2_001), false), Some(Resolution::Day));
        assert_eq!(auto(Duration::days(365), true), Some(Resolution::Day));
        assert_eq!(auto(Duration::days(2_000), false), Some(Resolution::Day));
        assert_eq!(auto(Duration::days(2_001), false), None);
        // Asked for, a resolution is held to the same limit.
        assert!(Resolution::Raw.fits(to - Duration::minutes(2_000), to));
        assert!(!Resolution::Raw.fits(to - Duration::minutes(2_001), to));
        assert!(!Resolution::Hour.fits(to - Duration::days(90), to));
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn good() -> Value {
        json!({
            "time": "2026-11-22T11:59:00Z", "solar_w": 1200.5, "grid_w": 0, "load_w": 1210,
            "motor_rpm": 3400, "motor_on": true, "dc_bus_v": 356.2, "temperature_c": 31.5,
            "fault_code": 0, "schedule_version": 3, "schedule_hash": "9F2C44D01BA7E3C5",
            "fw_build": "abc"
        })
    }

    #[test]
    fn a_complete_status_parses_and_keeps_unknown_fields() {
        let s = Status::parse(&good(), None, now()).unwrap();
        assert_eq!(s.solar_w, 1200.5);
        assert_eq!(s.grid_w, 0.0);
        assert_eq!(s.motor_rpm, 3400);
        assert_eq!(s.fault_code, None, "fault 0 means no fault");
        assert_eq!(s.schedule_version, Some(3));
        assert_eq!(s.schedule_hash.as_deref(), Some("9f2c44d01ba7e3c5"));
        assert_eq!(s.extra.get("fw_build"), Some(&json!("abc")));
        assert_eq!(
            s.time,
            Utc.with_ymd_and_hms(2026, 11, 22, 11, 59, 0).unwrap()
        );
    }

    #[test]
    fn a_status_round_trips_through_its_json() {
        let s = Status::parse(&good(), None, now()).unwrap();
        assert_eq!(Status::parse(&s.to_json(), None, now()).unwrap(), s);
    }

    #[test]
    fn unix_seconds_and_milliseconds_are_times() {
        let t = now() - Duration::minutes(1);
        for raw in [json!(t.timestamp()), json!(t.timestamp_millis())] {
            let mut v = good();
            v["time"] = raw;
            assert_eq!(Status::parse(&v, None, now()).unwrap().time, t);
        }
    }

    #[test]
    fn a_missing_time_falls_back_to_the_delivery_time() {
        let mut v = good();
        v.as_object_mut().unwrap().remove("time");
        assert_eq!(
            Status::parse(&v, None, now()).unwrap_err().code,
            "missing_field"
        );
        assert_eq!(Status::parse(&v, Some(now()), now()).unwrap().time, now());
    }

    fn rejected(field: &str, value: Value) -> &'static str {
        let mut v = good();
        v[field] = value;
        Status::parse(&v, None, now()).unwrap_err().code
    }

    #[test]
    fn impossible_values_are_rejected_with_a_reason() {
        assert_eq!(rejected("solar_w", json!(-1)), "value_out_of_range");
        assert_eq!(rejected("grid_w", json!("12")), "invalid_value");
        assert_eq!(rejected("load_w", json!(null)), "missing_field");
        assert_eq!(rejected("motor_rpm", json!(12.5)), "invalid_value");
        assert_eq!(rejected("motor_on", json!("yes")), "invalid_value");
        assert_eq!(rejected("temperature_c", json!(500)), "value_out_of_range");
        assert_eq!(rejected("fault_code", json!(-3)), "value_out_of_range");
        assert_eq!(rejected("schedule_hash", json!("abc")), "invalid_value");
        assert_eq!(
            rejected("schedule_hash", json!("zz2c44d01ba7e3c5")),
            "invalid_value"
        );
        assert_eq!(rejected("schedule_hash", json!(12345678)), "invalid_value");
    }

    #[test]
    fn implausible_times_are_rejected() {
        assert_eq!(
            rejected("time", json!("2014-12-31T23:59:59Z")),
            "time_too_old"
        );
        assert_eq!(
            rejected("time", json!("2026-11-22T12:06:00Z")),
            "time_in_future"
        );
        assert_eq!(rejected("time", json!("yesterday")), "invalid_value");
        assert_eq!(rejected("time", json!(1e300)), "invalid_value");
        // Within the allowed clock skew.
        let mut v = good();
        v["time"] = json!("2026-11-22T12:04:00Z");
        assert!(Status::parse(&v, None, now()).is_ok());
    }

    #[test]
    fn a_reading_travels_as_one_number_and_a_bucket_as_min_avg_max() {
        let point = Point {
            t: now(),
            count: 1,
            metrics: vec![MetricStat::one(18.5), MetricStat::one(0.0)],
            energy_wh: None,
            day: None,
        };
        let wire = serde_json::to_value(&point).unwrap();
        assert_eq!(
            wire,
            json!({"t": "2026-11-22T12:00:00Z", "count": 1, "metrics": [18.5, 0.0]})
        );
        assert_eq!(serde_json::from_value::<Point>(wire).unwrap(), point);

        let bucket = MetricStat {
            min: 1.0,
            avg: 2.5,
            max: 4.0,
        };
        let wire = serde_json::to_value(bucket).unwrap();
        assert_eq!(wire, json!({"min": 1.0, "avg": 2.5, "max": 4.0}));
        assert_eq!(serde_json::from_value::<MetricStat>(wire).unwrap(), bucket);
        // Integers are numbers too (a partner's own JSON may drop the ".0").
        assert_eq!(
            serde_json::from_value::<MetricStat>(json!(3)).unwrap(),
            MetricStat::one(3.0)
        );
        assert!(serde_json::from_value::<MetricStat>(json!({"min": 1.0})).is_err());
    }

    #[test]
    fn not_an_object_is_rejected() {
        for v in [json!([1]), json!("x"), json!(null), json!(3)] {
            assert_eq!(
                Status::parse(&v, Some(now()), now()).unwrap_err().code,
                "invalid_status"
            );
        }
    }
}

/// How finely a series is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// One point per stored reading (about one a minute).
    Raw,
    /// One point per local hour of the device.
    Hour,
    /// One point per local day of the device.
    Day,
}

/// Most points one series answer carries.
pub const MAX_POINTS: i64 = 2_000;

impl Resolution {
    /// The finest resolution that keeps `[from, to)` within [`MAX_POINTS`]; `None` if even
    /// days are too many. Fleet series have no raw resolution.
    pub fn auto(from: DateTime<Utc>, to: DateTime<Utc>, fleet: bool) -> Option<Resolution> {
        let span = to - from;
        if !fleet && span.num_minutes() <= MAX_POINTS {
            Some(Resolution::Raw)
        } else if span.num_hours() <= MAX_POINTS {
            Some(Resolution::Hour)
        } else if span.num_days() <= MAX_POINTS {
            Some(Resolution::Day)
        } else {
            None
        }
    }

    /// The next coarser resolution, if any.
    pub fn coarser(self) -> Option<Resolution> {
        match self {
            Resolution::Raw => Some(Resolution::Hour),
            Resolution::Hour => Some(Resolution::Day),
            Resolution::Day => None,
        }
    }

    /// Whether `[from, to)` at this resolution stays within [`MAX_POINTS`], judged from
    /// the range's length (one reading a minute); the answer is checked again once read.
    pub fn fits(self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let span = to - from;
        match self {
            Resolution::Raw => span.num_minutes() <= MAX_POINTS,
            Resolution::Hour => span.num_hours() <= MAX_POINTS,
            Resolution::Day => span.num_days() <= MAX_POINTS,
        }
    }
}

/// Min, average and max of one metric over a point's bucket. On the wire, a bucket where
/// all three are equal (every raw point: one reading) is one number, else `{min, avg,
/// max}`: a day of raw readings was 407 KB of JSON, a third of it the same value thrice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricStat {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

impl MetricStat {
    /// One reading's value.
    pub fn one(value: f64) -> Self {
        MetricStat {
            min: value,
            avg: value,
            max: value,
        }
    }
}

/// The shape of [`MetricStat`] on the wire.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum MetricWire {
    One(f64),
    Stat { min: f64, avg: f64, max: f64 },
}

impl Serialize for MetricStat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let MetricStat { min, avg, max } = *self;
        if min == avg && avg == max {
            MetricWire::One(avg).serialize(s)
        } else {
            MetricWire::Stat { min, avg, max }.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for MetricStat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match MetricWire::deserialize(d)? {
            MetricWire::One(value) => MetricStat::one(value),
            MetricWire::Stat { min, avg, max } => MetricStat { min, avg, max },
        })
    }
}

/// One point of a series: the bucket starting at `t` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub t: DateTime<Utc>,
    /// Readings in the bucket (1 for raw points; summed over devices for the fleet).
    pub count: i64,
    /// Per metric in [`METRIC_NAMES`] order; empty for fleet series (they sum energy).
    pub metrics: Vec<MetricStat>,
    /// Energy in the bucket (Wh) from solar, from the grid, and used by the load; `None`
    /// (left out) for raw points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_wh: Option<[f64; 3]>,
    /// The local calendar day of a daily point (`YYYY-MM-DD`). A fleet's daily point sums
    /// each device's own local day, which starts at different instants across timezones,
    /// so `t` (the earliest of them) alone would name the wrong day in some viewers' zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
}

/// The metrics of [`Point::metrics`], in order, with their units.
pub const METRIC_NAMES: [(&str, &str); 6] = [
    ("solar_w", "W"),
    ("grid_w", "W"),
    ("load_w", "W"),
    ("motor_rpm", "rpm"),
    ("dc_bus_v", "V"),
    ("temperature_c", "°C"),
];

/// A time series for one device or for the whole fleet in scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The device, or `None` for the fleet.
    pub device: Option<String>,
    pub resolution: Resolution,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The device's IANA timezone (its hour and day buckets are local); `None` for fleets.
    pub timezone: Option<String>,
    pub points: Vec<Point>,
}
