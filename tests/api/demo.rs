use chrono::{Duration, Utc};
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::telemetry::store::count_readings;
use sunfleet_tests::spawn_app;

#[tokio::test]
async fn the_demo_fleet_is_seeded_once_with_a_day_of_minute_readings() {
    let app = spawn_app().await;

    sunfleet::demo::seed_once(&app.db).await.expect("seed");
    sunfleet::demo::seed_once(&app.db).await.expect("second seed is a no-op");

    let (status, body) = app.fleet("").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], sunfleet::demo::DEVICES as u64);
    let rows = body["rows"].as_array().unwrap();
    let count = |c: &str| rows.iter().filter(|r| r["connectivity"] == c).count();
    assert!(count("online") > rows.len() * 3 / 4, "most devices are online");
    assert!(count("offline") > 0, "some went silent");
    assert!(count("never_seen") > 0, "some never reported");
    assert!(rows.iter().any(|r| r["fault_code"].is_number()), "some are in fault");

    let healthy = rows
        .iter()
        .find(|r| r["connectivity"] == "online" && r["fault_code"].is_null())
        .unwrap();
    let id = DeviceId::parse(healthy["id"].as_str().unwrap()).unwrap();
    let now = Utc::now();
    let readings = count_readings(&app.db, &id, now - Duration::hours(25), now).await.unwrap();
    assert_eq!(readings, 24 * 60, "one reading a minute for 24 h, stored once");
}
