use chrono::{Duration, Utc};
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::telemetry::store::{count_readings, rollups, RollupTable};
use sunfleet_tests::spawn_app;

#[tokio::test]
async fn the_demo_fleet_is_seeded_once_with_a_month_of_history() {
    let app = spawn_app().await;

    sunfleet::demo::seed_once(&app.db).await.expect("seed");
    sunfleet::demo::seed_once(&app.db)
        .await
        .expect("second seed is a no-op");

    let (status, body) = app.fleet("").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], sunfleet::demo::DEVICES as u64);
    let rows = body["rows"].as_array().unwrap();
    let count = |c: &str| rows.iter().filter(|r| r["connectivity"] == c).count();
    assert!(
        count("online") > rows.len() * 3 / 4,
        "most devices are online"
    );
    assert!(count("offline") > 0, "some went silent");
    assert!(count("never_seen") > 0, "some never reported");
    assert!(
        rows.iter().any(|r| r["fault_code"].is_number()),
        "some are in fault"
    );

    // The history tells what the seeded month implies: faults raised and cleared, silences.
    for (query, kind) in [
        ("range=30d&kind=faults&severity=critical", "fault"),
        ("range=30d&kind=faults&severity=info", "fault_cleared"),
        ("range=30d&kind=connectivity&severity=warning", "offline"),
    ] {
        let (status, page) = app.post_fn("/api/history", &[("query", query)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == kind),
            "{query}: {page}"
        );
    }

    let healthy = rows
        .iter()
        .find(|r| r["connectivity"] == "online" && r["fault_code"].is_null())
        .unwrap();
    let id = DeviceId::parse(healthy["id"].as_str().unwrap()).unwrap();
    let now = Utc::now();
    let readings = count_readings(&app.db, &id, now - Duration::days(40), now)
        .await
        .unwrap();
    assert_eq!(
        readings,
        (sunfleet::demo::RAW_DAYS * 24 * 60) as u64,
        "one reading a minute for the raw days, stored once"
    );
    let days = rollups(
        &app.db,
        RollupTable::Day,
        &id,
        now - Duration::days(40),
        now,
    )
    .await
    .unwrap();
    assert!(
        (30..=31).contains(&days.len()),
        "a daily rollup for each of 30 days: {}",
        days.len()
    );
    let full_day = &days[days.len() / 2];
    assert_eq!(full_day.count, full_day.hours * 60, "{full_day:?}");
    assert!(full_day.solar_wh > 0.0, "the sun shone: {full_day:?}");
}

#[tokio::test]
async fn the_live_demo_fills_the_minutes_since_the_last_reading() {
    let app = spawn_app().await;
    sunfleet::demo::seed_once(&app.db).await.expect("seed");
    let (_, before) = app.fleet("").await;
    let online = before["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["connectivity"] == "online" && r["fault_code"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = DeviceId::parse(&online).unwrap();
    // The seed ends at the minute it started, which on a slow machine is a minute or more ago.
    let last = sunfleet_app::devices::store::latest_seen(&app.db)
        .await
        .unwrap()
        .expect("the seed stored statuses");
    let now = last.max(Utc::now());

    let demo = sunfleet::demo::LiveDemo::new();
    let written = demo
        .catch_up(&app.db, &app.ingest.writer, now + Duration::minutes(3))
        .await
        .unwrap();
    let again = demo
        .catch_up(&app.db, &app.ingest.writer, now + Duration::minutes(3))
        .await
        .unwrap();

    let expected = (now + Duration::minutes(3) - last).num_minutes();
    assert!(
        (expected..=expected + 1).contains(&written),
        "every minute after the last reading up to three from now: {written}, expected {expected}"
    );
    assert!(written >= 3, "at least the three minutes ahead: {written}");
    assert_eq!(again, 0, "nothing left to catch up");
    let readings = count_readings(
        &app.db,
        &id,
        now - Duration::days(40),
        now + Duration::minutes(5),
    )
    .await
    .unwrap();
    assert_eq!(
        readings,
        (sunfleet::demo::RAW_DAYS * 24 * 60) as u64 + written as u64
    );
}
