//! The history server function and the CSV export behind `GET /history.csv`. Reading needs
//! the `read` right; what is read is the caller's scope (DESIGN.md §5): a device or org
//! outside it is a 404, like one that does not exist.

use leptos::prelude::*;

use super::model::HistoryPage;
use crate::error::AppError;

/// One page of events matching `query` (a History URL query string), newest first; `limit`
/// is 1–50 (default 50).
#[server(endpoint = "history")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn history(
    #[server(default)] query: String,
    #[server(default)] limit: Option<u32>,
) -> Result<HistoryPage, AppError> {
    crate::error::respond(
        async {
            use super::model::{HistoryFilter, PAGE};
            let caller = crate::accounts::caller::caller()?;
            let filter = HistoryFilter::parse_query(&query)?;
            let limit = match limit {
                None => PAGE,
                Some(l @ 1..=50) => l as usize,
                Some(_) => return Err(AppError::validation("limit is 1 to 50")),
            };
            let db = crate::db::db()?;
            let now = chrono::Utc::now();
            let query = ssr::resolve(&db, &caller, &filter, now).await?;
            let before = filter.before.as_ref();
            let mut rows =
                super::store::first_page_cached(&db, &query, before, limit + 1, now).await?;
            let next = (rows.len() > limit).then(|| rows[limit - 1].cursor().encode());
            rows.truncate(limit);
            Ok(HistoryPage {
                entries: ssr::entries(&db, rows).await?,
                next,
                from: query.from,
                to: query.to,
            })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::collections::HashMap;

    use chrono::{DateTime, Utc};
    use chrono_tz::Tz;
    use surrealdb::types::RecordId;

    use super::super::model::{
        Category, HistoryEntry, HistoryFilter, Severity, CSV_HEADER, CSV_LIMIT,
    };
    use super::super::store::{page, EventQuery, EventRow, Lane};
    use crate::accounts::caller::{Caller, Right, Scope};
    use crate::db::Db;
    use crate::devices::csv::line;
    use crate::devices::model::DeviceId;
    use crate::error::{AppError, Result};

    /// What `filter` means for `caller`: the lane to walk and the filters on it. Devices
    /// and orgs outside the scope are 404s.
    pub async fn resolve(
        db: &Db,
        caller: &Caller,
        filter: &HistoryFilter,
        now: DateTime<Utc>,
    ) -> Result<EventQuery> {
        caller.require(Right::Read)?;
        let (from, to) = filter.range.resolve(now);
        let lane = match (&filter.device, &filter.org) {
            (Some(device), _) => {
                // Decommissioned devices keep their history.
                let id = DeviceId::parse(device)?;
                let state = crate::devices::snapshot::states(db, std::slice::from_ref(&id))
                    .await?
                    .into_iter()
                    .next()
                    .filter(|s| caller.scope.contains(&s.owner))
                    .ok_or(AppError::not_found("device"))?;
                Lane::Device(state.id)
            }
            (None, Some(org)) => Lane::Orgs(caller.org_subtree(db, org).await?),
            (None, None) => match &caller.scope {
                Scope::All => Lane::All,
                Scope::Orgs(orgs) => Lane::Orgs(orgs.as_ref().clone()),
            },
        };
        // With a device, its events are also held to the scope (a device that moved into
        // it does not bring its earlier owner's history along) and to the org filter.
        let orgs = match (&lane, &filter.org) {
            (Lane::Device(_), Some(org)) => Some(caller.org_subtree(db, org).await?),
            (Lane::Device(_), None) => caller.scope.orgs(),
            _ => None,
        };
        Ok(EventQuery {
            lane,
            category: filter.category,
            kind: filter.kind.clone(),
            severities: filter
                .severity
                .unwrap_or(Severity::Info)
                .and_worse()
                .into_iter()
                .map(String::from)
                .collect(),
            orgs,
            from,
            to,
        })
    }

    /// Rows as the page shows them: with the device's name and the time in its zone.
    pub async fn entries(db: &Db, rows: Vec<EventRow>) -> Result<Vec<HistoryEntry>> {
        let mut ids: Vec<DeviceId> = rows
            .iter()
            .filter_map(|r| r.device.as_deref())
            .filter_map(|d| DeviceId::parse(d).ok())
            .collect();
        ids.sort();
        ids.dedup();
        let devices: HashMap<String, (String, Tz)> = crate::devices::snapshot::states(db, &ids)
            .await?
            .into_iter()
            .map(|s| {
                let tz = s.timezone.parse().unwrap_or(chrono_tz::UTC);
                (s.id, (s.name, tz))
            })
            .collect();
        let mut orgs: Vec<RecordId> = rows.iter().filter_map(|r| r.org.clone()).collect();
        orgs.sort_by_key(crate::db::key_string);
        orgs.dedup();
        // Names from the fleet snapshot; orgs created since it was loaded from the database.
        let snapshot = crate::devices::snapshot::cached(db).await?;
        let mut org_names = HashMap::new();
        let mut unknown = Vec::new();
        for org in orgs {
            let key = crate::db::key_string(&org);
            match snapshot.as_ref().and_then(|s| s.org_name(&key)) {
                Some(name) => {
                    org_names.insert(key, name.to_string());
                }
                None => unknown.push(org),
            }
        }
        org_names.extend(crate::orgs::store::names_of(db, unknown).await?);
        Ok(rows
            .into_iter()
            .map(|r| {
                let known = r.device.as_ref().and_then(|d| devices.get(d));
                let local_time = match known {
                    Some((_, tz)) => r.time.with_timezone(tz).format("%Y-%m-%d %H:%M:%S %Z"),
                    None => r
                        .time
                        .with_timezone(&chrono_tz::UTC)
                        .format("%Y-%m-%d %H:%M:%S UTC"),
                }
                .to_string();
                HistoryEntry {
                    id: r.id,
                    time: r.time,
                    local_time,
                    device_name: known.map(|(name, _)| name.clone()),
                    device: r.device,
                    org_name: r
                        .org
                        .as_ref()
                        .and_then(|o| org_names.get(&crate::db::key_string(o)).cloned()),
                    kind: r.kind,
                    severity: r.severity,
                    message: r.message,
                    actor: r.actor,
                }
            })
            .collect())
    }

    /// Rows fetched per round when exporting.
    const CSV_CHUNK: usize = 1_000;

    /// The CSV text of `query` (a History URL query string, its cursor ignored) as `caller`
    /// may see it: newest first, at most [`CSV_LIMIT`] events.
    pub async fn history_csv(db: &Db, caller: &Caller, query: &str) -> Result<String> {
        let filter = HistoryFilter::parse_query(query)?.first_page();
        let query = resolve(db, caller, &filter, Utc::now()).await?;
        let mut out = line(&CSV_HEADER);
        let mut cursor = None;
        let mut written = 0;
        while written < CSV_LIMIT {
            let chunk = CSV_CHUNK.min(CSV_LIMIT - written);
            let rows = page(db, &query, cursor.as_ref(), chunk).await?;
            let full = rows.len() == chunk;
            cursor = rows.last().map(EventRow::cursor);
            written += rows.len();
            for e in entries(db, rows).await? {
                out.push_str(&line(&[
                    e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    e.device.unwrap_or_default(),
                    e.device_name.unwrap_or_default(),
                    e.org_name.unwrap_or_default(),
                    Category::of(&e.kind).as_str().to_string(),
                    e.kind,
                    e.severity,
                    e.message,
                    e.actor.unwrap_or_default(),
                ]));
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }
}
