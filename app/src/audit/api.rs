//! The audit log server function.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::model::AuditList;
use crate::error::AppError;

/// Changes made by users and keys, newest first; admins only. `actor` matches part of the
/// actor (an email, a key prefix); `org` is an org id; the range defaults to the last 30
/// days.
#[server(endpoint = "audit")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn audit_log(
    actor: Option<String>,
    org: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<AuditList, AppError> {
    crate::error::respond(
        async {
            use super::model::{AuditEntry, AUDIT_PAGE};
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Audit)?;
            let to = to.unwrap_or_else(Utc::now);
            let from = from.unwrap_or(to - chrono::Duration::days(30));
            if from >= to {
                return Err(AppError::validation("`from` must be before `to`"));
            }
            let clean =
                |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            let actor = clean(actor);
            if actor.as_ref().is_some_and(|a| a.chars().count() > 200) {
                return Err(AppError::validation(
                    "the actor filter is longer than 200 characters",
                ));
            }
            let org = clean(org)
                .map(|o| crate::orgs::model::OrgId::parse(&o))
                .transpose()?;
            let db = crate::db::db()?;
            let mut rows = super::store::list(
                &db,
                actor,
                org.map(|o| o.record()),
                from,
                to,
                AUDIT_PAGE + 1,
            )
            .await?;
            let more = rows.len() > AUDIT_PAGE;
            rows.truncate(AUDIT_PAGE);
            Ok(AuditList {
                entries: rows
                    .into_iter()
                    .map(|r| AuditEntry {
                        time: r.time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                        actor: r.actor.unwrap_or_default(),
                        org: r.org_name,
                        kind: r.kind,
                        message: r.message,
                    })
                    .collect(),
                more,
            })
        }
        .await,
    )
}
