//! SurrealQL for users, sessions, API keys and org scope. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::{Datetime, RecordId, SurrealValue};

use super::model::{Email, KeyView, Persona, UserView};
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

/// Marks the session used at `now`. Requests of one session often arrive together (a page
/// and its server functions) and all touch it; when another one's touch commits first, this
/// one's conflicts, and that is as good as done: it used to answer 500.
pub async fn touch_session(db: &Db, hash: &str, now: DateTime<Utc>) -> Result<()> {
    let touched = db
        .query("UPDATE $id SET last_seen = $now RETURN NONE")
        .bind(("id", session_record(hash)))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check());
    match touched {
        Err(e) if !crate::db::is_conflict(&e) => Err(internal("touch session")(e)),
        _ => Ok(()),
    }
}

pub async fn delete_session(db: &Db, hash: &str) -> Result<()> {
    super::cache::forget_callers();
    db.query("DELETE $id")
        .bind(("id", session_record(hash)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("delete session"))?;
    Ok(())
}

/// Ends every session of a user (disabled, password changed, persona or org changed).
pub async fn delete_user_sessions(db: &Db, user: &RecordId) -> Result<()> {
    super::cache::forget_callers();
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

/// Marks the key used at `now`; a conflict with a concurrent touch is as good as done (see
/// [`touch_session`]).
pub async fn touch_api_key(db: &Db, hash: &str, now: DateTime<Utc>) -> Result<()> {
    let touched = db
        .query("UPDATE $id SET last_used = $now RETURN NONE")
        .bind(("id", api_key_record(hash)))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check());
    match touched {
        Err(e) if !crate::db::is_conflict(&e) => Err(internal("touch api key")(e)),
        _ => Ok(()),
    }
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
    super::cache::forget_callers();
    db.query("UPDATE $id SET revoked_at = $at WHERE revoked_at IS NONE RETURN NONE")
        .bind(("id", api_key_record(hash)))
        .bind(("at", Datetime::from(at)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("revoke api key"))?;
    Ok(())
}

/// `user:…` from the key the pages use; `None` for keys that cannot be one.
pub fn user_record(key: &str) -> Option<RecordId> {
    let ok = !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| RecordId::new("user", key))
}

pub async fn user_by_id(db: &Db, id: &RecordId) -> Result<Option<UserRow>> {
    let mut response = db
        .query("SELECT * FROM ONLY $id")
        .bind(("id", id.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("user by id"))?;
    Ok(response.take::<Option<UserRow>>(0).ok().flatten())
}

#[derive(Debug, SurrealValue)]
struct UserListRow {
    id: RecordId,
    email: String,
    name: String,
    persona: String,
    org: RecordId,
    org_name: Option<String>,
    disabled: bool,
    has_password: bool,
    last_login: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Users of the orgs in `scope` (`None`: all), by org name then email.
pub async fn list_users(db: &Db, scope: Option<Vec<RecordId>>) -> Result<Vec<UserView>> {
    let mut response = db
        .query(
            "SELECT id, email, name, persona, org, org.name AS org_name, disabled,
                    password_hash IS NOT NONE AS has_password, last_login, created_at
             FROM user WHERE $all OR org IN $orgs",
        )
        .bind(("all", scope.is_none()))
        .bind(("orgs", scope.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("list users"))?;
    let rows: Vec<UserListRow> = response.take(0).map_err(internal("list users"))?;
    let mut users: Vec<UserView> = rows
        .into_iter()
        .filter_map(|r| {
            Some(UserView {
                id: crate::db::key_string(&r.id),
                email: r.email,
                name: r.name,
                persona: Persona::parse(&r.persona).ok()?,
                org_id: crate::db::key_string(&r.org),
                org_name: r.org_name.unwrap_or_default(),
                disabled: r.disabled,
                invited: !r.has_password,
                last_login: r
                    .last_login
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                created: r.created_at.format("%Y-%m-%d").to_string(),
            })
        })
        .collect();
    users.sort_by(|a, b| (&a.org_name, &a.email).cmp(&(&b.org_name, &b.email)));
    Ok(users)
}

pub async fn update_user(
    db: &Db,
    id: &RecordId,
    name: &str,
    persona: Persona,
    org: &RecordId,
    disabled: bool,
) -> Result<()> {
    super::cache::forget_callers();
    db.query(
        "UPDATE $id SET name = $name, persona = $persona, org = $org, disabled = $disabled
         RETURN NONE",
    )
    .bind(("id", id.clone()))
    .bind(("name", name.to_string()))
    .bind(("persona", persona.as_str().to_string()))
    .bind(("org", org.clone()))
    .bind(("disabled", disabled))
    .await
    .and_then(|r| r.check())
    .map_err(internal("update user"))?;
    Ok(())
}

pub async fn set_password(db: &Db, id: &RecordId, phc: &str) -> Result<()> {
    super::cache::forget_callers();
    db.query("UPDATE $id SET password_hash = $phc RETURN NONE")
        .bind(("id", id.clone()))
        .bind(("phc", phc.to_string()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("set password"))?;
    Ok(())
}

/// Ends a user's sessions except the one whose hash is `keep`.
pub async fn delete_user_sessions_except(
    db: &Db,
    user: &RecordId,
    keep: Option<&str>,
) -> Result<()> {
    super::cache::forget_callers();
    db.query("DELETE session WHERE user = $user AND id != $keep")
        .bind(("user", user.clone()))
        .bind(("keep", keep.map(session_record)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("delete other sessions"))?;
    Ok(())
}

fn link_record(hash: &str) -> RecordId {
    RecordId::new("user_link", hash)
}

/// Stores a new link for `user` and removes the user's earlier unused ones.
pub async fn replace_links(
    db: &Db,
    hash: &str,
    user: &RecordId,
    kind: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
    created_by: &str,
) -> Result<()> {
    db.query(
        "BEGIN TRANSACTION;
         DELETE user_link WHERE user = $user AND used_at IS NONE;
         CREATE $id SET user = $user, kind = $kind, created_at = $now, expires_at = $expires,
                        created_by = $by;
         COMMIT TRANSACTION;",
    )
    .bind(("id", link_record(hash)))
    .bind(("user", user.clone()))
    .bind(("kind", kind.to_string()))
    .bind(("now", Datetime::from(now)))
    .bind(("expires", Datetime::from(expires)))
    .bind(("by", created_by.to_string()))
    .await
    .and_then(|r| r.check())
    .map_err(internal("issue link"))?;
    Ok(())
}

#[derive(Debug, SurrealValue)]
pub struct LinkRow {
    pub user: RecordId,
    pub kind: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub email: String,
    pub org: RecordId,
    pub disabled: bool,
}

pub async fn link(db: &Db, hash: &str) -> Result<Option<LinkRow>> {
    let mut response = db
        .query(
            "SELECT user, kind, expires_at, used_at, user.email AS email, user.org AS org,
                    user.disabled AS disabled
             FROM ONLY $id",
        )
        .bind(("id", link_record(hash)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("link"))?;
    Ok(response.take::<Option<LinkRow>>(0).ok().flatten())
}

/// Marks the link used and sets the password, in one transaction; `false` when the link
/// was used meanwhile.
pub async fn use_link(
    db: &Db,
    hash: &str,
    user: &RecordId,
    phc: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    super::cache::forget_callers();
    let mut response = db
        .query(
            "BEGIN TRANSACTION;
             LET $used = (UPDATE $id SET used_at = $now WHERE used_at IS NONE RETURN VALUE id);
             IF array::len($used) = 1 { UPDATE $user SET password_hash = $phc RETURN NONE; };
             COMMIT TRANSACTION;
             RETURN array::len($used) = 1;",
        )
        .bind(("id", link_record(hash)))
        .bind(("user", user.clone()))
        .bind(("phc", phc.to_string()))
        .bind(("now", Datetime::from(now)))
        .await
        .and_then(|r| r.check())
        .map_err(internal("use link"))?;
    let n = response.num_statements();
    let used: Option<bool> = response.take(n - 1).map_err(internal("use link"))?;
    Ok(used.unwrap_or(false))
}

#[derive(Debug, SurrealValue)]
struct KeyListRow {
    id: RecordId,
    name: String,
    prefix: String,
    org: RecordId,
    org_name: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    last_used: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    created_by: String,
    revoked_at: Option<DateTime<Utc>>,
}

/// API keys of `orgs` (`None`: all), newest first.
pub async fn list_keys(db: &Db, orgs: Option<Vec<RecordId>>) -> Result<Vec<KeyView>> {
    let mut response = db
        .query(
            "SELECT id, name, prefix, org, org.name AS org_name, scopes, expires_at, last_used,
                    created_at, created_by, revoked_at
             FROM api_key WHERE $all OR org IN $orgs ORDER BY created_at DESC",
        )
        .bind(("all", orgs.is_none()))
        .bind(("orgs", orgs.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("list keys"))?;
    let rows: Vec<KeyListRow> = response.take(0).map_err(internal("list keys"))?;
    let t = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Ok(rows
        .into_iter()
        .map(|r| KeyView {
            id: crate::db::key_string(&r.id),
            name: r.name,
            prefix: r.prefix,
            org_id: crate::db::key_string(&r.org),
            org_name: r.org_name.unwrap_or_default(),
            scopes: r.scopes,
            expires: r.expires_at.map(t),
            last_used: r.last_used.map(t),
            created: t(r.created_at),
            created_by: r.created_by,
            revoked: r.revoked_at.map(t),
        })
        .collect())
}

/// Deletes sessions that have ended (past their absolute expiry or idle too long) and links
/// that expired or were used more than a day ago; answers how many rows went.
pub async fn purge_ended(db: &Db, now: DateTime<Utc>, idle: chrono::Duration) -> Result<usize> {
    super::cache::forget_callers();
    let mut response = db
        .query("DELETE session WHERE expires_at <= $now OR last_seen <= $idle RETURN BEFORE")
        .query("DELETE user_link WHERE expires_at <= $now OR used_at <= $day RETURN BEFORE")
        .bind(("now", Datetime::from(now)))
        .bind(("idle", Datetime::from(now - idle)))
        .bind(("day", Datetime::from(now - chrono::Duration::days(1))))
        .await
        .and_then(|r| r.check())
        .map_err(internal("purge sessions"))?;
    let sessions: Vec<surrealdb::types::Value> = response.take(0).map_err(internal("purge"))?;
    let links: Vec<surrealdb::types::Value> = response.take(1).map_err(internal("purge"))?;
    Ok(sessions.len() + links.len())
}
