//! The event history against the real router and SurrealKV: a device's story from real
//! ingest and commands, filters, cursor pages that neither repeat nor skip (also through
//! hundreds of events of one instant), every persona's scope, the CSV export and bad input.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use sunfleet_app::accounts::model::Persona;
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::orgs::store::org_record;
use sunfleet_app::telemetry::store::EventRecord;
use sunfleet_tests::{spawn_sample_tree, TestApp, Who};

const PLATTE: &str = "SF-1-00002";
const LARAMIE: &str = "SF-1-00003";
const DIRECT: &str = "SF-1-00004";

/// A reading `ago` seconds old (the sample devices were last heard 2 minutes ago, and
/// only readings newer than that change their status).
fn reading(ago: i64, fault: i64) -> Value {
    json!({
        "time": (Utc::now() - Duration::seconds(ago)).to_rfc3339(), "solar_w": 900.0, "grid_w": 0.0,
        "load_w": 850.0, "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 360.0,
        "temperature_c": 28.0, "fault_code": fault
    })
}

async fn history_as(app: &TestApp, who: &Who, query: &str, limit: Option<u32>) -> (u16, Value) {
    let limit = limit.map(|l| l.to_string()).unwrap_or_default();
    let mut form = vec![("query", query)];
    if !limit.is_empty() {
        form.push(("limit", limit.as_str()));
    }
    app.post_fn_as(who, "/api/history", &form).await
}

async fn history(app: &TestApp, query: &str) -> Value {
    let (status, body) = history_as(app, &app.admin, query, None).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn kinds(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn devices(page: &Value) -> HashSet<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["device"].as_str().map(String::from))
        .collect()
}

/// `n` events of `device` (owned by `org`) at `time`, straight into the table.
async fn events_at(app: &TestApp, device: &str, org: &str, time: DateTime<Utc>, n: usize) {
    let rows = (0..n)
        .map(|i| EventRecord {
            time,
            device: Some(device.into()),
            org: Some(org_record(org)),
            kind: "offline".into(),
            severity: "warning".into(),
            message: format!("offline {i}"),
            actor: None,
        })
        .collect();
    sunfleet_app::history::store::insert(&app.db, rows)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_devices_history_tells_its_story_newest_first() {
    let app = spawn_sample_tree().await;
    let id = DeviceId::parse(PLATTE).unwrap();
    app.post_readings(&id, &[reading(50, 0), reading(35, 7), reading(20, 0)])
        .await;
    let (status, body) = app
        .post_fn(
            "/api/command_send",
            &[("id", PLATTE), ("kind", "set_speed"), ("percent", "60")],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let page = history(&app, &format!("device={PLATTE}")).await;
    let kinds = kinds(&page);
    assert_eq!(kinds[0], "command_queued", "{page}");
    let raised = kinds
        .iter()
        .position(|k| k == "fault")
        .expect("fault raised");
    let cleared = kinds
        .iter()
        .position(|k| k == "fault_cleared")
        .expect("cleared");
    assert!(cleared < raised, "newest first: {kinds:?}");
    assert_eq!(devices(&page), HashSet::from([PLATTE.to_string()]));
    let fault = &page["entries"][raised];
    assert_eq!(fault["severity"], "critical");
    assert!(
        fault["message"].as_str().unwrap().starts_with("fault 7: "),
        "the fault's meaning is named: {fault}"
    );
    // The device's own zone, and who sent the command.
    assert!(page["entries"][0]["local_time"].as_str().unwrap().len() > 16);
    assert!(page["entries"][0]["actor"].as_str().is_some());
    let times: Vec<DateTime<Utc>> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[tokio::test]
async fn history_filters_by_kind_severity_org_and_time() {
    let app = spawn_sample_tree().await;
    for id in [PLATTE, LARAMIE, DIRECT] {
        let id = DeviceId::parse(id).unwrap();
        app.post_readings(&id, &[reading(40, 0), reading(20, 4)])
            .await;
    }
    let faults = history(&app, "kind=faults").await;
    assert!(!kinds(&faults).is_empty());
    assert!(kinds(&faults).iter().all(|k| k.starts_with("fault")));
    // One kind of the category: only the faults raised, none cleared.
    let raised = history(&app, "kind=fault").await;
    assert!(!kinds(&raised).is_empty());
    assert!(kinds(&raised).iter().all(|k| k == "fault"), "{raised}");
    let synced = history(&app, "kind=schedule_synced").await;
    assert_eq!(synced["entries"], json!([]), "none here: {synced}");
    let critical = history(&app, "severity=critical").await;
    assert!(critical["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["severity"] == "critical"));
    // An org means its subtree: the dealer "rocky" has Platte and Laramie.
    let rocky = history(&app, "org=rocky&kind=faults").await;
    assert_eq!(
        devices(&rocky),
        HashSet::from([PLATTE.to_string(), LARAMIE.to_string()])
    );
    // A range that ended before any of it happened.
    let from = (Utc::now() - Duration::days(3)).to_rfc3339();
    let to = (Utc::now() - Duration::days(2)).to_rfc3339();
    let old = history(
        &app,
        &serde_urlencoded::to_string([("from", from), ("to", to)]).unwrap(),
    )
    .await;
    assert_eq!(old["entries"], json!([]));
    assert_eq!(old["next"], Value::Null);
}

#[tokio::test]
async fn pages_follow_the_cursor_without_repeats_or_gaps_even_within_one_instant() {
    let app = spawn_sample_tree().await;
    let instant = Utc::now() - Duration::minutes(30);
    // An offline sweep writes many events at one instant; around them, single ones.
    events_at(&app, PLATTE, "platte", instant, 120).await;
    for i in 0..30 {
        let t = instant + Duration::seconds(i - 15);
        events_at(
            &app,
            if i % 2 == 0 { PLATTE } else { LARAMIE },
            "platte",
            t,
            1,
        )
        .await;
    }
    // Around that instant only (the sample devices have events of their own).
    let around = serde_urlencoded::to_string([
        ("from", (instant - Duration::seconds(20)).to_rfc3339()),
        ("to", (instant + Duration::seconds(20)).to_rfc3339()),
    ])
    .unwrap();
    for (who, query, expected) in [
        (
            "admin",
            format!("device={PLATTE}&kind=connectivity&{around}"),
            135,
        ),
        ("admin", format!("kind=connectivity&{around}"), 150),
        ("dealer", format!("kind=connectivity&{around}"), 150),
    ] {
        let caller = match who {
            "admin" => app.admin.clone(),
            _ => {
                app.add_user(Persona::Dealer, "d@rocky.example", "rocky")
                    .await
            }
        };
        let mut seen = HashSet::new();
        let mut last: Option<(DateTime<Utc>, String)> = None;
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = match &cursor {
                Some(c) => format!("{query}&before={}", urlencoding(c)),
                None => query.clone(),
            };
            let (status, page) = history_as(&app, &caller, &q, Some(50)).await;
            assert_eq!(status, 200, "{page}");
            pages += 1;
            for e in page["entries"].as_array().unwrap() {
                let key = (
                    e["time"]
                        .as_str()
                        .unwrap()
                        .parse::<DateTime<Utc>>()
                        .unwrap(),
                    e["id"].as_str().unwrap().to_string(),
                );
                // Newest first; one instant's events in id order.
                if let Some(prev) = &last {
                    assert!(
                        key.0 < prev.0 || (key.0 == prev.0 && key.1 > prev.1),
                        "{who} {query}: out of order"
                    );
                }
                assert!(seen.insert(key.1.clone()), "{who} {query}: repeated");
                last = Some(key);
            }
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
            assert!(pages < 10, "the cursor does not advance");
        }
        assert_eq!(seen.len(), expected, "{who} {query}");
        assert_eq!(pages, expected.div_ceil(50), "{who} {query}");
    }
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

#[tokio::test]
async fn every_persona_sees_the_history_of_its_scope_only() {
    let app = spawn_sample_tree().await;
    let now = Utc::now() - Duration::minutes(1);
    for (device, org) in [
        ("SF-1-00001", "agri-farm"),
        (PLATTE, "platte"),
        (LARAMIE, "laramie"),
        (DIRECT, "direct"),
    ] {
        events_at(&app, device, org, now, 2).await;
    }
    let (partner, dealer, customer) = app.sample_personas().await;
    let all = ["SF-1-00001", PLATTE, LARAMIE, DIRECT];
    for (who, caller, sees) in [
        ("admin", &app.admin, &all[..]),
        ("partner", &partner, &all[..1]),
        ("dealer", &dealer, &all[1..3]),
        ("customer", &customer, &all[1..2]),
    ] {
        let expected: HashSet<String> = sees.iter().map(|s| s.to_string()).collect();
        // A severity filter reads each org's severity lanes (schema step 12): the same scope.
        for query in ["kind=connectivity", "severity=warning"] {
            let (status, page) = history_as(&app, caller, query, None).await;
            assert_eq!(status, 200, "{who}: {page}");
            assert_eq!(devices(&page), expected, "{who} {query}");
        }
        for device in all {
            let (status, _) = history_as(&app, caller, &format!("device={device}"), None).await;
            let visible = sees.contains(&device);
            assert_eq!(status, if visible { 200 } else { 404 }, "{who} {device}");
        }
        // Someone else's org is a 404, like one that does not exist.
        let (status, _) = history_as(&app, caller, "org=direct", None).await;
        assert_eq!(status, if who == "admin" { 200 } else { 404 }, "{who}");
        // The CSV export is scoped the same way.
        let (status, csv) = app.get_as(caller, "/history.csv?kind=connectivity").await;
        assert_eq!(status, 200, "{who}");
        for device in all {
            assert_eq!(
                csv.contains(device),
                sees.contains(&device),
                "{who} csv {device}"
            );
        }
    }
}

#[tokio::test]
async fn the_csv_export_holds_the_filtered_view() {
    let app = spawn_sample_tree().await;
    let id = DeviceId::parse(PLATTE).unwrap();
    app.post_readings(&id, &[reading(50, 0), reading(35, 9), reading(20, 0)])
        .await;
    events_at(
        &app,
        LARAMIE,
        "laramie",
        Utc::now() - Duration::minutes(1),
        3,
    )
    .await;
    let response = app
        .admin
        .apply(
            app.client
                .get(app.url(&format!("/history.csv?kind=faults&device={PLATTE}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("sunfleet-history-"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "time,device,device_name,organisation,category,kind,severity,message,actor"
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].contains(",faults,fault_cleared,info,"), "{text}");
    assert!(lines[2].contains(",faults,fault,critical,"), "{text}");
    assert!(lines[2].contains("Platte Well"), "{text}");
    // One kind: the same export with only the faults cleared.
    let (status, one) = app
        .get_as(
            &app.admin,
            &format!("/history.csv?kind=fault_cleared&device={PLATTE}"),
        )
        .await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = one.lines().collect();
    assert_eq!(lines.len(), 2, "{one}");
    assert!(lines[1].contains(",faults,fault_cleared,info,"), "{one}");
}

#[tokio::test]
async fn bad_history_filters_are_refused_by_name() {
    let app = spawn_sample_tree().await;
    for query in [
        "kind=weather",
        "severity=loud",
        "range=3w",
        "from=2026-11-02T00:00:00Z",
        "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
        "before=garbage",
        "device=%3Cscript%3E",
    ] {
        let (status, body) = history_as(&app, &app.admin, query, None).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["code"], "validation_failed", "{query}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
        let (status, body) = app.get(&format!("/history.csv?{query}")).await;
        assert_eq!(status, 422, "csv {query}: {body}");
        assert!(body.contains("\"code\""), "csv {query}: {body}");
    }
    for limit in [0, 51] {
        let (status, body) = history_as(&app, &app.admin, "", Some(limit)).await;
        assert_eq!(status, 422, "limit {limit}: {body}");
    }
    let (status, _) = history_as(&app, &app.admin, "device=SF-9-NOPE", None).await;
    assert_eq!(status, 404);
    let (status, body) = app
        .post_fn_as(&Who::Anonymous, "/api/history", &[("query", "")])
        .await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn the_benchmark_seed_writes_exactly_the_events_asked_for() {
    // `sunfleet seed --events` writes two batches at a time: none may be lost or doubled,
    // the last (partial) one included.
    let app = spawn_sample_tree().await;
    let events = || async {
        let mut response = app
            .db
            .query("SELECT VALUE n FROM (SELECT count() AS n FROM event GROUP ALL)")
            .await
            .unwrap();
        let n: Vec<u64> = response.take(0).unwrap();
        n.first().copied().unwrap_or(0)
    };
    let before = events().await;
    let now = Utc::now();
    let fleet = sunfleet::demo::Fleet::generate_n(now, sunfleet::demo::SEED, 20);
    sunfleet::demo::seed_events(&app.db, &fleet, 2_500, 90, now)
        .await
        .unwrap();
    assert_eq!(events().await - before, 2_500);
}
