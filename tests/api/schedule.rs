//! Weekly schedules against the real router and SurrealKV: saving versions, telling the
//! device in its ingest answers, the device fetching it with its token and reporting it
//! back, the sync state, events, and refusals that change nothing.

use serde_json::{json, Value};
use sha2::Digest;
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::telemetry::store::device_events;
use sunfleet_tests::{device_token, json_response, minute, spawn_sample_tree, TestApp, Who};

const PLATTE: &str = "SF-1-00002";

fn weekday_mornings() -> Value {
    json!([
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "06:00", "end": "10:00", "action": "run"},
        {"days": ["sat"], "start": "22:00", "end": "02:00", "action": "setpoint", "setpoint": 60}
    ])
}

async fn save_as(app: &TestApp, who: &Who, body: Value) -> (u16, Value) {
    json_response(
        who.apply(
            app.client
                .post(app.url("/api/schedule_save"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        ),
    )
    .await
}

async fn save(app: &TestApp, windows: Value, base: Option<u64>) -> (u16, Value) {
    save_as(
        app,
        &app.admin,
        json!({"id": PLATTE, "windows": windows, "base": base}),
    )
    .await
}

async fn schedule(app: &TestApp) -> Value {
    let (status, body) = app.post_fn("/api/schedule", &[("id", PLATTE)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A status post from the Platte device reporting `version`; the answer.
async fn post_reporting(app: &TestApp, ago: i64, version: u64) -> Value {
    post_reporting_hash(app, ago, version, None).await
}

/// As `post_reporting`, with the schedule hash the device reports.
async fn post_reporting_hash(app: &TestApp, ago: i64, version: u64, hash: Option<&str>) -> Value {
    let id = DeviceId::parse(PLATTE).unwrap();
    let mut reading = json!({
        "time": minute(ago).to_rfc3339(), "solar_w": 900.0, "grid_w": 0.0,
        "load_w": 850.0, "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 360.0,
        "temperature_c": 28.0, "fault_code": 0, "schedule_version": version
    });
    if let Some(hash) = hash {
        reading["schedule_hash"] = json!(hash);
    }
    let (status, body) = app
        .post_direct(PLATTE, Some(&device_token(&id)), &reading)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn fetch(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    json_response(
        app.client
            .get(app.url(path))
            .header("authorization", format!("Bearer {token}")),
    )
    .await
}

async fn kinds(app: &TestApp) -> Vec<String> {
    device_events(&app.db, &DeviceId::parse(PLATTE).unwrap(), 20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn a_saved_schedule_reaches_the_device_through_its_next_post_and_shows_in_sync_once_reported()
{
    let app = spawn_sample_tree().await;
    let before = schedule(&app).await;
    assert_eq!(before["version"], 0);
    assert_eq!(before["sync"]["state"], "no_schedule");

    let (status, saved) = save(&app, weekday_mornings(), Some(0)).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["sync"]["state"], "pending", "{saved}");
    assert_eq!(saved["windows"], weekday_mornings(), "stored as sent");
    assert_eq!(saved["next_runs"].as_array().unwrap().len(), 5);
    assert!(kinds(&app).await.contains(&"schedule_changed".to_string()));

    // The device, still on no schedule, is told to fetch version 1 …
    let answer = post_reporting(&app, 1, 0).await;
    let url = format!("/ingest/v1/devices/{PLATTE}/schedule");
    assert_eq!(answer["schedule"], json!({"version": 1, "url": url}));
    assert!(
        answer.to_string().len() <= 512,
        "one Particle hook-response chunk: {answer}"
    );
    // … fetches it with its own token: local windows, offsets for a year, the next runs …
    let id = DeviceId::parse(PLATTE).unwrap();
    let (status, fetched) = fetch(&app, &url, &device_token(&id)).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["version"], 1);
    assert_eq!(fetched["timezone"], "America/Denver");
    assert_eq!(fetched["windows"], weekday_mornings());
    let offsets = fetched["utc_offsets"].as_array().unwrap();
    assert_eq!(
        offsets.len(),
        3,
        "now, spring forward, fall back: {offsets:?}"
    );
    assert!(fetched["dst_rule"]
        .as_str()
        .unwrap()
        .contains("first occurrence"));
    assert!(fetched["next_runs"].is_array());
    // … and reports it: in sync, nothing more to fetch, an event says so.
    let answer = post_reporting(&app, 0, 1).await;
    assert!(answer.get("schedule").is_none(), "{answer}");
    let synced = schedule(&app).await;
    assert_eq!(synced["sync"]["state"], "in_sync", "{synced}");
    assert_eq!(synced["reported"], 1);
    assert!(kinds(&app).await.contains(&"schedule_synced".to_string()));

    // A second save is version 2; the device hears of it while it runs version 1.
    let (status, second) = save(&app, json!([]), Some(1)).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["version"], 2);
    assert_eq!(second["sync"]["state"], "pending");
    let answer = post_reporting(&app, -1, 1).await;
    assert_eq!(answer["schedule"]["version"], 2, "{answer}");
}

#[tokio::test]
async fn a_new_timezone_sends_the_schedule_again_with_the_new_zones_offsets() {
    let app = spawn_sample_tree().await;
    let (status, saved) = save(&app, weekday_mornings(), Some(0)).await;
    assert_eq!(status, 200, "{saved}");
    post_reporting(&app, 2, 1).await;
    assert_eq!(schedule(&app).await["sync"]["state"], "in_sync");
    let edit = |timezone: &'static str| {
        [
            ("id", PLATTE),
            ("name", "Platte North"),
            ("model", "SPC-7"),
            ("firmware", "3.1.0"),
            ("timezone", timezone),
            ("offline_timeout_min", "10"),
        ]
    };

    let (status, body) = app
        .post_fn("/api/device_update", &edit("America/Chicago"))
        .await;
    assert_eq!(status, 200, "{body}");

    // The same local windows, as a new version the device has not run yet …
    let moved = schedule(&app).await;
    assert_eq!(moved["version"], 2, "{moved}");
    assert_eq!(moved["timezone"], "America/Chicago");
    assert_eq!(moved["windows"], weekday_mornings());
    assert_eq!(moved["sync"]["state"], "pending");
    // … which it hears of at its next post and fetches with the new zone's offsets.
    let answer = post_reporting(&app, 1, 1).await;
    assert_eq!(answer["schedule"]["version"], 2, "{answer}");
    let id = DeviceId::parse(PLATTE).unwrap();
    let url = answer["schedule"]["url"].as_str().unwrap().to_string();
    let (status, fetched) = fetch(&app, &url, &device_token(&id)).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["timezone"], "America/Chicago");
    assert_eq!(fetched["version"], 2);

    // A partner naming the device's zone with its windows saves them.
    let body = json!({"id": PLATTE, "windows": weekday_mornings(), "base": 2,
                      "timezone": "America/Chicago"});
    let (status, saved) = save_as(&app, &app.admin, body).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 3);

    // An edit that keeps the zone sends nothing again.
    let (status, body) = app
        .post_fn("/api/device_update", &{
            let mut form = edit("America/Chicago");
            form[1].1 = "Platte North 2";
            form
        })
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(schedule(&app).await["version"], 3);
}

#[tokio::test]
async fn a_save_from_an_old_version_is_refused_rather_than_overwrite_a_newer_one() {
    let app = spawn_sample_tree().await;
    assert_eq!(save(&app, weekday_mornings(), Some(0)).await.0, 200);
    let (status, body) = save(&app, json!([]), Some(0)).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("version 1"),
        "{body}"
    );
    let now = schedule(&app).await;
    assert_eq!(now["version"], 1);
    assert_eq!(now["windows"], weekday_mornings(), "unchanged");
}

#[tokio::test]
async fn bad_schedules_are_refused_with_the_window_named_and_nothing_changes() {
    let app = spawn_sample_tree().await;
    let bad = [
        (
            json!([
                {"days": ["mon"], "start": "06:00", "end": "10:00", "action": "run"},
                {"days": ["mon"], "start": "09:00", "end": "11:00", "action": "run"}
            ]),
            "window 2",
        ),
        (
            json!([{"days": ["mon"], "start": "06:00", "end": "06:00", "action": "run"}]),
            "needs a length",
        ),
        (
            json!([{"days": ["mon"], "start": "06:00", "end": "07:00", "action": "setpoint", "setpoint": 140}]),
            "outside 0–100",
        ),
        (
            json!([{"days": ["mon"], "start": "06:00", "end": "07:00", "action": "dance"}]),
            "not an action",
        ),
        (
            json!([{"days": ["someday"], "start": "06:00", "end": "07:00", "action": "run"}]),
            "not a day",
        ),
        (
            json!([{"days": ["mon"], "start": "25:00", "end": "07:00", "action": "run"}]),
            "25:00",
        ),
    ];
    for (windows, says) in bad {
        let (status, body) = save(&app, windows.clone(), None).await;
        assert_eq!(status, 422, "{windows} → {body}");
        assert_eq!(body["code"], "validation_failed", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{windows}: {body}"
        );
    }
    // Not even windows: a clear 4xx too.
    let (status, body) = save_as(&app, &app.admin, json!({"id": PLATTE, "windows": "daily"})).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body["message"].is_string(), "{body}");
    // Unknown devices are not found.
    let (status, _) = save_as(
        &app,
        &app.admin,
        json!({"id": "SF-9-99999", "windows": weekday_mornings()}),
    )
    .await;
    assert_eq!(status, 404);
    // A zone named with the windows is checked, never ignored.
    for (zone, says) in [
        ("Mars/Olympus_Mons", "unknown timezone"),
        ("Europe/Paris", "America/Denver"),
    ] {
        let body = json!({"id": PLATTE, "windows": weekday_mornings(), "timezone": zone});
        let (status, answer) = save_as(&app, &app.admin, body).await;
        assert_eq!(status, 422, "{zone}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }

    assert_eq!(schedule(&app).await["version"], 0, "nothing was saved");
    assert!(!kinds(&app).await.contains(&"schedule_changed".to_string()));
}

#[tokio::test]
async fn a_device_reporting_a_version_nobody_set_is_drifted_and_told_the_desired_one() {
    let app = spawn_sample_tree().await;
    assert_eq!(save(&app, weekday_mornings(), None).await.0, 200);
    let answer = post_reporting(&app, 0, 7).await;
    assert_eq!(answer["schedule"]["version"], 1, "{answer}");
    let drifted = schedule(&app).await;
    assert_eq!(
        drifted["sync"],
        json!({"state": "drifted", "reported": 7}),
        "{drifted}"
    );
    let events = device_events(&app.db, &DeviceId::parse(PLATTE).unwrap(), 20)
        .await
        .unwrap();
    let drift = events
        .iter()
        .find(|e| e.kind == "schedule_drifted")
        .expect("a drift event");
    assert_eq!(drift.severity, "warning");
    assert!(drift.message.contains("version 7"), "{drift:?}");
}

#[tokio::test]
async fn a_device_running_the_desired_version_with_another_hash_is_drifted_until_it_fetches_it() {
    let app = spawn_sample_tree().await;
    assert_eq!(save(&app, weekday_mornings(), None).await.0, 200);
    let id = DeviceId::parse(PLATTE).unwrap();
    let url = format!("/ingest/v1/devices/{PLATTE}/schedule");
    let (status, fetched) = fetch(&app, &url, &device_token(&id)).await;
    assert_eq!(status, 200, "{fetched}");
    // The documented recipe: SHA-256 of the windows as the answer spells them, 16 hex digits.
    let digest = sha2::Sha256::digest(fetched["windows"].to_string().as_bytes());
    let expected: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(fetched["hash"], json!(expected), "{fetched}");
    let hash = expected.as_str();

    // Version 1 with its hash (in either case): in sync, nothing to fetch.
    let answer = post_reporting_hash(&app, 3, 1, Some(&hash.to_uppercase())).await;
    assert!(answer.get("schedule").is_none(), "{answer}");
    assert_eq!(schedule(&app).await["sync"]["state"], "in_sync");

    // Version 1 with windows changed on the device: drifted, told to fetch version 1 again.
    let answer = post_reporting_hash(&app, 2, 1, Some("00000000deadbeef")).await;
    assert_eq!(answer["schedule"]["version"], 1, "{answer}");
    let drifted = schedule(&app).await;
    assert_eq!(
        drifted["sync"],
        json!({"state": "drifted", "reported": 1, "hash": "00000000deadbeef"}),
        "{drifted}"
    );
    let events = device_events(&app.db, &id, 20).await.unwrap();
    let drift = events
        .iter()
        .find(|e| e.kind == "schedule_drifted")
        .expect("a drift event");
    assert!(drift.message.contains("00000000deadbeef"), "{drift:?}");
    // Still drifted (and told) at the next post; no second event for the same report.
    let answer = post_reporting_hash(&app, 1, 1, Some("00000000deadbeef")).await;
    assert_eq!(answer["schedule"]["version"], 1, "{answer}");
    let drifts = |events: &[sunfleet_app::telemetry::store::EventRecord]| {
        events
            .iter()
            .filter(|e| e.kind == "schedule_drifted")
            .count()
    };
    assert_eq!(drifts(&device_events(&app.db, &id, 20).await.unwrap()), 1);

    // Fetched again and running it: in sync, with an event saying so.
    let answer = post_reporting_hash(&app, 0, 1, Some(hash)).await;
    assert!(answer.get("schedule").is_none(), "{answer}");
    assert_eq!(schedule(&app).await["sync"]["state"], "in_sync");
    let events = device_events(&app.db, &id, 20).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "schedule_synced")
            .count(),
        2,
        "synced, drifted, synced again: {events:?}"
    );

    // A hash that is not hex is refused with its reason; the reading is not stored.
    let (status, refused) = app
        .post_direct(
            PLATTE,
            Some(&device_token(&id)),
            &json!({
                "time": minute(-1).to_rfc3339(), "solar_w": 900.0, "grid_w": 0.0,
                "load_w": 850.0, "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 360.0,
                "temperature_c": 28.0, "schedule_version": 1, "schedule_hash": "not-a-hash"
            }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("schedule_hash"), "{refused}");
}

#[tokio::test]
async fn only_the_devices_own_token_fetches_its_schedule() {
    let app = spawn_sample_tree().await;
    assert_eq!(save(&app, weekday_mornings(), None).await.0, 200);
    let own = format!("/ingest/v1/devices/{PLATTE}/schedule");
    let other = device_token(&DeviceId::parse("SF-1-00003").unwrap());
    let (wrong, wrong_body) = fetch(&app, &own, "not-the-token").await;
    let (others, _) = fetch(&app, &own, &other).await;
    let (unknown, unknown_body) = fetch(
        &app,
        "/ingest/v1/devices/SF-9-99999/schedule",
        "not-the-token",
    )
    .await;
    assert_eq!((wrong, others, unknown), (401, 401, 401));
    assert_eq!(
        wrong_body, unknown_body,
        "an unknown device looks like a wrong token"
    );
    assert!(wrong_body["code"].is_string(), "{wrong_body}");
}

#[tokio::test]
async fn a_particle_device_hears_of_its_schedule_in_the_webhook_answer() {
    let app = spawn_sample_tree().await;
    let secret = "particle-schedule-secret-0123456789";
    app.add_integration("particle", secret).await;
    assert_eq!(save(&app, weekday_mornings(), None).await.0, 200);
    let data = json!({
        "time": minute(0).to_rfc3339(), "solar_w": 500.0, "grid_w": 0.0, "load_w": 450.0,
        "motor_rpm": 0, "motor_on": false, "dc_bus_v": 340.0, "temperature_c": 20.0,
        "fault_code": 0, "schedule_version": 0
    });
    let body = json!({
        "event": "status", "data": data.to_string(), "coreid": PLATTE,
        "published_at": minute(0).to_rfc3339()
    });
    let (status, answer) = app
        .post_particle(
            Some(secret),
            "application/json",
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["schedule"]["version"], 1, "{answer}");
    assert!(answer.to_string().len() <= 512, "{answer}");
}

async fn preview_as(app: &TestApp, who: &Who, form: &[(&str, &str)]) -> (u16, Value) {
    app.post_fn_as(who, "/api/schedule_copy_preview", form)
        .await
}

async fn version_of(app: &TestApp, id: &str) -> u64 {
    let (status, body) = app.post_fn("/api/schedule", &[("id", id)]).await;
    assert_eq!(status, 200, "{body}");
    body["version"].as_u64().unwrap()
}

#[tokio::test]
async fn a_schedule_is_copied_to_an_orgs_devices_after_a_preview_of_what_changes() {
    let app = spawn_sample_tree().await;
    let (status, body) = save(&app, weekday_mornings(), None).await;
    assert_eq!(status, 200, "{body}");
    let dealer = app
        .add_user(
            sunfleet_app::accounts::model::Persona::Dealer,
            "d@rocky.example",
            "rocky",
        )
        .await;
    // The dealer's subtree: Platte (the source, left out) and Laramie.
    let (status, preview) =
        preview_as(&app, &dealer, &[("id", PLATTE), ("filter", "org=rocky")]).await;
    assert_eq!(status, 200, "{preview}");
    let laramie = "SF-1-00003";
    let targets: Vec<&str> = preview["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(targets, [laramie]);
    assert_eq!(preview["changes"], 1);
    assert_eq!(preview["targets"][0]["before"], "no windows");
    assert!(preview["windows"].as_str().unwrap().contains("06:00–10:00"));
    // A copy for a different count than previewed is refused: nothing changes.
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/schedule_copy",
            &[("id", PLATTE), ("filter", "org=rocky"), ("expect", "2")],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(version_of(&app, laramie).await, 0);
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/schedule_copy",
            &[("id", PLATTE), ("filter", "org=rocky"), ("expect", "1")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, 1);
    assert_eq!(version_of(&app, laramie).await, 1);
    let copied = app.post_fn("/api/schedule", &[("id", laramie)]).await.1;
    let source = schedule(&app).await;
    assert_eq!(copied["windows"], source["windows"]);
    let events = device_events(&app.db, &DeviceId::parse(laramie).unwrap(), 10)
        .await
        .unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "schedule_changed" && e.message.contains("copied from SF-1-00002")));
    // Again: already the same, nothing to change.
    let (_, again) = preview_as(&app, &dealer, &[("id", PLATTE), ("ids", laramie)]).await;
    assert_eq!(again["changes"], 0);
    assert_eq!(again["targets"][0]["unchanged"], true);
}

#[tokio::test]
async fn a_copy_reaches_only_the_callers_scope_and_needs_a_choice() {
    let app = spawn_sample_tree().await;
    save(&app, weekday_mornings(), None).await;
    let customer = app
        .add_user(
            sunfleet_app::accounts::model::Persona::Customer,
            "c@platte.example",
            "platte",
        )
        .await;
    // Laramie belongs to another customer: listed, it is a 404; by filter, never matched.
    let (status, _) = preview_as(&app, &customer, &[("id", PLATTE), ("ids", "SF-1-00003")]).await;
    assert_eq!(status, 404);
    let (status, body) = preview_as(&app, &customer, &[("id", PLATTE), ("filter", "q=well")]).await;
    assert_eq!(status, 422, "only the source matches: {body}");
    for (form, code) in [
        (vec![("id", PLATTE)], 422),
        (vec![("id", PLATTE), ("filter", "status=sideways")], 422),
        (vec![("id", "SF-1-00003"), ("filter", "q=well")], 422),
        (vec![("id", "SF-9-NOPE"), ("filter", "q=well")], 404),
    ] {
        let (status, body) = preview_as(&app, &app.admin, &form).await;
        assert_eq!(status, code, "{form:?}: {body}");
    }
}

#[tokio::test]
async fn a_device_running_one_version_for_300_days_is_told_to_fetch_it_again() {
    use chrono::{Duration, Utc};
    use sunfleet_app::control::schedule::Schedule;
    use sunfleet_app::control::store::insert_first;
    let app = spawn_sample_tree().await;
    let platte = DeviceId::parse(PLATTE).unwrap();
    let laramie = DeviceId::parse("SF-1-00003").unwrap();
    // Both run version 1; Platte's was set (and so last fetched) 301 days ago.
    let now = Utc::now();
    for (device, set) in [(&platte, 301), (&laramie, 299)] {
        insert_first(
            &app.db,
            vec![(device.clone(), Schedule::default())],
            "test",
            now - Duration::days(set),
        )
        .await
        .unwrap();
    }
    let answer = post_reporting(&app, 3, 1).await;
    assert_eq!(answer["schedule"]["version"], 1, "{answer}");
    let (status, laramie_answer) = app
        .post_direct(
            laramie.as_str(),
            Some(&device_token(&laramie)),
            &json!({
                "time": minute(3).to_rfc3339(), "solar_w": 900.0, "grid_w": 0.0,
                "load_w": 850.0, "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 360.0,
                "temperature_c": 28.0, "fault_code": 0, "schedule_version": 1
            }),
        )
        .await;
    assert_eq!(status, 200, "{laramie_answer}");
    assert!(laramie_answer.get("schedule").is_none(), "{laramie_answer}");

    let path = format!("/ingest/v1/devices/{PLATTE}/schedule");
    let (status, fetched) = fetch(&app, &path, &device_token(&platte)).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["version"], 1);
    let until =
        chrono::DateTime::parse_from_rfc3339(fetched["offsets_until"].as_str().unwrap()).unwrap();
    assert!(until > now + Duration::days(364), "{fetched}");
    // Fetched: good for another 300 days, and nothing changed in the history.
    let answer = post_reporting(&app, 2, 1).await;
    assert!(answer.get("schedule").is_none(), "{answer}");
    assert!(kinds(&app)
        .await
        .iter()
        .all(|k| !k.starts_with("schedule_")));
    // What the cache knows, the database knows: a restart (another node) agrees.
    let app = app.reopen().await;
    let answer = post_reporting(&app, 1, 1).await;
    assert!(answer.get("schedule").is_none(), "{answer}");
}
