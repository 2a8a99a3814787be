//! Webhook integrations (`sunfleet integration add|list|revoke`): named shared secrets that
//! Particle (or another gateway) presents as `Authorization: Bearer …`.

use chrono::{DateTime, Utc};
use rand::{RngCore, SeedableRng};
use surrealdb::types::{RecordId, SurrealValue};

use sunfleet_app::db::{internal, Db};
use sunfleet_app::error::{AppError, Result};

use super::auth::hash_secret;

#[derive(Debug, SurrealValue)]
pub struct Integration {
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, SurrealValue)]
struct NewIntegration {
    id: RecordId,
    name: String,
    prefix: String,
    secret_hash: String,
}

/// A new random secret: `sfi_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
    format!("sfi_{}", hex::encode(bytes))
}

/// Creates an integration with `secret` (or a new random one) and returns the secret: the
/// only time it is ever shown.
pub async fn add(db: &Db, name: &str, secret: Option<String>) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::validation(
            "an integration name has 1 to 100 characters",
        ));
    }
    let secret = secret.unwrap_or_else(new_secret);
    if secret.len() < 16 {
        return Err(AppError::validation(
            "an integration secret has at least 16 characters",
        ));
    }
    let row = NewIntegration {
        id: RecordId::new("integration", name),
        name: name.to_string(),
        prefix: secret.chars().take(8).collect(),
        secret_hash: hash_secret(&secret),
    };
    let result = db
        .query("CREATE integration CONTENT $row RETURN NONE")
        .bind(("row", row))
        .await
        .and_then(|r| r.check());
    match result {
        Ok(_) => Ok(secret),
        Err(e) if e.to_string().contains("already exists") => Err(AppError::Conflict {
            message: format!("an integration named {name:?} already exists"),
        }),
        Err(e) => Err(AppError::internal("add integration", e)),
    }
}

pub async fn list(db: &Db) -> Result<Vec<Integration>> {
    let mut response = db
        .query("SELECT name, prefix, created_at, revoked_at FROM integration ORDER BY name")
        .await
        .and_then(|r| r.check())
        .map_err(internal("list integrations"))?;
    response.take(0).map_err(internal("list integrations"))
}

/// Revokes an integration; its secret stops working within seconds.
pub async fn revoke(db: &Db, name: &str) -> Result<()> {
    let mut response = db
        .query(
            "UPDATE type::record('integration', $name) SET revoked_at = time::now()
             WHERE revoked_at IS NONE RETURN VALUE name",
        )
        .bind(("name", name.to_string()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("revoke integration"))?;
    let updated: Vec<String> = response.take(0).map_err(internal("revoke integration"))?;
    if updated.is_empty() {
        return Err(AppError::not_found("integration"));
    }
    Ok(())
}

pub async fn active_hashes(db: &Db) -> Result<Vec<String>> {
    let mut response = db
        .query("SELECT VALUE secret_hash FROM integration WHERE revoked_at IS NONE")
        .await
        .and_then(|r| r.check())
        .map_err(internal("integration secrets"))?;
    response.take(0).map_err(internal("integration secrets"))
}
