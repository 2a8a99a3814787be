//! What each device should be told at its next post, in memory: the desired and reported
//! schedule versions of every device that has a schedule, and the open commands. Ingest
//! answers from here on every post without a query; the table is read again every
//! [`FRESH_FOR`] (so a schedule saved or a command queued on another node reaches devices
//! within that) and updated at once by saves, commands and reports on this node. A device
//! may so be handed a command once more after another node saw its ack: devices run each
//! command id once. Server-only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use surrealdb::types::RecordId;

use super::command::{Ack, AckRejected, Command, CommandOrder, CommandState, MAX_PER_ANSWER};
use super::command_store::{self, CommandRecord};
use super::schedule::foreign_hash;
use super::store::{self, Versions};
use crate::db::Db;
use crate::devices::model::DeviceId;
use crate::error::Result;
use crate::telemetry::store::EventRecord;

pub const FRESH_FOR: Duration = Duration::from_secs(10);

/// A fetched schedule's `utc_offsets` cover 12 months; a device running the same version
/// for 300 days is told to fetch it again, which leaves two months of posts to do so.
pub const REFETCH_AFTER: chrono::Duration = chrono::Duration::days(300);

#[derive(Default)]
pub struct ControlCache {
    state: Mutex<State>,
    /// One reload at a time; the others use what is known (or wait, before the first load).
    loading: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct State {
    loaded: Option<Instant>,
    /// Bumped by every change made here, so that a reload read before one does not undo it.
    changes: u64,
    devices: HashMap<String, Versions>,
    /// Open commands by device, oldest first.
    commands: HashMap<String, Vec<OpenCommand>>,
}

#[derive(Debug, Clone)]
struct OpenCommand {
    id: u64,
    command: Command,
    state: CommandState,
    expires_at: DateTime<Utc>,
}

impl OpenCommand {
    fn of(record: &CommandRecord) -> Option<Self> {
        Some(OpenCommand {
            id: record.id.max(0) as u64,
            command: record.command().ok()?,
            state: record.state().ok()?,
            expires_at: record.expires_at,
        })
    }
}

impl State {
    fn fresh(&self) -> bool {
        self.loaded.is_some_and(|at| at.elapsed() < FRESH_FOR)
    }
}

/// A reload's rows, and the count of changes made here when it started reading.
struct Read {
    changes: u64,
    devices: HashMap<String, Versions>,
    commands: HashMap<String, Vec<OpenCommand>>,
}

/// The schedule a device's newest reading says it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub version: u64,
    pub hash: Option<String>,
}

/// What a device's post changed about its schedule, and what to tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The version the device should fetch, when it does not run it.
    pub fetch: Option<u64>,
    /// Commands to run, in order (at most [`MAX_PER_ANSWER`]).
    pub commands: Vec<CommandOrder>,
}

impl ControlCache {
    /// Makes sure the table is loaded. Every device post passes here: once loaded, a stale
    /// table is answered from (this node's own changes are in it) while a reload runs on the
    /// storage runtime. Waiting for it held every post for the reload of 5,000 devices'
    /// rows every 10 s (not measured apart: with this change and the rollup flush on the
    /// storage runtime, bench/ingest.sh's p99 at 64 connections went from 31–39 ms to
    /// 14–36 ms, under 25 ms in 8 of 10 runs).
    async fn ensure(self: &Arc<Self>, db: &Db) -> Result<()> {
        let (fresh, loaded) = {
            let state = self.state.lock().expect("BUG: poisoned");
            (state.fresh(), state.loaded.is_some())
        };
        if fresh {
            return Ok(());
        }
        if loaded {
            if let Ok(one) = self.loading.clone().try_lock_owned() {
                let (cache, db) = (self.clone(), db.clone());
                crate::db::spawn_background(async move {
                    if let Err(e) = cache.reload(&db).await {
                        tracing::warn!(error = %e, "reloading schedules and commands failed");
                    }
                    drop(one);
                });
            }
            return Ok(());
        }
        let _one = self.loading.lock().await;
        if self.state.lock().expect("BUG: poisoned").loaded.is_some() {
            return Ok(());
        }
        self.reload(db).await
    }

    async fn reload(&self, db: &Db) -> Result<()> {
        let read = self.read(db).await?;
        self.apply(read);
        Ok(())
    }

    /// The table as the database has it now.
    async fn read(&self, db: &Db) -> Result<Read> {
        let changes = self.state.lock().expect("BUG: poisoned").changes;
        let rows = store::versions(db).await?;
        let open = command_store::open(db, Utc::now()).await?;
        let mut commands: HashMap<String, Vec<OpenCommand>> = HashMap::new();
        for record in &open {
            if let Some(c) = OpenCommand::of(record) {
                commands.entry(record.device.clone()).or_default().push(c);
            }
        }
        Ok(Read {
            changes,
            devices: rows.into_iter().map(|v| (v.device.clone(), v)).collect(),
            commands,
        })
    }

    /// Takes `read` as the table, unless something changed here since it was read (the
    /// rows may predate that change): then the table stays, to be reloaded in a second.
    fn apply(&self, read: Read) -> bool {
        let mut state = self.state.lock().expect("BUG: poisoned");
        if state.changes != read.changes {
            // Stale in a second (left as it was if the clock is too young to go back).
            let retry = Instant::now().checked_sub(FRESH_FOR - Duration::from_secs(1));
            state.loaded = retry.or(state.loaded);
            return false;
        }
        state.devices = read.devices;
        state.commands = read.commands;
        state.loaded = Some(Instant::now());
        true
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
    pub fn saved(&self, device: &DeviceId, version: u64, hash: String) {
        let mut state = self.state.lock().expect("BUG: poisoned");
        state.changes += 1;
        let entry = state
            .devices
            .entry(device.as_str().to_string())
            .or_insert_with(|| Versions::none(device));
        if version as i64 >= entry.version {
            entry.version = version as i64;
            entry.hash = Some(hash);
        }
    }

    /// The device fetched `version` at `at`: its UTC offsets are good for 12 months more.
    pub fn fetched(&self, device: &DeviceId, version: u64, at: DateTime<Utc>) {
        let mut state = self.state.lock().expect("BUG: poisoned");
        state.changes += 1;
        if let Some(entry) = state.devices.get_mut(device.as_str()) {
            if entry.version.max(0) as u64 == version {
                entry.fetched_at = Some(at);
            }
        }
    }

    /// A command queued on this node: the device gets it at its next post.
    pub fn queued(&self, record: &CommandRecord) {
        if let Some(c) = OpenCommand::of(record) {
            let mut state = self.state.lock().expect("BUG: poisoned");
            state.changes += 1;
            let list = state.commands.entry(record.device.clone()).or_default();
            if !list.iter().any(|o| o.id == c.id) {
                list.push(c);
                list.sort_by_key(|o| o.id);
            }
        }
    }

    /// A command that needs no more delivery (acked, failed or expired).
    pub fn finished(&self, device: &str, id: u64) {
        let mut state = self.state.lock().expect("BUG: poisoned");
        state.changes += 1;
        if let Some(list) = state.commands.get_mut(device) {
            list.retain(|o| o.id != id);
            if list.is_empty() {
                state.commands.remove(device);
            }
        }
    }

    /// The commands to hand `device` now, oldest first; those handed out for the first time
    /// are marked delivered.
    async fn deliver(
        &self,
        db: &Db,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> Result<Vec<CommandOrder>> {
        let due: Vec<OpenCommand> = {
            let state = self.state.lock().expect("BUG: poisoned");
            match state.commands.get(device.as_str()) {
                None => return Ok(Vec::new()),
                Some(list) => list
                    .iter()
                    .filter(|c| c.state.is_open() && c.expires_at > now)
                    .take(MAX_PER_ANSWER)
                    .cloned()
                    .collect(),
            }
        };
        let first: Vec<u64> = due
            .iter()
            .filter(|c| c.state == CommandState::Queued)
            .map(|c| c.id)
            .collect();
        if !first.is_empty() {
            command_store::delivered(db, &first, now).await?;
            let mut state = self.state.lock().expect("BUG: poisoned");
            state.changes += 1;
            if let Some(list) = state.commands.get_mut(device.as_str()) {
                for c in list.iter_mut().filter(|c| first.contains(&c.id)) {
                    c.state = c.state.deliver();
                }
            }
        }
        Ok(due
            .into_iter()
            .map(|c| CommandOrder {
                id: c.id,
                command: c.command,
            })
            .collect())
    }

    /// Takes a device's acknowledgements (each with its index in the request) and returns
    /// those refused. Acks of unknown commands and of other devices' commands look the same.
    pub async fn ack(
        &self,
        db: &Db,
        device: &DeviceId,
        acks: Vec<(usize, Ack)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AckRejected>> {
        let mut rejected = Vec::new();
        for (index, ack) in acks {
            let found = command_store::get(db, ack.id)
                .await?
                .filter(|c| c.device == device.as_str());
            let Some(record) = found else {
                rejected.push(AckRejected::new(
                    index,
                    Some(ack.id),
                    "command_not_found",
                    format!("no command {} for this device", ack.id),
                ));
                continue;
            };
            let state = record.state()?;
            let next = match state.ack(ack.ok, record.delivered_at.is_some()) {
                Ok(next) => next,
                Err(refusal) => {
                    rejected.push(AckRejected::new(
                        index,
                        Some(ack.id),
                        refusal.code,
                        refusal.message,
                    ));
                    continue;
                }
            };
            if next != state {
                let what = record.command()?;
                let late = if state == CommandState::Expired {
                    " (after it expired)"
                } else {
                    ""
                };
                let event = if ack.ok {
                    record.event(
                        now,
                        "command_acked",
                        "info",
                        format!("command {}: {what}: done{late}", ack.id),
                    )
                } else {
                    let why = ack
                        .error
                        .clone()
                        .unwrap_or_else(|| "no reason given".into());
                    record.event(
                        now,
                        "command_failed",
                        "warning",
                        format!("command {}: {what}: failed{late}: {why}", ack.id),
                    )
                };
                // Lost a race with the expiry sweep or another ack: read it again.
                if !command_store::advance(
                    db,
                    ack.id,
                    state,
                    next,
                    ack.error.clone(),
                    now,
                    Some(event),
                )
                .await?
                {
                    let again = command_store::get(db, ack.id).await?.map(|c| c.state);
                    if again.as_deref() != Some(next.as_str()) {
                        rejected.push(AckRejected::new(
                            index,
                            Some(ack.id),
                            "command_changed",
                            "the command changed meanwhile; acknowledge it again",
                        ));
                        continue;
                    }
                }
            }
            self.finished(device.as_str(), ack.id);
        }
        Ok(rejected)
    }

    /// Expires the commands whose time to live passed (any node may run it; the guarded
    /// update expires each once).
    pub async fn expire(&self, db: &Db, now: DateTime<Utc>) -> Result<usize> {
        let gone = command_store::expire(db, now).await?;
        for c in &gone {
            self.finished(&c.device, c.id.max(0) as u64);
        }
        Ok(gone.len())
    }

    /// After a device's readings are stored: records the schedule version (and hash) its
    /// newest reading reports (`reported`, at `at`) when that changed — with an event when
    /// it now runs the desired version, or one never desired — and says what the device
    /// should fetch.
    pub async fn after_post(
        self: &Arc<Self>,
        db: &Db,
        device: &DeviceId,
        owner: Option<&RecordId>,
        reported: Option<Reported>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Answer> {
        self.ensure(db).await?;
        let mut known = self.get(device);
        let desired = known.version.max(0) as u64;
        let before = (
            known.reported.map(|r| r.max(0) as u64),
            known.reported_hash.clone(),
        );
        let newer = known.reported_at.is_none_or(|t| at >= t);
        if let Some(r) = reported.filter(|r| {
            newer && before != (Some(r.version), r.hash.clone()) && (desired, r.version) != (0, 0)
        }) {
            let event = |kind: &str, severity: &str, message: String| EventRecord {
                time: at,
                device: Some(device.as_str().to_string()),
                org: owner.cloned(),
                kind: kind.into(),
                severity: severity.into(),
                message,
                actor: None,
            };
            let foreign = if r.version == desired {
                foreign_hash(known.hash.as_deref(), r.hash.as_deref())
            } else {
                None
            };
            let event = if let Some(hash) = foreign {
                Some(event(
                    "schedule_drifted",
                    "warning",
                    format!(
                        "reports schedule version {} with hash {hash}, not that version's \
                         (its windows were changed on the device)",
                        r.version
                    ),
                ))
            } else if r.version == desired {
                // A hash that no longer differs is no news when the version is unchanged.
                (before.0 != Some(desired)
                    || foreign_hash(known.hash.as_deref(), before.1.as_deref()).is_some())
                .then(|| {
                    event(
                        "schedule_synced",
                        "info",
                        format!("runs schedule version {desired}"),
                    )
                })
            } else if r.version > desired {
                Some(event(
                    "schedule_drifted",
                    "warning",
                    format!(
                        "reports schedule version {}, which was never set (desired: {desired})",
                        r.version
                    ),
                ))
            } else {
                None
            };
            store::set_reported(db, device, r.version, r.hash.clone(), at, event).await?;
            known.reported = Some(r.version as i64);
            known.reported_hash = r.hash;
            known.reported_at = Some(at);
            let mut state = self.state.lock().expect("BUG: poisoned");
            state.changes += 1;
            state
                .devices
                .insert(device.as_str().to_string(), known.clone());
        }
        let runs = known.reported.map(|r| r.max(0) as u64);
        let fetch = match (desired, runs) {
            (0, None | Some(0)) => None,
            // Its version, but windows that are not that version's: fetch it again.
            (d, Some(r))
                if d == r
                    && foreign_hash(known.hash.as_deref(), known.reported_hash.as_deref())
                        .is_some() =>
            {
                Some(d)
            }
            // Runs it: fetch it again only when its UTC offsets are running out.
            (d, Some(r)) if d == r => known
                .fetched_at
                .is_some_and(|t| now - t >= REFETCH_AFTER)
                .then_some(d),
            (d, _) => Some(d),
        };
        let commands = self.deliver(db, device, now).await?;
        Ok(Answer { fetch, commands })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued_command(device: &str, id: i64) -> CommandRecord {
        let now = Utc::now();
        CommandRecord {
            id,
            device: device.into(),
            org: None,
            kind: "start".into(),
            percent: None,
            state: "queued".into(),
            created_at: now,
            created_by: "test".into(),
            expires_at: now + chrono::Duration::hours(1),
            delivered_at: None,
            finished_at: None,
            note: None,
        }
    }

    /// The reload runs beside the requests, so a command queued here while it reads must
    /// survive it (its rows may have been read before the command was written).
    #[tokio::test]
    async fn a_reload_read_before_a_change_here_does_not_undo_it() {
        let db = crate::db::in_memory(true).await;
        let cache = Arc::new(ControlCache::default());
        cache.reload(&db).await.expect("the first load");
        let read = cache.read(&db).await.expect("a reload reads");
        cache.queued(&queued_command("e00fce6843e0890f540977f3", 7));
        assert!(
            !cache.apply(read),
            "a read older than a change is not applied"
        );
        {
            let state = cache.state.lock().expect("not poisoned");
            assert_eq!(state.commands["e00fce6843e0890f540977f3"][0].id, 7);
            let age = state.loaded.expect("loaded").elapsed();
            assert!(
                age + Duration::from_secs(1) >= FRESH_FOR,
                "reloaded again within a second"
            );
        }
        let read = cache.read(&db).await.expect("a reload reads");
        assert!(cache.apply(read), "a read with no change since is applied");
        assert!(cache.state.lock().expect("not poisoned").fresh());
    }
}
