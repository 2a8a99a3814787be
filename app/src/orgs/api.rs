//! Server functions for organisations: list the caller's, create (admins anywhere, dealers
//! customers under themselves), rename, move and delete (admins).

use leptos::prelude::*;

use super::model::{OrgKind, OrgView};
use crate::error::AppError;

/// The orgs in the caller's scope, tree order (each parent before its children).
#[server(endpoint = "orgs")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn list_orgs() -> Result<Vec<OrgView>, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            let db = crate::db::db()?;
            super::store::list(&db, caller.scope.orgs()).await
        }
        .await,
    )
}

/// The orgs in the caller's scope as (id, name), by name: the choices of an org picker.
/// [`list_orgs`] also counts each org's devices, users and children, which pickers do not
/// show and which took 14 ms of the History and Charts pages' 15 on the demo fleet.
#[server(endpoint = "org_names")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn org_names() -> Result<Vec<(String, String)>, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            let db = crate::db::db()?;
            super::store::names(&db, caller.scope.orgs()).await
        }
        .await,
    )
}

/// Creates an org of `kind` under `parent`. Admins: partners and dealers under the operator,
/// dealers also under partners, customers under any of those. Dealers: customers under
/// themselves only.
#[server(endpoint = "org_create")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn create_org(name: String, kind: OrgKind, parent: String) -> Result<OrgView, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::{caller, Right};
            use crate::accounts::model::{display_name, Persona};
            let caller = caller()?;
            caller.require(Right::ManageOrgs)?;
            let name = display_name(&name)?;
            let parent = super::model::OrgId::parse(&parent)?.record();
            if caller.persona == Persona::Dealer
                && (kind != OrgKind::Customer || parent != caller.org)
            {
                return Err(AppError::Forbidden);
            }
            let db = crate::db::db()?;
            let parent_kind = scoped_kind(&db, &caller, &parent).await?;
            if !kind.may_have_parent(parent_kind) {
                return Err(AppError::validation(format!(
                    "a {} cannot be placed under a {}",
                    kind.as_str(),
                    parent_kind.as_str()
                )));
            }
            let id = super::store::create(&db, &name, kind, &parent).await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&id),
                "org_created",
                format!("created {} {name:?}", kind.as_str()),
            )
            .await?;
            super::store::view(&db, &id)
                .await?
                .ok_or_else(|| AppError::internal("create org", "created org not found"))
        }
        .await,
    )
}

/// Renames an org (admins).
#[server(endpoint = "org_rename")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn rename_org(id: String, name: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, caller, org) = admin_on(&id).await?;
            let name = crate::accounts::model::display_name(&name)?;
            super::store::rename(&db, &org, &name).await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&org),
                "org_renamed",
                format!("renamed to {name:?}"),
            )
            .await
        }
        .await,
    )
}

/// Moves an org (and everything under it) to a new parent (admins). Refused under itself
/// or one of its own descendants, and where its kind may not sit.
#[server(endpoint = "org_move")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn move_org(id: String, parent: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, caller, org) = admin_on(&id).await?;
            let parent = super::model::OrgId::parse(&parent)?.record();
            let parent_kind = scoped_kind(&db, &caller, &parent).await?;
            let kind = scoped_kind(&db, &caller, &org).await?;
            if !kind.may_have_parent(parent_kind) {
                return Err(AppError::validation(format!(
                    "a {} cannot be placed under a {}",
                    kind.as_str(),
                    parent_kind.as_str()
                )));
            }
            super::store::move_subtree(&db, &org, &parent).await?;
            crate::audit::store::record(
                &db,
                &caller,
                Some(&org),
                "org_moved",
                format!("moved under {}", crate::db::key_string(&parent)),
            )
            .await
        }
        .await,
    )
}

/// Deletes an org that owns nothing (admins): no devices, no users, no child orgs, no API
/// keys; otherwise 409 saying what is left.
#[server(endpoint = "org_delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn delete_org(id: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, caller, org) = admin_on(&id).await?;
            let name = super::store::delete_if_empty(&db, &org).await?;
            crate::audit::store::record(
                &db,
                &caller,
                None,
                "org_deleted",
                format!("deleted {name:?} ({id})"),
            )
            .await
        }
        .await,
    )
}

/// The admin-only preamble: caller, database and the org (404 when there is none).
#[cfg(feature = "ssr")]
async fn admin_on(
    id: &str,
) -> Result<
    (
        crate::db::Db,
        crate::accounts::caller::Caller,
        surrealdb::types::RecordId,
    ),
    AppError,
> {
    let caller = crate::accounts::caller::caller()?;
    if caller.persona != crate::accounts::model::Persona::Admin || caller.key.is_some() {
        return Err(AppError::Forbidden);
    }
    let org = super::model::OrgId::parse(id)
        .map_err(|_| AppError::not_found("org"))?
        .record();
    let db = crate::db::db()?;
    scoped_kind(&db, &caller, &org).await?;
    Ok((db, caller, org))
}

/// The kind of an org the caller can see; 404 otherwise (ids do not leak).
#[cfg(feature = "ssr")]
async fn scoped_kind(
    db: &crate::db::Db,
    caller: &crate::accounts::caller::Caller,
    org: &surrealdb::types::RecordId,
) -> Result<OrgKind, AppError> {
    if !caller.scope.contains(org) {
        return Err(AppError::not_found("org"));
    }
    super::store::org_kind(db, org)
        .await?
        .and_then(|k| OrgKind::parse(&k).ok())
        .ok_or(AppError::not_found("org"))
}
