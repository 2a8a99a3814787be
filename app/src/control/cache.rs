//! What each device should be told at its next post, in memory: the desired and reported
//! schedule versions of every device that has a schedule. Ingest answers from here on
//! every post without a query; the table is read again every [`FRESH_FOR`] (so a schedule
//! saved on another node reaches devices within that) and updated at once by saves and
//! reports on this node. Server-only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use surrealdb::types::RecordId;

use super::store::{self, Versions};
use crate::db::Db;
use crate::devices::model::DeviceId;
use crate::error::Result;
use crate::telemetry::store::EventRecord;

pub const FRESH_FOR: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct ControlCache {
    state: Mutex<State>,
    /// One reload at a time; the others wait for it rather than query too.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    loaded: Option<Instant>,
    devices: HashMap<String, Versions>,
}

impl State {
    fn fresh(&self) -> bool {
        self.loaded.is_some_and(|at| at.elapsed() < FRESH_FOR)
    }
}

/// What a device's post changed about its schedule, and what to tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The version the device should fetch, when it does not run it.
    pub fetch: Option<u64>,
}

impl ControlCache {
    async fn ensure(&self, db: &Db) -> Result<()> {
        if self.state.lock().expect("BUG: poisoned").fresh() {
            return Ok(());
        }
        let _one = self.loading.lock().await;
        if self.state.lock().expect("BUG: poisoned").fresh() {
            return Ok(());
        }
        let rows = store::versions(db).await?;
        let mut state = self.state.lock().expect("BUG: poisoned");
        state.devices = rows.into_iter().map(|v| (v.device.clone(), v)).collect();
        state.loaded = Some(Instant::now());
        Ok(())
    }

    fn get(&self, device: &DeviceId) -> Versions {
        self.state
            .lock()
            .expect("BUG: poisoned")
            .devices
            .get(device.as_str())
            .cloned()
            .unwrap_or_else(|| Versions::none(device))
    }

    /// A save on this node: devices hear of it at their next post.
    pub fn saved(&self, device: &DeviceId, version: u64) {
        let mut state = self.state.lock().expect("BUG: poisoned");
        let entry = state
            .devices
            .entry(device.as_str().to_string())
            .or_insert_with(|| Versions::none(device));
        entry.version = entry.version.max(version as i64);
    }

    /// After a device's readings are stored: records the schedule version its newest reading
    /// reports (`reported`, at `at`) when that changed — with an event when it now runs the
    /// desired version or one never desired — and says what the device should fetch.
    pub async fn after_post(
        &self,
        db: &Db,
        device: &DeviceId,
        owner: Option<&RecordId>,
        reported: Option<u64>,
        at: DateTime<Utc>,
    ) -> Result<Answer> {
        self.ensure(db).await?;
        let mut known = self.get(device);
        let desired = known.version.max(0) as u64;
        let before = known.reported.map(|r| r.max(0) as u64);
        let newer = known.reported_at.is_none_or(|t| at >= t);
        if let Some(r) = reported.filter(|r| newer && before != Some(*r) && (desired, *r) != (0, 0))
        {
            let event = |kind: &str, severity: &str, message: String| EventRecord {
                time: at,
                device: Some(device.as_str().to_string()),
                org: owner.cloned(),
                kind: kind.into(),
                severity: severity.into(),
                message,
                actor: None,
            };
            let event = if r == desired {
                Some(event(
                    "schedule_synced",
                    "info",
                    format!("runs schedule version {r}"),
                ))
            } else if r > desired {
                Some(event(
                    "schedule_drifted",
                    "warning",
                    format!(
                        "reports schedule version {r}, which was never set (desired: {desired})"
                    ),
                ))
            } else {
                None
            };
            store::set_reported(db, device, r, at, event).await?;
            known.reported = Some(r as i64);
            known.reported_at = Some(at);
            self.state
                .lock()
                .expect("BUG: poisoned")
                .devices
                .insert(device.as_str().to_string(), known.clone());
        }
        let runs = known.reported.map(|r| r.max(0) as u64);
        let fetch = match (desired, runs) {
            (0, None | Some(0)) => None,
            (d, Some(r)) if d == r => None,
            (d, _) => Some(d),
        };
        Ok(Answer { fetch })
    }
}
