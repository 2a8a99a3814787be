//! The telemetry series server function: raw, hourly and daily points for one device or the
//! fleet, at most 2,000 points, with clear errors for impossible requests.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sunfleet_tests::{minute, spawn_app, TestApp};

const DEVICE: &str = "e00fce68aaaaaaaaaaaaaaaa";

async fn app_with_readings(minutes: i64) -> TestApp {
    let app = spawn_app().await;
    let id = app.add_valley_device(DEVICE).await;
    let readings: Vec<Value> = (0..minutes)
        .map(|m| {
            json!({"time": minute(minutes - m).to_rfc3339(), "solar_w": 600.0, "grid_w": 0.0,
                   "load_w": 600.0, "motor_rpm": 3400, "motor_on": true, "dc_bus_v": 350.0,
                   "temperature_c": 30.0})
        })
        .collect();
    app.post_readings(&id, &readings).await;
    app
}

async fn series(
    app: &TestApp,
    device: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: Option<&str>,
) -> (u16, Value) {
    let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
    let mut form = vec![
        ("device", device),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    if let Some(r) = resolution {
        form.push(("resolution", r));
    }
    app.post_fn("/api/series", &form).await
}

#[tokio::test]
async fn a_short_range_gives_raw_readings_and_a_long_one_hourly_rollups() {
    let app = app_with_readings(180).await;

    let (status, raw) = series(&app, DEVICE, minute(60), minute(0), None).await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(raw["resolution"], "raw");
    assert_eq!(raw["timezone"], "America/Denver");
    assert_eq!(raw["points"].as_array().unwrap().len(), 60);
    // A reading's metrics are plain numbers; raw points carry no energy.
    assert_eq!(raw["points"][0]["metrics"][0], 600.0);
    assert!(raw["points"][0].get("energy_wh").is_none(), "{raw}");

    let (status, hourly) = series(&app, DEVICE, minute(60 * 24 * 7), minute(0), None).await;
    assert_eq!(status, 200, "{hourly}");
    assert_eq!(hourly["resolution"], "hour");
    let points = hourly["points"].as_array().unwrap();
    let count: i64 = points.iter().map(|p| p["count"].as_i64().unwrap()).sum();
    assert_eq!(count, 180);
    let solar_wh: f64 = points
        .iter()
        .map(|p| p["energy_wh"][0].as_f64().unwrap())
        .sum();
    assert!((solar_wh - 600.0 * 179.0 / 60.0).abs() < 1e-6, "{solar_wh}");
}

#[tokio::test]
async fn a_long_raw_range_has_every_reading_once_in_order_even_at_its_middle() {
    // 12 h of readings, asked for raw over exactly those 12 h: the server reads the range as
    // two halves, split at minute 360, where a reading is.
    let app = app_with_readings(720).await;
    let (status, raw) = series(&app, DEVICE, minute(720), minute(0), Some("raw")).await;
    assert_eq!(status, 200, "{raw}");
    let times: Vec<DateTime<Utc>> = raw["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["t"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 720, "{raw}");
    // A minute apart throughout: none lost or repeated where the halves meet.
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::minutes(1), "{pair:?}");
    }
}

#[tokio::test]
async fn a_year_is_daily_and_the_fleet_sums_energy() {
    let app = app_with_readings(120).await;

    let (status, daily) = series(&app, DEVICE, minute(60 * 24 * 365), minute(-60), None).await;
    assert_eq!(status, 200, "{daily}");
    assert_eq!(daily["resolution"], "day");
    let points = daily["points"].as_array().unwrap();
    assert!((1..=2).contains(&points.len()), "{daily}");
    assert!(points.len() <= 2000);

    let (status, fleet) = series(&app, "", minute(60 * 24), minute(-60), None).await;
    assert_eq!(status, 200, "{fleet}");
    assert_eq!(fleet["resolution"], "hour");
    assert!(fleet["device"].is_null());
    let wh: f64 = fleet["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["energy_wh"][0].as_f64().unwrap())
        .sum();
    assert!((wh - 600.0 * 119.0 / 60.0).abs() < 1e-6, "{wh}");
}

#[tokio::test]
async fn impossible_series_requests_are_clear_errors() {
    let app = app_with_readings(5).await;
    let cases = [
        ("to before from", DEVICE, minute(0), minute(60), None, 422),
        (
            "raw over a month",
            DEVICE,
            minute(60 * 24 * 30),
            minute(0),
            Some("raw"),
            422,
        ),
        (
            "raw for the fleet",
            "",
            minute(60),
            minute(0),
            Some("raw"),
            422,
        ),
        (
            "six years",
            DEVICE,
            minute(60 * 24 * 365 * 6),
            minute(0),
            None,
            422,
        ),
        (
            "unknown device",
            "e00fce68bbbbbbbbbbbbbbbb",
            minute(60),
            minute(0),
            None,
            404,
        ),
        (
            "impossible id",
            "no such thing!",
            minute(60),
            minute(0),
            None,
            404,
        ),
        (
            "unknown resolution",
            DEVICE,
            minute(60),
            minute(0),
            Some("weekly"),
            422,
        ),
    ];
    for (what, device, from, to, resolution, expected) in cases {
        let (status, body) = series(&app, device, from, to, resolution).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{what}: {body}"
        );
    }
}

#[tokio::test]
async fn a_device_posting_more_than_once_a_minute_never_gets_more_than_2000_points() {
    let app = spawn_app().await;
    let id = app.add_valley_device(DEVICE).await;
    // Every 10 s for 6 h: 2,160 readings, where the range's length promises 360.
    let start = minute(360);
    let readings: Vec<Value> = (0..2160)
        .map(|i| {
            json!({"time": (start + chrono::Duration::seconds(10 * i)).to_rfc3339(),
                   "solar_w": 600.0, "grid_w": 0.0, "load_w": 600.0, "motor_rpm": 3400,
                   "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 30.0})
        })
        .collect();
    app.post_readings(&id, &readings).await;

    let (status, auto) = series(&app, DEVICE, start, minute(0), None).await;
    assert_eq!(status, 200, "{auto}");
    assert_eq!(
        auto["resolution"], "hour",
        "too many readings: one step coarser"
    );
    let points = auto["points"].as_array().unwrap();
    assert!(points.len() <= 7, "{auto}");
    let count: i64 = points.iter().map(|p| p["count"].as_i64().unwrap()).sum();
    assert_eq!(count, 2160);

    let (status, refused) = series(&app, DEVICE, start, minute(0), Some("raw")).await;
    assert_eq!(
        status, 422,
        "raw was asked for: refused, not cut short: {refused}"
    );
    assert!(refused["message"].as_str().unwrap().contains("2000"));

    // An hour of it fits: every reading.
    let (status, raw) = series(&app, DEVICE, minute(60), minute(0), None).await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(raw["resolution"], "raw");
    assert_eq!(raw["points"].as_array().unwrap().len(), 360);
}

#[tokio::test]
async fn the_fleets_daily_points_are_one_per_local_day_whatever_the_devices_timezones() {
    let app = spawn_app().await;
    let denver = app.add_valley_device(DEVICE).await;
    let kolkata = app.add_valley_device("e00fce68cccccccccccccccc").await;
    // Local midnights 12.5 hours apart, and hours starting at half past in UTC.
    app.db
        .query("UPDATE $d SET timezone = 'Asia/Kolkata' RETURN NONE")
        .bind(("d", sunfleet_app::devices::store::device_record(&kolkata)))
        .await
        .unwrap()
        .check()
        .unwrap();
    app.fleet.invalidate();
    // A reading every 10 minutes for 3 days, from both.
    let start = minute(60 * 24 * 3);
    let readings: Vec<Value> = (0..432)
        .map(|i| {
            json!({"time": (start + chrono::Duration::minutes(10 * i)).to_rfc3339(),
                   "solar_w": 600.0, "grid_w": 0.0, "load_w": 600.0, "motor_rpm": 3400,
                   "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 30.0})
        })
        .collect();
    app.post_readings(&denver, &readings).await;
    app.post_readings(&kolkata, &readings).await;

    let (status, daily) = series(&app, "", minute(60 * 24 * 10), minute(-60), Some("day")).await;
    assert_eq!(status, 200, "{daily}");
    let points = daily["points"].as_array().unwrap();
    let days: Vec<&str> = points.iter().map(|p| p["day"].as_str().unwrap()).collect();
    let mut distinct = days.clone();
    distinct.dedup();
    assert_eq!(days, distinct, "one point per local day: {daily}");
    assert!((3..=5).contains(&days.len()), "{days:?}");
    let count: i64 = points.iter().map(|p| p["count"].as_i64().unwrap()).sum();
    assert_eq!(count, 2 * 432, "every reading of both devices");

    let (status, hourly) = series(&app, "", minute(60 * 24 * 4), minute(-60), Some("hour")).await;
    assert_eq!(status, 200, "{hourly}");
    let points = hourly["points"].as_array().unwrap();
    assert!(
        points.len() <= 24 * 4 + 1,
        "one point per hour: {}",
        points.len()
    );
    let count: i64 = points.iter().map(|p| p["count"].as_i64().unwrap()).sum();
    assert_eq!(count, 2 * 432);
}
