//! Per-device caches of what the device page reads (its schedule, last commands and last
//! events), dropped key by key by the writes of this process. The page's five server calls
//! cost 3.7 ms of CPU per page, 2 ms of it planning and running their queries
//! (bench/pages.sh: 533 device pages/s at 64 connections against 2,570 Fleet pages/s); the
//! Fleet page answers from memory already (`devices::snapshot`).
//!
//! A store module that writes a cached table says which keys it changed, after its write
//! ([`ReadCache::changed`], or [`ReadCache::changed_all`] where it does not know them). A
//! read that began before such a change may have read the old rows: each change bumps an
//! epoch, a read notes the epoch it began at, and what it read is kept only when no change
//! to its key came after that. Where other processes may write the store too (a remote
//! server), entries also expire after [`crate::devices::snapshot::TTL`], as the fleet
//! snapshot does. Server-only.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys kept before the cache starts again empty: a key is a device, and a change leaves a
/// small mark on its key even when nothing was cached for it.
const MAX_KEYS: usize = 20_000;

pub struct ReadCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    /// How long an entry is served; `None` where only this process writes the store.
    max_age: Option<Duration>,
}

struct Inner<K, V> {
    /// Bumped by each change.
    epoch: u64,
    /// Reads begun before this epoch are not kept: the marks of their keys' changes were
    /// dropped with the rest when the cache started again.
    floor: u64,
    entries: HashMap<K, Entry<V>>,
}

struct Entry<V> {
    /// The value, the epoch its read began at and when it was read.
    value: Option<(V, u64, Instant)>,
    /// The epoch of the key's last change.
    changed: u64,
}

/// What a read that may fill the cache noted before asking the database.
#[derive(Debug, Clone, Copy)]
pub struct Began(u64);

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    pub fn new(max_age: Option<Duration>) -> Self {
        ReadCache {
            inner: Mutex::new(Inner {
                epoch: 0,
                floor: 0,
                entries: HashMap::new(),
            }),
            max_age,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic elsewhere while holding the lock leaves the map consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value of `key`, if it is still what the database holds.
    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.lock();
        let entry = inner.entries.get(key)?;
        let (value, began, at) = entry.value.as_ref()?;
        let fresh = self.max_age.is_none_or(|age| at.elapsed() < age);
        (fresh && *began >= entry.changed && *began >= inner.floor).then(|| value.clone())
    }

    /// Notes the start of a read whose result may be [`put`](Self::put).
    pub fn begin(&self) -> Began {
        Began(self.lock().epoch)
    }

    /// Keeps what a read begun at `began` found for `key`, unless `key` changed since.
    pub fn put(&self, key: K, value: V, began: Began) {
        let mut inner = self.lock();
        if began.0 < inner.floor {
            return;
        }
        if inner.entries.len() >= MAX_KEYS && !inner.entries.contains_key(&key) {
            // The marks of changes go too, this read's key's among them.
            inner.restart();
            return;
        }
        let entry = inner.entries.entry(key).or_insert(Entry {
            value: None,
            changed: 0,
        });
        if began.0 >= entry.changed {
            entry.value = Some((value, began.0, Instant::now()));
        }
    }

    /// Drops what is cached for `keys`; call it after the write that changed them.
    pub fn changed(&self, keys: impl IntoIterator<Item = K>) {
        let mut inner = self.lock();
        inner.epoch += 1;
        let epoch = inner.epoch;
        for key in keys {
            if inner.entries.len() >= MAX_KEYS && !inner.entries.contains_key(&key) {
                inner.restart();
            }
            inner.entries.insert(
                key,
                Entry {
                    value: None,
                    changed: epoch,
                },
            );
        }
    }

    /// Drops everything: after a write that does not say which keys it changed.
    pub fn changed_all(&self) {
        self.lock().restart();
    }
}

impl<K, V> Inner<K, V> {
    /// Empties the cache; reads begun before now are no longer kept.
    fn restart(&mut self) {
        self.epoch += 1;
        self.floor = self.epoch;
        self.entries.clear();
    }
}

/// The read caches of one database handle, one per type, made on first use.
#[derive(Default)]
pub struct Caches {
    by_type: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Caches {
    /// The cache of type `C`, made by `make` the first time.
    pub fn get<C: Any + Send + Sync>(&self, make: impl FnOnce() -> C) -> Arc<C> {
        let mut map = self.by_type.lock().unwrap_or_else(|e| e.into_inner());
        let any = map
            .entry(TypeId::of::<C>())
            .or_insert_with(|| Arc::new(make()))
            .clone();
        drop(map);
        any.downcast::<C>()
            .expect("a cache is stored under its own type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ReadCache<&'static str, u32> {
        ReadCache::new(None)
    }

    #[test]
    fn a_value_read_is_served_until_its_key_changes() {
        let c = cache();
        assert_eq!(c.get(&"a"), None);
        let began = c.begin();
        c.put("a", 1, began);
        assert_eq!(c.get(&"a"), Some(1));
        c.changed(["b"]);
        assert_eq!(c.get(&"a"), Some(1), "another key's change keeps it");
        c.changed(["a"]);
        assert_eq!(c.get(&"a"), None);
    }

    #[test]
    fn a_read_begun_before_a_change_of_its_key_is_not_kept() {
        let c = cache();
        let began = c.begin();
        c.changed(["a"]);
        c.put("a", 1, began);
        assert_eq!(c.get(&"a"), None);
        // A read begun after the change is.
        let began = c.begin();
        c.put("a", 2, began);
        assert_eq!(c.get(&"a"), Some(2));
    }

    #[test]
    fn a_change_of_everything_drops_every_key_and_reads_begun_before_it() {
        let c = cache();
        let began = c.begin();
        c.put("a", 1, began);
        let late = c.begin();
        c.changed_all();
        assert_eq!(c.get(&"a"), None);
        c.put("b", 2, late);
        assert_eq!(c.get(&"b"), None);
    }

    #[test]
    fn entries_expire_where_other_processes_write_the_store() {
        let c: ReadCache<&str, u32> = ReadCache::new(Some(Duration::ZERO));
        let began = c.begin();
        c.put("a", 1, began);
        assert_eq!(c.get(&"a"), None);
    }

    #[test]
    fn the_cache_starts_again_when_it_holds_too_many_keys() {
        let c: ReadCache<usize, usize> = ReadCache::new(None);
        let began = c.begin();
        for k in 0..MAX_KEYS {
            c.put(k, k, began);
        }
        assert_eq!(c.get(&7), Some(7));
        // The next key empties it, and reads begun before that are not kept.
        c.put(MAX_KEYS, 0, c.begin());
        assert_eq!(c.get(&7), None);
        assert_eq!(c.get(&MAX_KEYS), None);
        c.put(7, 7, began);
        assert_eq!(c.get(&7), None);
        c.put(7, 7, c.begin());
        assert_eq!(c.get(&7), Some(7));
    }
}
