//! Who is calling: one path for browser sessions and API keys. The server resolves the
//! caller once per request (middleware) and every server function reads it from there,
//! then authorizes by persona and filters by scope. Server-only.

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use chrono::{DateTime, Duration, Utc};
use surrealdb::types::RecordId;

use super::cache::CallerCache;
use super::model::{Me, Persona};
use super::{secret, store};
use crate::db::Db;
use crate::error::{AppError, Result};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sunfleet_session";
/// API key secrets start with this, so a key in a log or a repository is recognisable.
pub const API_KEY_PREFIX: &str = "sfk_";
/// A session ends after this long without a request…
pub const SESSION_IDLE: Duration = Duration::hours(12);
/// …and in any case this long after sign-in.
pub const SESSION_ABSOLUTE: Duration = Duration::days(7);
/// Contact times are written at most this often (a write per request would be wasteful).
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// The orgs a caller may see.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Every org (admins).
    All,
    /// These orgs only: the caller's org, plus its descendants for partners and dealers.
    Orgs(Arc<Vec<RecordId>>),
}

impl Scope {
    pub fn contains(&self, org: &RecordId) -> bool {
        match self {
            Self::All => true,
            Self::Orgs(orgs) => orgs.contains(org),
        }
    }

    /// `None` for all orgs; bind as `$all` / `$orgs` in store queries.
    pub fn orgs(&self) -> Option<Vec<RecordId>> {
        match self {
            Self::All => None,
            Self::Orgs(orgs) => Some(orgs.as_ref().clone()),
        }
    }
}

/// What a caller may do (DESIGN.md §5); whom it may do it to is the scope's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// See devices, telemetry and events.
    Read,
    /// Register, edit, decommission devices and set their location.
    EditDevices,
    /// Edit schedules and send commands.
    Control,
    ManageUsers,
    /// Create and change orgs (dealers: customers under themselves).
    ManageOrgs,
    ManageKeys,
    /// Read the audit trail.
    Audit,
}

/// An API key's grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyScopes {
    pub read: bool,
    pub control: bool,
}

/// The resolved caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For the audit trail: `user:… (email)` or `api_key:sfk_1234… (name)`.
    pub actor: String,
    pub user: Option<RecordId>,
    pub email: String,
    pub name: String,
    pub persona: Persona,
    pub org: RecordId,
    pub org_name: String,
    pub scope: Scope,
    /// `Some` when the caller authenticated with an API key.
    pub key: Option<KeyScopes>,
}

impl Caller {
    pub fn may(&self, right: Right) -> bool {
        if let Some(key) = self.key {
            // Keys read and steer devices; they never manage people, orgs or keys.
            return match right {
                Right::Read => key.read,
                Right::Control => key.control,
                _ => false,
            };
        }
        use Persona::*;
        match right {
            Right::Read | Right::Control => true,
            Right::EditDevices => matches!(self.persona, Admin | Dealer),
            Right::ManageUsers => matches!(self.persona, Admin | Partner | Dealer),
            Right::ManageOrgs => matches!(self.persona, Admin | Dealer),
            Right::ManageKeys => matches!(self.persona, Admin | Partner),
            Right::Audit => self.persona == Admin,
        }
    }

    /// 403 unless the caller has `right`.
    pub fn require(&self, right: Right) -> Result<()> {
        if self.may(right) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// An org of the caller's scope (`org` is its id) with the orgs below it: what an org
    /// filter means. A malformed id and an org outside the scope are both a 404.
    pub async fn org_subtree(&self, db: &Db, org: &str) -> Result<Vec<RecordId>> {
        let org = crate::orgs::model::OrgId::parse(org)
            .map_err(|_| AppError::not_found("org"))?
            .record();
        if !self.scope.contains(&org) {
            return Err(AppError::not_found("org"));
        }
        crate::charts::store::subtree(db, &org).await
    }

    pub fn me(&self) -> Me {
        Me {
            email: self.email.clone(),
            name: self.name.clone(),
            persona: self.persona,
            org_id: crate::db::key_string(&self.org),
            org_name: self.org_name.clone(),
        }
    }
}

/// The caller of the current server function or page render, as the middleware resolved
/// it; 401 when nobody is signed in.
pub fn caller() -> Result<Caller> {
    current().ok_or(AppError::Unauthorized)
}

/// As [`caller`], `None` when anonymous.
pub fn current() -> Option<Caller> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
}

/// Resolves the credentials of a request: `Authorization: Bearer sfk_…` (an API key) or
/// the session cookie. `Ok(None)`: no credentials, or a session that has ended. A key that
/// is wrong, revoked or expired is an error: the caller meant to authenticate and should
/// know why it failed.
pub async fn resolve(
    db: &Db,
    cache: &CallerCache,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Option<Caller>> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| auth_error("api_key_invalid", "use `Authorization: Bearer sfk_…`"))?;
        if !token.starts_with(API_KEY_PREFIX) || token.len() > 100 {
            return Err(auth_error("api_key_invalid", "unknown API key"));
        }
        let hash = secret::token_hash(token);
        let key = format!("k:{hash}");
        if let Some(caller) = cache.get(&key, now) {
            return Ok(Some(caller));
        }
        let (caller, expires_at) = resolve_key(db, &hash, now).await?;
        cache.put(key, caller.clone(), expires_at);
        return Ok(Some(caller));
    }
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if token.len() > 100 {
        return Ok(None);
    }
    let hash = secret::token_hash(&token);
    let key = format!("s:{hash}");
    if let Some(caller) = cache.get(&key, now) {
        return Ok(Some(caller));
    }
    let resolved = resolve_session(db, &hash, now).await?;
    if let Some((caller, expires_at)) = &resolved {
        cache.put(key, caller.clone(), Some(*expires_at));
    }
    Ok(resolved.map(|(caller, _)| caller))
}

fn auth_error(code: &'static str, message: &str) -> AppError {
    AppError::Unauthenticated {
        code,
        message: message.to_string(),
    }
}

/// The caller of the key whose secret hashes to `hash`, and when the key expires.
async fn resolve_key(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(Caller, Option<DateTime<Utc>>)> {
    let key = store::api_key(db, hash)
        .await?
        .ok_or_else(|| auth_error("api_key_invalid", "unknown API key"))?;
    if key.revoked_at.is_some() {
        return Err(auth_error(
            "api_key_revoked",
            "this API key has been revoked",
        ));
    }
    if key.expires_at.is_some_and(|t| t <= now) {
        return Err(auth_error("api_key_expired", "this API key has expired"));
    }
    if key.last_used.is_none_or(|t| now - t >= TOUCH_EVERY) {
        store::touch_api_key(db, hash, now).await?;
    }
    let scope = Scope::Orgs(Arc::new(store::subtree(db, &key.org).await?));
    // A key acts for its org with a partner's reach (its subtree), limited by its scopes.
    let persona = match key.org_kind.as_str() {
        "operator" => Persona::Admin,
        "dealer" => Persona::Dealer,
        "customer" => Persona::Customer,
        _ => Persona::Partner,
    };
    let expires_at = key.expires_at;
    let caller = Caller {
        actor: format!("api_key:{} ({})", key.prefix, key.name),
        user: None,
        email: String::new(),
        name: key.name,
        persona,
        org: key.org,
        org_name: key.org_name,
        scope,
        key: Some(KeyScopes {
            read: key.scopes.iter().any(|s| s == "read"),
            control: key.scopes.iter().any(|s| s == "control"),
        }),
    };
    Ok((caller, expires_at))
}

/// The caller of the session whose cookie hashes to `hash`, and when the session ends.
async fn resolve_session(
    db: &Db,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Caller, DateTime<Utc>)>> {
    let Some(s) = store::session(db, hash).await? else {
        return Ok(None);
    };
    if s.disabled || s.expires_at <= now || now - s.last_seen >= SESSION_IDLE {
        store::delete_session(db, hash).await?;
        return Ok(None);
    }
    if now - s.last_seen >= TOUCH_EVERY {
        store::touch_session(db, hash, now).await?;
    }
    // Trusted from the cache for a while: end it no later than its idle limit would.
    let ends = s.expires_at.min(now + SESSION_IDLE);
    let persona = store::persona_of(&s.persona)?;
    let scope = match persona {
        Persona::Admin => Scope::All,
        Persona::Partner | Persona::Dealer => {
            Scope::Orgs(Arc::new(store::subtree(db, &s.org).await?))
        }
        Persona::Customer => Scope::Orgs(Arc::new(vec![s.org.clone()])),
    };
    Ok(Some((
        Caller {
            actor: format!("{} ({})", crate::db::record_string(&s.user), s.email),
            user: Some(s.user),
            email: s.email,
            name: s.name,
            persona,
            org: s.org,
            org_name: s.org_name,
            scope,
            key: None,
        },
        ends,
    )))
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `Set-Cookie` for a new session. `Secure` when the site is served over https (directly or
/// behind a proxy that says so).
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_ABSOLUTE.num_seconds(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether the request reached us over https.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(persona: Persona, key: Option<KeyScopes>) -> Caller {
        Caller {
            actor: "t".into(),
            user: None,
            email: String::new(),
            name: String::new(),
            persona,
            org: RecordId::new("org", "x"),
            org_name: String::new(),
            scope: Scope::All,
            key,
        }
    }

    #[test]
    fn rights_follow_the_design_matrix() {
        use Persona::*;
        use Right::*;
        let table = [
            (EditDevices, [true, false, true, false]),
            (Control, [true, true, true, true]),
            (ManageUsers, [true, true, true, false]),
            (ManageOrgs, [true, false, true, false]),
            (ManageKeys, [true, true, false, false]),
            (Audit, [true, false, false, false]),
        ];
        for (right, expected) in table {
            for (persona, want) in [Admin, Partner, Dealer, Customer].into_iter().zip(expected) {
                assert_eq!(
                    caller(persona, None).may(right),
                    want,
                    "{persona} {right:?}"
                );
            }
        }
    }

    #[test]
    fn a_read_only_key_reads_and_nothing_else() {
        let key = caller(
            Persona::Partner,
            Some(KeyScopes {
                read: true,
                control: false,
            }),
        );
        assert!(key.may(Right::Read));
        assert!(!key.may(Right::Control));
        assert!(!key.may(Right::ManageKeys));
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_flags_are_set() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; sunfleet_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        let c = session_cookie("abc", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!session_cookie("abc", false).contains("Secure"));
    }
}
