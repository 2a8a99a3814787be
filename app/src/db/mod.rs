//! The database handle: connecting by URL, the versioned schema, and the accessor server
//! functions use. Server-only.

mod migrations;
pub mod read_cache;

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use surrealdb::engine::any::{self, Any};
use surrealdb::engine::local::Db as Embedded;
use surrealdb::method::Query as SdkQuery;
use surrealdb::opt::auth::Root;
use surrealdb::types::SurrealValue;
use surrealdb::{IndexedResults, Surreal};

use crate::error::AppError;

pub use migrations::{migrate, MigrateError, SCHEMA_VERSION};

/// A cheap-to-clone handle on the one connection (pool) the process shares: an embedded
/// SurrealKV datastore sunfleet opened itself (see [`open_surrealkv`]), or any other
/// endpoint through the SDK (`mem://`, a remote server). Both speak the same `query`.
#[derive(Clone)]
pub struct Db(Conn, Arc<read_cache::Caches>);

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.0 {
            Conn::Embedded(..) => "Db(embedded SurrealKV)",
            Conn::Any(_) => "Db(SDK connection)",
        })
    }
}

/// The SDK handle sits behind an `Arc`: cloning a `Surreal` copies its session inside the
/// SDK (a message to the engine's router per clone and per drop), and every request clones
/// the app state. Under 512 connections those copies piled up faster than they were freed,
/// ~100 MB per 400,000 requests, even for `/healthz`. One session is all sunfleet uses.
#[derive(Clone)]
enum Conn {
    Embedded(Arc<Surreal<Embedded>>, Arc<Datastore>),
    Any(Arc<Surreal<Any>>),
}

type Datastore = surrealdb_engine_local::Datastore;

impl Db {
    /// Stops an embedded datastore's background tasks and closes its files (a datastore
    /// sunfleet opened is not closed by dropping its handles). Nothing to do otherwise.
    /// Call it once, as the process ends.
    pub async fn close(&self) {
        if let Conn::Embedded(surreal, datastore) = &self.0 {
            if let Err(e) = datastore.shutdown().await {
                tracing::warn!(error = %e, "closing the database");
            }
            // The SDK's embedded engine shuts the datastore down again when the last
            // `Surreal` handle is dropped; that second pass finds it closed and logs
            // "ERROR The datastore is shutting down" (seen at the end of 1 or 2 in 4
            // `sunfleet user add` runs: whenever the runtime polled that task before the
            // process exited). One handle is kept for the rest of the process instead.
            std::mem::forget(surreal.clone());
        }
    }

    /// Whether this process holds the store alone: an embedded SurrealKV directory is locked
    /// by the process that opened it, so nothing else changes it behind our back. A remote
    /// server may have other sunfleet nodes writing.
    pub fn held_alone(&self) -> bool {
        matches!(self.0, Conn::Embedded(..))
    }

    /// This handle's read cache of type `C` (see [`read_cache`]), made by `make` on first
    /// use.
    pub fn cache<C: std::any::Any + Send + Sync>(&self, make: impl FnOnce(&Db) -> C) -> Arc<C> {
        self.1.get(|| make(self))
    }

    /// Starts a query, as `Surreal::query`.
    pub fn query<'a>(&'a self, sql: impl Into<Cow<'a, str>>) -> Query<'a> {
        match &self.0 {
            Conn::Embedded(db, _) => Query::Embedded(db.query(sql)),
            Conn::Any(db) => Query::Any(db.query(sql)),
        }
    }
}

/// A query on a [`Db`]: chain statements and bindings, then await it.
pub enum Query<'a> {
    Embedded(SdkQuery<'a, Embedded>),
    Any(SdkQuery<'a, Any>),
}

impl<'a> Query<'a> {
    pub fn query(self, sql: impl Into<Cow<'a, str>>) -> Self {
        match self {
            Query::Embedded(q) => Query::Embedded(q.query(sql)),
            Query::Any(q) => Query::Any(q.query(sql)),
        }
    }

    /// Binds `$name`. The SDK turns a `(name, value)` pair into a two-element array and
    /// then copies the value out of it (surrealdb 3.3.5, `IntoVariables`): a batch of
    /// 4,000 readings was copied once more. A one-entry map is taken as it is.
    pub fn bind<V: SurrealValue>(self, (name, value): (impl Into<String>, V)) -> Self {
        let vars = std::collections::BTreeMap::from([(name.into(), value.into_value())]);
        match self {
            Query::Embedded(q) => Query::Embedded(q.bind(vars)),
            Query::Any(q) => Query::Any(q.bind(vars)),
        }
    }
}

impl<'a> IntoFuture for Query<'a> {
    type Output = surrealdb::Result<IndexedResults>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        match self {
            Query::Embedded(q) => q.into_future(),
            Query::Any(q) => q.into_future(),
        }
    }
}

/// SurrealKV's write buffer (memtable) and block cache, in MiB (`SUNFLEET_DB_MEMTABLE_MB`,
/// `SUNFLEET_DB_CACHE_MB`). Left to itself SurrealKV sizes them from the machine's memory —
/// on 24 GiB a 1 GiB memtable and an 11 GiB cache — so the process grows by every byte
/// written until the memtable fills (measured with `bench/ingest.sh`: 645 MB after 45 s of
/// ingest). The SDK's `connect` passes no storage settings through, hence [`open_surrealkv`].
///
/// A transaction must fit in the memtable (SurrealKV refuses the commit otherwise): bulk
/// writes go in batches (the demo seed writes 12,000 readings per transaction).
const MEMTABLE_MB: u64 = 32;
const BLOCK_CACHE_MB: u64 = 32;
/// The most [`default_cache_mb`] picks.
const MAX_AUTO_CACHE_MB: u64 = 256;

/// The block cache when `SUNFLEET_DB_CACHE_MB` is not set: 1 % of the store on disk, from
/// 32 to 256 MiB. SurrealKV keeps the SSTables' index blocks in this cache along with data
/// blocks, and those grow with the store: at 10 M events (21 GB) a history page took
/// 24.5 ms with 32 MiB, 16.5 ms with 64 and 11 ms with 128 (`bench/history.sh`), re-reading
/// index blocks from the page cache. A fresh store (the ingest benchmark's) stays at 32.
fn default_cache_mb(url: &str) -> u64 {
    let bytes = url
        .strip_prefix("surrealkv://")
        .map(|path| size_on_disk(std::path::Path::new(path)))
        .unwrap_or(0);
    ((bytes >> 20) / 100).clamp(BLOCK_CACHE_MB, MAX_AUTO_CACHE_MB)
}

/// The bytes of the files under `dir` (0 where it cannot be read).
fn size_on_disk(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => size_on_disk(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

fn mib_from_env(name: &str, default: u64) -> u64 {
    let Ok(raw) = std::env::var(name) else {
        return default;
    };
    match raw.trim().parse::<u64>() {
        Ok(mb) if mb >= 16 => mb,
        _ => {
            tracing::warn!("{name}={raw:?} is not a number of MiB of at least 16; using {default}");
            default
        }
    }
}

/// Opens an embedded SurrealKV datastore as the SDK's own `connect` does (version check,
/// bootstrap, maintenance tasks; no root user, so no authentication), but with sunfleet's
/// memory settings. `unstable_from_datastore` is the SDK's door for that, marked unstable:
/// the versions are pinned in Cargo.toml.
async fn open_surrealkv(url: &str) -> Result<(Surreal<Embedded>, Arc<Datastore>), String> {
    let memtable = mib_from_env("SUNFLEET_DB_MEMTABLE_MB", MEMTABLE_MB);
    let cache = mib_from_env("SUNFLEET_DB_CACHE_MB", default_cache_mb(url));
    tracing::info!("SurrealKV: {memtable} MiB memtable, {cache} MiB block cache");
    let path = url.to_string();
    // Opened on the storage runtime, so that SurrealKV's background tasks live there.
    let datastore = storage_runtime()
        .spawn(async move {
            let datastore = build_surrealkv(&path, memtable, cache).await?;
            datastore.check_version().await.map_err(|e| e.to_string())?;
            datastore.bootstrap().await.map_err(|e| e.to_string())?;
            datastore.start_maintenance_tasks();
            Ok::<_, String>(datastore)
        })
        .await
        .map_err(|e| format!("opening the datastore stopped: {e}"))?
        .map_err(|e| {
            if e.contains("arena is full") {
                // A log written with a bigger memtable (SurrealKV's own default, before
                // sunfleet set one) may hold a transaction that does not fit ours.
                format!("{e}: its log holds a transaction bigger than the {memtable} MiB memtable; start once with SUNFLEET_DB_MEMTABLE_MB=1024")
            } else {
                e
            }
        })?;
    let db = Surreal::<Embedded>::unstable_from_datastore(datastore.clone(), None)
        .await
        .map_err(|e| e.to_string())?;
    Ok((db, datastore))
}

/// Runs `task` on the storage runtime: background work of tens of milliseconds of CPU (the
/// schedule and command table's reload, writing rollups) then takes turns with the requests
/// instead of holding one of the two workers that answer them. Measure before moving more
/// here: the fleet snapshot's reload made the device page slower (see `devices::snapshot`).
pub fn spawn_background<F>(task: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    storage_runtime().spawn(task)
}

/// SurrealKV flushes memtables to disk and compacts its levels in tasks that do blocking
/// file I/O, spawned on whichever runtime opened the store. On the server's runtime (two
/// workers on two cores) each 32 MiB flush held a worker while requests queued behind it.
/// They get a runtime of their own, kept for the process (alone this moved the ingest p99
/// little: 19–39 ms in 7 runs before, 31–36 ms in 3 runs after, in bench/ingest.sh).
fn storage_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sunfleet-storage")
            .enable_all()
            .build()
            .expect("the storage runtime starts (threads available)")
    })
}

async fn build_surrealkv(
    url: &str,
    memtable_mb: u64,
    cache_mb: u64,
) -> Result<Arc<Datastore>, String> {
    let config = surrealdb_cnf::ConfigMap::empty()
        .with_key_value(
            "surrealkv_max_memtable_size",
            (memtable_mb << 20).to_string(),
        )
        .with_key_value(
            "surrealkv_block_cache_capacity",
            (cache_mb << 20).to_string(),
        );
    Datastore::builder()
        .with_config(config)
        .without_maintenance_tasks()
        .build_with_path(url)
        .await
        .map_err(|e| e.to_string())
}

/// Namespace and database every sunfleet deployment uses inside SurrealDB.
const NAMESPACE: &str = "sunfleet";
const DATABASE: &str = "main";

#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    pub user: Option<String>,
    pub pass: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "SUNFLEET_DB: unsupported endpoint {0:?}; use surrealkv://PATH, mem://, ws://HOST:PORT or wss://HOST:PORT"
    )]
    Scheme(String),
    #[error("SUNFLEET_DB: cannot open {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("SUNFLEET_DB: no answer from {0} within 10 s")]
    Timeout(String),
    #[error("SUNFLEET_DB_USER / SUNFLEET_DB_PASS: sign-in to {url} failed: {reason}")]
    SignIn { url: String, reason: String },
}

/// Opens the database named by `SUNFLEET_DB` and selects sunfleet's namespace and database.
pub async fn connect(config: &DbConfig) -> Result<Db, ConnectError> {
    let url = config.url.trim().to_string();
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    let remote = matches!(scheme, "ws" | "wss");
    if !remote && !matches!(scheme, "surrealkv" | "mem") {
        return Err(ConnectError::Scheme(url));
    }
    let open = |reason: String| ConnectError::Open {
        url: url.clone(),
        reason,
    };
    if scheme == "surrealkv" {
        let (db, datastore) = open_surrealkv(&url).await.map_err(open)?;
        db.use_ns(NAMESPACE)
            .use_db(DATABASE)
            .await
            .map_err(|e| open(e.to_string()))?;
        return Ok(Db(
            Conn::Embedded(Arc::new(db), datastore),
            Default::default(),
        ));
    }
    // A remote server that accepts TCP but never answers would otherwise hang start-up.
    let db = tokio::time::timeout(Duration::from_secs(10), any::connect(url.as_str()))
        .await
        .map_err(|_| ConnectError::Timeout(url.clone()))?
        .map_err(|e| open(e.to_string()))?;
    if remote {
        if let (Some(username), Some(password)) = (&config.user, &config.pass) {
            let root = Root {
                username: username.clone(),
                password: password.clone(),
            };
            tokio::time::timeout(Duration::from_secs(10), db.signin(root))
                .await
                .map_err(|_| ConnectError::Timeout(url.clone()))?
                .map_err(|e| ConnectError::SignIn {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
        }
    }
    db.use_ns(NAMESPACE)
        .use_db(DATABASE)
        .await
        .map_err(|e| open(e.to_string()))?;
    Ok(Db(Conn::Any(Arc::new(db)), Default::default()))
}

/// A fresh in-memory database for unit tests, with the schema when `migrated`.
#[cfg(test)]
pub(crate) async fn in_memory(migrated: bool) -> Db {
    let db = connect(&DbConfig {
        url: "mem://".into(),
        user: None,
        pass: None,
    })
    .await
    .expect("an in-memory database opens");
    if migrated {
        migrate(&db).await.expect("the schema applies");
    }
    db
}

/// A trivial query, for `/readyz`.
pub async fn ping(db: &Db) -> Result<(), surrealdb::Error> {
    db.query("RETURN true").await?.check()?;
    Ok(())
}

/// Whether a one-time job (such as the demo seed) has run on this database.
pub async fn flag_is_set(db: &Db, name: &str) -> Result<bool, surrealdb::Error> {
    let mut response = db
        .query("SELECT VALUE done FROM ONLY type::record('meta', $name)")
        .bind(("name", name.to_string()))
        .await?
        .check()?;
    let done: Option<bool> = response.take(0)?;
    Ok(done.unwrap_or(false))
}

/// Records that a one-time job has run.
pub async fn set_flag(db: &Db, name: &str) -> Result<(), surrealdb::Error> {
    db.query("UPSERT type::record('meta', $name) SET done = true, at = time::now()")
        .bind(("name", name.to_string()))
        .await?
        .check()?;
    Ok(())
}

/// The database handle for the current request (provided by the server for every page
/// render and server function).
pub fn db() -> Result<Db, AppError> {
    leptos::prelude::use_context::<Db>().ok_or_else(|| {
        AppError::internal("no database in context", "BUG: server did not provide Db")
    })
}

/// The key of a record id as text (`org:acme` → `acme`).
pub fn key_string(id: &surrealdb::types::RecordId) -> String {
    use surrealdb::types::RecordIdKey;
    match &id.key {
        RecordIdKey::String(s) => s.clone(),
        RecordIdKey::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// A record id as `table:key`, for logs and the audit trail.
pub fn record_string(id: &surrealdb::types::RecordId) -> String {
    format!("{}:{}", id.table, key_string(id))
}

/// Maps a database failure to an opaque internal error, logging the detail.
pub fn internal(context: &'static str) -> impl FnOnce(surrealdb::Error) -> AppError {
    move |e| AppError::internal(context, e)
}

/// Whether `e` is a write conflict with a transaction that committed first: the storage
/// engine's optimistic transactions refuse the later of two writes to one key.
pub fn is_conflict(e: &surrealdb::Error) -> bool {
    e.query_details() == Some(&surrealdb::types::QueryError::TransactionConflict)
        || e.to_string().contains("This transaction can be retried")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> DbConfig {
        DbConfig {
            url: url.into(),
            user: None,
            pass: None,
        }
    }

    #[test]
    fn the_block_cache_grows_with_the_store_from_32_to_256_mib() {
        let dir = std::env::temp_dir().join(format!("sunfleet-cache-{}", std::process::id()));
        let sst = dir.join("db").join("sstables");
        std::fs::create_dir_all(&sst).unwrap();
        let url = format!("surrealkv://{}", dir.join("db").display());
        assert_eq!(default_cache_mb(&url), 32, "an empty store");
        assert_eq!(default_cache_mb("surrealkv:///no/such/store"), 32);
        assert_eq!(default_cache_mb("mem://"), 32);
        // Sparse files: their length counts, nothing is written.
        let file = |name: &str, gib: u64| {
            std::fs::File::create(sst.join(name))
                .unwrap()
                .set_len(gib << 30)
                .unwrap()
        };
        file("1.sst", 2);
        assert_eq!(default_cache_mb(&url), 32, "2 GiB: 1 % is under the floor");
        file("2.sst", 18);
        assert_eq!(default_cache_mb(&url), 204, "20 GiB, in a subfolder");
        file("3.sst", 80);
        assert_eq!(default_cache_mb(&url), 256, "100 GiB: the ceiling");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A clone of the handle must not clone the SDK's session (see [`Conn`]).
    #[tokio::test]
    async fn clones_of_the_handle_share_one_sdk_session() {
        let db = in_memory(false).await;
        let copy = db.clone();
        match (&db.0, &copy.0) {
            (Conn::Any(a), Conn::Any(b)) => assert!(Arc::ptr_eq(a, b)),
            _ => panic!("mem:// opens through the SDK"),
        }
        copy.query("RETURN 1").await.expect("a clone queries");
    }

    #[tokio::test]
    async fn a_memory_database_connects_migrates_and_answers() {
        let db = connect(&config("mem://")).await.unwrap();
        assert_eq!(migrate(&db).await.unwrap(), SCHEMA_VERSION);
        ping(&db).await.unwrap();
        assert!(!flag_is_set(&db, "x").await.unwrap());
        set_flag(&db, "x").await.unwrap();
        assert!(flag_is_set(&db, "x").await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_named_in_the_error() {
        let err = connect(&config("postgres://x")).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SUNFLEET_DB: unsupported endpoint"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_reported_not_hung() {
        // Port 9 (discard) on loopback: nothing listens there, the connection is refused.
        let err = connect(&config("ws://127.0.0.1:9")).await.unwrap_err();
        assert!(err.to_string().starts_with("SUNFLEET_DB: "), "{err}");
    }
}
