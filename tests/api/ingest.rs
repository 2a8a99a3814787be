//! The ingest endpoints against the real router and SurrealKV: Particle webhook, direct
//! path, exactly-once storage, rollups, offline detection, events, bad input.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::telemetry::store::{
    count_readings, dead_letters, device_events, reading, rollups, RollupRecord, RollupTable,
};
use sunfleet_tests::{device_token, minute, spawn_app, DeviceSpec, TestApp};

const SECRET: &str = "particle-test-secret-0123456789";
const DEVICE: &str = "e00fce68aaaaaaaaaaaaaaaa";

async fn app_with_device() -> (TestApp, DeviceId) {
    let app = spawn_app().await;
    app.add_integration("particle", SECRET).await;
    let id = app.add_valley_device(DEVICE).await;
    (app, id)
}

/// A device whose last reading came 5 minutes before the returned instant.
async fn app_with_device_heard_5_minutes_ago() -> (TestApp, DeviceId, DateTime<Utc>) {
    let app = spawn_app().await;
    app.add_customers(&["valley-farms"]).await;
    let now = Utc::now();
    let id = app
        .add_device(
            DeviceSpec {
                id: DEVICE,
                name: "Valley Well 1",
                owner: "valley-farms",
                model: "SPC-5",
                last: Some((Duration::minutes(5), 100.0, 0.0, None)),
            },
            now,
        )
        .await;
    (app, id, now)
}

fn status(at: DateTime<Utc>, solar_w: f64) -> Value {
    json!({
        "time": at.to_rfc3339(), "solar_w": solar_w, "grid_w": 10.0, "load_w": solar_w + 10.0,
        "motor_rpm": 3400, "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 30.0,
        "fault_code": 0, "schedule_version": 0
    })
}

/// A Particle webhook body the way Particle's default template sends it: `data` a string.
fn particle_event(coreid: &str, data: &Value) -> Vec<u8> {
    json!({
        "event": "status", "data": data.to_string(), "coreid": coreid,
        "published_at": Utc::now().to_rfc3339(), "ttl": 60, "public": false,
        "userid": "5f0c0ffee", "fw_version": 17, "productID": 12345
    })
    .to_string()
    .into_bytes()
}

async fn readings(app: &TestApp, id: &DeviceId) -> u64 {
    count_readings(&app.db, id, minute(60 * 24 * 60), minute(-10))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_particle_webhook_reading_is_stored_and_shows_on_the_fleet_page() {
    let (app, id) = app_with_device().await;

    let (status, body) = app
        .post_particle(
            Some(SECRET),
            "application/json",
            particle_event(DEVICE, &status(minute(1), 1234.5)),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["duplicates"], 0);
    assert_eq!(readings(&app, &id).await, 1);
    let (_, fleet) = app.fleet("").await;
    let row = &fleet["rows"][0];
    assert_eq!(row["connectivity"], "online");
    assert_eq!(row["solar_w"], 1234.5);
    let events = device_events(&app.db, &id, 10).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "online"), "{events:?}");
}

#[tokio::test]
async fn a_form_encoded_webhook_is_accepted_and_unknown_fields_are_ignored() {
    let (app, id) = app_with_device().await;
    let data = status(minute(2), 800.0).to_string();
    let body = serde_urlencoded::to_string([
        ("event", "status"),
        ("data", data.as_str()),
        ("coreid", DEVICE),
        ("published_at", "2026-01-01T00:00:00Z"),
        ("fw_version", "17"),
        ("unexpected", "whatever"),
    ])
    .unwrap();

    let (status, body) = app
        .post_particle(
            Some(SECRET),
            "application/x-www-form-urlencoded",
            body.into_bytes(),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(readings(&app, &id).await, 1);
}

#[tokio::test]
async fn a_repeated_delivery_is_acknowledged_and_stored_once() {
    let (app, id) = app_with_device().await;
    let event = particle_event(DEVICE, &status(minute(3), 500.0));

    let (first, _) = app
        .post_particle(Some(SECRET), "application/json", event.clone())
        .await;
    let (second, body) = app
        .post_particle(Some(SECRET), "application/json", event)
        .await;

    assert_eq!((first, second), (200, 200));
    assert_eq!(body["duplicates"], 1);
    assert_eq!(readings(&app, &id).await, 1);
    let hours = rollups(&app.db, RollupTable::Hour, &id, minute(120), minute(-60))
        .await
        .unwrap();
    assert_eq!(
        hours.iter().map(|h| h.count).sum::<i64>(),
        1,
        "counted once"
    );
}

#[tokio::test]
async fn a_particle_answer_with_many_rejections_still_fits_one_hook_response_chunk() {
    let (app, id) = app_with_device().await;
    let mut batch: Vec<Value> = (0..40).map(|m| status(minute(50 - m), -1.0)).collect();
    batch[17] = status(minute(5), 250.0);
    let body = json!({"event": "status", "data": batch, "coreid": DEVICE}).to_string();
    let (s, answer) = app
        .post_particle(Some(SECRET), "application/json", body.into_bytes())
        .await;
    assert_eq!(s, 200, "{answer}");
    assert!(answer.to_string().len() <= 512, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let listed = answer["rejected"].as_array().unwrap();
    assert_eq!(listed[0], json!({"index": 0, "code": "value_out_of_range"}));
    assert_eq!(
        listed.len() as u64 + answer["not_listed"].as_u64().unwrap(),
        39
    );
    assert_eq!(readings(&app, &id).await, 1);
    // The direct path answers in full: every rejection with its message.
    let (_, direct) = app
        .post_direct(DEVICE, Some(&device_token(&id)), &Value::Array(batch))
        .await;
    assert_eq!(direct["rejected"].as_array().unwrap().len(), 39);
    assert!(direct["rejected"][0]["message"].is_string());
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_refused_without_saying_whether_the_device_exists() {
    let (app, _) = app_with_device().await;
    for secret in [None, Some("wrong-secret-wrong-secret")] {
        for coreid in [DEVICE, "e00fce68bbbbbbbbbbbbbbbb"] {
            let (status, body) = app
                .post_particle(
                    secret,
                    "application/json",
                    particle_event(coreid, &status(minute(1), 1.0)),
                )
                .await;
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["code"], "unauthorized");
        }
    }
}

#[tokio::test]
async fn a_revoked_integration_stops_working() {
    let (app, _) = app_with_device().await;
    sunfleet::ingest::integrations::revoke(&app.db, "particle")
        .await
        .unwrap();
    // A fresh server: the previous one may have cached the secret for a few seconds.
    let app2 = TestApp::reopen(app).await;
    let (status, _) = app2
        .post_particle(
            Some(SECRET),
            "application/json",
            particle_event(DEVICE, &status(minute(1), 1.0)),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_second_integration_posts_object_data_and_a_bad_reading_loses_none_of_the_good() {
    let (app, id) = app_with_device().await;
    let second = "particle-eu-secret-9876543210abcdef";
    app.add_integration("particle-eu", second).await;
    // A custom template: `data` a JSON object, not a string.
    let object = json!({"event": "status", "coreid": DEVICE, "data": status(minute(9), 700.0),
                        "published_at": Utc::now().to_rfc3339()});
    let (code, body) = app
        .post_particle(
            Some(second),
            "application/json",
            object.to_string().into_bytes(),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["accepted"], 1);

    // A device catching up through the first integration, one of its readings impossible.
    let mut backlog: Vec<Value> = (0..3).map(|m| status(minute(8 - m), 100.0)).collect();
    backlog[1]["grid_w"] = json!(-5.0);
    let (code, body) = app
        .post_particle(
            Some(SECRET),
            "application/json",
            particle_event(DEVICE, &Value::Array(backlog)),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["rejected"][0]["index"], 1, "{body}");
    assert_eq!(
        readings(&app, &id).await,
        3,
        "one from each request's good readings"
    );
    let letters = dead_letters(&app.db, 10).await.unwrap();
    assert_eq!(letters.len(), 1, "the request with the bad reading is kept");
    assert_eq!(letters[0].code, "readings_rejected");
}

#[tokio::test]
async fn a_device_with_a_longer_offline_timeout_stays_online_longer() {
    let (app, id, now) = app_with_device_heard_5_minutes_ago().await;
    app.db
        .query("UPDATE $d SET offline_timeout_s = 3600 RETURN NONE")
        .bind(("d", sunfleet_app::devices::store::device_record(&id)))
        .await
        .unwrap()
        .check()
        .unwrap();
    let nothing_in_memory = std::collections::HashMap::new();
    let sweep = |at| sunfleet_app::telemetry::write::sweep_offline(&app.db, at, &nothing_in_memory);
    assert!(
        sweep(now + Duration::minutes(20)).await.unwrap().is_empty(),
        "25 minutes of silence is within its hour"
    );
    assert_eq!(
        sweep(now + Duration::minutes(60)).await.unwrap(),
        std::slice::from_ref(&id),
        "65 minutes is not"
    );
}

#[tokio::test]
async fn a_whole_fleet_gone_silent_is_marked_offline_in_one_sweep() {
    // A cellular outage, or the server back after a long stop: 5,000 devices last heard an
    // hour ago. One transaction for all of them (85,000 keys) failed at every sweep.
    let app = spawn_app().await;
    let now = Utc::now();
    sunfleet::demo::seed_with(&app.db, now, 5000, 0, 0)
        .await
        .unwrap();
    app.db
        .query(
            "FOR $d IN (SELECT VALUE record::id(id) FROM device) {
                 CREATE type::record('device_status', $d) SET last_seen = $at, online = true,
                     solar_w = 0.0, grid_w = 0.0, load_w = 0.0, motor_rpm = 0,
                     motor_on = false, dc_bus_v = 0.0, temperature_c = 20.0 RETURN NONE;
             }",
        )
        .bind((
            "at",
            surrealdb::types::Datetime::from(now - Duration::hours(1)),
        ))
        .await
        .unwrap()
        .check()
        .unwrap();
    let nothing_in_memory = std::collections::HashMap::new();

    let silent = sunfleet_app::telemetry::write::sweep_offline(&app.db, now, &nothing_in_memory)
        .await
        .unwrap();

    assert_eq!(silent.len(), 5000);
    let mut counts = app
        .db
        .query("SELECT VALUE count() FROM device_status WHERE online = true GROUP ALL")
        .query("SELECT VALUE count() FROM event WHERE kind = 'offline' GROUP ALL")
        .await
        .unwrap();
    let online: Option<i64> = counts.take(0).unwrap();
    let events: Option<i64> = counts.take(1).unwrap();
    assert_eq!(online.unwrap_or(0), 0, "every device is offline");
    assert_eq!(events, Some(5000), "one offline event per device");
}

#[tokio::test]
async fn an_unknown_device_is_404_and_its_delivery_is_kept_as_a_dead_letter() {
    let (app, _) = app_with_device().await;
    let event = particle_event("e00fce68cccccccccccccccc", &status(minute(1), 1.0));

    let (status, body) = app
        .post_particle(Some(SECRET), "application/json", event.clone())
        .await;

    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "device_not_found");
    let letters = dead_letters(&app.db, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].code, "device_not_found");
    assert_eq!(letters[0].body.as_bytes(), event.as_slice());
}

/// A bad request case: (what, content type, body, expected status, expected code).
type BadBody = (&'static str, &'static str, Vec<u8>, u16, &'static str);

/// The refusal of case `what` has the expected status and code, and a message.
fn refused_as(what: &str, status: u16, answer: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{what}: {answer}");
    assert_eq!(answer["code"], code, "{what}: {answer}");
    assert!(
        answer["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}"
    );
}

#[tokio::test]
async fn bad_webhook_bodies_get_a_clear_4xx_each() {
    let (app, id) = app_with_device().await;
    let future = status(Utc::now() + Duration::hours(2), 1.0);
    let negative = status(minute(1), -5.0);
    let cases: Vec<BadBody> = vec![
        (
            "malformed JSON",
            "application/json",
            b"{\"coreid\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "wrong content type",
            "text/plain",
            b"hello".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "empty body",
            "application/json",
            Vec::new(),
            400,
            "empty_body",
        ),
        (
            "huge body",
            "application/json",
            vec![b' '; 300 * 1024],
            413,
            "payload_too_large",
        ),
        (
            "data not JSON",
            "application/json",
            json!({"coreid": DEVICE, "data": "solar=5"})
                .to_string()
                .into_bytes(),
            400,
            "invalid_data",
        ),
        (
            "missing coreid",
            "application/json",
            json!({"data": status(minute(1), 1.0).to_string()})
                .to_string()
                .into_bytes(),
            400,
            "missing_coreid",
        ),
        (
            "impossible values",
            "application/json",
            particle_event(DEVICE, &negative),
            422,
            "readings_rejected",
        ),
        (
            "far future",
            "application/json",
            particle_event(DEVICE, &future),
            422,
            "readings_rejected",
        ),
    ];
    for (what, content_type, body, expected, code) in cases {
        let (status, answer) = app.post_particle(Some(SECRET), content_type, body).await;
        refused_as(what, status, &answer, expected, code);
    }
    assert_eq!(readings(&app, &id).await, 0, "nothing stored");
    let (_, server_ok) = app.get("/healthz").await;
    assert_eq!(server_ok, "ok");
}

#[tokio::test]
async fn a_direct_backlog_stores_the_good_readings_and_names_the_bad_ones() {
    let (app, id) = app_with_device().await;
    let token = device_token(&id);
    let mut batch: Vec<Value> = (0..10)
        .map(|m| status(minute(20 - m), 100.0 * m as f64))
        .collect();
    batch[3]["solar_w"] = json!(-1);
    batch[7]["time"] = json!("2014-06-01T00:00:00Z");

    let (status, body) = app
        .post_direct(DEVICE, Some(&token), &Value::Array(batch))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 8);
    let rejected = body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 3);
    assert_eq!(rejected[0]["code"], "value_out_of_range");
    assert_eq!(rejected[1]["index"], 7);
    assert_eq!(rejected[1]["code"], "time_too_old");
    assert_eq!(readings(&app, &id).await, 8);
    assert_eq!(
        dead_letters(&app.db, 10).await.unwrap().len(),
        1,
        "the request is kept"
    );
}

#[tokio::test]
async fn bad_direct_bodies_get_a_clear_4xx_each_and_store_nothing() {
    let (app, id) = app_with_device().await;
    let token = device_token(&id);
    let cases: Vec<BadBody> = vec![
        (
            "malformed JSON",
            "application/json",
            b"[{\"time\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "wrong content type",
            "application/x-www-form-urlencoded",
            b"solar_w=5".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "empty body",
            "application/json",
            b"  \n".to_vec(),
            400,
            "empty_body",
        ),
        (
            "huge body",
            "application/json",
            vec![b' '; 300 * 1024],
            413,
            "payload_too_large",
        ),
        (
            "empty batch",
            "application/json",
            b"[]".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "not a status",
            "application/json",
            b"42".to_vec(),
            422,
            "readings_rejected",
        ),
    ];
    for (what, content_type, body, expected, code) in cases {
        let (status, answer) = app
            .post_direct_raw(DEVICE, Some(&token), content_type, body)
            .await;
        refused_as(what, status, &answer, expected, code);
    }
    assert_eq!(readings(&app, &id).await, 0, "nothing stored");
    // The device can still post: no bad body left anything behind.
    let (status, answer) = app
        .post_direct(DEVICE, Some(&token), &status(minute(1), 5.0))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(readings(&app, &id).await, 1);
}

#[tokio::test]
async fn unknown_status_fields_are_kept_in_extra_through_both_paths() {
    let (app, id) = app_with_device().await;
    let mut from_particle = status(minute(3), 10.0);
    from_particle["pump_pressure_bar"] = json!(3.25);
    from_particle["sensors"] = json!({"flow_lpm": 41, "level": "ok"});
    let (s, b) = app
        .post_particle(
            Some(SECRET),
            "application/json",
            particle_event(DEVICE, &from_particle),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let mut from_device = status(minute(2), 20.0);
    from_device["fw_build"] = json!("2026.11-rc2");
    let (s, b) = app
        .post_direct(DEVICE, Some(&device_token(&id)), &from_device)
        .await;
    assert_eq!(s, 200, "{b}");
    let plain = status(minute(1), 30.0);
    let (s, b) = app
        .post_direct(DEVICE, Some(&device_token(&id)), &plain)
        .await;
    assert_eq!(s, 200, "{b}");

    let stored = |at| reading(&app.db, &id, at);
    let particle = stored(minute(3)).await.unwrap().expect("particle reading");
    assert_eq!(particle.solar_w, 10.0);
    assert_eq!(particle.extra.len(), 2, "{:?}", particle.extra);
    assert_eq!(particle.extra["pump_pressure_bar"], json!(3.25));
    assert_eq!(
        particle.extra["sensors"],
        json!({"flow_lpm": 41, "level": "ok"})
    );
    let direct = stored(minute(2)).await.unwrap().expect("direct reading");
    assert_eq!(direct.extra.len(), 1, "{:?}", direct.extra);
    assert_eq!(direct.extra["fw_build"], json!("2026.11-rc2"));
    let plain = stored(minute(1)).await.unwrap().expect("plain reading");
    assert!(plain.extra.is_empty(), "{:?}", plain.extra);
}

#[tokio::test]
async fn the_direct_path_needs_the_devices_own_token() {
    let (app, id) = app_with_device().await;
    let body = status(minute(1), 1.0);
    for (device, token) in [
        (DEVICE, None),
        (DEVICE, Some("test-token-wrong".to_string())),
        ("e00fce68dddddddddddddddd", Some(device_token(&id))),
        ("not a device", Some(device_token(&id))),
    ] {
        let (status, answer) = app.post_direct(device, token.as_deref(), &body).await;
        assert_eq!(status, 401, "{device} {token:?}: {answer}");
    }
    let too_many: Vec<Value> = (0..1001).map(|m| status(minute(2000 - m), 1.0)).collect();
    let (status, answer) = app
        .post_direct(DEVICE, Some(&device_token(&id)), &Value::Array(too_many))
        .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(readings(&app, &id).await, 0);
}

#[tokio::test]
async fn late_readings_land_in_order_and_rollups_match_an_in_order_delivery() {
    let (app, id) = app_with_device().await;
    let token = device_token(&id);
    let times: Vec<_> = (0..90).map(|m| minute(100 - m)).collect();
    let power = |i: usize| ((i * 37) % 900) as f64;
    // Every third reading held back and sent afterwards, newest first (Particle retries).
    let (late, first): (Vec<usize>, Vec<usize>) = (0..times.len()).partition(|i| i % 3 == 1);
    for chunk in first.chunks(7) {
        let batch: Vec<Value> = chunk.iter().map(|&i| status(times[i], power(i))).collect();
        let (s, b) = app
            .post_direct(DEVICE, Some(&token), &Value::Array(batch))
            .await;
        assert_eq!(s, 200, "{b}");
    }
    for &i in late.iter().rev() {
        let (s, b) = app
            .post_direct(DEVICE, Some(&token), &status(times[i], power(i)))
            .await;
        assert_eq!(s, 200, "{b}");
    }

    // The same readings in order, on a second device of a fresh app.
    let (reference, ref_id) = app_with_device().await;
    let all: Vec<Value> = (0..times.len())
        .map(|i| status(times[i], power(i)))
        .collect();
    let (s, _) = reference
        .post_direct(DEVICE, Some(&token), &Value::Array(all))
        .await;
    assert_eq!(s, 200);

    let from = minute(200);
    let to = minute(-120);
    for table in [RollupTable::Hour, RollupTable::Day] {
        let got = rollups(&app.db, table, &id, from, to).await.unwrap();
        let want = rollups(&reference.db, table, &ref_id, from, to)
            .await
            .unwrap();
        assert_eq!(got.len(), want.len(), "{table:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.start, w.start);
            assert_eq!(g.count, w.count, "{table:?} {}", g.start);
            assert_eq!(g.rollup().stats[0].max, w.rollup().stats[0].max);
            assert!((g.rollup().stats[0].sum - w.rollup().stats[0].sum).abs() < 1e-6);
            assert!(
                (g.solar_wh - w.solar_wh).abs() < 1e-6,
                "{table:?} {} {} {}",
                g.start,
                g.solar_wh,
                w.solar_wh
            );
            assert!((g.load_wh - w.load_wh).abs() < 1e-6);
        }
    }
    assert_eq!(readings(&app, &id).await, 90);
    // The latest status is the newest reading, not the last to arrive.
    let (_, device) = app.device(DEVICE).await;
    assert_eq!(device["latest"]["solar_w"], power(89));
}

async fn days_around(app: &TestApp, id: &DeviceId, start: DateTime<Utc>) -> Vec<RollupRecord> {
    let (from, to) = (start - Duration::days(1), start + Duration::days(2));
    rollups(&app.db, RollupTable::Day, id, from, to)
        .await
        .unwrap()
}

/// Posts minute readings of 600 W for `hours` hours from `start` (a local midnight) and
/// checks they make one daily rollup of that many hours, named `date`, and as many hourly.
async fn a_local_day_of_600_w(
    app: &TestApp,
    id: &DeviceId,
    start: DateTime<Utc>,
    hours: i64,
    date: &str,
) {
    let all: Vec<Value> = (0..hours * 60)
        .map(|m| status(start + Duration::minutes(m), 600.0))
        .collect();
    app.post_readings(id, &all).await;
    let days = days_around(app, id, start).await;
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0].date, date);
    assert_eq!(days[0].hours, hours);
    assert_eq!(days[0].count, hours * 60);
    // 600 W for the whole day less the minute after the last reading.
    let wh = 600.0 * (hours as f64 - 1.0 / 60.0);
    assert!((days[0].solar_wh - wh).abs() < 1e-6, "{days:?}");
    let hourly = rollups(
        &app.db,
        RollupTable::Hour,
        id,
        start,
        start + Duration::days(2),
    )
    .await
    .unwrap();
    assert_eq!(hourly.len() as i64, hours);
}

#[tokio::test]
async fn a_dst_autumn_day_is_one_25_hour_daily_rollup() {
    let (app, id) = app_with_device().await;
    // 2026-11-01 in America/Denver: 00:00 MDT (06:00 UTC) to 00:00 MST (07:00 UTC next day).
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap();
    a_local_day_of_600_w(&app, &id, start, 25, "2026-11-01").await;
}

#[tokio::test]
async fn a_dst_spring_day_is_one_23_hour_daily_rollup() {
    let (app, id) = app_with_device().await;
    // 2026-03-08 in America/Denver: 00:00 MST (07:00 UTC) to 00:00 MDT (06:00 UTC next day).
    let start = Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap();
    a_local_day_of_600_w(&app, &id, start, 23, "2026-03-08").await;
    // The next reading, 00:00 MDT, opens the next local day...
    app.post_readings(&id, &[status(start + Duration::hours(23), 600.0)])
        .await;
    let days = days_around(&app, &id, start).await;
    assert_eq!(days.len(), 2, "{days:?}");
    assert_eq!(days[1].date, "2026-03-09");
    assert_eq!(days[0].count, 23 * 60);
    // ...and bridges the last minute of this one: the whole 23 hours at 600 W.
    assert!((days[0].solar_wh - 600.0 * 23.0).abs() < 1e-6, "{days:?}");
}

#[tokio::test]
async fn a_silent_device_goes_offline_and_comes_back_with_events() {
    let (app, id, now) = app_with_device_heard_5_minutes_ago().await;
    let nothing_in_memory = std::collections::HashMap::new();
    let sweep = |at| sunfleet_app::telemetry::write::sweep_offline(&app.db, at, &nothing_in_memory);
    assert!(
        sweep(now).await.unwrap().is_empty(),
        "5 minutes of silence is not offline yet"
    );
    let later = now + Duration::minutes(20);
    assert_eq!(sweep(later).await.unwrap(), std::slice::from_ref(&id));
    assert!(sweep(later).await.unwrap().is_empty(), "once");
    let (_, fleet) = app.fleet("").await;
    assert_eq!(fleet["rows"][0]["connectivity"], "offline");

    let (s, _) = app
        .post_direct(DEVICE, Some(&device_token(&id)), &status(minute(0), 50.0))
        .await;
    assert_eq!(s, 200);
    let (_, fleet) = app.fleet("").await;
    assert_eq!(fleet["rows"][0]["connectivity"], "online");
    let kinds: Vec<String> = device_events(&app.db, &id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let mut kinds = kinds;
    kinds.sort();
    assert_eq!(kinds, ["offline", "online"], "one of each");
}

#[tokio::test]
async fn faults_raised_and_cleared_are_events() {
    let (app, id) = app_with_device().await;
    let mut batch: Vec<Value> = (0..6).map(|m| status(minute(10 - m), 100.0)).collect();
    batch[2]["fault_code"] = json!(5);
    batch[3]["fault_code"] = json!(5);
    let (s, _) = app
        .post_direct(DEVICE, Some(&device_token(&id)), &Value::Array(batch))
        .await;
    assert_eq!(s, 200);
    let events = device_events(&app.db, &id, 10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    // Newest first: faults at their readings' times, "online" at the time of receipt.
    assert_eq!(kinds, ["online", "fault_cleared", "fault"], "{events:?}");
    assert!(
        events[2].message.contains("Dry run"),
        "{}",
        events[2].message
    );
    assert_eq!(events[2].severity, "critical");
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let (app, id) = app_with_device().await;
    let app = TestApp::reopen_with_queue(app, 4).await;
    let batch: Vec<Value> = (0..5).map(|m| status(minute(10 - m), 1.0)).collect();
    let response = app
        .client
        .post(app.url(&format!("/ingest/v1/devices/{DEVICE}/status")))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", device_token(&id)))
        .body(Value::Array(batch).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "unavailable");
    assert_eq!(readings(&app, &id).await, 0);
}

#[tokio::test]
async fn under_load_a_full_queue_sheds_requests_and_retries_store_every_reading_once() {
    let (app, id) = app_with_device().await;
    // Room for two requests' readings at a time; 200 requests of 10 arrive at once.
    let app = TestApp::reopen_with_queue(app, 20).await;
    let token = device_token(&id);
    let requests: Vec<Value> = (0..200)
        .map(|r| {
            Value::Array(
                (0..10)
                    .map(|i| status(minute(3000 - r * 10 - i), (r * 10 + i) as f64))
                    .collect(),
            )
        })
        .collect();
    let post = |body: &Value| {
        app.client
            .post(app.url(&format!("/ingest/v1/devices/{DEVICE}/status")))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body.to_string())
            .send()
    };
    let mut waiting: Vec<&Value> = requests.iter().collect();
    let (mut shed, mut rounds) = (0, 0);
    while !waiting.is_empty() {
        rounds += 1;
        assert!(
            rounds <= 200,
            "{} requests never got through",
            waiting.len()
        );
        let mut tasks = tokio::task::JoinSet::new();
        for (n, body) in waiting.iter().enumerate() {
            let sent = post(body);
            tasks.spawn(async move { (n, sent.await) });
        }
        let mut again = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (n, response) = done.unwrap();
            let response = response.unwrap();
            match response.status().as_u16() {
                200 => {
                    let body: Value =
                        serde_json::from_str(&response.text().await.unwrap()).unwrap();
                    assert_eq!(body["accepted"], 10, "{body}");
                }
                503 => {
                    assert_eq!(response.headers()["retry-after"], "1");
                    shed += 1;
                    again.push(waiting[n]);
                }
                other => panic!("answered {other}: {}", response.text().await.unwrap()),
            }
        }
        waiting = again;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(shed > 0, "the queue never filled: the test sent too little");
    // Every reading stored exactly once, whether it got through at once or on a retry.
    assert_eq!(readings(&app, &id).await, 2000);
    let hours = rollups(&app.db, RollupTable::Hour, &id, minute(3100), minute(0))
        .await
        .unwrap();
    assert_eq!(hours.iter().map(|h| h.count).sum::<i64>(), 2000);
}

#[tokio::test]
async fn readings_committed_just_before_a_crash_get_their_rollups_at_the_next_start() {
    use sunfleet_app::telemetry::model::Status;
    use sunfleet_app::telemetry::store::{insert_readings, reading_record, ReadingRecord};
    let (app, id) = app_with_device().await;
    // What a crash between a batch's commit and the flush of its rollups leaves behind:
    // the readings and their journal row, no rollups, no status.
    let batch: Vec<Status> = (0..30)
        .map(|m| Status::parse(&status(minute(40 - m), 300.0), None, Utc::now()).unwrap())
        .collect();
    insert_readings(
        &app.db,
        batch.iter().map(|r| ReadingRecord::new(&id, r)).collect(),
    )
    .await
    .unwrap();
    let keys: Vec<_> = batch.iter().map(|r| reading_record(&id, r.time)).collect();
    app.db
        .query("CREATE ingest_journal:crashed SET keys = $keys, at = time::now()")
        .bind(("keys", keys))
        .await
        .unwrap()
        .check()
        .unwrap();

    let mut pipeline = sunfleet_app::telemetry::write::Pipeline::new(app.db.clone());
    assert_eq!(pipeline.recover().await.unwrap(), 30);
    assert_eq!(
        pipeline.recover().await.unwrap(),
        0,
        "the journal is used up"
    );

    let hours = rollups(&app.db, RollupTable::Hour, &id, minute(120), minute(-60))
        .await
        .unwrap();
    assert_eq!(hours.iter().map(|h| h.count).sum::<i64>(), 30);
    let wh: f64 = hours.iter().map(|h| h.solar_wh).sum();
    assert!((wh - 300.0 * 29.0 / 60.0).abs() < 1e-6, "{wh}");
    let (_, device) = app.device(DEVICE).await;
    assert_eq!(device["latest"]["solar_w"], 300.0);
}

/// A device that posted ten readings at 300 W, flushed, and then twenty at 500 W that a
/// crash left without rollups or status: what a crash between a batch's commit and the
/// flush of its rollups leaves of a device posting in order (newer than its stored
/// status, no journal row).
async fn device_with_readings_a_crash_left() -> (TestApp, DeviceId) {
    use sunfleet_app::telemetry::model::Status;
    use sunfleet_app::telemetry::store::{insert_readings, ReadingRecord};
    let (app, id) = app_with_device().await;
    let first: Vec<Value> = (0..10).map(|m| status(minute(40 - m), 300.0)).collect();
    app.post_readings(&id, &first).await;
    app.ingest.writer.flush().await.unwrap();
    let later: Vec<Status> = (10..30)
        .map(|m| Status::parse(&status(minute(40 - m), 500.0), None, Utc::now()).unwrap())
        .collect();
    insert_readings(
        &app.db,
        later.iter().map(|r| ReadingRecord::new(&id, r)).collect(),
    )
    .await
    .unwrap();
    (app, id)
}

#[tokio::test]
async fn readings_newer_than_the_stored_status_get_their_rollups_when_the_server_starts_again() {
    let (app, id) = device_with_readings_a_crash_left().await;
    let app = app.reopen().await;
    // The writer answers a flush once it has caught up.
    app.ingest.writer.flush().await.unwrap();
    let hours = rollups(&app.db, RollupTable::Hour, &id, minute(120), minute(-60))
        .await
        .unwrap();
    assert_eq!(hours.iter().map(|h| h.count).sum::<i64>(), 30);
    // 9 minutes at 300 W, one of 300 → 500 W, 19 at 500 W.
    let wh: f64 = hours.iter().map(|h| h.solar_wh).sum();
    let expected = (300.0 * 9.0 + 400.0 + 500.0 * 19.0) / 60.0;
    assert!((wh - expected).abs() < 1e-6, "{wh} Wh, expected {expected}");
    let (_, device) = app.device(DEVICE).await;
    assert_eq!(device["latest"]["solar_w"], 500.0);
}

#[tokio::test]
async fn a_fleet_snapshot_loaded_before_the_start_up_catch_up_shows_the_caught_up_readings() {
    use std::sync::Arc;
    use sunfleet::ingest::writer::Writer;
    use sunfleet_app::devices::snapshot::{FleetCache, Snapshot};
    let (app, id) = device_with_readings_a_crash_left().await;
    // A page loads the fleet before the writer has caught up…
    let fleet = Arc::new(FleetCache::for_store(&app.db));
    let solar = |s: &Snapshot| {
        s.device(None, &id, Utc::now())
            .and_then(|d| d.latest)
            .map(|l| l.solar_w)
    };
    assert_eq!(solar(&fleet.get(&app.db).await.unwrap()), Some(300.0));
    // …and a writer starting on this store catches up first, as at a server's start.
    let writer = Writer::spawn_with(app.db.clone(), 100, fleet.clone());
    writer.flush().await.unwrap();
    assert_eq!(solar(&fleet.get(&app.db).await.unwrap()), Some(500.0));
}

#[tokio::test]
async fn the_fleet_simulator_drives_the_demo_fleet_through_both_paths() {
    let app = spawn_app().await;
    sunfleet::demo::seed(&app.db, Utc::now(), 240, 0)
        .await
        .expect("seed devices");
    let online = || async {
        app.fleet_filter("status=online").await.1["matched"]
            .as_u64()
            .unwrap()
    };
    let before = online().await;
    assert_eq!(before, 0, "nobody has reported yet");

    let mut new_readings = 0;
    for via in [
        sunfleet::simulate::Via::Particle,
        sunfleet::simulate::Via::Direct,
    ] {
        let args = sunfleet::simulate::SimulateArgs {
            url: app.url(""),
            devices: 240,
            rate: sunfleet::simulate::Rate::Max,
            via,
            duration: std::time::Duration::from_secs(2),
            connections: 8,
            secret: sunfleet::demo::DEMO_INTEGRATION_SECRET.into(),
            duplicates: 0.05,
            reorder: 0.05,
            quiet: true,
            live_only: false,
        };
        let summary = sunfleet::simulate::run(args).await.expect("simulate");
        assert!(summary.sent > 50, "{summary}");
        assert_eq!(summary.acked, summary.sent, "{summary}");
        assert!(summary.duplicates > 0, "Particle-style repeats: {summary}");
        new_readings += summary.acked - summary.duplicates;
    }
    app.ingest.writer.flush().await.unwrap();
    // Repeats and late readings included, each reading is stored exactly once.
    let mut response = app
        .db
        .query("SELECT VALUE n FROM (SELECT count() AS n FROM telemetry GROUP ALL)")
        .await
        .unwrap();
    let stored: Vec<u64> = response.take(0).unwrap();
    assert_eq!(stored, [new_readings]);
    let after = online().await;
    assert!(after > 50 && after > before, "{before} → {after}");
}
