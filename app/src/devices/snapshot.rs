//! The live fleet in memory. Every Fleet page, map, export and home summary filters, sorts and
//! pages the same few thousand rows; asking SurrealDB to scan and join them per request capped
//! the Fleet page at ~150 pages/s. Instead the process keeps one snapshot of devices and their
//! latest status, reloaded when older than [`TTL`] (one loader at a time; others keep using
//! the previous snapshot meanwhile) and dropped at once by any device change made through
//! this process. Readings reach the list within [`TTL`]; another node's device edits too.
//! Server-only.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::filter::{Coordinates, FleetFilter, SortKey, StatusFilter, PAGE_SIZE};
use super::model::{Connectivity, DeviceId, FleetFacets, FleetList, FleetRow, MapPoint, Marker};
use crate::db::{internal, key_string, Db};
use crate::error::Result;
use crate::ui::format::ago;

/// How stale the snapshot may get.
pub const TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct FleetCache {
    current: RwLock<Option<Arc<Snapshot>>>,
    generation: AtomicU64,
    loading: tokio::sync::Mutex<()>,
}

impl FleetCache {
    /// The current snapshot, reloaded first if it is stale. While another request reloads
    /// one that merely aged, the previous one is served rather than waiting; one that a
    /// change invalidated is waited for, so a change is seen by the next request.
    pub async fn get(&self, db: &Db) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _loading = match self.loading.try_lock() {
            Ok(guard) => guard,
            Err(_) => match self.any() {
                Some(stale) => return Ok(stale),
                None => self.loading.lock().await,
            },
        };
        // Someone else may have loaded it while this request waited.
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let snapshot = Arc::new(Snapshot::load(db, generation).await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let generation = self.generation.load(Ordering::Acquire);
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|s| s.generation == generation && s.loaded.elapsed() < TTL)
            .cloned()
    }

    /// The current snapshot if nothing changed since it was loaded, however old.
    fn any(&self) -> Option<Arc<Snapshot>> {
        let generation = self.generation.load(Ordering::Acquire);
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|s| s.generation == generation)
            .cloned()
    }

    /// Drops the snapshot: the next request loads the database's view.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// The snapshot for this request: the process's cache when the server provided one, else a
/// fresh load (store-level tests).
pub async fn snapshot(db: &Db) -> Result<Arc<Snapshot>> {
    match leptos::prelude::use_context::<Arc<FleetCache>>() {
        Some(cache) => cache.get(db).await,
        None => Ok(Arc::new(Snapshot::load(db, 0).await?)),
    }
}

/// Call after changing devices, so the next list shows the change.
pub fn forget_fleet() {
    if let Some(cache) = leptos::prelude::use_context::<Arc<FleetCache>>() {
        cache.invalidate();
    }
}

#[derive(Debug)]
pub struct Snapshot {
    rows: Vec<Device>,
    loaded: Instant,
    generation: u64,
}

#[derive(Debug, Clone)]
struct Device {
    id: DeviceId,
    name: String,
    model: String,
    firmware: String,
    owner_key: String,
    owner_name: String,
    location: Option<Coordinates>,
    offline_timeout_s: i64,
    status: Option<Status>,
    /// Lower-cased name, id, owner, model and firmware, for the text filter.
    haystack: String,
}

#[derive(Debug, Clone, SurrealValue)]
struct Status {
    id: String,
    last_seen: DateTime<Utc>,
    last_heard: Option<DateTime<Utc>>,
    online: bool,
    fault_code: Option<i64>,
    solar_w: f64,
    grid_w: f64,
}

#[derive(Debug, SurrealValue)]
struct DeviceRow {
    id: String,
    name: String,
    model: String,
    firmware: String,
    owner: RecordId,
    lat: Option<f64>,
    lon: Option<f64>,
    offline_timeout_s: i64,
}

#[derive(Debug, SurrealValue)]
struct OrgName {
    id: String,
    name: String,
}

/// Online while heard from within the device's offline timeout. Contact, not reading time,
/// decides: a device sending its backlog is online.
pub fn connectivity(
    online: bool,
    last_heard: DateTime<Utc>,
    timeout_s: i64,
    now: DateTime<Utc>,
) -> Connectivity {
    if online && (now - last_heard).num_seconds() <= timeout_s {
        Connectivity::Online
    } else {
        Connectivity::Offline
    }
}

impl Device {
    fn connectivity(&self, now: DateTime<Utc>) -> Connectivity {
        match &self.status {
            None => Connectivity::NeverSeen,
            Some(s) => connectivity(
                s.online,
                s.last_heard.unwrap_or(s.last_seen),
                self.offline_timeout_s,
                now,
            ),
        }
    }

    fn fault(&self) -> Option<i64> {
        self.status.as_ref().and_then(|s| s.fault_code)
    }

    fn row(&self, now: DateTime<Utc>, near: Option<Coordinates>) -> FleetRow {
        let s = self.status.as_ref();
        FleetRow {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner_name.clone(),
            owner_id: self.owner_key.clone(),
            model: self.model.clone(),
            firmware: self.firmware.clone(),
            connectivity: self.connectivity(now),
            fault_code: self.fault(),
            last_seen_ago: s.map(|s| ago((now - s.last_seen).num_seconds())),
            solar_w: s.map(|s| s.solar_w),
            grid_w: s.map(|s| s.grid_w),
            location: self.location,
            distance_km: near.zip(self.location).map(|(n, l)| n.km_to(l)),
        }
    }
}

impl Snapshot {
    async fn load(db: &Db, generation: u64) -> Result<Self> {
        let mut response = db
            .query(
                "SELECT record::id(id) AS id, name, model, firmware, owner,
                        location.lat AS lat, location.lon AS lon, offline_timeout_s
                 FROM device WHERE decommissioned_at IS NONE",
            )
            .query(
                "SELECT record::id(id) AS id, last_seen, last_heard, online, fault_code,
                        solar_w, grid_w
                 FROM device_status",
            )
            .query("SELECT record::id(id) AS id, name FROM org")
            .await
            .and_then(|r| r.check())
            .map_err(internal("fleet snapshot"))?;
        let devices: Vec<DeviceRow> = response.take(0).map_err(internal("fleet devices"))?;
        let statuses: Vec<Status> = response.take(1).map_err(internal("fleet status"))?;
        let orgs: Vec<OrgName> = response.take(2).map_err(internal("fleet orgs"))?;
        let mut statuses: HashMap<String, Status> =
            statuses.into_iter().map(|s| (s.id.clone(), s)).collect();
        let orgs: HashMap<String, String> = orgs.into_iter().map(|o| (o.id, o.name)).collect();
        let mut rows: Vec<Device> = devices
            .into_iter()
            .filter_map(|d| {
                // A row whose id no longer parses is skipped (and logged), not fatal.
                let id = DeviceId::parse(&d.id)
                    .inspect_err(|_| tracing::warn!(id = %d.id, "device with an invalid id"))
                    .ok()?;
                let owner_key = key_string(&d.owner);
                let owner_name = orgs.get(&owner_key).cloned().unwrap_or_default();
                let haystack = format!(
                    "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
                    d.name, d.id, owner_name, d.model, d.firmware
                )
                .to_lowercase();
                Some(Device {
                    status: statuses.remove(&d.id),
                    location: d
                        .lat
                        .zip(d.lon)
                        .and_then(|(lat, lon)| Coordinates::new(lat, lon).ok()),
                    id,
                    name: d.name,
                    model: d.model,
                    firmware: d.firmware,
                    owner_key,
                    owner_name,
                    offline_timeout_s: d.offline_timeout_s,
                    haystack,
                })
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(Self {
            rows,
            loaded: Instant::now(),
            generation,
        })
    }

    /// The devices of the orgs in `scope` (`None`: all).
    fn scoped<'a>(&'a self, scope: Option<&'a [RecordId]>) -> impl Iterator<Item = &'a Device> {
        let keys: Option<HashSet<String>> = scope.map(|orgs| orgs.iter().map(key_string).collect());
        self.rows
            .iter()
            .filter(move |d| keys.as_ref().is_none_or(|k| k.contains(&d.owner_key)))
    }

    /// The devices of `scope` that pass `filter`, in its order.
    fn matching<'a>(
        &'a self,
        scope: Option<&'a [RecordId]>,
        filter: &FleetFilter,
        now: DateTime<Utc>,
    ) -> Vec<&'a Device> {
        let q = filter.q.to_lowercase();
        let mut found: Vec<&Device> = self
            .scoped(scope)
            .filter(|d| q.is_empty() || d.haystack.contains(&q))
            .filter(|d| match filter.status {
                None => true,
                Some(StatusFilter::Fault) => d.fault().is_some(),
                Some(StatusFilter::Online) => d.connectivity(now) == Connectivity::Online,
                Some(StatusFilter::Offline) => d.connectivity(now) == Connectivity::Offline,
                Some(StatusFilter::Never) => d.status.is_none(),
            })
            .filter(|d| filter.org.as_ref().is_none_or(|o| &d.owner_key == o))
            .filter(|d| filter.model.as_ref().is_none_or(|m| &d.model == m))
            .filter(|d| filter.firmware.as_ref().is_none_or(|f| &d.firmware == f))
            .filter(|d| {
                filter
                    .bbox
                    .is_none_or(|b| d.location.is_some_and(|l| b.contains(l.lat, l.lon)))
            })
            .collect();
        sort(&mut found, filter, now);
        found
    }

    /// One page of the Fleet list.
    pub fn list(
        &self,
        scope: Option<&[RecordId]>,
        filter: &FleetFilter,
        now: DateTime<Utc>,
    ) -> FleetList {
        let found = self.matching(scope, filter, now);
        let pages = found.len().div_ceil(PAGE_SIZE).max(1);
        let page = filter.page.min(pages);
        let rows = found
            .iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .map(|d| d.row(now, filter.near))
            .collect();
        let mut facets = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut total = 0;
        for d in self.scoped(scope) {
            total += 1;
            facets.0.insert((d.owner_name.clone(), d.owner_key.clone()));
            facets.1.insert(d.model.clone());
            facets.2.insert(d.firmware.clone());
        }
        FleetList {
            filter: filter.at_page(page),
            rows,
            matched: found.len() as u64,
            total,
            pages,
            facets: FleetFacets {
                orgs: facets.0.into_iter().map(|(name, id)| (id, name)).collect(),
                models: facets.1.into_iter().filter(|m| !m.is_empty()).collect(),
                firmwares: facets.2.into_iter().filter(|f| !f.is_empty()).collect(),
            },
        }
    }

    /// Every matching device (no paging), for the export and summaries.
    pub fn rows(
        &self,
        scope: Option<&[RecordId]>,
        filter: &FleetFilter,
        now: DateTime<Utc>,
    ) -> Vec<FleetRow> {
        self.matching(scope, filter, now)
            .into_iter()
            .map(|d| d.row(now, filter.near))
            .collect()
    }

    /// Every matching device with a location, and how many match without one.
    pub fn map(
        &self,
        scope: Option<&[RecordId]>,
        filter: &FleetFilter,
        now: DateTime<Utc>,
    ) -> (Vec<MapPoint>, u64) {
        let mut unplaced = 0;
        let points = self
            .matching(scope, filter, now)
            .into_iter()
            .filter_map(|d| {
                let Some(at) = d.location else {
                    unplaced += 1;
                    return None;
                };
                let s = d.status.as_ref();
                Some(MapPoint {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    lat: at.lat,
                    lon: at.lon,
                    marker: Marker::of(d.connectivity(now), d.fault()),
                    solar_w: s.map(|s| s.solar_w),
                    grid_w: s.map(|s| s.grid_w),
                })
            })
            .collect();
        (points, unplaced)
    }
}

fn sort(found: &mut [&Device], filter: &FleetFilter, now: DateTime<Utc>) {
    use std::cmp::Ordering as O;
    // Unknown values (never seen, no location) go last in either direction.
    fn last_if_none<T: PartialOrd>(a: Option<T>, b: Option<T>, desc: bool) -> O {
        match (a, b) {
            (Some(a), Some(b)) => {
                let o = a.partial_cmp(&b).unwrap_or(O::Equal);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => O::Less,
            (None, Some(_)) => O::Greater,
            (None, None) => O::Equal,
        }
    }
    let desc = filter.desc;
    let flip = |o: O| if desc { o.reverse() } else { o };
    // Rows arrive by name, and the sort is stable, so ties stay in name order.
    match filter.sort {
        SortKey::Name => {
            if desc {
                found.reverse()
            }
        }
        SortKey::Id => found.sort_by(|a, b| flip(a.id.cmp(&b.id))),
        SortKey::Owner => found.sort_by(|a, b| flip(a.owner_name.cmp(&b.owner_name))),
        SortKey::Status => {
            // Faults first, then offline, never seen, online.
            let rank = |d: &Device| match (d.fault(), d.connectivity(now)) {
                (Some(_), _) => 0,
                (None, Connectivity::Offline) => 1,
                (None, Connectivity::NeverSeen) => 2,
                (None, Connectivity::Online) => 3,
            };
            found.sort_by(|a, b| flip(rank(a).cmp(&rank(b))))
        }
        SortKey::LastSeen => found.sort_by(|a, b| {
            last_if_none(
                a.status.as_ref().map(|s| s.last_seen),
                b.status.as_ref().map(|s| s.last_seen),
                desc,
            )
        }),
        SortKey::Solar => found.sort_by(|a, b| {
            last_if_none(
                a.status.as_ref().map(|s| s.solar_w),
                b.status.as_ref().map(|s| s.solar_w),
                desc,
            )
        }),
        SortKey::Grid => found.sort_by(|a, b| {
            last_if_none(
                a.status.as_ref().map(|s| s.grid_w),
                b.status.as_ref().map(|s| s.grid_w),
                desc,
            )
        }),
        SortKey::Distance => {
            let near = filter.near;
            found.sort_by(|a, b| {
                last_if_none(
                    near.zip(a.location).map(|(n, l)| n.km_to(l)),
                    near.zip(b.location).map(|(n, l)| n.km_to(l)),
                    desc,
                )
            })
        }
    }
}
