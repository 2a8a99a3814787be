//! Saved charts, and energy per local day. Server-only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use surrealdb::types::{Datetime, RecordId, SurrealValue};

use super::model::{DayEnergy, SavedChart};
use crate::db::{internal, key_string, Db};
use crate::error::Result;

#[derive(Debug, SurrealValue)]
struct ChartRow {
    id: RecordId,
    name: String,
    config: String,
}

/// The charts `owner` saved, by name.
pub async fn list(db: &Db, owner: &RecordId) -> Result<Vec<SavedChart>> {
    let mut response = db
        .query("SELECT id, name, config FROM chart WHERE owner = $owner ORDER BY name")
        .bind(("owner", owner.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("list charts"))?;
    let rows: Vec<ChartRow> = response.take(0).map_err(internal("list charts"))?;
    Ok(rows
        .into_iter()
        .map(|r| SavedChart {
            id: key_string(&r.id),
            name: r.name,
            config: r.config,
        })
        .collect())
}

/// Saves a chart under `name` for `owner`; a chart of the same name is replaced.
pub async fn save(db: &Db, owner: &RecordId, name: &str, config: &str) -> Result<()> {
    db.query(
        "BEGIN;
         DELETE chart WHERE owner = $owner AND name = $name;
         CREATE chart SET owner = $owner, name = $name, config = $config, created = time::now()
            RETURN NONE;
         COMMIT;",
    )
    .bind(("owner", owner.clone()))
    .bind(("name", name.to_string()))
    .bind(("config", config.to_string()))
    .await
    .and_then(|r| r.check())
    .map_err(internal("save chart"))?;
    Ok(())
}

/// Deletes one of `owner`'s charts; `false` when it has no such chart.
pub async fn delete(db: &Db, owner: &RecordId, id: &str) -> Result<bool> {
    let mut response = db
        .query("DELETE $chart WHERE owner = $owner RETURN BEFORE")
        .bind(("chart", RecordId::new("chart", id)))
        .bind(("owner", owner.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("delete chart"))?;
    let gone: Vec<surrealdb::types::Value> = response.take(0).map_err(internal("delete chart"))?;
    Ok(!gone.is_empty())
}

/// The orgs of `org`'s subtree (itself included).
pub async fn subtree(db: &Db, org: &RecordId) -> Result<Vec<RecordId>> {
    let mut response = db
        .query("SELECT VALUE id FROM org WHERE id = $org OR ancestors CONTAINS $org")
        .bind(("org", org.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org subtree"))?;
    response.take(0).map_err(internal("org subtree"))
}

#[derive(Debug, SurrealValue)]
struct DayRow {
    device: String,
    start: DateTime<Utc>,
    solar_wh: f64,
    grid_wh: f64,
}

#[derive(Debug, SurrealValue)]
struct Zone {
    id: String,
    timezone: String,
}

/// Solar and grid energy per local day over `[from, to)`, for `devices` (`None`: all).
/// Each device's day is its own (its timezone's midnight to midnight, 23 or 25 hours on
/// DST days); days with the same date are added up across devices.
pub async fn daily_energy(
    db: &Db,
    devices: Option<Vec<String>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DayEnergy>> {
    let mut response = db
        .query(
            "SELECT device, start, solar_wh, grid_wh FROM rollup_day
             WHERE start >= $from AND start < $to AND ($all OR device IN $devices)",
        )
        .query("SELECT record::id(id) AS id, timezone FROM device WHERE $all OR record::id(id) IN $devices")
        .bind(("from", Datetime::from(from)))
        .bind(("to", Datetime::from(to)))
        .bind(("all", devices.is_none()))
        .bind(("devices", devices.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("daily energy"))?;
    let rows: Vec<DayRow> = response.take(0).map_err(internal("daily energy"))?;
    let zones: Vec<Zone> = response.take(1).map_err(internal("daily energy"))?;
    let zones: std::collections::HashMap<String, chrono_tz::Tz> = zones
        .into_iter()
        .map(|z| (z.id, z.timezone.parse().unwrap_or(chrono_tz::UTC)))
        .collect();
    Ok(by_local_date(rows.into_iter().map(|r| {
        let tz = zones.get(&r.device).copied().unwrap_or(chrono_tz::UTC);
        (r.start, tz, r.solar_wh, r.grid_wh)
    })))
}

/// Adds up (day start, device timezone, solar Wh, grid Wh) by the local date each day
/// starts on, in date order.
pub fn by_local_date(
    days: impl Iterator<Item = (DateTime<Utc>, chrono_tz::Tz, f64, f64)>,
) -> Vec<DayEnergy> {
    let mut sums: BTreeMap<chrono::NaiveDate, (f64, f64)> = BTreeMap::new();
    for (start, tz, solar, grid) in days {
        let date = start.with_timezone(&tz).date_naive();
        let e = sums.entry(date).or_default();
        e.0 += solar;
        e.1 += grid;
    }
    sums.into_iter()
        .map(|(date, (solar_wh, grid_wh))| DayEnergy {
            date: date.format("%Y-%m-%d").to_string(),
            solar_wh,
            grid_wh,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::Denver;

    /// The UTC instant of local midnight on `date` in Denver.
    fn midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Denver
            .with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn days_around_a_dst_change_keep_their_own_dates() {
        // 2026-03-08 is 23 hours long in Denver; 2026-11-01 is 25.
        let spring = [
            midnight(2026, 3, 7),
            midnight(2026, 3, 8),
            midnight(2026, 3, 9),
        ];
        assert_eq!(spring[2] - spring[1], chrono::Duration::hours(23));
        let fall = [
            midnight(2026, 10, 31),
            midnight(2026, 11, 1),
            midnight(2026, 11, 2),
        ];
        assert_eq!(fall[2] - fall[1], chrono::Duration::hours(25));
        for starts in [spring, fall] {
            let days = by_local_date(starts.iter().map(|s| (*s, Denver, 1000.0, 500.0)));
            assert_eq!(days.len(), 3, "{days:?}");
            let dates: Vec<String> = days.iter().map(|d| d.date.clone()).collect();
            let want: Vec<String> = starts
                .iter()
                .map(|s| s.with_timezone(&Denver).format("%Y-%m-%d").to_string())
                .collect();
            assert_eq!(dates, want);
        }
        // A fixed UTC-7 offset would put the day after the spring change on the 8th.
        let after = by_local_date(std::iter::once((midnight(2026, 3, 9), Denver, 1.0, 0.0)));
        assert_eq!(after[0].date, "2026-03-09");
    }

    #[test]
    fn devices_in_different_zones_add_up_by_date() {
        let berlin = chrono_tz::Europe::Berlin;
        let b = berlin
            .with_ymd_and_hms(2026, 3, 8, 0, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc);
        let days = by_local_date(
            [
                (midnight(2026, 3, 8), Denver, 2000.0, 0.0),
                (b, berlin, 1000.0, 1000.0),
            ]
            .into_iter(),
        );
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].solar_wh, days[0].grid_wh), (3000.0, 1000.0));
        assert_eq!(days[0].solar_share(), Some(75.0));
    }
}
