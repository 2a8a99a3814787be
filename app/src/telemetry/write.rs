//! The write path. One batch of deliveries becomes one transaction holding the new raw
//! readings, their events and, for the readings that need one, a journal row naming them;
//! the batch is acknowledged once that transaction is durable.
//!
//! The derived rows (hourly and daily rollups, latest status) are kept in memory by the
//! [`Pipeline`] and written *behind*, coalesced: a device posting every few seconds costs
//! one rollup write per flush, not one per reading. Measured, that is the difference
//! between ~1,000 and many thousands of readings per second: SurrealDB spends 30–150 µs per
//! row written. Nothing is lost on a crash: a device's stored status is written with its
//! rollups, so every reading newer than it is found again at start-up
//! ([`Pipeline::recover`]); the readings that are not (a device's first ones, late ones)
//! are named by journal rows, which a flush deletes only once all its derived rows are
//! written. Catching up is exact (see [`Flush::write`]).
//!
//! Exactly once: a reading's id is `[device, time]`. A reading newer than the device's
//! latest is new; an older one is looked up, and a repeat is acknowledged, not stored again.
//! Rollups stay exact whatever the arrival order:
//! - in order: the new readings and the segment from the latest one are *added* to the
//!   buckets;
//! - out of order: the touched hours are recomputed from the stored readings around them
//!   plus the new ones, and each day takes the hour's change (`Rollup::replace_part`).
//!
//! One `Pipeline` per database: it assumes no one else writes rollups or statuses (the
//! ingest writer task owns it; see `server/src/ingest/writer.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use surrealdb::types::{RecordId, SurrealValue};

use super::model::Status;
use super::rollup::{self, day_hours, hour_start, local_day, Rollup, Sample, MAX_GAP};
use super::store::{self, day_record, hour_record, EventRecord, ReadingRecord, RollupRecord};
use crate::db::{internal, Db};
use crate::devices::model::{fault_change, DeviceId};
use crate::devices::store::{status_record, StatusRecord};
use crate::error::{AppError, Result};

/// Readings of one device from one request.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub device: DeviceId,
    pub tz: Tz,
    pub owner: Option<RecordId>,
    pub readings: Vec<Status>,
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub accepted: usize,
    pub duplicates: usize,
}

/// Devices whose state is kept in memory at most; beyond, the cache starts afresh.
const MAX_CACHED: usize = 100_000;

/// What the pipeline knows of one device: its latest status and the rollup buckets near
/// its latest reading. A bucket with `count == 0` that is not dirty is known to be empty.
#[derive(Debug, Clone)]
struct DeviceState {
    status: Option<StatusRecord>,
    status_dirty: bool,
    hours: BTreeMap<DateTime<Utc>, Rollup>,
    days: BTreeMap<DateTime<Utc>, Rollup>,
    dirty_hours: BTreeSet<DateTime<Utc>>,
    dirty_days: BTreeSet<DateTime<Utc>>,
    /// Rows that exist in the database: a flush writes over those in place, and inserts
    /// the others (see [`CHUNK`]).
    stored_hours: BTreeSet<DateTime<Utc>>,
    stored_days: BTreeSet<DateTime<Utc>>,
    status_stored: bool,
    /// The status row is known to be in the database (`status_stored` turns true as soon
    /// as a flush *takes* it). Its `last_seen` is then the device's watermark: its
    /// rollups hold every stored reading up to it, and [`Pipeline::recover`] finds the
    /// readings after it, so newer readings need no journal row.
    status_durable: bool,
    tz: Tz,
}

impl DeviceState {
    fn is_dirty(&self) -> bool {
        self.status_dirty || !self.dirty_hours.is_empty() || !self.dirty_days.is_empty()
    }
}

pub struct Pipeline {
    db: Db,
    devices: HashMap<DeviceId, DeviceState>,
    /// Journal rows committed since the last flush.
    journal: Vec<RecordId>,
    /// Batches committed since the last flush (with or without a journal row).
    unflushed: usize,
    batches: u64,
    /// A flush was taken and not handed back yet.
    flushing: bool,
    /// The batch begun and not settled yet (see [`Pipeline::begin`]).
    in_flight: Option<InFlight>,
}

#[derive(Debug, SurrealValue)]
struct ReadingKey {
    device: String,
    time: DateTime<Utc>,
}

impl Pipeline {
    pub fn new(db: Db) -> Self {
        Pipeline {
            db,
            devices: HashMap::new(),
            journal: Vec::new(),
            unflushed: 0,
            batches: 0,
            flushing: false,
            in_flight: None,
        }
    }

    /// Whether derived rows are waiting to be written.
    pub fn has_unflushed(&self) -> bool {
        self.unflushed > 0 || !self.journal.is_empty()
    }

    /// Loads the statuses of devices not in memory yet.
    async fn load_devices(&mut self, deliveries: &[Delivery]) -> Result<()> {
        let mut missing: Vec<&Delivery> = Vec::new();
        let mut seen = HashSet::new();
        for d in deliveries {
            match self.devices.get_mut(&d.device) {
                Some(state) => state.tz = d.tz,
                None if seen.insert(&d.device) => missing.push(d),
                None => {}
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        // Not while a batch is in flight: its changes are in memory only.
        if self.devices.len() + missing.len() > MAX_CACHED && self.in_flight.is_none() {
            self.flush().await?;
            self.devices.clear();
        }
        let ids: Vec<RecordId> = missing.iter().map(|d| status_record(&d.device)).collect();
        let mut response = self
            .db
            .query("SELECT * FROM $ids")
            .bind(("ids", ids))
            .await
            .and_then(|r| r.check())
            .map_err(internal("load statuses"))?;
        let statuses: Vec<StatusRecord> = response.take(0).map_err(internal("load statuses"))?;
        let mut statuses: HashMap<String, StatusRecord> = statuses
            .into_iter()
            .filter_map(|s| key_string(&s.id).map(|k| (k, s)))
            .collect();
        for d in missing {
            let status = statuses.remove(d.device.as_str());
            self.devices.insert(
                d.device.clone(),
                DeviceState {
                    status_stored: status.is_some(),
                    status_durable: status.is_some(),
                    status,
                    status_dirty: false,
                    hours: BTreeMap::new(),
                    days: BTreeMap::new(),
                    dirty_hours: BTreeSet::new(),
                    dirty_days: BTreeSet::new(),
                    stored_hours: BTreeSet::new(),
                    stored_days: BTreeSet::new(),
                    tz: d.tz,
                },
            );
        }
        Ok(())
    }

    /// Loads rollup buckets not in memory yet (absent ones become known-empty buckets).
    async fn load_buckets(
        &mut self,
        wanted: &BTreeMap<DeviceId, Vec<DateTime<Utc>>>,
    ) -> Result<()> {
        let mut hour_ids = Vec::new();
        let mut day_ids = Vec::new();
        let mut missing_hours = Vec::new();
        let mut missing_days = BTreeSet::new();
        for (device, hours) in wanted {
            let state = &self.devices[device];
            for &hour in hours {
                if !state.hours.contains_key(&hour) {
                    hour_ids.push(hour_record(device, hour));
                    missing_hours.push((device.clone(), hour));
                }
                let (_, day) = local_day(hour, &state.tz);
                if !state.days.contains_key(&day) && missing_days.insert((device.clone(), day)) {
                    day_ids.push(day_record(device, day));
                }
            }
        }
        if hour_ids.is_empty() && day_ids.is_empty() {
            return Ok(());
        }
        let stored = store::load(&self.db, Vec::new(), Vec::new(), hour_ids, day_ids).await?;
        for (device, hour) in missing_hours {
            if let Some(state) = self.devices.get_mut(&device) {
                state.hours.insert(hour, Rollup::default());
            }
        }
        for (device, day) in missing_days {
            if let Some(state) = self.devices.get_mut(&device) {
                state.days.insert(day, Rollup::default());
            }
        }
        for (rows, is_hour) in [(stored.hours, true), (stored.days, false)] {
            for row in rows {
                let Ok(device) = DeviceId::parse(&row.device) else {
                    continue;
                };
                if let Some(state) = self.devices.get_mut(&device) {
                    let (buckets, stored) = if is_hour {
                        (&mut state.hours, &mut state.stored_hours)
                    } else {
                        (&mut state.days, &mut state.stored_days)
                    };
                    buckets.insert(row.start, row.rollup());
                    stored.insert(row.start);
                }
            }
        }
        Ok(())
    }

    /// Stores a batch: durable when this returns. Returns, per delivery in order, what was
    /// accepted.
    pub async fn write(
        &mut self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<Vec<Written>> {
        let mut pending = self.prepare_batch(deliveries, now).await?;
        self.begin(&mut pending);
        let result = pending.commit().run(&self.db).await;
        self.settle(&mut pending, &result);
        result.map(|()| pending.written)
    }

    /// Works out a batch, to be committed ([`Pending::commit`]) between [`Pipeline::begin`]
    /// and [`Pipeline::settle`]. It may be prepared while the batch before it is being
    /// committed (unless [`Pipeline::must_wait`]), on top of that batch's changes: the
    /// ingest writer overlaps one batch's commit and fsync with the next one's work.
    pub async fn prepare_batch(
        &mut self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<Pending> {
        let (written, batch) = self.prepare(deliveries, now).await?;
        self.batches += 1;
        let journal = batch
            .as_ref()
            .is_some_and(|b| !b.journal_keys.is_empty())
            .then(|| {
                RecordId::new(
                    "ingest_journal",
                    format!(
                        "{}-{}",
                        now.timestamp_nanos_opt().unwrap_or_default(),
                        self.batches
                    ),
                )
            });
        Ok(Pending {
            written,
            batch,
            journal,
            now,
            undo: Vec::new(),
        })
    }

    /// Whether these deliveries must wait for the batch in flight to be durable before they
    /// are prepared: a late reading of one of its devices (not newer than the device's
    /// latest, and not a repeat of the batch's own) is folded in from the stored readings
    /// around it, which do not hold the batch's yet. Newer readings build on the state in
    /// memory, which holds the batch already, and repeats of it are known as such.
    pub fn must_wait(&self, deliveries: &[Delivery]) -> bool {
        let Some(in_flight) = &self.in_flight else {
            return false;
        };
        deliveries.iter().any(|d| {
            in_flight.devices.contains(&d.device) && {
                let latest = self.devices[&d.device].status.as_ref().map(|s| s.last_seen);
                d.readings.iter().any(|r| {
                    latest.is_some_and(|l| r.time <= l)
                        && !in_flight
                            .readings
                            .contains(&(d.device.as_str().to_string(), r.time))
                })
            }
        })
    }

    /// Takes a prepared batch's changes into memory before it is durable, so the next batch
    /// is prepared on top of them; [`Pipeline::settle`] keeps or undoes them. One batch at a
    /// time.
    pub fn begin(&mut self, pending: &mut Pending) {
        assert!(
            self.in_flight.is_none(),
            "BUG: one batch in flight at a time"
        );
        let Some(batch) = &mut pending.batch else {
            return;
        };
        let mut devices = HashSet::with_capacity(batch.changed.len());
        for (device, mut state) in std::mem::take(&mut batch.changed) {
            // A flush taken since the batch was prepared wrote rows this copy of the state
            // still takes for absent: rows written are written over, never inserted twice.
            if let Some(now) = self.devices.get(&device) {
                state.stored_hours.extend(now.stored_hours.iter().copied());
                state.stored_days.extend(now.stored_days.iter().copied());
                state.status_stored |= now.status_stored;
                state.status_durable |= now.status_durable;
            }
            let before = self.devices.insert(device.clone(), state);
            devices.insert(device.clone());
            pending.undo.push((device, before));
        }
        self.journal.extend(pending.journal.clone());
        self.unflushed += 1;
        self.in_flight = Some(InFlight {
            devices,
            readings: std::mem::take(&mut batch.new_readings)
                .into_iter()
                .collect(),
        });
    }

    /// Ends a begun batch: kept once committed, undone if the commit failed.
    pub fn settle(&mut self, pending: &mut Pending, result: &Result<()>) {
        if pending.batch.is_none() {
            return;
        }
        self.in_flight = None;
        if result.is_ok() {
            pending.undo.clear();
            return;
        }
        if let Some(journal) = &pending.journal {
            self.journal.retain(|j| j != journal);
        }
        self.unflushed -= 1;
        for (device, before) in pending.undo.drain(..).rev() {
            match before {
                Some(state) => self.devices.insert(device, state),
                None => self.devices.remove(&device),
            };
        }
    }

    /// Whether a batch is begun and not settled.
    pub fn is_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Writes a batch *through*: its derived rows go in the same transaction as its
    /// readings, so no journal row is needed. For a lone reading that is one commit where
    /// [`Pipeline::write`] and a flush make two, each with its fsync, plus the journal row
    /// written and deleted. Only when nothing else waits to be flushed (otherwise
    /// [`Pipeline::write`]); returns the statuses written, for the fleet snapshot.
    pub async fn write_through(
        &mut self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Written>, Vec<StatusRecord>)> {
        // Rows of another batch (dirty only while their journal row is kept) could be
        // older than these, or newer than a flush still being written: not here.
        if self.has_unflushed() || self.flushing || self.in_flight.is_some() {
            return Err(AppError::internal(
                "write through",
                "derived rows are waiting to be flushed",
            ));
        }
        let started = std::time::Instant::now();
        let (written, batch) = self.prepare(deliveries, now).await?;
        let Some(Batch {
            mut changed,
            readings,
            events,
            ..
        }) = batch
        else {
            return Ok((written, Vec::new()));
        };
        let mut chunk = Chunk::default();
        let mut dirty = Vec::new();
        for (device, state) in &mut changed {
            dirty.push(take_rows(device, state, &mut chunk));
        }
        let event_devices = crate::history::store::devices_of(&events);
        let done = self
            .db
            .query("BEGIN TRANSACTION")
            .query(store::INSERT_READINGS)
            .query("INSERT INTO event $events RETURN NONE")
            .query(CHUNK)
            .query("COMMIT TRANSACTION")
            .bind(("readings", store::rows(readings)))
            .bind(("events", events))
            .bind(("hours", chunk.hours))
            .bind(("days", chunk.days))
            .bind(("statuses", chunk.statuses.clone()))
            .bind(("over_hours", chunk.over_hours))
            .bind(("over_days", chunk.over_days))
            .bind(("over_statuses", chunk.over_statuses.clone()))
            .bind(("journal", Vec::<RecordId>::new()))
            .await
            .and_then(|r| r.check());
        crate::history::store::written(&self.db, event_devices);
        done.map_err(internal("commit telemetry batch"))?;
        tracing::debug!(
            deliveries = deliveries.len(),
            ms = started.elapsed().as_millis() as u64,
            "committed telemetry batch with its derived rows"
        );
        for (device, state) in changed {
            self.devices.insert(device, state);
        }
        self.written(&dirty);
        let mut statuses = chunk.statuses;
        statuses.extend(chunk.over_statuses);
        Ok((written, statuses))
    }

    /// What a batch writes, worked out on copies of the devices' states: memory changes
    /// only once the batch is durable. `None` when every reading is a repeat.
    async fn prepare(
        &mut self,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Written>, Option<Batch>)> {
        self.load_devices(deliveries).await?;

        // Readings not newer than the device's latest may be repeats: look them up.
        let maybe_stored: Vec<RecordId> = deliveries
            .iter()
            .flat_map(|d| {
                let latest = self.devices[&d.device].status.as_ref().map(|s| s.last_seen);
                d.readings
                    .iter()
                    .filter(move |r| latest.is_some_and(|l| r.time <= l))
                    .map(|r| store::reading_record(&d.device, r.time))
            })
            .collect();
        let mut stored: HashSet<(String, DateTime<Utc>)> = if maybe_stored.is_empty() {
            HashSet::new()
        } else {
            let mut response = self
                .db
                .query("SELECT record::id(id)[0] AS device, record::id(id)[1] AS time FROM $ids")
                .bind(("ids", maybe_stored))
                .await
                .and_then(|r| r.check())
                .map_err(internal("find stored readings"))?;
            let keys: Vec<ReadingKey> =
                response.take(0).map_err(internal("find stored readings"))?;
            keys.into_iter().map(|k| (k.device, k.time)).collect()
        };
        // Readings of the batch in flight are as good as stored (see `must_wait`).
        if let Some(in_flight) = &self.in_flight {
            for d in deliveries {
                for r in &d.readings {
                    let key = (d.device.as_str().to_string(), r.time);
                    if in_flight.readings.contains(&key) {
                        stored.insert(key);
                    }
                }
            }
        }

        // New readings per device, oldest first; repeats counted per delivery.
        let mut written = vec![Written::default(); deliveries.len()];
        let mut new: BTreeMap<DeviceId, (Option<RecordId>, Vec<&Status>)> = BTreeMap::new();
        let mut taken: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
        for (i, d) in deliveries.iter().enumerate() {
            for r in &d.readings {
                written[i].accepted += 1;
                let repeat = stored.contains(&(d.device.as_str().to_string(), r.time))
                    || !taken.insert((d.device.as_str(), r.time));
                if repeat {
                    written[i].duplicates += 1;
                } else {
                    new.entry(d.device.clone())
                        .or_insert_with(|| (d.owner.clone(), Vec::new()))
                        .1
                        .push(r);
                }
            }
        }
        if new.is_empty() {
            return Ok((written, None));
        }
        let wanted: BTreeMap<DeviceId, Vec<DateTime<Utc>>> = new
            .iter_mut()
            .map(|(device, (_, readings))| {
                readings.sort_by_key(|r| r.time);
                let tz = self.devices[device].tz;
                let hours: BTreeSet<_> = readings
                    .iter()
                    .flat_map(|r| [r.time - MAX_GAP, r.time, r.time + MAX_GAP])
                    .map(|t| hour_start(t, &tz))
                    .collect();
                (device.clone(), hours.into_iter().collect())
            })
            .collect();
        self.load_buckets(&wanted).await?;

        let mut changed: Vec<(DeviceId, DeviceState)> = Vec::with_capacity(new.len());
        let mut readings = Vec::new();
        let mut events = Vec::new();
        let mut journal_keys = Vec::new();
        let mut new_readings = Vec::new();
        for (device, (owner, batch)) in &new {
            let mut state = self.devices[device].clone();
            // What a crash before the next flush would leave out of the rollups and that
            // `recover` would not find past the stored status: every reading of a device
            // with no stored status, and late ones (not newer than the latest in memory,
            // which may be newer than the stored one). Devices posting in order, the usual
            // case, need no journal row: measured, writing it and deleting it was ~15 % of
            // the server's CPU per reading (wrk as in `bench/ingest.sh`, 64 connections).
            let latest = state.status.as_ref().map(|s| s.last_seen);
            let durable = state.status_durable;
            self.apply(device, owner, &mut state, batch, now, &mut events)
                .await?;
            for r in batch {
                readings.push(ReadingRecord::new(device, r));
                if !durable || latest.is_some_and(|l| r.time <= l) {
                    journal_keys.push(store::reading_record(device, r.time));
                }
                new_readings.push((device.as_str().to_string(), r.time));
            }
            changed.push((device.clone(), state));
        }
        Ok((
            written,
            Some(Batch {
                changed,
                readings,
                events,
                journal_keys,
                new_readings,
            }),
        ))
    }

    /// Folds one device's new readings into (a copy of) its state.
    async fn apply(
        &self,
        device: &DeviceId,
        owner: &Option<RecordId>,
        state: &mut DeviceState,
        batch: &[&Status],
        now: DateTime<Utc>,
        events: &mut Vec<EventRecord>,
    ) -> Result<()> {
        let tz = state.tz;
        let latest = state.status.as_ref().map(|s| s.last_seen);
        let samples: Vec<Sample> = batch.iter().map(|r| Sample::from(*r)).collect();
        let in_order = latest.is_none_or(|l| samples[0].time > l);
        let new_hours: BTreeMap<DateTime<Utc>, Rollup> = if in_order {
            let previous = state.status.as_ref().map(status_sample);
            rollup::increments(previous.as_ref(), &samples, &tz)
                .into_iter()
                .map(|(start, inc)| {
                    let mut bucket = state.hours.get(&start).copied().unwrap_or_default();
                    bucket.merge(&inc);
                    (start, bucket)
                })
                .collect()
        } else {
            let wanted: BTreeSet<DateTime<Utc>> = samples
                .iter()
                .flat_map(|s| [s.time - MAX_GAP, s.time, s.time + MAX_GAP])
                .map(|t| hour_start(t, &tz))
                .collect();
            let first = *wanted.first().expect("BUG: at least one reading");
            let last = *wanted.last().expect("BUG: at least one reading") + Duration::hours(1);
            let mut all = store::samples(&self.db, device, first - MAX_GAP, last + MAX_GAP).await?;
            all.extend(samples.iter().copied());
            all.sort_by_key(|s| s.time);
            all.dedup_by_key(|s| s.time);
            let wanted: Vec<_> = wanted.into_iter().collect();
            rollup::recompute(&all, &wanted, &tz)
        };
        for (start, bucket) in new_hours {
            let old = state.hours.insert(start, bucket);
            let (_, day_start) = local_day(start, &tz);
            state
                .days
                .entry(day_start)
                .or_default()
                .replace_part(old.as_ref(), &bucket);
            state.dirty_hours.insert(start);
            state.dirty_days.insert(day_start);
        }

        // Latest status and the events its change means.
        let newest = *batch.last().expect("BUG: at least one reading");
        let event = |time, kind: &str, severity: &str, message: String| EventRecord {
            time,
            device: Some(device.as_str().to_string()),
            org: owner.clone(),
            kind: kind.into(),
            severity: severity.into(),
            message,
            actor: None,
        };
        match &state.status {
            None => events.push(event(
                now,
                "online",
                "info",
                "first reading received".into(),
            )),
            Some(s) if !s.online => events.push(event(
                now,
                "online",
                "info",
                format!(
                    "back online; the reading before was at {}",
                    s.last_seen.to_rfc3339()
                ),
            )),
            Some(_) => {}
        }
        let mut fault = state.status.as_ref().and_then(|s| s.fault_code);
        for r in batch.iter().filter(|r| latest.is_none_or(|l| r.time > l)) {
            if r.fault_code != fault {
                if let Some((kind, severity, message)) = fault_change(fault, r.fault_code) {
                    events.push(event(r.time, kind, severity, message));
                }
                fault = r.fault_code;
            }
        }
        let advanced = latest.is_none_or(|l| newest.time > l);
        state.status = Some(match (state.status.take(), advanced) {
            (Some(mut s), false) => {
                s.online = true;
                s.last_heard = Some(now);
                s
            }
            _ => StatusRecord::from_reading(device, newest, now, true),
        });
        state.status_dirty = true;
        Ok(())
    }

    /// Writes the derived rows that changed since the last flush and drops the journal rows
    /// they cover, in one transaction; then forgets buckets far from each device's latest.
    pub async fn flush(&mut self) -> Result<()> {
        let Some(flush) = self.take_flush() else {
            return Ok(());
        };
        let result = flush.write(&self.db).await;
        self.flushed(flush, &result);
        result
    }

    /// Rows the next flush would write.
    pub fn dirty_rows(&self) -> usize {
        self.devices
            .values()
            .map(|d| d.dirty_hours.len() + d.dirty_days.len() + usize::from(d.status_dirty))
            .sum()
    }

    /// The database, for writing a [`Flush`] elsewhere.
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Takes the derived rows that changed since the last flush out of memory, to be
    /// written by [`Flush::write`] (possibly on another task, while batches go on) and then
    /// handed back to [`Pipeline::flushed`]. `None` when nothing changed.
    pub fn take_flush(&mut self) -> Option<Flush> {
        // A batch in flight has its rows in memory but maybe never in the database.
        if self.in_flight.is_some()
            || (!self.has_unflushed() && !self.devices.values().any(DeviceState::is_dirty))
        {
            return None;
        }
        let mut flush = Flush {
            chunks: Vec::new(),
            journal: std::mem::take(&mut self.journal),
            batches: std::mem::take(&mut self.unflushed),
            dirty: Vec::new(),
        };
        let mut chunk = Chunk::default();
        for (device, state) in self.devices.iter_mut().filter(|(_, s)| s.is_dirty()) {
            // A device's rows never straddle two chunks (see `Flush::write`).
            if chunk.rows() >= CHUNK_ROWS {
                flush.chunks.push(std::mem::take(&mut chunk));
            }
            flush.dirty.push(take_rows(device, state, &mut chunk));
        }
        flush.chunks.push(chunk);
        self.flushing = true;
        Some(flush)
    }

    /// Takes back a flush once written: on success, forgets buckets far from each device's
    /// latest reading; on failure, marks its rows dirty again (their current values go out
    /// with the next flush) and keeps its journal rows.
    pub fn flushed(&mut self, flush: Flush, result: &Result<()>) {
        self.flushing = false;
        if result.is_err() {
            let mut journal = flush.journal;
            journal.append(&mut self.journal);
            self.journal = journal;
            self.unflushed += flush.batches;
            for (device, hours, days, status) in flush.dirty {
                if let Some(state) = self.devices.get_mut(&device) {
                    state.dirty_hours.extend(hours);
                    state.dirty_days.extend(days);
                    state.status_dirty |= status;
                }
            }
            return;
        }
        self.written(&flush.dirty);
    }

    /// After derived rows are written: the statuses among them are durable, and buckets
    /// far from each device's latest reading are forgotten.
    fn written(&mut self, written: &[Dirty]) {
        for (device, _, _, status) in written {
            if let (true, Some(state)) = (*status, self.devices.get_mut(device)) {
                state.status_durable = true;
            }
        }
        self.forget_far_buckets(written);
    }

    /// Forgets the buckets far from each device's latest reading, for the devices just
    /// written.
    fn forget_far_buckets(&mut self, written: &[Dirty]) {
        // Only the devices just written: a device's buckets change only with its readings,
        // which get it written. Going over every device in memory at every flush was a
        // quarter of the writer's CPU with 5,000 devices posting once a minute (each lone
        // reading is flushed at once; perf beside `sunfleet simulate --rate 1/min`).
        for (device, ..) in written {
            let Some(state) = self.devices.get_mut(device) else {
                continue;
            };
            let Some(latest) = state.status.as_ref().map(|s| s.last_seen) else {
                continue;
            };
            let (hour_horizon, day_horizon) =
                (latest - Duration::hours(2), latest - Duration::days(2));
            // Rows changed since this flush was taken stay, whatever their age.
            let DeviceState {
                hours,
                stored_hours,
                dirty_hours,
                days,
                stored_days,
                dirty_days,
                ..
            } = state;
            hours.retain(|start, _| *start >= hour_horizon || dirty_hours.contains(start));
            stored_hours.retain(|start| *start >= hour_horizon || dirty_hours.contains(start));
            days.retain(|start, _| *start >= day_horizon || dirty_days.contains(start));
            stored_days.retain(|start| *start >= day_horizon || dirty_days.contains(start));
        }
    }

    /// Marks silent devices offline (see [`sweep_offline`]). The latest contact of devices
    /// held in memory (perhaps not written yet) overrides the stored one, so nothing needs
    /// flushing first; a status on its way to the database belongs to a device heard
    /// seconds ago, which this sweep leaves online.
    pub async fn sweep(&mut self, now: DateTime<Utc>) -> Result<usize> {
        let heard: HashMap<String, DateTime<Utc>> = self
            .devices
            .iter()
            .filter_map(|(id, d)| {
                let s = d.status.as_ref()?;
                Some((id.as_str().to_string(), s.last_heard.unwrap_or(s.last_seen)))
            })
            .collect();
        let silent = sweep_offline(&self.db, now, &heard).await?;
        for id in &silent {
            if let Some(s) = self.devices.get_mut(id).and_then(|d| d.status.as_mut()) {
                s.online = false;
            }
        }
        Ok(silent.len())
    }

    /// Folds in what a crash left out of the rollups and statuses: the readings named by
    /// journal rows, and every reading newer than its device's stored status (which the
    /// flush writes with the device's rollups, in one transaction). Recomputes the hours
    /// they touch from what is stored, then writes them. Returns how many readings that
    /// was.
    pub async fn recover(&mut self) -> Result<usize> {
        let mut response = self
            .db
            .query("SELECT VALUE id FROM ingest_journal")
            .query(
                "SELECT record::id(id)[0] AS device, record::id(id)[1] AS time
                 FROM array::flatten((SELECT VALUE keys FROM ingest_journal))",
            )
            .query("SELECT record::id(id) AS device, last_seen AS time FROM device_status")
            .await
            .and_then(|r| r.check())
            .map_err(internal("read ingest journal"))?;
        let rows: Vec<RecordId> = response.take(0).map_err(internal("read ingest journal"))?;
        let keys: Vec<ReadingKey> = response.take(1).map_err(internal("read ingest journal"))?;
        let marks: Vec<ReadingKey> = response.take(2).map_err(internal("read statuses"))?;
        let mut by_device: BTreeMap<DeviceId, BTreeSet<DateTime<Utc>>> = BTreeMap::new();
        for k in &keys {
            if let Ok(id) = DeviceId::parse(&k.device) {
                by_device.entry(id).or_default().insert(k.time);
            }
        }
        // One key-range scan per device, most of them empty: 0.36–0.51 s for 5,000 devices
        // (the log line of a restart after bench/ingest.sh's first pass), while ingest
        // waits. Four scans at once measured 0.32–0.42 s, within the noise: not worth it.
        for mark in &marks {
            let Ok(id) = DeviceId::parse(&mark.device) else {
                continue;
            };
            let after = store::reading_times_after(&self.db, &id, mark.time).await?;
            if !after.is_empty() {
                by_device.entry(id).or_default().extend(after);
            }
        }
        if rows.is_empty() && by_device.is_empty() {
            return Ok(0);
        }
        let ids: Vec<DeviceId> = by_device.keys().cloned().collect();
        let meta: HashMap<String, Tz> = crate::devices::store::device_meta(&self.db, &ids)
            .await?
            .into_iter()
            .map(|m| (m.id, m.timezone.parse().unwrap_or(chrono_tz::UTC)))
            .collect();
        self.devices.clear();
        let deliveries: Vec<Delivery> = by_device
            .keys()
            .map(|id| Delivery {
                device: id.clone(),
                tz: meta.get(id.as_str()).copied().unwrap_or(chrono_tz::UTC),
                owner: None,
                readings: Vec::new(),
            })
            .collect();
        self.load_devices(&deliveries).await?;
        let wanted: BTreeMap<DeviceId, Vec<DateTime<Utc>>> = by_device
            .iter()
            .map(|(id, times)| {
                let tz = self.devices[id].tz;
                let hours: BTreeSet<_> = times
                    .iter()
                    .flat_map(|t| [*t - MAX_GAP, *t, *t + MAX_GAP])
                    .map(|t| hour_start(t, &tz))
                    .collect();
                (id.clone(), hours.into_iter().collect())
            })
            .collect();
        self.load_buckets(&wanted).await?;
        for (id, hours) in &wanted {
            let tz = self.devices[id].tz;
            let first = *hours.first().expect("BUG: keys per device");
            let last = *hours.last().expect("BUG: keys per device") + Duration::hours(1);
            let samples = store::samples(&self.db, id, first - MAX_GAP, last + MAX_GAP).await?;
            let state = self.devices.get_mut(id).expect("BUG: loaded above");
            for (start, bucket) in rollup::recompute(&samples, hours, &tz) {
                let old = state.hours.insert(start, bucket);
                let (_, day) = local_day(start, &tz);
                state
                    .days
                    .entry(day)
                    .or_default()
                    .replace_part(old.as_ref(), &bucket);
                state.dirty_hours.insert(start);
                state.dirty_days.insert(day);
            }
            // The newest replayed reading may be newer than the stored status.
            let newest = by_device[id].iter().max().copied();
            let behind = match (&state.status, newest) {
                (Some(s), Some(t)) => t > s.last_seen,
                (None, Some(_)) => true,
                _ => false,
            };
            if let (true, Some(t)) = (behind, newest) {
                if let Some(reading) = store::reading(&self.db, id, t).await? {
                    let heard = state
                        .status
                        .as_ref()
                        .and_then(|s| s.last_heard)
                        .unwrap_or(t);
                    state.status =
                        Some(StatusRecord::from_reading(id, &reading, heard.max(t), true));
                    state.status_dirty = true;
                }
            }
        }
        self.journal = rows;
        let replayed = by_device.values().map(BTreeSet::len).sum();
        self.flush().await?;
        Ok(replayed)
    }
}

/// Derived rows on their way to the database (see [`Pipeline::take_flush`]).
pub struct Flush {
    /// Never empty; the last one also drops the journal rows.
    chunks: Vec<Chunk>,
    journal: Vec<RecordId>,
    /// The batches whose derived rows it writes.
    batches: usize,
    dirty: Vec<Dirty>,
}

/// Per device: the hour and day buckets and whether the status a write takes, to mark
/// dirty again if it fails.
type Dirty = (
    DeviceId,
    BTreeSet<DateTime<Utc>>,
    BTreeSet<DateTime<Utc>>,
    bool,
);

/// A batch worked out, not yet written (see [`Pipeline::prepare`]).
struct Batch {
    changed: Vec<(DeviceId, DeviceState)>,
    readings: Vec<ReadingRecord>,
    events: Vec<EventRecord>,
    /// The new readings a journal row must name (see [`Pipeline::prepare`]).
    journal_keys: Vec<RecordId>,
    /// The new readings' device and time.
    new_readings: Vec<(String, DateTime<Utc>)>,
}

/// The batch begun and not yet settled: its devices and readings.
struct InFlight {
    devices: HashSet<DeviceId>,
    readings: HashSet<(String, DateTime<Utc>)>,
}

/// A batch worked out and not yet durable (see [`Pipeline::prepare_batch`]).
pub struct Pending {
    written: Vec<Written>,
    /// `None` when every reading is a repeat: nothing to write.
    batch: Option<Batch>,
    /// `None` when no reading needs one (see [`Pipeline::prepare`]).
    journal: Option<RecordId>,
    now: DateTime<Utc>,
    /// Each device's state before [`Pipeline::begin`], to put back if the commit fails.
    undo: Vec<(DeviceId, Option<DeviceState>)>,
}

impl Pending {
    /// Per delivery in order, what is accepted once the batch is durable.
    pub fn written(&self) -> &[Written] {
        &self.written
    }

    /// What the batch writes, moved out to be committed (perhaps on another task).
    pub fn commit(&mut self) -> Commit {
        let batch = self.batch.as_mut();
        Commit {
            rows: batch.map(|b| {
                (
                    std::mem::take(&mut b.readings),
                    std::mem::take(&mut b.events),
                    std::mem::take(&mut b.journal_keys),
                )
            }),
            journal: self.journal.clone(),
            now: self.now,
        }
    }
}

/// A batch's new readings, their events and, if any reading needs one, a journal row.
pub struct Commit {
    rows: Option<(Vec<ReadingRecord>, Vec<EventRecord>, Vec<RecordId>)>,
    journal: Option<RecordId>,
    now: DateTime<Utc>,
}

impl Commit {
    /// Writes them in one transaction; durable when this returns.
    pub async fn run(self, db: &Db) -> Result<()> {
        let Some((readings, events, keys)) = self.rows else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let n = readings.len();
        let event_devices = crate::history::store::devices_of(&events);
        let mut query = db
            .query("BEGIN TRANSACTION")
            .query(store::INSERT_READINGS)
            .bind(("readings", store::rows(readings)));
        // Most batches raise no event: one statement fewer to run per commit.
        if !events.is_empty() {
            query = query
                .query("INSERT INTO event $events RETURN NONE")
                .bind(("events", events));
        }
        if let Some(journal) = self.journal {
            query = query
                .query("CREATE $journal SET keys = $keys, at = $now RETURN NONE")
                .bind(("journal", journal))
                .bind(("keys", keys))
                .bind(("now", surrealdb::types::Datetime::from(self.now)));
        }
        let done = query
            .query("COMMIT TRANSACTION")
            .await
            .and_then(|r| r.check());
        crate::history::store::written(db, event_devices);
        done.map_err(internal("commit telemetry batch"))?;
        tracing::debug!(
            readings = n,
            ms = started.elapsed().as_millis() as u64,
            "committed telemetry batch"
        );
        Ok(())
    }
}

/// Rows in one flush transaction, about. A transaction's commit holds up every other
/// commit, the ingest batches' too: measured, one of 15,000 rows stalled acknowledgements
/// for 170 ms; a few hundred rows commit in milliseconds.
const CHUNK_ROWS: usize = 256;

/// Writes a [`Chunk`] and drops the journal rows it covers.
///
/// Rows that exist are written over in place, not deleted and inserted again: in a
/// transaction that deletes a record SurrealDB 3.3 first reads the whole schema (every
/// table's field definitions, to know whether some field may reference the record), which
/// was a quarter of the server's CPU with 5,000 devices posting once a minute (perf beside
/// `sunfleet simulate --rate 1/min`). New rows are plainly inserted, as an insert that may
/// find its row does more.
const CHUNK: &str = "INSERT INTO rollup_hour $hours RETURN NONE;
     INSERT INTO rollup_day $days RETURN NONE;
     INSERT INTO device_status $statuses RETURN NONE;
     INSERT INTO rollup_hour $over_hours ON DUPLICATE KEY UPDATE
         count = $input.count, solar_wh = $input.solar_wh, grid_wh = $input.grid_wh,
         load_wh = $input.load_wh, stats = $input.stats
     RETURN NONE;
     INSERT INTO rollup_day $over_days ON DUPLICATE KEY UPDATE
         count = $input.count, solar_wh = $input.solar_wh, grid_wh = $input.grid_wh,
         load_wh = $input.load_wh, stats = $input.stats
     RETURN NONE;
     INSERT INTO device_status $over_statuses ON DUPLICATE KEY UPDATE
         last_seen = $input.last_seen, last_heard = $input.last_heard,
         online = $input.online, fault_code = $input.fault_code, solar_w = $input.solar_w,
         grid_w = $input.grid_w, load_w = $input.load_w, motor_rpm = $input.motor_rpm,
         motor_on = $input.motor_on, dc_bus_v = $input.dc_bus_v,
         temperature_c = $input.temperature_c
     RETURN NONE;
     DELETE $journal RETURN NONE;";

/// The derived rows of whole devices, written in one transaction.
#[derive(Default)]
struct Chunk {
    /// New rows…
    hours: Vec<RollupRecord>,
    days: Vec<RollupRecord>,
    statuses: Vec<StatusRecord>,
    /// …and rows the database has.
    over_hours: Vec<RollupRecord>,
    over_days: Vec<RollupRecord>,
    over_statuses: Vec<StatusRecord>,
}

impl Chunk {
    fn rows(&self) -> usize {
        self.hours.len()
            + self.days.len()
            + self.statuses.len()
            + self.over_hours.len()
            + self.over_days.len()
            + self.over_statuses.len()
    }

    /// The latest statuses it writes.
    fn statuses(&self) -> impl Iterator<Item = &StatusRecord> {
        self.statuses.iter().chain(&self.over_statuses)
    }
}

impl Flush {
    /// How many rows it writes.
    pub fn rows(&self) -> usize {
        self.chunks.iter().map(Chunk::rows).sum()
    }

    /// The latest statuses it writes.
    pub fn statuses(&self) -> Vec<StatusRecord> {
        self.chunks
            .iter()
            .flat_map(|c| c.statuses().cloned())
            .collect()
    }

    /// Writes the rows, a chunk per transaction, and drops the journal rows they cover with
    /// the last chunk. A crash between chunks loses nothing: the journal rows stay, the
    /// statuses of devices whose chunk was not written stay behind their readings, and both
    /// are caught up at start-up. That is exact for every device whatever was written,
    /// because a device's hours, days and status always commit together — catching up
    /// recomputes the hours from the stored readings and moves each day by its hour's
    /// change, which is nothing for a device whose chunk was written.
    pub async fn write(&self, db: &Db) -> Result<()> {
        let started = std::time::Instant::now();
        let last = self.chunks.len() - 1;
        for (i, chunk) in self.chunks.iter().enumerate() {
            let journal = if i == last { &self.journal[..] } else { &[] };
            write_chunk(db, chunk, journal).await?;
        }
        tracing::debug!(
            journal = self.journal.len(),
            rows = self.rows(),
            chunks = self.chunks.len(),
            ms = started.elapsed().as_millis() as u64,
            "flushed rollups and statuses"
        );
        Ok(())
    }
}

/// Moves one device's changed derived rows into `chunk` and marks them written; returns
/// what to mark dirty again should the write fail.
fn take_rows(device: &DeviceId, state: &mut DeviceState, chunk: &mut Chunk) -> Dirty {
    for start in &state.dirty_hours {
        let (date, _) = local_day(*start, &state.tz);
        let bucket = state.hours.get(start).copied().unwrap_or_default();
        let id = hour_record(device, *start);
        let row = RollupRecord::new(id, device, *start, date, 1, &bucket);
        match state.stored_hours.contains(start) {
            true => chunk.over_hours.push(row),
            false => chunk.hours.push(row),
        }
    }
    for start in &state.dirty_days {
        let date = state_date(*start, &state.tz);
        let bucket = state.days.get(start).copied().unwrap_or_default();
        let (id, n) = (day_record(device, *start), day_hours(date, &state.tz));
        let row = RollupRecord::new(id, device, *start, date, n, &bucket);
        match state.stored_days.contains(start) {
            true => chunk.over_days.push(row),
            false => chunk.days.push(row),
        }
    }
    if let (true, Some(s)) = (state.status_dirty, &state.status) {
        match state.status_stored {
            true => chunk.over_statuses.push(s.clone()),
            false => chunk.statuses.push(s.clone()),
        }
        state.status_stored = true;
    }
    let hours = std::mem::take(&mut state.dirty_hours);
    let days = std::mem::take(&mut state.dirty_days);
    state.stored_hours.extend(hours.iter().copied());
    state.stored_days.extend(days.iter().copied());
    (
        device.clone(),
        hours,
        days,
        std::mem::take(&mut state.status_dirty),
    )
}

async fn write_chunk(db: &Db, chunk: &Chunk, journal: &[RecordId]) -> Result<()> {
    db.query("BEGIN TRANSACTION")
        .query(CHUNK)
        .query("COMMIT TRANSACTION")
        .bind(("hours", chunk.hours.clone()))
        .bind(("days", chunk.days.clone()))
        .bind(("statuses", chunk.statuses.clone()))
        .bind(("over_hours", chunk.over_hours.clone()))
        .bind(("over_days", chunk.over_days.clone()))
        .bind(("over_statuses", chunk.over_statuses.clone()))
        .bind(("journal", journal.to_vec()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("flush rollups and statuses"))?;
    Ok(())
}

fn state_date(day_start: DateTime<Utc>, tz: &Tz) -> NaiveDate {
    local_day(day_start, tz).0
}

/// The latest reading as a rollup sample (the start of the next energy segment).
fn status_sample(s: &StatusRecord) -> Sample {
    Sample {
        time: s.last_seen,
        values: [
            s.solar_w,
            s.grid_w,
            s.load_w,
            s.motor_rpm as f64,
            s.dc_bus_v,
            s.temperature_c,
        ],
    }
}

fn key_string(id: &RecordId) -> Option<String> {
    match &id.key {
        surrealdb::types::RecordIdKey::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[derive(Debug, SurrealValue)]
struct Heard {
    id: String,
    heard: DateTime<Utc>,
}

/// Marks devices offline that have been silent longer than their offline timeout, with an
/// `offline` event each; returns which. The next reading brings a device back online.
/// Reads statuses from the database, with `heard` (device → last contact) overriding the
/// stored last contact: run it through [`Pipeline::sweep`] while ingest runs.
pub async fn sweep_offline(
    db: &Db,
    now: DateTime<Utc>,
    heard: &HashMap<String, DateTime<Utc>>,
) -> Result<Vec<DeviceId>> {
    // No timeout is shorter than a minute; the per-device check follows.
    let mut response = db
        .query(
            "SELECT record::id(id) AS id, last_heard ?? last_seen AS heard FROM device_status
             WHERE online = true AND (last_heard ?? last_seen) < $cutoff",
        )
        .bind((
            "cutoff",
            surrealdb::types::Datetime::from(now - Duration::minutes(1)),
        ))
        .await
        .and_then(|r| r.check())
        .map_err(internal("find silent devices"))?;
    let candidates: Vec<Heard> = response.take(0).map_err(internal("find silent devices"))?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<DeviceId> = candidates
        .iter()
        .filter_map(|c| DeviceId::parse(&c.id).ok())
        .collect();
    let meta: HashMap<String, crate::devices::store::DeviceMeta> =
        crate::devices::store::device_meta(db, &ids)
            .await?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
    let mut silent = Vec::new();
    let mut events = Vec::new();
    for c in candidates {
        let (timeout, owner) = meta
            .get(&c.id)
            .map(|m| (m.offline_timeout_s, m.owner.clone()))
            .unwrap_or((600, None));
        let last = heard.get(&c.id).copied().unwrap_or(c.heard).max(c.heard);
        let quiet = now - last;
        if quiet.num_seconds() <= timeout {
            continue;
        }
        let Ok(id) = DeviceId::parse(&c.id) else {
            continue;
        };
        events.push(EventRecord {
            time: now,
            device: Some(c.id.clone()),
            org: owner,
            kind: "offline".into(),
            severity: "warning".into(),
            message: format!(
                "no data for {} min (offline after {} min)",
                quiet.num_minutes(),
                timeout / 60
            ),
            actor: None,
        });
        silent.push(id);
    }
    // In chunks: one transaction for a whole fleet gone silent at once (5,000 devices:
    // 85,000 keys, 16.7 MB) failed to commit at every sweep, so no device ever showed as
    // offline. Devices of a chunk that fails stay online and are tried at the next sweep.
    let mut marked = Vec::with_capacity(silent.len());
    let mut events = events.into_iter();
    for chunk in silent.chunks(SWEEP_CHUNK) {
        let ids: Vec<RecordId> = chunk.iter().map(status_record).collect();
        let events: Vec<EventRecord> = events.by_ref().take(chunk.len()).collect();
        let event_devices = crate::history::store::devices_of(&events);
        let done = db
            .query("BEGIN TRANSACTION")
            .query("UPDATE $ids SET online = false RETURN NONE")
            .query("INSERT INTO event $events RETURN NONE")
            .query("COMMIT TRANSACTION")
            .bind(("ids", ids))
            .bind(("events", events))
            .await
            .and_then(|r| r.check());
        crate::history::store::written(db, event_devices);
        match done.map_err(internal("mark devices offline")) {
            Ok(_) => marked.extend_from_slice(chunk),
            Err(e) if marked.is_empty() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "marking silent devices offline stopped part way; the rest is tried at the next sweep");
                break;
            }
        }
    }
    Ok(marked)
}

/// Devices marked offline in one transaction.
const SWEEP_CHUNK: usize = 250;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::store::{rollups, RollupTable};
    use chrono::TimeZone;

    async fn db() -> Db {
        crate::db::in_memory(true).await
    }

    /// `devices` devices, each with a reading a minute for ten minutes of one hour.
    fn deliveries(devices: usize, start: DateTime<Utc>) -> Vec<Delivery> {
        (0..devices)
            .map(|i| Delivery {
                device: DeviceId::parse(&format!("SF-CHUNK-{i:04}")).unwrap(),
                tz: chrono_tz::UTC,
                owner: None,
                readings: (0..10)
                    .map(|m| {
                        let value = serde_json::json!({
                            "time": (start + Duration::minutes(m)).to_rfc3339(),
                            "solar_w": 600.0, "grid_w": 0.0, "load_w": 600.0,
                            "motor_rpm": 1500, "motor_on": true, "dc_bus_v": 350.0,
                            "temperature_c": 30.0, "fault_code": 0,
                        });
                        Status::parse(&value, None, start + Duration::hours(1)).unwrap()
                    })
                    .collect(),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_crash_between_the_chunks_of_a_flush_is_replayed_exactly() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let batch = deliveries(120, start);
        let mut pipeline = Pipeline::new(db.clone());
        pipeline
            .write(&batch, start + Duration::hours(1))
            .await
            .unwrap();
        // 120 devices × (status, hour, day): two chunks at least.
        let flush = pipeline.take_flush().unwrap();
        assert!(flush.chunks.len() >= 2, "{} chunks", flush.chunks.len());
        // Only the first chunk reaches the database, then the process dies.
        write_chunk(&db, &flush.chunks[0], &[]).await.unwrap();
        drop(pipeline);

        let mut pipeline = Pipeline::new(db.clone());
        assert_eq!(pipeline.recover().await.unwrap(), 1_200);
        assert_eq!(pipeline.recover().await.unwrap(), 0, "journal used up");
        let day = start - Duration::hours(10);
        for d in &batch {
            let hours = rollups(
                &db,
                RollupTable::Hour,
                &d.device,
                start,
                start + Duration::hours(1),
            );
            let days = rollups(
                &db,
                RollupTable::Day,
                &d.device,
                day,
                day + Duration::days(1),
            );
            let (hours, days) = (hours.await.unwrap(), days.await.unwrap());
            assert_eq!(hours.len(), 1, "{}", d.device.as_str());
            assert_eq!(days.len(), 1, "{}", d.device.as_str());
            // Counted once whichever side of the crash the device's chunk was on.
            assert_eq!(
                (hours[0].count, days[0].count),
                (10, 10),
                "{}",
                d.device.as_str()
            );
            assert!(
                (days[0].solar_wh - 90.0).abs() < 1e-9,
                "{}",
                days[0].solar_wh
            );
        }
    }

    #[tokio::test]
    async fn in_order_readings_need_no_journal_and_a_crash_is_caught_up_from_the_stored_statuses() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let now = start + Duration::hours(1);
        let mut pipeline = Pipeline::new(db.clone());
        // First readings are journalled: their devices have no stored status yet.
        pipeline.write(&deliveries(120, start), now).await.unwrap();
        assert_eq!(journal_rows(&db).await, 1);
        pipeline.flush().await.unwrap();
        assert_eq!(journal_rows(&db).await, 0);

        // The next ten minutes of every device: newer than its stored status, no journal.
        let later = deliveries(120, start + Duration::minutes(10));
        pipeline.write(&later, now).await.unwrap();
        assert_eq!(journal_rows(&db).await, 0);
        assert!(pipeline.has_unflushed());
        // Only the first chunk of the flush reaches the database, then the process dies.
        let flush = pipeline.take_flush().unwrap();
        assert!(flush.chunks.len() >= 2, "{} chunks", flush.chunks.len());
        write_chunk(&db, &flush.chunks[0], &[]).await.unwrap();
        drop(pipeline);

        let mut pipeline = Pipeline::new(db.clone());
        let replayed = pipeline.recover().await.unwrap();
        assert!(replayed > 0 && replayed < 1_200, "{replayed}");
        assert_eq!(replayed % 10, 0, "whole devices: {replayed}");
        assert_eq!(pipeline.recover().await.unwrap(), 0, "caught up");
        for d in &later {
            // Counted once whichever side of the crash the device's chunk was on.
            let (hours, days, solar_wh) = stored_rollups(&db, d, start).await;
            assert_eq!((hours, days), (20, 20), "{}", d.device.as_str());
            assert!((solar_wh - 190.0).abs() < 1e-9, "{solar_wh}");
        }
        let mut response = db
            .query("SELECT VALUE last_seen FROM device_status")
            .await
            .unwrap();
        let seen: Vec<DateTime<Utc>> = response.take(0).unwrap();
        assert_eq!(seen.len(), 120);
        assert!(seen.iter().all(|t| *t == start + Duration::minutes(19)));
    }

    #[tokio::test]
    async fn a_late_reading_is_journalled_and_replayed_after_a_crash() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let now = start + Duration::hours(1);
        let all = deliveries(1, start).remove(0);
        let some = |minutes: &[usize]| Delivery {
            readings: minutes.iter().map(|&m| all.readings[m].clone()).collect(),
            ..all.clone()
        };
        let mut pipeline = Pipeline::new(db.clone());
        pipeline
            .write(&[some(&[0, 1, 2, 3, 4, 6, 7, 8, 9])], now)
            .await
            .unwrap();
        pipeline.flush().await.unwrap();
        // Minute 5 arrives last, older than the stored status: only a journal row finds it.
        pipeline.write(&[some(&[5])], now).await.unwrap();
        assert_eq!(journal_rows(&db).await, 1);
        drop(pipeline);

        let mut pipeline = Pipeline::new(db.clone());
        assert_eq!(pipeline.recover().await.unwrap(), 1);
        assert_eq!(journal_rows(&db).await, 0);
        let (hours, days, solar_wh) = stored_rollups(&db, &all, start).await;
        assert_eq!((hours, days), (10, 10));
        assert!((solar_wh - 90.0).abs() < 1e-9, "{solar_wh}");
    }

    /// The device's hour and day rows in the database: (hour count, day count, day solar Wh).
    #[tokio::test]
    async fn a_batch_worked_out_while_another_commits_builds_on_it_and_a_failed_one_is_undone() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let now = start + Duration::hours(1);
        let all = deliveries(1, start).remove(0);
        let part = |readings: std::ops::Range<usize>| Delivery {
            readings: all.readings[readings].to_vec(),
            ..all.clone()
        };
        let mut pipeline = Pipeline::new(db.clone());

        // Five readings begin; the next five are worked out before those are durable.
        let mut first = pipeline.prepare_batch(&[part(0..5)], now).await.unwrap();
        pipeline.begin(&mut first);
        let commit = first.commit();
        assert!(
            !pipeline.must_wait(&[part(4..10)]),
            "newer readings build on memory"
        );
        let mut late = part(2..3);
        late.readings[0].time += Duration::seconds(30);
        assert!(
            pipeline.must_wait(&[late]),
            "a late reading among the batch's waits for it to be stored"
        );
        assert!(
            pipeline.take_flush().is_none(),
            "nothing flushed before it is durable"
        );
        // Its last reading again, Particle-style, with the five after it.
        let mut second = pipeline.prepare_batch(&[part(4..10)], now).await.unwrap();
        commit.run(&db).await.unwrap();
        pipeline.settle(&mut first, &Ok(()));
        // A flush between working a batch out and beginning it.
        pipeline.flush().await.unwrap();
        pipeline.begin(&mut second);
        second.commit().run(&db).await.unwrap();
        pipeline.settle(&mut second, &Ok(()));
        assert_eq!(
            second.written()[0],
            Written {
                accepted: 6,
                duplicates: 1
            }
        );
        pipeline.flush().await.unwrap();
        let (hours, days, solar_wh) = stored_rollups(&db, &all, start).await;
        assert_eq!((hours, days), (10, 10));
        assert!((solar_wh - 90.0).abs() < 1e-9, "{solar_wh}");

        // A batch whose commit fails is undone: sent again, its readings are new, once.
        let later = deliveries(1, start + Duration::minutes(10)).remove(0);
        let mut failed = pipeline
            .prepare_batch(std::slice::from_ref(&later), now)
            .await
            .unwrap();
        pipeline.begin(&mut failed);
        drop(failed.commit());
        pipeline.settle(&mut failed, &Err(AppError::Internal));
        assert!(!pipeline.has_unflushed(), "its journal row is forgotten");
        assert!(!pipeline.is_in_flight());
        let written = pipeline.write(&[later], now).await.unwrap();
        assert_eq!(
            written[0],
            Written {
                accepted: 10,
                duplicates: 0
            }
        );
        pipeline.flush().await.unwrap();
        let (hours, days, solar_wh) = stored_rollups(&db, &all, start).await;
        assert_eq!((hours, days), (20, 20));
        assert!((solar_wh - 190.0).abs() < 1e-9, "{solar_wh}");
    }

    async fn stored_rollups(db: &Db, d: &Delivery, start: DateTime<Utc>) -> (i64, i64, f64) {
        let hour = start + Duration::hours(1);
        let day = start - Duration::hours(10);
        let hours = rollups(db, RollupTable::Hour, &d.device, start, hour);
        let days = rollups(
            db,
            RollupTable::Day,
            &d.device,
            day,
            day + Duration::days(1),
        );
        let (hours, days) = (hours.await.unwrap(), days.await.unwrap());
        assert_eq!((hours.len(), days.len()), (1, 1));
        (hours[0].count, days[0].count, days[0].solar_wh)
    }

    async fn journal_rows(db: &Db) -> usize {
        let mut response = db
            .query("SELECT VALUE id FROM ingest_journal")
            .await
            .unwrap();
        let rows: Vec<RecordId> = response.take(0).unwrap();
        rows.len()
    }

    #[tokio::test]
    async fn readings_written_through_one_by_one_keep_rollups_and_status_exact_without_a_journal() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let all = deliveries(1, start).remove(0);
        let mut pipeline = Pipeline::new(db.clone());
        // A device posting once a minute, then Particle delivering one reading again.
        let mut order: Vec<usize> = (0..10).collect();
        order.push(4);
        for i in order {
            let one = Delivery {
                readings: vec![all.readings[i].clone()],
                ..all.clone()
            };
            let (written, statuses) = pipeline
                .write_through(&[one], start + Duration::hours(1))
                .await
                .unwrap();
            assert_eq!(written[0].accepted, 1);
            assert!(!pipeline.has_unflushed());
            assert_eq!(journal_rows(&db).await, 0);
            // A repeat changes nothing, so there is no status to show.
            let repeat = written[0].duplicates == 1;
            assert_eq!(statuses.len(), usize::from(!repeat), "reading {i}");
        }
        let (hours, days, solar_wh) = stored_rollups(&db, &all, start).await;
        assert_eq!((hours, days), (10, 10));
        assert!((solar_wh - 90.0).abs() < 1e-9, "{solar_wh}");
        let mut response = db
            .query("SELECT VALUE last_seen FROM device_status")
            .await
            .unwrap();
        let seen: Vec<DateTime<Utc>> = response.take(0).unwrap();
        assert_eq!(seen, [start + Duration::minutes(9)]);
    }

    #[tokio::test]
    async fn writing_through_is_refused_while_other_rows_wait_to_be_flushed_and_writes_nothing() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let all = deliveries(1, start).remove(0);
        let (first, rest) = all.readings.split_at(5);
        let first = Delivery {
            readings: first.to_vec(),
            ..all.clone()
        };
        let rest = Delivery {
            readings: rest.to_vec(),
            ..all.clone()
        };
        let now = start + Duration::hours(1);
        let mut pipeline = Pipeline::new(db.clone());
        pipeline.write(&[first], now).await.unwrap();
        assert!(pipeline
            .write_through(std::slice::from_ref(&rest), now)
            .await
            .is_err());
        let taken = pipeline.take_flush().unwrap();
        assert!(
            pipeline
                .write_through(std::slice::from_ref(&rest), now)
                .await
                .is_err(),
            "not while a flush is on its way either"
        );
        let result = taken.write(&db).await;
        pipeline.flushed(taken, &result);
        result.unwrap();
        let mut response = db.query("SELECT VALUE id FROM telemetry").await.unwrap();
        let stored: Vec<RecordId> = response.take(0).unwrap();
        assert_eq!(stored.len(), 5, "the refused readings were not written");
        pipeline.write_through(&[rest], now).await.unwrap();
        let (hours, days, solar_wh) = stored_rollups(&db, &all, start).await;
        assert_eq!((hours, days), (10, 10));
        assert!((solar_wh - 90.0).abs() < 1e-9, "{solar_wh}");
        assert_eq!(journal_rows(&db).await, 0);
    }

    #[tokio::test]
    async fn a_flush_of_many_chunks_writes_every_device_and_uses_up_the_journal() {
        let db = db().await;
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let batch = deliveries(200, start);
        let mut pipeline = Pipeline::new(db.clone());
        pipeline
            .write(&batch, start + Duration::hours(1))
            .await
            .unwrap();
        pipeline.flush().await.unwrap();
        let mut response = db
            .query("SELECT VALUE id FROM device_status")
            .query("SELECT VALUE id FROM rollup_day")
            .query("SELECT VALUE id FROM ingest_journal")
            .await
            .unwrap();
        let statuses: Vec<RecordId> = response.take(0).unwrap();
        let days: Vec<RecordId> = response.take(1).unwrap();
        let journal: Vec<RecordId> = response.take(2).unwrap();
        assert_eq!((statuses.len(), days.len()), (200, 200));
        assert!(journal.is_empty(), "{journal:?}");
        assert!(!pipeline.has_unflushed());
    }
}
