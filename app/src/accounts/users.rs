//! Creating users: the rules every path (CLI, demo, admin console) goes through.
//! Server-only.

use surrealdb::types::RecordId;

use super::model::{display_name, Email, NewPassword, Persona};
use super::{secret, store};
use crate::db::Db;
use crate::error::{AppError, Result};

/// A user to create. Without a password the user cannot sign in until an invite link sets
/// one.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub email: String,
    pub name: String,
    pub persona: Persona,
    pub org: RecordId,
    pub password: Option<String>,
}

/// Validates and creates a user: a valid email not yet taken (409), a name, a password
/// long enough, and an org of the persona's kind (an admin in the operator org, a dealer
/// user in a dealer org, …).
pub async fn create_user(db: &Db, spec: UserSpec) -> Result<RecordId> {
    let email = Email::parse(&spec.email)?;
    let name = display_name(&spec.name)?;
    let password_hash = match spec.password {
        Some(p) => {
            let p = NewPassword::parse(&p)?;
            Some(
                tokio::task::spawn_blocking(move || secret::hash_password(p.expose()))
                    .await
                    .map_err(|e| AppError::internal("hash password", e))??,
            )
        }
        None => None,
    };
    require_org_fits(
        db,
        spec.persona,
        &spec.org,
        AppError::validation("that organisation does not exist"),
    )
    .await?;
    store::insert_user(
        db,
        store::NewUser {
            email: email.to_string(),
            name,
            password_hash,
            org: spec.org,
            persona: spec.persona.as_str().into(),
        },
    )
    .await
}

/// Checks that `org` exists (else `missing`) and is of the kind `persona` belongs to (else
/// 422): an admin in the operator org, a dealer user in a dealer org, and so on.
pub async fn require_org_fits(
    db: &Db,
    persona: Persona,
    org: &RecordId,
    missing: AppError,
) -> Result<()> {
    let kind = crate::orgs::store::org_kind(db, org)
        .await?
        .ok_or(missing)?;
    let wanted = persona.org_kind().as_str();
    if kind != wanted {
        return Err(AppError::validation(format!(
            "a {persona} user belongs to a {wanted} organisation, not a {kind}"
        )));
    }
    Ok(())
}
