//! Issuing API keys. Server-only.

use chrono::{DateTime, Utc};
use surrealdb::types::RecordId;

use super::caller::API_KEY_PREFIX;
use super::{secret, store};
use crate::db::Db;
use crate::error::{AppError, Result};

/// Characters of the secret kept in clear to recognise a key in lists (`sfk_1a2b3c4d`).
pub const SHOWN_PREFIX: usize = API_KEY_PREFIX.len() + 8;

/// Creates a key for `org` and returns its secret, which is never stored (only its
/// sha-256 is).
pub async fn issue_key(
    db: &Db,
    org: &RecordId,
    name: &str,
    read: bool,
    control: bool,
    expires_at: Option<DateTime<Utc>>,
    created_by: &str,
) -> Result<String> {
    let name = super::model::display_name(name)?;
    let scopes: Vec<String> = [("read", read), ("control", control)]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(s, _)| s.to_string())
        .collect();
    if scopes.is_empty() {
        return Err(AppError::validation(
            "a key needs the read or control scope",
        ));
    }
    let now = Utc::now();
    if expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::validation("the expiry must be in the future"));
    }
    let secret = secret::token(API_KEY_PREFIX);
    store::insert_api_key(
        db,
        store::NewKey {
            id: store::api_key_record(&secret::token_hash(&secret)),
            name,
            prefix: secret[..SHOWN_PREFIX].to_string(),
            org: org.clone(),
            scopes,
            expires_at,
            created_by: created_by.to_string(),
            created_at: now,
        },
    )
    .await?;
    Ok(secret)
}
