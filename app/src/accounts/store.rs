//! SurrealQL for users, sessions, API keys and org scope. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::{Datetime, RecordId, SurrealValue};

use super::model::{Email, Persona};
use crate::db::{internal, Db};
use crate::error::{AppError, Result};

#[derive(Debug, Clone, SurrealValue)]
pub struct UserRow {
    pub id: RecordId,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub org: RecordId,
    pub persona: String,
    pub disabled: bool,
    pub last_login: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, SurrealValue)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub org: RecordId,
    pub persona: String,
}

pub async fn user_by_email(db: &Db, email: &Email) -> Result<Option<UserRow>> {
    let mut response = db
        .query("SELECT * FROM user WHERE email = $email LIMIT 1")
        .bind(("email", email.as_str().to_string()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("user by email"))?;
    let rows: Vec<UserRow> = response.take(0).map_err(internal("user by email"))?;
    Ok(rows.into_iter().next())
}

/// Creates a user. A taken email is a 409, checked by the unique index so two concurrent
/// sign-ups cannot both win.
pub async fn insert_user(db: &Db, user: NewUser) -> Result<RecordId> {
    let email = user.email.clone();
    let result = db
        .query("CREATE user CONTENT $user RETURN VALUE id")
        .bind(("user", user))
        .await
        .and_then(|r| r.check());
    let mut response = match result {
        Ok(r) => r,
        Err(e) if e.to_string().contains("user_email") => {
            return Err(AppError::Conflict {
                message: format!("a user with the email {email} already exists"),
            })
        }
        Err(e) => return Err(AppError::internal("insert user", e)),
    };
    let ids: Vec<RecordId> = response.take(0).map_err(internal("insert user"))?;
    ids.into_iter()
        .next()
        .ok_or_else(|| AppError::internal("insert user", "no id returned"))
}

pub async fn set_last_login(db: &Db, user: &RecordId, at: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE $user SET last_login = $at RETURN NONE")
        .bind(("user", user.clone()))
        .bind(("at", Datetime::from(at)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("set last login"))?;
    Ok(())
}

pub fn session_record(hash: &str) -> RecordId {
    RecordId::new("session", hash)
}

/// What a session cookie resolves to: the session's times and its user.
#[derive(Debug, Clone, SurrealValue)]
pub struct SessionRow {
    pub expires_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub user: RecordId,
    pub email: String,
    pub name: String,
    pub persona: String,
    pub org: RecordId,
    pub org_name: String,
    pub disabled: bool,
}

pub async fn create_session(
    db: &Db,
    hash: &str,
    user: &RecordId,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    db.query(
        "CREATE $id SET user = $user, created_at = $now, last_seen = $now,
                        expires_at = $expires RETURN NONE",
    )
    .bind(("id", session_record(hash)))
    .bind(("user", user.clone()))
    .bind(("now", Datetime::from(now)))
    .bind(("expires", Datetime::from(expires_at)))
    .await
    .and_then(|r| r.check())
    .map_err(internal("create session"))?;
    Ok(())
}

pub async fn session(db: &Db, hash: &str) -> Result<Option<SessionRow>> {
    let mut response = db
        .query(
            "SELECT expires_at, last_seen, user, user.email AS email, user.name AS name,
                    user.persona AS persona, user.org AS org, user.org.name AS org_name,
                    user.disabled AS disabled
             FROM ONLY $id",
        )
        .bind(("id", session_record(hash)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("session"))?;
    // A session whose user was deleted has no email: treat it as no session.
    Ok(response.take::<Option<SessionRow>>(0).ok().flatten())
}

pub async fn touch_session(db: &Db, hash: &str, now: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE $id SET last_seen = $now RETURN NONE")
        .bind(("id", session_record(hash)))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("touch session"))?;
    Ok(())
}

pub async fn delete_session(db: &Db, hash: &str) -> Result<()> {
    db.query("DELETE $id")
        .bind(("id", session_record(hash)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("delete session"))?;
    Ok(())
}

/// Ends every session of a user (disabled, password changed, persona or org changed).
pub async fn delete_user_sessions(db: &Db, user: &RecordId) -> Result<()> {
    db.query("DELETE session WHERE user = $user")
        .bind(("user", user.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("delete user sessions"))?;
    Ok(())
}

pub fn api_key_record(hash: &str) -> RecordId {
    RecordId::new("api_key", hash)
}

#[derive(Debug, Clone, SurrealValue)]
pub struct KeyRow {
    pub name: String,
    pub prefix: String,
    pub org: RecordId,
    pub org_name: String,
    pub org_kind: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn api_key(db: &Db, hash: &str) -> Result<Option<KeyRow>> {
    let mut response = db
        .query(
            "SELECT name, prefix, org, org.name AS org_name, org.kind AS org_kind, scopes,
                    expires_at, last_used, revoked_at
             FROM ONLY $id",
        )
        .bind(("id", api_key_record(hash)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("api key"))?;
    Ok(response.take::<Option<KeyRow>>(0).ok().flatten())
}

pub async fn touch_api_key(db: &Db, hash: &str, now: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE $id SET last_used = $now RETURN NONE")
        .bind(("id", api_key_record(hash)))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("touch api key"))?;
    Ok(())
}

/// The org and everything below it: one indexed lookup on the materialised ancestors.
pub async fn subtree(db: &Db, org: &RecordId) -> Result<Vec<RecordId>> {
    let mut response = db
        .query("SELECT VALUE id FROM org WHERE ancestors CONTAINS $org")
        .bind(("org", org.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org subtree"))?;
    let mut orgs: Vec<RecordId> = response.take(0).map_err(internal("org subtree"))?;
    orgs.insert(0, org.clone());
    Ok(orgs)
}

/// The persona column as a type; a row with an unknown persona is refused, not guessed.
pub fn persona_of(raw: &str) -> Result<Persona> {
    Persona::parse(raw).map_err(|_| AppError::internal("user row", format!("persona {raw:?}")))
}

#[derive(Debug, Clone, SurrealValue)]
pub struct NewKey {
    pub id: RecordId,
    pub name: String,
    pub prefix: String,
    pub org: RecordId,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_api_key(db: &Db, key: NewKey) -> Result<()> {
    db.query("CREATE $id CONTENT $key RETURN NONE")
        .bind(("id", key.id.clone()))
        .bind(("key", key))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert api key"))?;
    Ok(())
}

pub async fn revoke_api_key(db: &Db, hash: &str, at: DateTime<Utc>) -> Result<()> {
    db.query("UPDATE $id SET revoked_at = $at WHERE revoked_at IS NONE RETURN NONE")
        .bind(("id", api_key_record(hash)))
        .bind(("at", Datetime::from(at)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("revoke api key"))?;
    Ok(())
}
