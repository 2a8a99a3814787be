//! Commands in SurrealDB. Every state change is a guarded UPDATE (`WHERE state = …`), so
//! two nodes, or an ack racing the expiry sweep, cannot both move one command. Server-only.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use surrealdb::types::{Datetime, RecordId, SurrealValue};

use super::command::{Command, CommandState};
use crate::db::{internal, Db};
use crate::devices::model::DeviceId;
use crate::error::{AppError, Result};
use crate::telemetry::store::EventRecord;

#[derive(Debug, Clone, SurrealValue)]
pub struct CommandRecord {
    pub id: i64,
    pub device: String,
    pub org: Option<RecordId>,
    pub kind: String,
    pub percent: Option<i64>,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

impl CommandRecord {
    pub fn command(&self) -> Result<Command> {
        Command::parse(&self.kind, self.percent)
            .map_err(|e| AppError::internal("a stored command", e))
    }

    pub fn state(&self) -> Result<CommandState> {
        CommandState::parse(&self.state)
            .ok_or_else(|| AppError::internal("a stored command", &self.state))
    }

    pub fn event(
        &self,
        time: DateTime<Utc>,
        kind: &str,
        severity: &str,
        message: String,
    ) -> EventRecord {
        EventRecord {
            time,
            device: Some(self.device.clone()),
            org: self.org.clone(),
            kind: kind.into(),
            severity: severity.into(),
            message,
            actor: None,
        }
    }
}

const FIELDS: &str = "record::id(id) AS id, device, org, kind, percent, state, created_at, \
     created_by, expires_at, delivered_at, finished_at, note";

fn record(id: u64) -> RecordId {
    RecordId::new("command", id as i64)
}

/// What a new command needs.
pub struct NewCommand<'a> {
    pub device: &'a DeviceId,
    pub org: RecordId,
    pub command: Command,
    pub created_by: String,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Queues a command, numbered by the `command_id` sequence, with its `command_queued`
/// event (the caller's actor is on it), in one transaction.
pub async fn enqueue(db: &Db, new: NewCommand<'_>, actor: &str) -> Result<CommandRecord> {
    #[derive(SurrealValue)]
    struct Row {
        device: String,
        org: RecordId,
        kind: String,
        percent: Option<i64>,
        state: String,
        created_at: DateTime<Utc>,
        created_by: String,
        expires_at: DateTime<Utc>,
    }
    let row = Row {
        device: new.device.as_str().to_string(),
        org: new.org.clone(),
        kind: new.command.kind().into(),
        percent: new.command.percent().map(i64::from),
        state: CommandState::Queued.as_str().into(),
        created_at: new.now,
        created_by: new.created_by,
        expires_at: new.expires_at,
    };
    let response = db
        .query(format!(
            "LET $made = CREATE ONLY type::record('command', sequence::nextval('command_id'))
                 CONTENT $row RETURN {FIELDS};
             CREATE event CONTENT {{
                 time: $now, device: $made.device, org: $made.org, kind: 'command_queued',
                 severity: 'info', actor: $actor,
                 message: string::concat('command ', <string> $made.id, ': ', $what)
             }} RETURN NONE;
             RETURN $made;"
        ))
        .bind(("row", row))
        .bind(("now", new.now))
        .bind(("actor", actor.to_string()))
        .bind(("what", new.command.to_string()))
        .await
        .and_then(|r| r.check());
    written(db, Some(vec![new.device.as_str().to_string()]));
    let mut response = response.map_err(internal("queueing a command"))?;
    response
        .take::<Option<CommandRecord>>(2)
        .map_err(internal("queueing a command"))?
        .ok_or_else(|| AppError::internal("queueing a command", "nothing created"))
}

/// Open commands (queued or delivered, not yet expired at `now`), oldest first: what the
/// ingest cache hands out.
pub async fn open(db: &Db, now: DateTime<Utc>) -> Result<Vec<CommandRecord>> {
    db.query(format!(
        "SELECT {FIELDS} FROM command WHERE state IN ['queued', 'delivered'] \
         AND expires_at > $now ORDER BY id"
    ))
    .bind(("now", Datetime::from(now)))
    .await
    .and_then(|mut r| r.take::<Vec<CommandRecord>>(0))
    .map_err(internal("loading open commands"))
}

pub async fn get(db: &Db, id: u64) -> Result<Option<CommandRecord>> {
    db.query(format!("SELECT {FIELDS} FROM ONLY $id"))
        .bind(("id", record(id)))
        .await
        .and_then(|mut r| r.take::<Option<CommandRecord>>(0))
        .map_err(internal("loading a command"))
}

/// A device's newest commands, newest first.
pub async fn recent(db: &Db, device: &DeviceId, limit: usize) -> Result<Vec<CommandRecord>> {
    db.query(format!(
        "SELECT {FIELDS} FROM command WHERE device = $device ORDER BY created_at DESC LIMIT $limit"
    ))
    .bind(("device", device.as_str().to_string()))
    .bind(("limit", limit as i64))
    .await
    .and_then(|mut r| r.take::<Vec<CommandRecord>>(0))
    .map_err(internal("loading a device's commands"))
}

/// As [`recent`], from memory when none of the device's commands changed since they were
/// last read: the device page lists them on every view.
pub async fn recent_cached(
    db: &Db,
    device: &DeviceId,
    limit: usize,
) -> Result<Arc<Vec<CommandRecord>>> {
    let cache = cache(db);
    let key = device.as_str().to_string();
    if let Some((cached_limit, rows)) = cache.get(&key) {
        if cached_limit == limit {
            return Ok(rows);
        }
    }
    let began = cache.begin();
    let rows = Arc::new(recent(db, device, limit).await?);
    cache.put(key, (limit, rows.clone()), began);
    Ok(rows)
}

/// Each device's newest commands, with how many were asked for.
type Cache = crate::db::read_cache::ReadCache<String, (usize, Arc<Vec<CommandRecord>>)>;

fn cache(db: &Db) -> Arc<Cache> {
    db.cache(|db| Cache::new((!db.held_alone()).then_some(crate::devices::snapshot::TTL)))
}

/// After a write to the commands of `devices` (`None`: of devices not known here, after a
/// write that failed) and perhaps their events, whether or not it went through.
fn written(db: &Db, devices: Option<Vec<String>>) {
    match devices {
        Some(devices) => {
            cache(db).changed(devices.iter().cloned());
            crate::history::store::written(db, devices);
        }
        None => {
            cache(db).changed_all();
            crate::history::store::written_unknown(db);
        }
    }
}

/// Marks queued commands delivered (those still queued; a repeat delivery changes nothing)
/// with a `command_delivered` event each. Two posts of one device close together (a
/// Particle retry) both hand out its queued commands and race to mark them: the loser's
/// transaction conflicts, and is tried again, finding them delivered already.
pub async fn delivered(db: &Db, ids: &[u64], now: DateTime<Utc>) -> Result<()> {
    let ids: Vec<RecordId> = ids.iter().map(|&id| record(id)).collect();
    let mut tries = 0;
    loop {
        tries += 1;
        match mark_delivered(db, ids.clone(), now).await {
            Err(e) if tries < 3 && crate::db::is_conflict(&e) => continue,
            done => return done.map_err(internal("marking commands delivered")),
        }
    }
}

async fn mark_delivered(
    db: &Db,
    ids: Vec<RecordId>,
    now: DateTime<Utc>,
) -> std::result::Result<(), surrealdb::Error> {
    let done = db
        .query(
            "LET $done = UPDATE command SET state = 'delivered', delivered_at = $now \
             WHERE id IN $ids AND state = 'queued' RETURN AFTER;
         FOR $c IN $done {
             CREATE event CONTENT {
                 time: $now, device: $c.device, org: $c.org, kind: 'command_delivered',
                 severity: 'info',
                 message: string::concat('command ', <string> record::id($c.id), ' (', $c.kind,
                     ') delivered in an ingest answer')
             } RETURN NONE;
         };
         RETURN $done.device;",
        )
        .bind(("ids", ids))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check())
        .and_then(|mut r| r.take::<Vec<String>>(2));
    written(db, done.as_ref().ok().cloned());
    done.map(|_| ())
}

/// Moves one command from `from` to `to` (with `note` and `finished_at` when `to` is
/// final), writing `event`. Returns false when the command was no longer in `from`.
pub async fn advance(
    db: &Db,
    id: u64,
    from: CommandState,
    to: CommandState,
    note: Option<String>,
    now: DateTime<Utc>,
    event: Option<EventRecord>,
) -> Result<bool> {
    let response = db
        .query(
            "LET $done = UPDATE $id SET state = $to, note = $note ?? note,
                 finished_at = IF $final { $now } ELSE { finished_at }
                 WHERE state = $from RETURN VALUE device;
             IF array::len($done) > 0 AND $event != NONE { CREATE event CONTENT $event RETURN NONE };
             RETURN $done;",
        )
        .bind(("id", record(id)))
        .bind(("from", from.as_str()))
        .bind(("to", to.as_str()))
        .bind(("note", note))
        .bind(("final", !to.is_open()))
        .bind(("now", Datetime::from(now)))
        .bind(("event", event))
        .await
        .and_then(|r| r.check())
        .and_then(|mut r| r.take::<Vec<String>>(2));
    written(db, response.as_ref().ok().cloned());
    let done = response.map_err(internal("updating a command"))?;
    Ok(!done.is_empty())
}

/// Notes how a delivery attempt went without changing the state.
pub async fn note(db: &Db, id: u64, note: String) -> Result<()> {
    let done = db
        .query("UPDATE $id SET note = $note RETURN VALUE device")
        .bind(("id", record(id)))
        .bind(("note", note))
        .await
        .and_then(|r| r.check())
        .and_then(|mut r| r.take::<Vec<String>>(0));
    written(db, done.as_ref().ok().cloned());
    done.map_err(internal("noting on a command"))?;
    Ok(())
}

/// Expires the open commands whose time to live passed, with a `command_expired` event
/// each; returns them.
pub async fn expire(db: &Db, now: DateTime<Utc>) -> Result<Vec<CommandRecord>> {
    let response = db
        .query(format!(
            "LET $gone = UPDATE command SET state = 'expired', finished_at = $now \
                 WHERE state IN ['queued', 'delivered'] AND expires_at <= $now RETURN AFTER;
             FOR $c IN $gone {{
                 CREATE event CONTENT {{
                     time: $now, device: $c.device, org: $c.org, kind: 'command_expired',
                     severity: 'warning',
                     message: string::concat('command ', <string> record::id($c.id), ' (',
                         $c.kind, ') expired without an acknowledgement')
                 }} RETURN NONE;
             }};
             SELECT {FIELDS} FROM $gone;"
        ))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check())
        .and_then(|mut r| r.take::<Vec<CommandRecord>>(2));
    let devices = response
        .as_ref()
        .ok()
        .map(|gone| gone.iter().map(|c| c.device.clone()).collect());
    written(db, devices);
    response.map_err(internal("expiring commands"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    async fn db() -> Db {
        crate::db::in_memory(true).await
    }

    fn new(device: &DeviceId, command: Command, now: DateTime<Utc>) -> NewCommand<'_> {
        NewCommand {
            device,
            org: RecordId::new("org", "farm"),
            command,
            created_by: "dealer@example.com".into(),
            now,
            expires_at: now + Duration::hours(1),
        }
    }

    async fn kinds_of_events(db: &Db) -> Vec<String> {
        db.query("SELECT VALUE kind FROM event ORDER BY time, kind")
            .await
            .unwrap()
            .take::<Vec<String>>(0)
            .unwrap()
    }

    #[tokio::test]
    async fn commands_are_numbered_in_order_and_delivered_once() {
        let db = db().await;
        let now = Utc::now();
        let device = DeviceId::parse("SF-1-00001").unwrap();
        let a = enqueue(&db, new(&device, Command::Start, now), "u")
            .await
            .unwrap();
        let b = enqueue(
            &db,
            new(&device, Command::SetSpeed { percent: 70 }, now),
            "u",
        )
        .await
        .unwrap();
        assert!(b.id > a.id, "{} then {}", a.id, b.id);
        assert_eq!(b.command().unwrap(), Command::SetSpeed { percent: 70 });
        let open_ids: Vec<i64> = open(&db, now).await.unwrap().iter().map(|c| c.id).collect();
        assert_eq!(open_ids, vec![a.id, b.id]);

        delivered(&db, &[a.id as u64, b.id as u64], now)
            .await
            .unwrap();
        delivered(&db, &[a.id as u64], now).await.unwrap();
        let a = get(&db, a.id as u64).await.unwrap().unwrap();
        assert_eq!(a.state().unwrap(), CommandState::Delivered);
        assert_eq!(
            kinds_of_events(&db).await,
            vec![
                "command_delivered",
                "command_delivered",
                "command_queued",
                "command_queued"
            ]
        );
    }

    #[tokio::test]
    async fn a_guarded_advance_moves_a_command_once() {
        let db = db().await;
        let now = Utc::now();
        let device = DeviceId::parse("SF-1-00001").unwrap();
        let c = enqueue(&db, new(&device, Command::Reboot, now), "u")
            .await
            .unwrap();
        let id = c.id as u64;
        let event = c.event(now, "command_acked", "info", "acked".into());
        let (q, a) = (CommandState::Queued, CommandState::Acked);
        assert!(advance(&db, id, q, a, None, now, Some(event.clone()))
            .await
            .unwrap());
        assert!(!advance(&db, id, q, a, None, now, Some(event))
            .await
            .unwrap());
        let c = get(&db, id).await.unwrap().unwrap();
        assert_eq!(c.state, "acked");
        assert!(c.finished_at.is_some());
        assert_eq!(
            kinds_of_events(&db)
                .await
                .iter()
                .filter(|k| *k == "command_acked")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn commands_past_their_time_to_live_expire_with_an_event() {
        let db = db().await;
        let now = Utc::now();
        let device = DeviceId::parse("SF-1-00001").unwrap();
        let old = enqueue(
            &db,
            new(&device, Command::Stop, now - Duration::hours(2)),
            "u",
        )
        .await
        .unwrap();
        let fresh = enqueue(&db, new(&device, Command::Start, now), "u")
            .await
            .unwrap();
        let gone = expire(&db, now).await.unwrap();
        assert_eq!(gone.iter().map(|c| c.id).collect::<Vec<_>>(), vec![old.id]);
        assert_eq!(gone[0].state, "expired");
        assert!(expire(&db, now).await.unwrap().is_empty());
        let open_ids: Vec<i64> = open(&db, now).await.unwrap().iter().map(|c| c.id).collect();
        assert_eq!(open_ids, vec![fresh.id]);
        assert!(kinds_of_events(&db)
            .await
            .contains(&"command_expired".to_string()));
        let listed = recent(&db, &device, 10).await.unwrap();
        assert_eq!(
            listed.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![fresh.id, old.id]
        );
    }
}
