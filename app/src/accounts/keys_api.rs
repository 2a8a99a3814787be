//! Server functions for API keys: partners manage their org's, admins everyone's.

use leptos::prelude::*;

use super::model::{KeyView, NewKey};
use crate::error::AppError;

/// Keys of the orgs the caller manages keys for, newest first.
#[server(endpoint = "keys")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn list_keys() -> Result<Vec<KeyView>, AppError> {
    crate::error::respond(
        async {
            let caller = key_manager()?;
            let db = crate::db::db()?;
            super::store::list_keys(&db, key_orgs(&caller)).await
        }
        .await,
    )
}

/// Creates a key for `org` with the ticked scopes and an optional lifetime in days; answers
/// the secret, shown only now.
#[server(endpoint = "key_create")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn create_key(
    org: String,
    name: String,
    read: Option<String>,
    control: Option<String>,
    expires_days: Option<String>,
) -> Result<NewKey, AppError> {
    crate::error::respond(
        async {
            let caller = key_manager()?;
            let org = crate::orgs::model::OrgId::parse(&org)?.record();
            if key_orgs(&caller).is_some_and(|orgs| !orgs.contains(&org)) {
                return Err(AppError::not_found("org"));
            }
            let expires_at = match expires_days
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
            {
                None => None,
                Some(d) => {
                    let days: i64 = d
                        .parse()
                        .ok()
                        .filter(|d| (1..=3650).contains(d))
                        .ok_or_else(|| {
                            AppError::validation("expiry is 1 to 3650 days, or empty for none")
                        })?;
                    Some(chrono::Utc::now() + chrono::Duration::days(days))
                }
            };
            let db = crate::db::db()?;
            crate::orgs::store::org_kind(&db, &org)
                .await?
                .ok_or(AppError::not_found("org"))?;
            let name = super::model::display_name(&name)?;
            let secret = super::keys::issue_key(
                &db,
                &org,
                &name,
                super::model::ticked(read.as_deref()),
                super::model::ticked(control.as_deref()),
                expires_at,
                &caller.actor,
            )
            .await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&org),
                "api_key_created",
                format!(
                    "created API key {name:?} ({}…)",
                    &secret[..super::keys::SHOWN_PREFIX]
                ),
            )
            .await?;
            Ok(NewKey { secret, name })
        }
        .await,
    )
}

/// Revokes a key: it stops working at once.
#[server(endpoint = "key_revoke")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn revoke_key(id: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let caller = key_manager()?;
            let id = id.trim();
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AppError::not_found("api key"));
            }
            let db = crate::db::db()?;
            let key = super::store::api_key(&db, id)
                .await?
                .ok_or(AppError::not_found("api key"))?;
            if key_orgs(&caller).is_some_and(|orgs| !orgs.contains(&key.org)) {
                return Err(AppError::not_found("api key"));
            }
            super::store::revoke_api_key(&db, id, chrono::Utc::now()).await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&key.org),
                "api_key_revoked",
                format!("revoked API key {:?} ({}…)", key.name, key.prefix),
            )
            .await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn key_manager() -> Result<super::caller::Caller, AppError> {
    let caller = super::caller::caller()?;
    caller.require(super::caller::Right::ManageKeys)?;
    Ok(caller)
}

/// `None`: every org (admins); partners: their own org.
#[cfg(feature = "ssr")]
fn key_orgs(caller: &super::caller::Caller) -> Option<Vec<surrealdb::types::RecordId>> {
    match caller.persona {
        super::model::Persona::Admin => None,
        _ => Some(vec![caller.org.clone()]),
    }
}
