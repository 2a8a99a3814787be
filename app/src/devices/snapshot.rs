//! The live fleet in memory. Every Fleet page, map, export and home summary filters, sorts and
//! pages the same few thousand rows; asking SurrealDB to scan and join them per request capped
//! the Fleet page at ~150 pages/s. Instead the process keeps one snapshot of devices and their
//! latest status, reloaded when older than [`TTL`] (one loader at a time; others keep using
//! the previous snapshot meanwhile) and dropped at once by any device change made through
//! this process. Statuses the ingest writer stores are patched in at once
//! ([`FleetCache::statuses_written`]); another node's readings and device edits arrive
//! within [`TTL`]. An embedded store is held by this process alone (SurrealKV locks its
//! directory), so there every change passes through here and the snapshot is never
//! reloaded for its age ([`FleetCache::for_store`]). Server-only.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::filter::{Coordinates, FleetFilter, SortKey, StatusFilter, PAGE_SIZE};
use super::model::{
    Connectivity, DeviceDetail, DeviceId, FleetFacets, FleetList, FleetRow, LatestStatus, Location,
    MapPoint, Marker,
};
use super::store::{DeviceState, NewLocation, StatusRecord};
use crate::db::{internal, key_string, Db};
use crate::error::Result;
use crate::ui::format::ago;

/// How stale the snapshot may get when other processes may write the store.
pub const TTL: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct FleetCache {
    /// How old a snapshot may get before it is read again; `None` where no other process
    /// writes the store.
    max_age: Option<Duration>,
    current: RwLock<Option<Arc<Snapshot>>>,
    generation: AtomicU64,
    loading: Arc<tokio::sync::Mutex<()>>,
    /// Whether a reload is reading the database; statuses written meanwhile are kept in
    /// `written_while_loading` and patched into what it read, which may predate them.
    reloading: AtomicBool,
    written_while_loading: Mutex<Vec<StatusRecord>>,
}

impl Default for FleetCache {
    /// A cache for a store that others may write too: reloaded when older than [`TTL`].
    fn default() -> Self {
        FleetCache {
            max_age: Some(TTL),
            current: Default::default(),
            generation: Default::default(),
            loading: Default::default(),
            reloading: Default::default(),
            written_while_loading: Default::default(),
        }
    }
}

impl FleetCache {
    /// The cache for `db`. Where this process holds the store alone, it is changed only
    /// through this process, which drops or patches the snapshot at each change, so age
    /// alone never makes it reload: each reload of 5,000 devices (~100 ms of CPU, every
    /// [`TTL`]) held up the requests behind it, the device page's p99 at 250 pages/s was
    /// 195–312 ms, in bursts of ~130 ms every 2.1 s (oha's CSV output, bench/pages.sh's
    /// open loop), and 33 ms without them.
    pub fn for_store(db: &Db) -> Self {
        FleetCache {
            max_age: (!db.held_alone()).then_some(TTL),
            ..Default::default()
        }
    }

    /// The current snapshot. One that merely aged is served as it is while a background
    /// task reloads it (a reload of 5,000 devices takes ~100 ms: waiting for it put that in
    /// the Fleet page's p99); one that a change invalidated is reloaded first and waited
    /// for, so a change is seen by the next request.
    pub async fn get(self: &Arc<Self>, db: &Db) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        if let Some(aged) = self.any() {
            if let Ok(guard) = self.loading.clone().try_lock_owned() {
                let (cache, db) = (self.clone(), db.clone());
                // On this runtime, not the storage one: there the reload took turns with the
                // requests on the two cores and the device page's p99 at 250 pages/s went
                // from 17–25 ms to 36–63 ms (bench/pages.sh's open loop, 3 runs each).
                tokio::spawn(async move {
                    if let Err(e) = cache.reload(&db).await {
                        tracing::warn!(error = %e, "reloading the fleet snapshot failed");
                    }
                    drop(guard);
                });
            }
            return Ok(aged);
        }
        let _loading = self.loading.lock().await;
        // Someone else may have loaded it while this request waited.
        if let Some(s) = self.any() {
            return Ok(s);
        }
        self.reload(db).await
    }

    async fn reload(&self, db: &Db) -> Result<Arc<Snapshot>> {
        let generation = self.generation.load(Ordering::Acquire);
        self.reloading.store(true, Ordering::SeqCst);
        let loaded = Snapshot::load(db, generation).await;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        self.reloading.store(false, Ordering::SeqCst);
        let written = std::mem::take(
            &mut *self
                .written_while_loading
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let snapshot = Arc::new(loaded?.with_statuses(&written));
        *current = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Takes statuses just stored by the ingest writer into the snapshot, without reloading
    /// it. Dropping the snapshot instead, as for other changes, made every page wait for a
    /// reload of the whole fleet: with 5,000 devices posting once a minute the Fleet page
    /// went from 250 pages/s at p99 13 ms to 15 pages/s at p50 5.8 s (oha open loop at
    /// 250/s beside `sunfleet simulate --rate 1/min`).
    pub fn statuses_written(&self, statuses: &[StatusRecord]) {
        if statuses.is_empty() {
            return;
        }
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if self.reloading.load(Ordering::SeqCst) {
            self.written_while_loading
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(statuses);
        }
        if let Some(snapshot) = current.as_ref() {
            *current = Some(Arc::new(snapshot.with_statuses(statuses)));
        }
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let generation = self.generation.load(Ordering::Acquire);
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|s| {
                s.generation == generation
                    && self.max_age.is_none_or(|age| s.loaded.elapsed() < age)
            })
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

    /// Counts the changes made to devices through this process ([`FleetCache::invalidate`]):
    /// other caches of device facts hold while it stays the same.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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

/// The process's snapshot, `None` where the server provided no cache. Under load some of
/// the device page's resources ran without it (70 of ~860 calls in a 5 s `oha` run): a
/// lookup of a few rows must then not load the whole fleet.
pub async fn cached(db: &Db) -> Result<Option<Arc<Snapshot>>> {
    match leptos::prelude::use_context::<Arc<FleetCache>>() {
        Some(cache) => cache.get(db).await.map(Some),
        None => Ok(None),
    }
}

/// The state of each of `ids` for reading it (unknown ids absent): live devices from the
/// snapshot, the rest (decommissioned ones, whose history stays readable, and any another
/// node registered since the snapshot) from the database. The device page asked the
/// database four times per view for these (a sixth of its CPU, `perf` under bench/pages.sh).
/// Changes that need the database's word (edits, commands) read `store::states`.
pub async fn states(db: &Db, ids: &[DeviceId]) -> Result<Vec<DeviceState>> {
    let Some(snapshot) = cached(db).await? else {
        return super::store::states(db, ids).await;
    };
    let (mut found, mut missing) = (Vec::with_capacity(ids.len()), Vec::new());
    for id in ids {
        match snapshot.state(id) {
            Some(state) => found.push(state),
            None => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        found.extend(super::store::states(db, &missing).await?);
    }
    Ok(found)
}

/// Call after changing devices, so the next list shows the change.
pub fn forget_fleet() {
    if let Some(cache) = leptos::prelude::use_context::<Arc<FleetCache>>() {
        cache.invalidate();
    }
}

/// Cheap to clone: a status update copies the row pointers and the changed rows only.
#[derive(Debug, Clone)]
pub struct Snapshot {
    rows: Vec<Arc<Device>>,
    /// The filter choices over the whole fleet (an admin's), worked out once: recomputing
    /// them per request was most of a Fleet page's cost.
    all_facets: Arc<FleetFacets>,
    by_id: Arc<HashMap<DeviceId, usize>>,
    /// Every org as (id, name), by name.
    orgs: Arc<Vec<(String, String)>>,
    /// Where each org id is in `orgs`.
    org_index: Arc<HashMap<String, usize>>,
    loaded: Instant,
    generation: u64,
}

#[derive(Debug, Clone)]
struct Device {
    id: DeviceId,
    name: String,
    model: String,
    firmware: String,
    owner: RecordId,
    owner_key: String,
    owner_name: String,
    dealer_name: Option<String>,
    timezone: String,
    location: Option<Coordinates>,
    /// The stored location with how it was set, for the device page.
    placed: Option<NewLocation>,
    installed_at: Option<DateTime<Utc>>,
    has_token: bool,
    offline_timeout_s: i64,
    status: Option<StatusRecord>,
    /// Lower-cased name, id, owner, model and firmware, for the text filter.
    haystack: String,
}

#[derive(Debug, SurrealValue)]
struct DeviceRow {
    id: String,
    name: String,
    model: String,
    firmware: String,
    owner: RecordId,
    dealer: Option<RecordId>,
    timezone: String,
    location: Option<NewLocation>,
    installed_at: Option<DateTime<Utc>>,
    has_token: bool,
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
                "SELECT record::id(id) AS id, name, model, firmware, owner, dealer, timezone,
                        location, installed_at, offline_timeout_s,
                        token_hash IS NOT NONE AS has_token
                 FROM device WHERE decommissioned_at IS NONE",
            )
            .query("SELECT * FROM device_status")
            .query("SELECT record::id(id) AS id, name FROM org ORDER BY name")
            .await
            .and_then(|r| r.check())
            .map_err(internal("fleet snapshot"))?;
        let devices: Vec<DeviceRow> = response.take(0).map_err(internal("fleet devices"))?;
        let statuses: Vec<StatusRecord> = response.take(1).map_err(internal("fleet status"))?;
        let org_list: Vec<OrgName> = response.take(2).map_err(internal("fleet orgs"))?;
        let mut statuses: HashMap<String, StatusRecord> = statuses
            .into_iter()
            .map(|s| (key_string(&s.id), s))
            .collect();
        let orgs: HashMap<&str, &str> = org_list
            .iter()
            .map(|o| (o.id.as_str(), o.name.as_str()))
            .collect();
        let mut rows: Vec<Device> = devices
            .into_iter()
            .filter_map(|d| {
                // A row whose id no longer parses is skipped (and logged), not fatal.
                let id = DeviceId::parse(&d.id)
                    .inspect_err(|_| tracing::warn!(id = %d.id, "device with an invalid id"))
                    .ok()?;
                let owner_key = key_string(&d.owner);
                let owner_name = orgs
                    .get(owner_key.as_str())
                    .map_or_else(String::new, |n| n.to_string());
                let dealer_name = d
                    .dealer
                    .as_ref()
                    .and_then(|r| orgs.get(key_string(r).as_str()).map(|n| n.to_string()));
                let haystack = format!(
                    "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
                    d.name, d.id, owner_name, d.model, d.firmware
                )
                .to_lowercase();
                Some(Device {
                    status: statuses.remove(&d.id),
                    location: d
                        .location
                        .as_ref()
                        .and_then(|l| Coordinates::new(l.lat, l.lon).ok()),
                    placed: d.location,
                    dealer_name,
                    timezone: d.timezone,
                    installed_at: d.installed_at,
                    has_token: d.has_token,
                    id,
                    name: d.name,
                    model: d.model,
                    firmware: d.firmware,
                    owner: d.owner,
                    owner_key,
                    owner_name,
                    offline_timeout_s: d.offline_timeout_s,
                    haystack,
                })
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        let (_, all_facets) = facets(rows.iter());
        let by_id = rows
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        let orgs: Vec<(String, String)> = org_list.into_iter().map(|o| (o.id, o.name)).collect();
        let org_index = orgs
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), i))
            .collect();
        Ok(Self {
            all_facets: Arc::new(all_facets),
            by_id: Arc::new(by_id),
            orgs: Arc::new(orgs),
            org_index: Arc::new(org_index),
            rows: rows.into_iter().map(Arc::new).collect(),
            loaded: Instant::now(),
            generation,
        })
    }

    /// This snapshot with `statuses` in place of those devices' own (devices it does not
    /// hold are left to the next reload).
    fn with_statuses(&self, statuses: &[StatusRecord]) -> Snapshot {
        let mut patched = self.clone();
        for status in statuses {
            let Ok(id) = DeviceId::parse(&key_string(&status.id)) else {
                continue;
            };
            if let Some(&i) = self.by_id.get(&id) {
                let mut device = (*patched.rows[i]).clone();
                device.status = Some(status.clone());
                patched.rows[i] = Arc::new(device);
            }
        }
        patched
    }

    /// The devices of the orgs in `scope` (`None`: all).
    fn scoped<'a>(&'a self, scope: Option<&'a [RecordId]>) -> impl Iterator<Item = &'a Device> {
        let keys: Option<HashSet<String>> = scope.map(|orgs| orgs.iter().map(key_string).collect());
        self.rows
            .iter()
            .map(|d| &**d)
            .filter(move |d| keys.as_ref().is_none_or(|k| k.contains(&d.owner_key)))
    }

    /// The devices of `scope` that pass `filter`, in its order.
    fn matching<'a>(
        &'a self,
        scope: Option<&'a [RecordId]>,
        filter: &FleetFilter,
        now: DateTime<Utc>,
    ) -> Vec<&'a Device> {
        if !filter.narrows() {
            // The Fleet page as it opens: its scope in its order, no test per device.
            let mut found: Vec<&Device> = self.scoped(scope).collect();
            sort(&mut found, filter, now);
            return found;
        }
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
        let (total, facets) = match scope {
            None => (self.rows.len() as u64, (*self.all_facets).clone()),
            Some(_) => facets(self.scoped(scope)),
        };
        FleetList {
            filter: filter.at_page(page),
            rows,
            matched: found.len() as u64,
            total,
            pages,
            facets,
        }
    }

    /// One live device of `scope` with its latest status, or `None` when there is no such
    /// device, it was decommissioned, or its owner is outside `scope` — the same answer, so
    /// ids cannot be probed. The device page reads it from here: two SurrealDB queries per
    /// page were most of its cost.
    pub fn device(
        &self,
        scope: Option<&[RecordId]>,
        id: &DeviceId,
        now: DateTime<Utc>,
    ) -> Option<DeviceDetail> {
        let d = &self.rows[*self.by_id.get(id)?];
        if scope.is_some_and(|orgs| !orgs.iter().any(|o| key_string(o) == d.owner_key)) {
            return None;
        }
        let tz: chrono_tz::Tz = d.timezone.parse().unwrap_or(chrono_tz::UTC);
        let latest = d.status.as_ref().map(|s| LatestStatus {
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
        Some(DeviceDetail {
            id: d.id.clone(),
            name: d.name.clone(),
            model: d.model.clone(),
            firmware: d.firmware.clone(),
            owner: d.owner_name.clone(),
            owner_id: d.owner_key.clone(),
            dealer: d.dealer_name.clone(),
            timezone: d.timezone.clone(),
            location: d.placed.as_ref().map(|l| Location {
                lat: l.lat,
                lon: l.lon,
                accuracy_m: l.accuracy_m,
                source: l.source.clone(),
                set_by: l.set_by.clone(),
                set_at: l.set_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            }),
            installed_on: d
                .installed_at
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string()),
            offline_timeout_min: d.offline_timeout_s / 60,
            connectivity: d.connectivity(now),
            latest,
            editable: false,
            has_token: d.has_token,
            transfer_to: Vec::new(),
            tiles: super::model::Tiles::openstreetmap(),
        })
    }

    /// A live device's state, as `store::states` reads it.
    fn state(&self, id: &DeviceId) -> Option<DeviceState> {
        let d = &self.rows[*self.by_id.get(id)?];
        Some(DeviceState {
            id: d.id.to_string(),
            name: d.name.clone(),
            model: d.model.clone(),
            firmware: d.firmware.clone(),
            owner: d.owner.clone(),
            timezone: d.timezone.clone(),
            location: d.placed.clone(),
            offline_timeout_s: d.offline_timeout_s,
            decommissioned: false,
        })
    }

    /// The name of the org with this key, if it existed at the snapshot.
    pub fn org_name(&self, key: &str) -> Option<&str> {
        self.org_index.get(key).map(|&i| self.orgs[i].1.as_str())
    }

    /// The orgs of `scope` (`None`: all) as (id, name), by name.
    pub fn org_names(&self, scope: Option<&[RecordId]>) -> Vec<(String, String)> {
        let keys: Option<HashSet<String>> = scope.map(|orgs| orgs.iter().map(key_string).collect());
        self.orgs
            .iter()
            .filter(|(id, _)| keys.as_ref().is_none_or(|k| k.contains(id)))
            .cloned()
            .collect()
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

/// How many devices there are and the filter choices they offer: orgs by name, models and
/// firmwares (blank ones left out).
fn facets<'a>(devices: impl Iterator<Item = &'a Device>) -> (u64, FleetFacets) {
    let mut total = 0;
    let (mut orgs, mut models, mut firmwares) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for d in devices {
        total += 1;
        orgs.insert((d.owner_name.as_str(), d.owner_key.as_str()));
        models.insert(d.model.as_str());
        firmwares.insert(d.firmware.as_str());
    }
    let owned = |set: BTreeSet<&str>| {
        set.into_iter()
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let facets = FleetFacets {
        orgs: orgs
            .into_iter()
            .map(|(name, id)| (id.to_string(), name.to_string()))
            .collect(),
        models: owned(models),
        firmwares: owned(firmwares),
    };
    (total, facets)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::store;

    #[tokio::test]
    async fn a_live_device_reads_the_same_from_the_snapshot_as_from_the_store() {
        let db = crate::db::in_memory(true).await;
        db.query(
            "CREATE org:farm SET name = 'Farm', kind = 'customer', ancestors = [];
             CREATE device:`SF-9-1` SET name = 'Well', model = 'SPC-5', firmware = '1.2',
                owner = org:farm, timezone = 'America/Denver', offline_timeout_s = 900,
                location = { lat: 40.5, lon: -105.1, source: 'typed', set_by: 'test' };
             CREATE device:`SF-9-2` SET name = 'Old', model = 'SPC-5', firmware = '1.0',
                owner = org:farm, timezone = 'UTC', offline_timeout_s = 600,
                decommissioned_at = time::now();",
        )
        .await
        .unwrap()
        .check()
        .unwrap();
        let (live, old) = (
            DeviceId::parse("SF-9-1").unwrap(),
            DeviceId::parse("SF-9-2").unwrap(),
        );
        let snapshot = Snapshot::load(&db, 0).await.unwrap();
        let stored = store::states(&db, std::slice::from_ref(&live))
            .await
            .unwrap();
        assert_eq!(
            format!("{:?}", snapshot.state(&live).unwrap()),
            format!("{:?}", stored[0])
        );
        assert_eq!(snapshot.org_name("farm"), Some("Farm"));
        // A decommissioned device is not in the live fleet: its state comes from the store.
        assert!(snapshot.state(&old).is_none());
        let both = states(&db, &[live, old]).await.unwrap();
        assert_eq!(both.len(), 2);
        assert!(both.iter().any(|s| s.id == "SF-9-2" && s.decommissioned));
    }

    async fn one_device() -> (Db, DeviceId) {
        let db = crate::db::in_memory(true).await;
        db.query(
            "CREATE org:farm SET name = 'Farm', kind = 'customer', ancestors = [];
             CREATE device:`SF-9-1` SET name = 'Well', model = 'SPC-5', firmware = '1.2',
                owner = org:farm, timezone = 'UTC', offline_timeout_s = 600;",
        )
        .await
        .unwrap()
        .check()
        .unwrap();
        (db, DeviceId::parse("SF-9-1").unwrap())
    }

    /// A status as the ingest writer stores it; never written to the test database, so only
    /// a patch can show it.
    fn status(id: &DeviceId, solar_w: f64) -> StatusRecord {
        let now = Utc::now();
        StatusRecord {
            id: store::status_record(id),
            last_seen: now,
            last_heard: Some(now),
            online: true,
            fault_code: None,
            solar_w,
            grid_w: 0.0,
            load_w: solar_w,
            motor_rpm: 3400,
            motor_on: true,
            dc_bus_v: 350.0,
            temperature_c: 30.0,
        }
    }

    fn solar(snapshot: &Snapshot, id: &DeviceId) -> Option<f64> {
        snapshot
            .device(None, id, Utc::now())
            .and_then(|d| d.latest)
            .map(|l| l.solar_w)
    }

    #[tokio::test]
    async fn a_status_the_writer_stored_shows_in_the_next_snapshot_without_a_reload() {
        let (db, id) = one_device().await;
        let cache = Arc::new(FleetCache::default());
        let before = cache.get(&db).await.unwrap();
        assert_eq!(solar(&before, &id), None);
        cache.statuses_written(&[status(&id, 1234.0)]);
        let after = cache.get(&db).await.unwrap();
        assert_eq!(solar(&after, &id), Some(1234.0));
        // A request holding the earlier snapshot keeps a consistent view.
        assert_eq!(solar(&before, &id), None);
    }

    #[tokio::test]
    async fn a_status_stored_while_a_reload_reads_the_database_is_not_lost_by_it() {
        let (db, id) = one_device().await;
        let cache = Arc::new(FleetCache::default());
        // As if a reload had begun before the writer stored the status: the reload's
        // read cannot hold it (here it never can: the status is not in the database).
        cache.reloading.store(true, Ordering::SeqCst);
        cache.statuses_written(&[status(&id, 987.0)]);
        let reloaded = cache.reload(&db).await.unwrap();
        assert_eq!(solar(&reloaded, &id), Some(987.0));
        // Once the reload has ended, nothing is kept for the next one.
        cache.statuses_written(&[status(&id, 5.0)]);
        let again = cache.reload(&db).await.unwrap();
        assert_eq!(solar(&again, &id), None);
    }
}
