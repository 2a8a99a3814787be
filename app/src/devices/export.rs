//! The Fleet as CSV: every device matching a filter (no paging), in the filter's order, with
//! the columns the importer reads back. Server-only; the server routes `GET /fleet.csv`.

use chrono::Utc;

use super::csv::line;
use super::filter::FleetFilter;
use crate::accounts::caller::{Caller, Right};
use crate::db::Db;
use crate::error::Result;

pub const HEADER: [&str; 14] = [
    "id",
    "name",
    "owner",
    "owner_name",
    "model",
    "firmware",
    "status",
    "fault_code",
    "last_seen",
    "solar_w",
    "grid_w",
    "lat",
    "lon",
    "timezone",
];

/// The CSV text for `query` (a Fleet URL query string) as `caller` may see it.
pub async fn fleet_csv(
    db: &Db,
    fleet: &std::sync::Arc<super::snapshot::FleetCache>,
    caller: &Caller,
    query: &str,
) -> Result<String> {
    caller.require(Right::Read)?;
    let filter = FleetFilter::parse_query(query)?;
    let scope = caller.scope.orgs();
    let snapshot = fleet.get(db).await?;
    let now = Utc::now();
    let rows = snapshot.rows(scope.as_deref(), &filter, now);
    let ids: Vec<super::model::DeviceId> = rows.iter().map(|r| r.id.clone()).collect();
    // Timezones and exact last-seen times are not in the list rows: one lookup for all.
    let details = super::store::export_details(db, &ids).await?;
    let mut out = line(&HEADER);
    for row in rows {
        let (last_seen, timezone) = details.get(row.id.as_str()).cloned().unwrap_or_default();
        let number = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
        let status = super::model::Marker::of(row.connectivity, row.fault_code);
        out.push_str(&line(&[
            row.id.to_string(),
            row.name,
            row.owner_id,
            row.owner,
            row.model,
            row.firmware,
            status.as_str().to_string(),
            row.fault_code.map(|c| c.to_string()).unwrap_or_default(),
            last_seen,
            number(row.solar_w),
            number(row.grid_w),
            row.location
                .map(|l| format!("{:.6}", l.lat))
                .unwrap_or_default(),
            row.location
                .map(|l| format!("{:.6}", l.lon))
                .unwrap_or_default(),
            timezone,
        ]));
    }
    Ok(out)
}
