//! Writing and reading audit events. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::{Datetime, RecordId, SurrealValue};

use crate::accounts::caller::Caller;
use crate::db::{internal, Db};
use crate::error::Result;

/// One `event` row written for a user's (or the CLI's) action.
#[derive(Debug, Clone, SurrealValue)]
pub struct AuditRecord {
    time: DateTime<Utc>,
    device: Option<String>,
    org: Option<RecordId>,
    kind: String,
    severity: String,
    message: String,
    actor: Option<String>,
}

/// Records a change made by `caller` (affecting `org`, when it concerns one).
pub async fn record(
    db: &Db,
    caller: &Caller,
    org: Option<&RecordId>,
    kind: &str,
    message: impl Into<String>,
) -> Result<()> {
    record_as(db, &caller.actor, org, kind, message).await
}

/// As [`record`], for an actor that is not a request's caller (the CLI).
pub async fn record_as(
    db: &Db,
    actor: &str,
    org: Option<&RecordId>,
    kind: &str,
    message: impl Into<String>,
) -> Result<()> {
    let row = AuditRecord {
        time: Utc::now(),
        device: None,
        org: org.cloned(),
        kind: kind.into(),
        severity: "info".into(),
        message: message.into(),
        actor: Some(actor.into()),
    };
    db.query("CREATE event CONTENT $row RETURN NONE")
        .bind(("row", row))
        .await
        .and_then(|r| r.check())
        .map_err(internal("audit event"))?;
    Ok(())
}

/// A change `caller` made to one device (owned by `org`), for the device's history and the
/// audit trail.
#[derive(Debug, Clone)]
pub struct DeviceChange {
    pub device: String,
    pub org: RecordId,
    pub kind: &'static str,
    pub message: String,
}

impl DeviceChange {
    /// The event row for this change by `caller`, for a store that writes it in the same
    /// transaction as the change itself.
    pub fn by(self, caller: &Caller, now: DateTime<Utc>) -> AuditRecord {
        AuditRecord {
            time: now,
            device: Some(self.device),
            org: Some(self.org),
            kind: self.kind.into(),
            severity: "info".into(),
            message: self.message,
            actor: Some(caller.actor.clone()),
        }
    }
}

/// Records device changes by `caller`, all in one statement.
pub async fn record_devices(db: &Db, caller: &Caller, changes: Vec<DeviceChange>) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let devices = changes.iter().map(|c| c.device.clone()).collect();
    let rows: Vec<AuditRecord> = changes.into_iter().map(|c| c.by(caller, now)).collect();
    let done = db
        .query("INSERT INTO event $rows RETURN NONE")
        .bind(("rows", rows))
        .await
        .and_then(|r| r.check());
    crate::history::store::written(db, devices);
    done.map_err(internal("device events"))?;
    Ok(())
}

#[derive(Debug, Clone, SurrealValue)]
pub struct AuditRow {
    pub time: DateTime<Utc>,
    pub actor: Option<String>,
    pub org_name: Option<String>,
    pub kind: String,
    pub message: String,
}

/// Audit events (those with an actor) in `[from, to)`, newest first, whose actor contains
/// `actor` and whose org is `org` (when given); at most `limit`.
pub async fn list(
    db: &Db,
    actor: Option<String>,
    org: Option<RecordId>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<AuditRow>> {
    let mut response = db
        .query(
            "SELECT time, actor, org.name AS org_name, kind, message FROM event
             WHERE time >= $from AND time < $to AND actor IS NOT NONE
               AND ($actor IS NONE OR string::contains(string::lowercase(actor), $actor))
               AND ($org IS NONE OR org = $org)
             ORDER BY time DESC LIMIT $limit",
        )
        .bind(("from", Datetime::from(from)))
        .bind(("to", Datetime::from(to)))
        .bind(("actor", actor.map(|a| a.to_lowercase())))
        .bind(("org", org))
        .bind(("limit", limit as i64))
        .await
        .and_then(|r| r.check())
        .map_err(internal("audit list"))?;
    response.take(0).map_err(internal("audit list"))
}
