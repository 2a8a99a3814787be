//! Reading the event table a page at a time. Server-only.
//!
//! Every lane of the history (everything, one category, one device, one org, a device's or
//! an org's category, everything's or an org's severity) has a string key on each event:
//! the lane's prefix, the event's rank (newest first) and its id (schema steps 8 and 12). A
//! page is one range of one single-field index, read forward from the cursor and bounded by
//! the time range, stopping after `limit` rows: its cost does not grow with the size of the
//! table or the depth of the cursor. A scope of several orgs, or of several severities,
//! reads each lane and merges them.

use chrono::{DateTime, Utc};
use surrealdb::types::{RecordId, SurrealValue};

use super::model::{Category, Cursor, Severity};
use crate::db::{internal, Db};
use crate::error::{AppError, Result};

/// Which events a page walks.
#[derive(Debug, Clone)]
pub enum Lane {
    /// Every event (admins without an org filter).
    All,
    /// One device's events…
    Device(String),
    /// …or the events of these orgs (a scope, or an org's subtree).
    Orgs(Vec<RecordId>),
}

/// What to read.
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub lane: Lane,
    /// Only this category (`None`: all)…
    pub category: Option<Category>,
    /// …and only this kind in it. Read from the category's lane: a rare kind in a busy
    /// category reads more rows per page.
    pub kind: Option<String>,
    /// Only these severities.
    pub severities: Vec<String>,
    /// Only events of these orgs (`None`: any); a device lane's scope check.
    pub orgs: Option<Vec<RecordId>>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, SurrealValue)]
pub struct EventRow {
    pub id: String,
    pub time: DateTime<Utc>,
    pub device: Option<String>,
    pub org: Option<RecordId>,
    pub kind: String,
    pub severity: String,
    pub message: String,
    pub actor: Option<String>,
}

impl EventRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            time: self.time,
            id: self.id.clone(),
        }
    }
}

/// One index lane: the key field (a constant) and the prefix of its keys.
struct Key {
    field: &'static str,
    prefix: String,
}

/// The rank part of a key: 9e18 minus nanoseconds since 1970, 19 digits, as the database
/// writes it (`fn::event_rank`).
fn rank(time_ns: i64) -> String {
    format!("{:019}", 9_000_000_000_000_000_000i64 - time_ns)
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(0).max(0)
}

fn keys(query: &EventQuery) -> Vec<Key> {
    let category = query.category.map(Category::as_str);
    let one = |field, prefix: String| Key { field, prefix };
    // Some severities only, of everything or of orgs: their own lanes (schema step 12), so
    // a page does not read the nine info events in ten to drop them. A category's lane or a
    // device's holds few enough events to filter instead.
    let severities = match (&query.lane, category, &query.kind) {
        (Lane::All | Lane::Orgs(_), None, None)
            if !query.severities.is_empty() && query.severities.len() < Severity::ALL.len() =>
        {
            Some(&query.severities)
        }
        _ => None,
    };
    match (&query.lane, category, severities) {
        (Lane::All, _, Some(severities)) => severities
            .iter()
            .map(|s| one("h_severity", format!("{s}|")))
            .collect(),
        (Lane::All, None, None) => vec![one("h_all", String::new())],
        (Lane::All, Some(c), _) => vec![one("h_category", format!("{c}|"))],
        (Lane::Device(d), None, _) => vec![one("h_device", format!("{d}|"))],
        (Lane::Device(d), Some(c), _) => vec![one("h_device_category", format!("{d}|{c}|"))],
        (Lane::Orgs(orgs), c, severities) => orgs
            .iter()
            .flat_map(|o| {
                let org = crate::db::key_string(o);
                match (c, severities) {
                    (_, Some(severities)) => severities
                        .iter()
                        .map(|s| one("h_org_severity", format!("{org}|{s}|")))
                        .collect(),
                    (None, None) => vec![one("h_org", format!("{org}|"))],
                    (Some(c), None) => vec![one("h_org_category", format!("{org}|{c}|"))],
                }
            })
            .collect(),
    }
}

/// The newest `limit` events of `query` after `before` (or from `query.to` back), newest
/// first; events of one instant in id order.
pub async fn page(
    db: &Db,
    query: &EventQuery,
    before: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<EventRow>> {
    let keys = keys(query);
    if limit == 0 {
        return Ok(Vec::new());
    }
    if keys.len() == 1 {
        return lane(db, query, &keys[0], before, limit).await;
    }
    // Several lanes (a scope of several orgs, or of severities): each lane is read a slice
    // at a time. The first slice is
    // twice the lane's share of the page; then a lane is read further only for as many rows
    // as could still make the page, which its last row read tells. One round mostly does,
    // reading about 2 × `limit` rows where reading `limit` from every lane read that many
    // per org, each a random read at 10 M events.
    let first = (2 * limit).div_ceil(keys.len()).min(limit);
    let mut open: Vec<(Key, Option<Cursor>, usize)> = keys
        .into_iter()
        .map(|k| (k, before.cloned(), first))
        .collect();
    let mut rows: Vec<EventRow> = Vec::new();
    while !open.is_empty() {
        let mut tasks = tokio::task::JoinSet::new();
        for (key, after, slice) in open {
            let (db, query) = (db.clone(), query.clone());
            tasks.spawn(async move {
                let got = lane(&db, &query, &key, after.as_ref(), slice).await;
                got.map(|got| (key, got, slice))
            });
        }
        // Lanes with more rows than read, each with the last row read.
        let mut more = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (key, got, slice) = done.map_err(|e| AppError::internal("event history", e))??;
            if let (true, Some(last)) = (got.len() == slice, got.last()) {
                more.push((key, last.cursor()));
            }
            rows.extend(got);
        }
        rows.sort_by(newest_first);
        // What a lane has not given sorts after its last row read, so at most `limit`
        // minus the rows up to that one can still be on the page.
        open = more
            .into_iter()
            .filter_map(|(key, after)| {
                let up_to = rows.partition_point(|r| {
                    r.time > after.time || (r.time == after.time && r.id <= after.id)
                });
                let wanted = limit.saturating_sub(up_to);
                (wanted > 0).then_some((key, Some(after), wanted))
            })
            .collect();
    }
    rows.truncate(limit);
    Ok(rows)
}

/// Page order: newest first, events of one instant in id order.
fn newest_first(a: &EventRow, b: &EventRow) -> std::cmp::Ordering {
    b.time.cmp(&a.time).then_with(|| a.id.cmp(&b.id))
}

const SELECT: &str = "SELECT record::id(id) AS id, time, device, org, kind, severity, message, \
     actor FROM event WHERE";
/// What the keys do not say.
const FILTERS: &str = "AND severity IN $severities AND ($orgs IS NONE OR org IN $orgs) \
     AND ($kind IS NONE OR kind = $kind)";

/// The first time window a lane is read in: 5 min where the whole fleet's or an org's
/// events run, a day for one device's (a device logs a few events a day; even one that
/// flaps every minute fills a page within the day).
const WINDOW_NS: i64 = 5 * 60 * 1_000_000_000;
const DEVICE_WINDOW_NS: i64 = 24 * 60 * 60 * 1_000_000_000;
/// At most how much wider each next window is than the last. Not more after an empty
/// window: a hundredfold saved an empty lane a query or two (~0.5 ms of planning each), but
/// made a busy lane that had been quiet for half an hour read a 500 min window of ~1,200
/// events (bench/history.sh at 300,000 events, newest event 34 min old: 31.8 ms for the
/// admin's page, which took 3.0 ms right after seeding).
const WIDER: i64 = 10;

/// The next window's width, from the rows found so far (`found` of `wanted`, in the
/// `covered` nanoseconds read): wide enough for the missing rows at the rate seen so far,
/// and half again for luck, but no narrower than the last window and at most `WIDER`
/// times it. A lane that gave 30 of 50 rows in its first 5 min reads 5 more minutes next
/// (~30 events), not 50 (~300, each fetched before `LIMIT` counts).
fn next_width(width: i64, covered: i64, found: usize, wanted: usize) -> i64 {
    let widest = width.saturating_mul(WIDER);
    if found == 0 {
        return widest;
    }
    let missing = wanted.saturating_sub(found) as i128;
    let enough = i128::from(covered) * missing * 3 / (2 * found as i128);
    enough.clamp(i128::from(width), i128::from(widest)) as i64
}

/// How far apart (ns) the rows of a lane with given filters were when last read. The
/// first window of the next read of a fleet's or an org's lane is sized from it: a fixed
/// 5 min window held ~115 events of the admin's lane at 3 M events but ~385 at 10 M (each
/// fetched before `LIMIT` counts; bench/history.sh: 7.9 → 17.7 ms for the same page).
/// Only a guess of where to start: the reading goes on until the page is full either way.
#[derive(Default)]
struct Spacing(std::sync::Mutex<std::collections::HashMap<String, i64>>);

/// Lanes and filters remembered at most (a few hundred bytes each).
const SPACINGS: usize = 10_000;

/// The first window, a tenth wider than a page at the spacing remembered, at least 1 s.
const MIN_WINDOW_NS: i64 = 1_000_000_000;

impl Spacing {
    fn of(db: &Db) -> std::sync::Arc<Spacing> {
        db.cache(|_| Spacing::default())
    }

    fn first_width(&self, memo: &str, limit: usize) -> Option<i64> {
        let spacing = *self.0.lock().expect("BUG: poisoned").get(memo)?;
        let width = i128::from(spacing) * limit as i128 * 11 / 10;
        Some(width.clamp(i128::from(MIN_WINDOW_NS), i128::from(i64::MAX / 4)) as i64)
    }

    fn remember(&self, memo: String, covered: i64, rows: usize) {
        let mut map = self.0.lock().expect("BUG: poisoned");
        if map.len() >= SPACINGS {
            map.clear();
        }
        map.insert(memo, covered / rows.max(1) as i64);
    }
}

/// Reads one lane in windows of time growing up to tenfold (5 min, 50 min, 8 h, 3.5 d, …,
/// less where rows were found: `next_width`) until `limit` rows or the range's end.
/// SurrealDB 3.3 reads a one-field index range in batches of 1,000 entries
/// (`INDEX_BATCH_SIZE`) and fetches each entry's event before `LIMIT` counts: a page of 50
/// fetched ~1,000 events wherever the range held that many, ~30 ms at 300,000 events (one
/// hour's range: 3.9 ms; a day's: 28 ms). A window holding few more rows than the page
/// costs that few.
async fn lane(
    db: &Db,
    query: &EventQuery,
    key: &Key,
    before: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<EventRow>> {
    let p = &key.prefix;
    let key_at = |ns: i64| format!("{p}{}", rank(ns));
    // Older than `to` (strictly), not older than `from`.
    let (to, from) = (nanos(query.to), nanos(query.from));
    let first = key_at(to - 1);
    let end = key_at(from - 1);
    let after = before.map(|c| format!("{p}{}|{}", rank(nanos(c.time)), c.id));
    // The window starts at the cursor's time, or at `to`.
    let (mut start, mut op, mut newest) = match (after, before) {
        (Some(after), Some(c)) if after >= first => (after, ">", nanos(c.time)),
        _ => (first, ">=", to),
    };
    let read_from = newest;
    let mut rows = Vec::new();
    // A device's lane is read from its newest events in memory first (`first_page_cached`).
    let memo = match query.lane {
        Lane::Device(_) => None,
        _ => Some(format!(
            "{} {p} {:?} {:?}",
            key.field, query.severities, query.kind
        )),
    };
    let spacing = Spacing::of(db);
    let mut width = match &memo {
        None => DEVICE_WINDOW_NS,
        Some(memo) => spacing.first_width(memo, limit).unwrap_or(WINDOW_NS),
    };
    let mut oldest_read = read_from;
    while start < end {
        // This window holds events at `oldest` or newer.
        let oldest = newest.saturating_sub(width);
        let (bound, last) = match oldest > from {
            true => (key_at(oldest - 1), false),
            false => (end.clone(), true),
        };
        rows.extend(window(db, query, key, (&start, op, &bound), limit - rows.len()).await?);
        oldest_read = oldest.max(from);
        if rows.len() >= limit || last {
            break;
        }
        width = next_width(width, read_from - oldest, rows.len(), limit);
        (start, op, newest) = (bound, ">=", oldest);
    }
    if let Some(memo) = memo {
        // A full page spans from where reading began to its oldest row; a short one, all
        // that was read.
        let covered = match rows.last() {
            Some(row) if rows.len() >= limit => read_from - nanos(row.time),
            _ => read_from - oldest_read,
        };
        if covered > 0 {
            spacing.remember(memo, covered, rows.len());
        }
    }
    Ok(rows)
}

/// At most `limit` rows of one lane from `start` (after it with `>`, from it with `>=`)
/// up to `end`, excluded.
async fn window(
    db: &Db,
    query: &EventQuery,
    key: &Key,
    (start, op, end): (&str, &str, &str),
    limit: usize,
) -> Result<Vec<EventRow>> {
    // Put together from constants only; every value is bound.
    let f = key.field;
    let statement = [
        SELECT,
        f,
        op,
        "$start AND",
        f,
        "< $end",
        FILTERS,
        "ORDER BY",
        f,
        "LIMIT $limit",
    ]
    .join(" ");
    let mut response = db
        .query(statement)
        .bind(("start", start.to_string()))
        .bind(("end", end.to_string()))
        .bind(("severities", query.severities.clone()))
        .bind(("orgs", query.orgs.clone()))
        .bind(("kind", query.kind.clone()))
        .bind(("limit", limit as i64))
        .await
        .and_then(|r| r.check())
        .map_err(internal("event history"))?;
    response.take(0).map_err(internal("event history"))
}

/// Writes events as they are (for `sunfleet seed --events`, which fills the table to
/// measure the history at scale), in one statement.
pub async fn insert(db: &Db, events: Vec<crate::telemetry::store::EventRecord>) -> Result<()> {
    let devices = devices_of(&events);
    let done = db
        .query("INSERT INTO event $events RETURN NONE")
        .bind(("events", events))
        .await
        .and_then(|r| r.check());
    written(db, devices);
    done.map_err(internal("insert events"))?;
    Ok(())
}

/// The devices `events` name: what [`written`] needs, taken before they are moved into a
/// query.
pub fn devices_of(events: &[crate::telemetry::store::EventRecord]) -> Vec<String> {
    events.iter().filter_map(|e| e.device.clone()).collect()
}

/// Tells the cache of each device's newest events that events of `devices` were written
/// (or may have been: call it whether or not the write succeeded).
pub fn written(db: &Db, devices: Vec<String>) {
    if !devices.is_empty() {
        recent_cache(db).changed(devices);
    }
}

/// …or events of devices this process cannot name.
pub fn written_unknown(db: &Db) {
    recent_cache(db).changed_all();
}

/// How many of a device's newest events the cache keeps: a first page of its history and
/// the one after it that says whether there is a next page.
const CACHED: usize = super::model::PAGE + 1;
/// How far back a cached read goes, and ahead: devices' clocks run up to 5 minutes fast.
const CACHED_BACK: chrono::Duration = chrono::Duration::days(400);
const CACHED_AHEAD: chrono::Duration = chrono::Duration::hours(1);

/// A device's newest events as read at one time.
struct Newest {
    rows: Vec<EventRow>,
    /// The range read; `rows` are its newest [`CACHED`] events, all of them when fewer.
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Newest {
    /// The first `limit` rows of `query` (a device lane, from its newest), when these rows
    /// hold them all: the range lies within the one read, and either enough rows match, or
    /// every row of the range was read.
    fn answer(&self, query: &EventQuery, limit: usize) -> Option<Vec<EventRow>> {
        if query.from < self.from || query.to > self.to || limit > CACHED {
            return None;
        }
        let matching: Vec<EventRow> = self
            .rows
            .iter()
            .filter(|r| r.time >= query.from && r.time < query.to)
            .filter(|r| query.severities.contains(&r.severity))
            .filter(|r| match &query.orgs {
                None => true,
                Some(orgs) => r.org.as_ref().is_some_and(|o| orgs.contains(o)),
            })
            .filter(|r| query.category.is_none_or(|c| Category::of(&r.kind) == c))
            .filter(|r| query.kind.as_ref().is_none_or(|k| *k == r.kind))
            .take(limit)
            .cloned()
            .collect();
        // Events of the oldest row's instant may go on past it, in id order.
        let all_read = self.rows.len() < CACHED
            || self
                .rows
                .last()
                .is_some_and(|oldest| query.from > oldest.time);
        (matching.len() == limit || all_read).then_some(matching)
    }
}

type RecentCache = crate::db::read_cache::ReadCache<String, std::sync::Arc<Newest>>;

fn recent_cache(db: &Db) -> std::sync::Arc<RecentCache> {
    db.cache(|db| RecentCache::new((!db.held_alone()).then_some(crate::devices::snapshot::TTL)))
}

/// As [`page`]; the first page of one device's events comes from the device's newest events
/// in memory when they answer it. The device page shows its last events on every view, and
/// reading a quiet device's lane took up to four queries (1.5 ms of CPU per page).
pub async fn first_page_cached(
    db: &Db,
    query: &EventQuery,
    before: Option<&Cursor>,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<EventRow>> {
    let Lane::Device(device) = &query.lane else {
        return page(db, query, before, limit).await;
    };
    if before.is_some() {
        return page(db, query, before, limit).await;
    }
    let cache = recent_cache(db);
    let newest = match cache.get(device) {
        Some(newest) => newest,
        None => {
            let began = cache.begin();
            let wide = EventQuery {
                lane: query.lane.clone(),
                category: None,
                kind: None,
                severities: Severity::ALL
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
                orgs: None,
                from: now - CACHED_BACK,
                to: now + CACHED_AHEAD,
            };
            let rows = page(db, &wide, None, CACHED).await?;
            let newest = std::sync::Arc::new(Newest {
                rows,
                from: wide.from,
                to: wide.to,
            });
            cache.put(device.clone(), newest.clone(), began);
            newest
        }
    };
    match newest.answer(query, limit) {
        Some(rows) => Ok(rows),
        None => page(db, query, before, limit).await,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::history::model::KINDS;
    use crate::telemetry::store::EventRecord;

    async fn db() -> Db {
        crate::db::in_memory(true).await
    }

    fn event(time: DateTime<Utc>, device: &str, org: &str, kind: &str) -> EventRecord {
        EventRecord {
            time,
            device: Some(device.into()),
            org: Some(RecordId::new("org", org)),
            kind: kind.into(),
            severity: "info".into(),
            message: format!("{kind} of {device}"),
            actor: None,
        }
    }

    #[test]
    fn a_lane_starts_with_a_window_a_page_filled_last_time() {
        let spacing = Spacing::default();
        assert_eq!(spacing.first_width("h_all", 51), None);
        // 51 rows over 51 s last time: 1 s apart, so 51 rows and a tenth.
        spacing.remember("h_all".into(), 51_000_000_000, 51);
        assert_eq!(spacing.first_width("h_all", 51), Some(56_100_000_000));
        assert_eq!(spacing.first_width("h_org", 51), None, "per lane");
        // Dense lanes start at a second; an empty one is read in one go next time.
        spacing.remember("dense".into(), 1_000, 51);
        assert_eq!(spacing.first_width("dense", 51), Some(MIN_WINDOW_NS));
        spacing.remember("empty".into(), 90 * 86_400 * 1_000_000_000, 0);
        assert!(spacing.first_width("empty", 51).unwrap() > 90 * 86_400 * 1_000_000_000);
    }

    #[test]
    fn a_window_grows_for_the_rows_still_missing_within_tenfold() {
        let min = 60 * 1_000_000_000;
        // Nothing found yet: ten times wider.
        assert_eq!(next_width(5 * min, 5 * min, 0, 50), 50 * min);
        // 30 of 50 in 5 min: 20 more at that rate take 3.3 min, half again 5 min.
        assert_eq!(next_width(5 * min, 5 * min, 30, 50), 5 * min);
        // 10 of 50 in 55 min: 40 more take 220 min, half again 330 min.
        assert_eq!(next_width(50 * min, 55 * min, 10, 50), 330 * min);
        // One row in 5 min: never more than ten times wider…
        assert_eq!(next_width(5 * min, 5 * min, 1, 50), 50 * min);
        // …nor narrower than the last window.
        assert_eq!(next_width(50 * min, 55 * min, 49, 50), 50 * min);
        // No overflow at the far end of time.
        assert_eq!(next_width(i64::MAX / 2, i64::MAX, 1, 50), i64::MAX);
    }

    fn query(lane: Lane, now: DateTime<Utc>) -> EventQuery {
        EventQuery {
            lane,
            category: None,
            kind: None,
            severities: vec!["info".into(), "warning".into(), "critical".into()],
            orgs: None,
            from: now - Duration::days(1),
            to: now,
        }
    }

    #[tokio::test]
    async fn the_database_files_every_kind_as_the_page_does() {
        let db = db().await;
        for (kind, category) in KINDS {
            let mut r = db
                .query("RETURN fn::event_category($k)")
                .bind(("k", kind.to_string()))
                .await
                .unwrap();
            let got: Option<String> = r.take(0).unwrap();
            assert_eq!(got.as_deref(), Some(category.as_str()), "{kind}");
        }
    }

    #[tokio::test]
    async fn keys_rank_like_the_store_computes_them() {
        let db = db().await;
        let t = "2026-11-23T10:00:00.123456789Z".parse().unwrap();
        let mut people = event(t, "SF-1", "farm", "user_invited");
        people.device = None;
        people.org = None;
        insert(&db, vec![event(t, "SF-1", "farm", "fault"), people])
            .await
            .unwrap();
        let mut r = db
            .query(
                "SELECT VALUE [h_all, h_category, h_device, h_device_category, h_org, h_org_category,
                 h_org_severity, h_severity] FROM event ORDER BY kind",
            )
            .await
            .unwrap();
        let keys: Vec<Vec<Option<String>>> = r.take(0).unwrap();
        let rank = rank(nanos(t));
        let key = |k: &Option<String>| k.clone().unwrap();
        let id = key(&keys[0][0]).split('|').nth(1).unwrap().to_string();
        let fault: Vec<String> = keys[0].iter().map(key).collect();
        assert_eq!(
            fault,
            [
                format!("{rank}|{id}"),
                format!("faults|{rank}|{id}"),
                format!("SF-1|{rank}|{id}"),
                format!("SF-1|faults|{rank}|{id}"),
                format!("farm|{rank}|{id}"),
                format!("farm|faults|{rank}|{id}"),
                format!("farm|info|{rank}|{id}"),
                format!("info|{rank}|{id}"),
            ]
        );
        let id = key(&keys[1][0]).split('|').nth(1).unwrap().to_string();
        assert_eq!(
            keys[1],
            [
                Some(format!("{rank}|{id}")),
                Some(format!("people|{rank}|{id}")),
                None,
                None,
                None,
                None,
                None,
                Some(format!("info|{rank}|{id}")),
            ],
            "no device, no org: only the lanes of everything"
        );
    }

    #[tokio::test]
    async fn a_scope_of_several_orgs_pages_like_one_lane_however_its_events_are_spread() {
        let db = db().await;
        let now = Utc::now();
        let mut rows = Vec::new();
        // One busy org, one quiet one whose few events are among the newest and the oldest,
        // one with none; some events of the busy and the quiet org share an instant.
        for i in 0..80 {
            rows.push(event(now - Duration::seconds(i), "SF-1", "busy", "online"));
        }
        for i in [0, 1, 40, 79, 200] {
            rows.push(event(
                now - Duration::seconds(i),
                "SF-2",
                "quiet",
                "offline",
            ));
        }
        insert(&db, rows).await.unwrap();
        let orgs = || {
            Lane::Orgs(vec![
                RecordId::new("org", "busy"),
                RecordId::new("org", "quiet"),
                RecordId::new("org", "empty"),
            ])
        };
        let ids = |rows: Vec<EventRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let everything = page(&db, &query(Lane::All, now), None, 1000).await.unwrap();
        assert_eq!(
            everything.len(),
            83,
            "the newest instant is outside [from, to)"
        );
        for limit in [1, 3, 10, 51] {
            let mut cursor = None;
            let mut seen = Vec::new();
            loop {
                let got = page(&db, &query(orgs(), now), cursor.as_ref(), limit)
                    .await
                    .unwrap();
                assert!(got.len() <= limit);
                cursor = got.last().map(EventRow::cursor);
                let full = got.len() == limit;
                seen.extend(ids(got));
                if !full {
                    break;
                }
            }
            assert_eq!(seen, ids(everything.clone()), "pages of {limit}");
        }
    }

    #[tokio::test]
    async fn events_spread_from_seconds_to_weeks_ago_page_without_gaps_across_windows() {
        let db = db().await;
        let now = Utc::now();
        // 2^i seconds ago: several per read window near now, one per window weeks ago; then
        // a silent month and two events 80 days back, past windows that read nothing.
        let mut rows: Vec<EventRecord> = (0..22)
            .map(|i| event(now - Duration::seconds(1 << i), "SF-1", "farm", "online"))
            .collect();
        for minutes in [0, 7] {
            let at = now - Duration::days(80) - Duration::minutes(minutes);
            rows.push(event(at, "SF-1", "farm", "offline"));
        }
        insert(&db, rows).await.unwrap();
        // The whole fleet's lane starts from 5 min windows, a device's from a day.
        for lane in [Lane::Device("SF-1".into()), Lane::All] {
            let mut q = query(lane, now);
            q.from = now - Duration::days(90);
            let everything = page(&db, &q, None, 1000).await.unwrap();
            assert_eq!(everything.len(), 24);
            assert!(everything.windows(2).all(|w| w[0].time > w[1].time));
            for limit in [1, 3, 7] {
                let mut cursor = None;
                let mut seen = Vec::new();
                loop {
                    let got = page(&db, &q, cursor.as_ref(), limit).await.unwrap();
                    cursor = got.last().map(EventRow::cursor);
                    let full = got.len() == limit;
                    seen.extend(got.into_iter().map(|r| r.id));
                    if !full {
                        break;
                    }
                }
                let ids: Vec<String> = everything.iter().map(|r| r.id.clone()).collect();
                assert_eq!(seen, ids, "{:?}, pages of {limit}", q.lane);
            }
        }
    }

    #[tokio::test]
    async fn pages_run_newest_first_within_the_range_and_lane() {
        let db = db().await;
        let now = Utc::now();
        let mut rows = Vec::new();
        for i in 0..30 {
            let t = now - Duration::minutes(i);
            rows.push(event(
                t,
                "SF-1",
                "farm",
                if i % 3 == 0 { "fault" } else { "online" },
            ));
            rows.push(event(t, "SF-2", "ranch", "offline"));
        }
        // Outside the range on both sides.
        rows.push(event(now + Duration::minutes(1), "SF-1", "farm", "fault"));
        rows.push(event(now - Duration::days(2), "SF-1", "farm", "fault"));
        insert(&db, rows).await.unwrap();

        let all = page(&db, &query(Lane::All, now), None, 100).await.unwrap();
        assert_eq!(all.len(), 58, "now itself is outside [from, to)");
        assert!(all.windows(2).all(|w| w[0].time >= w[1].time));
        let device = page(&db, &query(Lane::Device("SF-1".into()), now), None, 100)
            .await
            .unwrap();
        assert_eq!(device.len(), 29);
        assert!(device.iter().all(|r| r.device.as_deref() == Some("SF-1")));
        let mut faults = query(Lane::Device("SF-1".into()), now);
        faults.category = Some(Category::Faults);
        let faults = page(&db, &faults, None, 100).await.unwrap();
        assert_eq!(faults.len(), 9);
        // One kind: read from its category's lane, whatever the lane.
        for lane in [Lane::All, Lane::Orgs(vec![RecordId::new("org", "ranch")])] {
            let mut offline = query(lane, now);
            offline.category = Some(Category::Connectivity);
            offline.kind = Some("offline".into());
            let offline = page(&db, &offline, None, 100).await.unwrap();
            assert_eq!(offline.len(), 29);
            assert!(offline.iter().all(|r| r.kind == "offline"));
        }
        let orgs = Lane::Orgs(vec![
            RecordId::new("org", "farm"),
            RecordId::new("org", "ranch"),
        ]);
        let merged = page(&db, &query(orgs, now), None, 10).await.unwrap();
        assert_eq!(merged.len(), 10);
        assert!(merged
            .windows(2)
            .all(|w| (w[0].time, &w[1].id) >= (w[1].time, &w[0].id)));
        // The next page starts after the last row.
        let next = page(&db, &query(Lane::All, now), Some(&all[9].cursor()), 10)
            .await
            .unwrap();
        assert_eq!(
            next.iter().map(|r| &r.id).collect::<Vec<_>>(),
            all[10..20].iter().map(|r| &r.id).collect::<Vec<_>>()
        );
    }

    /// Warnings and critical come from their own lanes, everything's and each org's: the
    /// same events, in the same order, as filtering every event, page after page.
    #[tokio::test]
    async fn a_severity_filter_pages_like_filtering_every_event() {
        let db = db().await;
        let now = Utc::now();
        let mut rows = Vec::new();
        // Mostly info; warnings and critical among them, some at one instant, in 3 orgs.
        for i in 0..300 {
            let mut e = event(
                now - Duration::seconds(i / 2 * 7),
                &format!("SF-{}", i % 5),
                ["farm", "ranch", "district"][i as usize % 3],
                "online",
            );
            e.severity = match i % 10 {
                0 | 3 => "warning",
                7 => "critical",
                _ => "info",
            }
            .into();
            rows.push(e);
        }
        insert(&db, rows).await.unwrap();
        let farm_ranch = || vec![RecordId::new("org", "farm"), RecordId::new("org", "ranch")];
        for lane in [Lane::All, Lane::Orgs(farm_ranch())] {
            let everything = page(&db, &query(lane.clone(), now), None, 1000)
                .await
                .unwrap();
            for severities in [vec!["warning", "critical"], vec!["critical"]] {
                let want: Vec<String> = everything
                    .iter()
                    .filter(|r| severities.contains(&r.severity.as_str()))
                    .map(|r| r.id.clone())
                    .collect();
                assert!(want.len() >= 15, "{lane:?}: {}", want.len());
                let mut q = query(lane.clone(), now);
                q.severities = severities.iter().map(|s| s.to_string()).collect();
                assert_eq!(
                    keys(&q).len(),
                    keys(&query(lane.clone(), now)).len() * severities.len()
                );
                let mut got = Vec::new();
                let mut after = None;
                loop {
                    let rows = page(&db, &q, after.as_ref(), 7).await.unwrap();
                    got.extend(rows.iter().map(|r| r.id.clone()));
                    match rows.last() {
                        Some(last) if rows.len() == 7 => after = Some(last.cursor()),
                        _ => break,
                    }
                }
                assert_eq!(got, want, "{lane:?} {severities:?}");
            }
        }
    }

    /// The device page's first page from memory is the database's, whatever the filter,
    /// and a new event of the device shows at once.
    #[tokio::test]
    async fn a_devices_first_page_from_memory_is_the_databases_and_shows_new_events_at_once() {
        let db = db().await;
        let now = Utc::now();
        let mut rows = Vec::new();
        // 70 events over 70 days, a few at one instant, of two owners and all severities;
        // another device's events around them.
        for i in 0..70 {
            let mut e = event(
                now - Duration::days(i) - Duration::minutes(1),
                "SF-1",
                if i < 40 { "farm" } else { "ranch" },
                ["fault", "online", "command_acked", "schedule_saved"][i as usize % 4],
            );
            e.severity = ["info", "warning", "critical"][i as usize % 3].into();
            rows.push(e);
            rows.push(event(now - Duration::days(i), "SF-2", "farm", "fault"));
        }
        for _ in 0..3 {
            rows.push(event(now - Duration::days(45), "SF-1", "ranch", "offline"));
        }
        insert(&db, rows).await.unwrap();
        let filters = |q: &mut EventQuery, i: usize| match i {
            0 => {}
            1 => q.severities = vec!["critical".into()],
            2 => q.orgs = Some(vec![RecordId::new("org", "ranch")]),
            3 => q.category = Some(Category::Faults),
            4 => q.kind = Some("offline".into()),
            5 => q.from = now - Duration::days(45),
            6 => q.to = now - Duration::days(30),
            _ => q.from = now - Duration::days(400),
        };
        for i in 0..8 {
            for limit in [1, 11, 51] {
                let mut q = query(Lane::Device("SF-1".into()), now);
                q.from = now - Duration::days(365);
                filters(&mut q, i);
                let want = page(&db, &q, None, limit).await.unwrap();
                let got = first_page_cached(&db, &q, None, limit, now).await.unwrap();
                let ids = |r: &[EventRow]| r.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
                assert_eq!(ids(&got), ids(&want), "filter {i}, limit {limit}");
            }
        }
        let q = query(Lane::Device("SF-1".into()), now);
        assert_eq!(
            first_page_cached(&db, &q, None, 11, now)
                .await
                .unwrap()
                .len(),
            1
        );
        insert(
            &db,
            vec![event(now - Duration::seconds(5), "SF-1", "farm", "offline")],
        )
        .await
        .unwrap();
        let got = first_page_cached(&db, &q, None, 11, now).await.unwrap();
        assert_eq!(
            got.len(),
            2,
            "the new event is read at once, not after the cache's age"
        );
        assert_eq!(got[0].kind, "offline");
    }
}
