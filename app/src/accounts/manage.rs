//! Server functions for managing users and their passwords: list, create (with a one-time
//! invite link), change, disable, reset links, accepting a link, changing one's own
//! password. Who may manage whom: admins everyone, partners their own org, dealers their
//! subtree (their own org's dealers and their customers' users).

use leptos::prelude::*;

use super::model::{IssuedLink, Persona, UserView};
use crate::error::AppError;

/// The users the caller may manage, by org then email.
#[server(endpoint = "users")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    crate::error::respond(
        async {
            let caller = manager()?;
            let db = crate::db::db()?;
            super::store::list_users(&db, manageable(&caller).orgs()).await
        }
        .await,
    )
}

/// Creates a user without a password and answers a one-time invite link (7 days) to show
/// the person who will hand it over; the user sets a password through it.
#[server(endpoint = "user_create")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn create_user(
    email: String,
    name: String,
    persona: Persona,
    org: String,
) -> Result<IssuedLink, AppError> {
    crate::error::respond(
        async {
            let caller = manager()?;
            let org = crate::orgs::model::OrgId::parse(&org)?.record();
            if !manageable(&caller).contains(&org) {
                return Err(AppError::not_found("org"));
            }
            let db = crate::db::db()?;
            let id = super::users::create_user(
                &db,
                super::users::UserSpec {
                    email: email.clone(),
                    name,
                    persona,
                    org: org.clone(),
                    password: None,
                },
            )
            .await?;
            let email = super::model::Email::parse(&email)?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&org),
                "user_created",
                format!("created {persona} user {email}"),
            )
            .await?;
            super::links::issue(
                &db,
                &caller,
                &id,
                email.as_str(),
                super::links::LinkKind::Invite,
            )
            .await
        }
        .await,
    )
}

/// Changes a user's name, persona, org and whether they are disabled. A change of persona
/// or org, or disabling, ends their sessions. Nobody disables or demotes themselves.
#[server(endpoint = "user_update")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn update_user(
    id: String,
    name: String,
    persona: Persona,
    org: String,
    disabled: Option<String>,
) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let caller = manager()?;
            let db = crate::db::db()?;
            let user = managed_user(&db, &caller, &id).await?;
            let name = super::model::display_name(&name)?;
            let org = crate::orgs::model::OrgId::parse(&org)?.record();
            if !manageable(&caller).contains(&org) {
                return Err(AppError::not_found("org"));
            }
            super::users::require_org_fits(&db, persona, &org, AppError::not_found("org")).await?;
            let disabled = super::model::ticked(disabled.as_deref());
            let old_persona = super::store::persona_of(&user.persona)?;
            if caller.user.as_ref() == Some(&user.id)
                && (disabled || persona != old_persona || org != user.org)
            {
                return Err(AppError::validation(
                    "you cannot disable yourself or change your own persona or organisation",
                ));
            }
            super::store::update_user(&db, &user.id, &name, persona, &org, disabled).await?;
            if disabled || persona != old_persona || org != user.org {
                super::store::delete_user_sessions(&db, &user.id).await?;
            }
            let mut changes = Vec::new();
            if name != user.name {
                changes.push(format!("name {:?}", name));
            }
            if persona != old_persona {
                changes.push(format!("persona {old_persona} → {persona}"));
            }
            if org != user.org {
                changes.push(format!(
                    "org {} → {}",
                    crate::db::key_string(&user.org),
                    crate::db::key_string(&org)
                ));
            }
            if disabled != user.disabled {
                changes.push(if disabled { "disabled" } else { "enabled" }.to_string());
            }
            let kind = if disabled && !user.disabled {
                "user_disabled"
            } else {
                "user_updated"
            };
            crate::audit::store::record(
                &db,
                &caller,
                Some(&org),
                kind,
                format!(
                    "{}: {}",
                    user.email,
                    if changes.is_empty() {
                        "no change".into()
                    } else {
                        changes.join(", ")
                    }
                ),
            )
            .await
        }
        .await,
    )
}

/// A one-time password reset link (24 h) for a user the caller manages.
#[server(endpoint = "user_reset")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn reset_link(id: String) -> Result<IssuedLink, AppError> {
    crate::error::respond(
        async {
            let caller = manager()?;
            let db = crate::db::db()?;
            let user = managed_user(&db, &caller, &id).await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&user.org),
                "password_reset_issued",
                format!("reset link for {}", user.email),
            )
            .await?;
            super::links::issue(
                &db,
                &caller,
                &user.id,
                &user.email,
                super::links::LinkKind::Reset,
            )
            .await
        }
        .await,
    )
}

/// Sets a password through an invite or reset link (no sign-in needed: the link is the
/// credential). The link works once; the user's other sessions end. Answers the email to
/// sign in with.
#[server(endpoint = "link_accept")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug", skip_all))]
pub async fn accept_link(token: String, password: String) -> Result<String, AppError> {
    crate::error::respond(
        async {
            let password = super::model::NewPassword::parse(&password)?;
            let db = crate::db::db()?;
            super::links::accept(&db, token.trim(), password).await
        }
        .await,
    )
}

/// Changes the signed-in user's own password; their other sessions end.
#[server(endpoint = "password_change")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug", skip_all))]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            use super::secret;
            let caller = super::caller::caller()?;
            let user_id = caller.user.clone().ok_or(AppError::Forbidden)?;
            let new = super::model::NewPassword::parse(&new)?;
            let db = crate::db::db()?;
            let user = super::store::user_by_id(&db, &user_id)
                .await?
                .ok_or(AppError::Unauthorized)?;
            let hash = user.password_hash.clone().unwrap_or_default();
            let ok = tokio::task::spawn_blocking(move || secret::verify_password(&current, &hash))
                .await
                .map_err(|e| AppError::internal("password check", e))?;
            if !ok {
                return Err(AppError::validation("the current password is wrong"));
            }
            let hash = tokio::task::spawn_blocking(move || secret::hash_password(new.expose()))
                .await
                .map_err(|e| AppError::internal("hash password", e))??;
            super::store::set_password(&db, &user_id, &hash).await?;
            let current_session = use_context::<axum::http::request::Parts>()
                .and_then(|p| super::caller::cookie(&p.headers, super::caller::SESSION_COOKIE))
                .map(|t| secret::token_hash(&t));
            super::store::delete_user_sessions_except(&db, &user_id, current_session.as_deref())
                .await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&caller.org),
                "password_changed",
                "changed own password",
            )
            .await
        }
        .await,
    )
}

/// The caller, if they may manage users (403 otherwise).
#[cfg(feature = "ssr")]
fn manager() -> Result<super::caller::Caller, AppError> {
    let caller = super::caller::caller()?;
    caller.require(super::caller::Right::ManageUsers)?;
    Ok(caller)
}

/// The orgs whose users the caller manages: everything for admins, the own org for
/// partners, the subtree for dealers.
#[cfg(feature = "ssr")]
fn manageable(caller: &super::caller::Caller) -> super::caller::Scope {
    use super::caller::Scope;
    match caller.persona {
        Persona::Admin => Scope::All,
        Persona::Partner => Scope::Orgs(std::sync::Arc::new(vec![caller.org.clone()])),
        _ => caller.scope.clone(),
    }
}

/// A user the caller manages; 404 for anyone else (ids do not leak).
#[cfg(feature = "ssr")]
async fn managed_user(
    db: &crate::db::Db,
    caller: &super::caller::Caller,
    id: &str,
) -> Result<super::store::UserRow, AppError> {
    let id = super::store::user_record(id).ok_or(AppError::not_found("user"))?;
    let user = super::store::user_by_id(db, &id)
        .await?
        .ok_or(AppError::not_found("user"))?;
    if !manageable(caller).contains(&user.org) {
        return Err(AppError::not_found("user"));
    }
    Ok(user)
}
