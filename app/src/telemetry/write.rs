//! The write path: one batch of deliveries becomes one transaction that stores the new
//! readings, updates the hourly and daily rollups, the latest status and the events.
//!
//! Exactly once: a reading's id is `[device, time]`, so a repeat is found (and skipped)
//! before anything is counted. Rollups stay exact whatever the arrival order:
//! - in order (every new reading is newer than the device's latest): the new readings and
//!   the segment from the latest stored one are *added* to the stored buckets;
//! - out of order: the touched hours are recomputed from the stored readings around them
//!   plus the new ones, and each day takes the hour's change (`Rollup::replace_part`).
//!
//! Callers must not run two batches for the same device at once (the ingest writer is a
//! single task; see `server/src/ingest/writer.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use surrealdb::types::{RecordId, SurrealValue};

use super::model::Status;
use super::rollup::{self, day_hours, hour_start, local_day, Rollup, Sample, MAX_GAP};
use super::store::{
    self, day_record, hour_record, Commit, EventRecord, ReadingRecord, RollupRecord,
};
use crate::db::Db;
use crate::devices::model::{fault_label, DeviceId};
use crate::devices::store::{status_record, StatusRecord};
use crate::error::Result;

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

#[derive(Debug, SurrealValue)]
struct ReadingKey {
    device: String,
    time: DateTime<Utc>,
}

/// One device's share of the batch.
struct DeviceWork<'a> {
    device: &'a DeviceId,
    tz: Tz,
    owner: Option<RecordId>,
    /// New readings (not stored yet, no repeats), oldest first.
    new: Vec<&'a Status>,
}

/// Stores a batch and returns, per delivery in order, what was accepted.
pub async fn write_batch(
    db: &Db,
    deliveries: &[Delivery],
    now: DateTime<Utc>,
) -> Result<Vec<Written>> {
    // Everything that might be stored already, read in one round trip.
    let mut status_ids = Vec::new();
    let mut reading_ids = Vec::new();
    let mut hour_ids = BTreeMap::new();
    let mut day_ids = BTreeMap::new();
    let mut seen_devices = HashSet::new();
    for d in deliveries {
        if seen_devices.insert(&d.device) {
            status_ids.push(status_record(&d.device));
        }
        for r in &d.readings {
            reading_ids.push(store::reading_record(&d.device, r.time));
            for t in [r.time - MAX_GAP, r.time, r.time + MAX_GAP] {
                let hour = hour_start(t, &d.tz);
                hour_ids.insert((d.device.clone(), hour), hour_record(&d.device, hour));
                let (_, day) = local_day(hour, &d.tz);
                day_ids.insert((d.device.clone(), day), day_record(&d.device, day));
            }
        }
    }
    let mut response = db
        .query("SELECT record::id(id)[0] AS device, record::id(id)[1] AS time FROM $ids")
        .bind(("ids", reading_ids))
        .await
        .and_then(|r| r.check())
        .map_err(crate::db::internal("find stored readings"))?;
    let existing: Vec<ReadingKey> = response
        .take(0)
        .map_err(crate::db::internal("find stored readings"))?;
    let stored = store::load(
        db,
        status_ids,
        Vec::new(),
        hour_ids.into_values().collect(),
        day_ids.into_values().collect(),
    )
    .await?;
    let existing: HashSet<(String, DateTime<Utc>)> =
        existing.into_iter().map(|k| (k.device, k.time)).collect();
    let mut statuses: HashMap<String, StatusRecord> = stored
        .statuses
        .into_iter()
        .filter_map(|s| key_string(&s.id).map(|k| (k, s)))
        .collect();
    let mut hours: HashMap<(String, DateTime<Utc>), Rollup> = stored
        .hours
        .iter()
        .map(|r| ((r.device.clone(), r.start), r.rollup()))
        .collect();
    let mut days: HashMap<(String, DateTime<Utc>), Rollup> = stored
        .days
        .iter()
        .map(|r| ((r.device.clone(), r.start), r.rollup()))
        .collect();

    // Sort out repeats, per delivery and per device.
    let mut written = vec![Written::default(); deliveries.len()];
    let mut work: BTreeMap<&str, DeviceWork> = BTreeMap::new();
    let mut taken: HashSet<(&str, DateTime<Utc>)> = HashSet::new();
    for (i, d) in deliveries.iter().enumerate() {
        let entry = work.entry(d.device.as_str()).or_insert_with(|| DeviceWork {
            device: &d.device,
            tz: d.tz,
            owner: d.owner.clone(),
            new: Vec::new(),
        });
        for r in &d.readings {
            written[i].accepted += 1;
            let repeat = existing.contains(&(d.device.as_str().to_string(), r.time))
                || !taken.insert((d.device.as_str(), r.time));
            if repeat {
                written[i].duplicates += 1;
            } else {
                entry.new.push(r);
            }
        }
    }

    let mut commit = Commit::default();
    let mut touched_days = BTreeMap::new();
    for w in work.values_mut() {
        if w.new.is_empty() {
            continue;
        }
        w.new.sort_by_key(|r| r.time);
        let key = w.device.as_str().to_string();
        let status = statuses.remove(&key);
        let latest = status.as_ref().map(|s| s.last_seen);
        let samples: Vec<Sample> = w.new.iter().map(|r| Sample::from(*r)).collect();
        let in_order = latest.is_none_or(|l| samples[0].time > l);

        // New contents of every hour bucket the readings touch.
        let mut changed: BTreeMap<DateTime<Utc>, Rollup> = BTreeMap::new();
        if in_order {
            let previous = status.as_ref().map(status_sample);
            for (start, inc) in rollup::increments(previous.as_ref(), &samples, &w.tz) {
                let mut bucket = hours
                    .get(&(key.clone(), start))
                    .copied()
                    .unwrap_or_default();
                bucket.merge(&inc);
                changed.insert(start, bucket);
            }
        } else {
            let wanted: BTreeSet<DateTime<Utc>> = samples
                .iter()
                .flat_map(|s| [s.time - MAX_GAP, s.time, s.time + MAX_GAP])
                .map(|t| hour_start(t, &w.tz))
                .collect();
            let first = *wanted.first().expect("BUG: at least one reading");
            let last = *wanted.last().expect("BUG: at least one reading") + Duration::hours(1);
            let mut all = store::samples(db, w.device, first - MAX_GAP, last + MAX_GAP).await?;
            all.extend(samples.iter().copied());
            all.sort_by_key(|s| s.time);
            let wanted: Vec<_> = wanted.into_iter().collect();
            changed = rollup::recompute(&all, &wanted, &w.tz);
        }
        for (start, bucket) in changed {
            let old = hours.insert((key.clone(), start), bucket);
            let (date, day_start) = local_day(start, &w.tz);
            let day = days.entry((key.clone(), day_start)).or_default();
            day.replace_part(old.as_ref(), &bucket);
            commit.hours.push(RollupRecord::new(
                hour_record(w.device, start),
                w.device,
                start,
                date,
                1,
                &bucket,
            ));
            touched_days.insert((key.clone(), day_start), (w.device.clone(), date, w.tz));
        }

        // Latest status and the events its change means.
        let newest = *w.new.last().expect("BUG: at least one reading");
        let mut events = Vec::new();
        let event = |time, kind: &str, severity: &str, message: String| EventRecord {
            time,
            device: Some(key.clone()),
            org: w.owner.clone(),
            kind: kind.into(),
            severity: severity.into(),
            message,
            actor: None,
        };
        match &status {
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
                    "back online; last reading before was at {}",
                    s.last_seen.to_rfc3339()
                ),
            )),
            Some(_) => {}
        }
        let mut fault = status.as_ref().and_then(|s| s.fault_code);
        for r in w.new.iter().filter(|r| latest.is_none_or(|l| r.time > l)) {
            if r.fault_code != fault {
                if let Some(code) = r.fault_code {
                    events.push(event(
                        r.time,
                        "fault",
                        "critical",
                        format!("fault {code}: {}", fault_label(code)),
                    ));
                } else if let Some(code) = fault {
                    events.push(event(
                        r.time,
                        "fault_cleared",
                        "info",
                        format!("fault {code} cleared: {}", fault_label(code)),
                    ));
                }
                fault = r.fault_code;
            }
        }
        commit.events.extend(events);
        let advanced = latest.is_none_or(|l| newest.time > l);
        commit.statuses.push(match (status, advanced) {
            (Some(mut s), false) => {
                s.online = true;
                s.last_heard = Some(now);
                s
            }
            _ => StatusRecord {
                id: status_record(w.device),
                last_seen: newest.time,
                last_heard: Some(now),
                online: true,
                fault_code: newest.fault_code,
                solar_w: newest.solar_w,
                grid_w: newest.grid_w,
                load_w: newest.load_w,
                motor_rpm: newest.motor_rpm,
                motor_on: newest.motor_on,
                dc_bus_v: newest.dc_bus_v,
                temperature_c: newest.temperature_c,
            },
        });
        commit
            .readings
            .extend(w.new.iter().map(|r| ReadingRecord::new(w.device, r)));
    }
    for ((key, start), (device, date, tz)) in touched_days {
        let day = days.get(&(key, start)).copied().unwrap_or_default();
        let id = day_record(&device, start);
        let hours = day_hours(date, &tz);
        commit
            .days
            .push(RollupRecord::new(id, &device, start, date, hours, &day));
    }
    store::commit(db, commit).await?;
    Ok(written)
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
/// `offline` event each; returns how many. The next reading brings a device back online.
pub async fn sweep_offline(db: &Db, now: DateTime<Utc>) -> Result<usize> {
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
        .map_err(crate::db::internal("find silent devices"))?;
    let candidates: Vec<Heard> = response
        .take(0)
        .map_err(crate::db::internal("find silent devices"))?;
    if candidates.is_empty() {
        return Ok(0);
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
        let quiet = now - c.heard;
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
        silent.push(status_record(&id));
    }
    let n = silent.len();
    if n > 0 {
        db.query("BEGIN TRANSACTION")
            .query("UPDATE $ids SET online = false RETURN NONE")
            .query("INSERT INTO event $events RETURN NONE")
            .query("COMMIT TRANSACTION")
            .bind(("ids", silent))
            .bind(("events", events))
            .await
            .and_then(|r| r.check())
            .map_err(crate::db::internal("mark devices offline"))?;
    }
    Ok(n)
}
