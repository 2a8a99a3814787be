//! Who may post telemetry: webhook integrations (a shared secret per integration) and
//! devices (a per-device token). Secrets are stored as sha-256 and compared in constant
//! time; both lookups are cached so ingest does not read them on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use surrealdb::types::RecordId;

use sunfleet_app::db::Db;
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::devices::snapshot::FleetCache;
use sunfleet_app::devices::store as devices;
use sunfleet_app::error::{AppError, Result};

use super::integrations;

/// How long a change (revoked integration, rotated token, new device) may take to reach
/// ingest when other processes may make it (see [`Auth::device`]).
const FRESH_FOR: Duration = Duration::from_secs(10);
/// Unknown devices are remembered for less long: a device registered a moment ago should
/// be able to post soon.
const UNKNOWN_FOR: Duration = Duration::from_secs(2);
const MAX_CACHED_DEVICES: usize = 200_000;

/// sha-256 of a secret, hex: what the database keeps.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn matches(secret: &str, hash_hex: &str) -> bool {
    let Ok(stored) = hex::decode(hash_hex) else {
        return false;
    };
    Sha256::digest(secret.as_bytes())
        .as_slice()
        .ct_eq(&stored)
        .into()
}

/// What ingest needs of a registered device.
#[derive(Debug, Clone)]
pub struct KnownDevice {
    pub id: DeviceId,
    pub tz: Tz,
    pub owner: Option<RecordId>,
    token_hash: Option<String>,
}

impl KnownDevice {
    pub fn token_matches(&self, token: &str) -> bool {
        self.token_hash
            .as_deref()
            .is_some_and(|h| matches(token, h))
    }
}

/// A device as read: when, the fleet's generation just before, and what was found.
type Cached = (Instant, u64, Option<Arc<KnownDevice>>);

pub struct Auth {
    db: Db,
    integrations: Mutex<Option<(Instant, Vec<String>)>>,
    devices: Mutex<HashMap<DeviceId, Cached>>,
    /// Device changes made through this process move its generation.
    fleet: Arc<FleetCache>,
    /// No other process writes the store (embedded SurrealKV).
    alone: bool,
}

impl Auth {
    pub fn new(db: Db, fleet: Arc<FleetCache>) -> Self {
        Self {
            alone: db.held_alone(),
            db,
            integrations: Mutex::new(None),
            devices: Mutex::new(HashMap::new()),
            fleet,
        }
    }

    /// Whether `secret` belongs to an active integration. Every stored hash is compared,
    /// in constant time, so the answer's timing says nothing about near misses.
    pub async fn integration_secret_ok(&self, secret: &str) -> Result<bool> {
        let cached = self
            .integrations
            .lock()
            .expect("BUG: poisoned")
            .as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, hashes)| hashes.clone());
        let hashes = match cached {
            Some(h) => h,
            None => {
                let fresh = integrations::active_hashes(&self.db).await?;
                *self.integrations.lock().expect("BUG: poisoned") =
                    Some((Instant::now(), fresh.clone()));
                fresh
            }
        };
        Ok(hashes
            .iter()
            .fold(false, |found, h| found | matches(secret, h)))
    }

    /// The device, if it is registered and not decommissioned. Where this process holds
    /// the store alone, every change to a device goes through it and moves the fleet's
    /// generation, so a device read since is known for as long as the generation holds:
    /// a device posting once a minute is not read again for each reading, as a 10 s expiry
    /// made it.
    pub async fn device(&self, id: &DeviceId) -> Result<Option<Arc<KnownDevice>>> {
        let generation = self.fleet.generation();
        if let Some((at, read_at, known)) = self.devices.lock().expect("BUG: poisoned").get(id) {
            let ttl = if known.is_some() {
                FRESH_FOR
            } else {
                UNKNOWN_FOR
            };
            let unchanged = *read_at == generation;
            if unchanged && ((self.alone && known.is_some()) || at.elapsed() < ttl) {
                return Ok(known.clone());
            }
        }
        let meta = devices::device_meta(&self.db, std::slice::from_ref(id)).await?;
        let known = meta.into_iter().find(|m| !m.decommissioned).map(|m| {
            Arc::new(KnownDevice {
                id: id.clone(),
                tz: m.timezone.parse().unwrap_or_else(|_| {
                    tracing::warn!(device = %id, tz = %m.timezone, "unknown timezone; using UTC");
                    chrono_tz::UTC
                }),
                owner: m.owner,
                token_hash: m.token_hash,
            })
        });
        let mut cache = self.devices.lock().expect("BUG: poisoned");
        if cache.len() >= MAX_CACHED_DEVICES {
            cache.clear();
        }
        cache.insert(id.clone(), (Instant::now(), generation, known.clone()));
        Ok(known)
    }
}

/// The secret from `Authorization: Bearer <secret>`.
pub fn bearer(headers: &axum::http::HeaderMap) -> Result<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AppError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let h = hash_secret("s3cret");
        assert!(matches("s3cret", &h));
        assert!(!matches("s3cret ", &h));
        assert!(!matches("s3cret", "not hex"));
    }
}
