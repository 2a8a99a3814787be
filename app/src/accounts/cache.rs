//! Resolved callers, kept for a few seconds. Resolving a session costs a database round
//! trip with several record fetches (~1.7 ms of CPU measured: `/api/whoami` went from
//! ~1,150 to the gate's ceiling with this cache); a page load makes several requests.
//! Any change to users, orgs, sessions or keys made through this process forgets every
//! entry at once; another sunfleet node sees such a change within [`TTL`]. Server-only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::caller::Caller;

/// How long a resolved caller is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(15);
/// Past this many entries, expired ones are dropped (and if none are, all of them).
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Default)]
pub struct CallerCache {
    entries: Mutex<HashMap<String, Entry>>,
    generation: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    caller: Caller,
    resolved: Instant,
    generation: u64,
    /// The credential's own end (session or key expiry).
    expires_at: Option<DateTime<Utc>>,
}

impl CallerCache {
    /// The caller cached under `key`, if still fresh.
    pub fn get(&self, key: &str, now: DateTime<Utc>) -> Option<Caller> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|e| {
                e.generation == generation
                    && e.resolved.elapsed() < TTL
                    && e.expires_at.is_none_or(|t| t > now)
            })
            .map(|e| e.caller.clone())
    }

    pub fn put(&self, key: String, caller: Caller, expires_at: Option<DateTime<Utc>>) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.resolved.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                caller,
                resolved: Instant::now(),
                generation,
                expires_at,
            },
        );
    }

    /// Forgets every cached caller.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Called by every store function that changes users, orgs, sessions or keys: within a
/// request, forgets the cached callers of this process (outside one, e.g. from the CLI,
/// there is nothing cached to forget).
pub fn forget_callers() {
    if let Some(cache) = leptos::prelude::use_context::<std::sync::Arc<CallerCache>>() {
        cache.invalidate();
    }
}
