//! Charts against the real router and SurrealKV: the data behind a chart for a device, a
//! fleet or an org, daily energy, saved charts per user, bad configurations.

use serde_json::{json, Value};
use sunfleet_app::accounts::model::Persona;
use sunfleet_tests::{minute, spawn_app, TestApp};

const DEVICE: &str = "e00fce68cccccccccccccccc";

/// A device with `minutes` of readings up to now: solar ramps 0, 10, 20… W.
async fn app_with_readings(minutes: i64) -> TestApp {
    let app = spawn_app().await;
    let id = app.add_valley_device(DEVICE).await;
    let readings: Vec<Value> = (0..minutes)
        .map(|m| {
            json!({"time": minute(minutes - m).to_rfc3339(), "solar_w": 10.0 * m as f64,
                   "grid_w": 5.0, "load_w": 100.0, "motor_rpm": 3000, "motor_on": true,
                   "dc_bus_v": 350.0, "temperature_c": 30.0})
        })
        .collect();
    app.post_readings(&id, &readings).await;
    app.ingest.writer.flush().await.unwrap();
    app
}

async fn chart(app: &TestApp, config: &str) -> (u16, Value) {
    app.post_fn(
        "/api/chart",
        &[("config", config), ("viewer_tz", "Europe/Berlin")],
    )
    .await
}

#[tokio::test]
async fn a_device_chart_has_a_line_per_metric_labelled_in_the_devices_timezone() {
    let app = app_with_readings(120).await;
    let (status, body) = chart(
        &app,
        &format!("device={DEVICE}&m=solar,temperature&range=6h"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["timezone"], "America/Denver");
    assert_eq!(body["resolution"], "raw");
    assert_eq!(body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(body["times"].as_array().unwrap().len(), 120);
    assert_eq!(body["labels"].as_array().unwrap().len(), 120);
    assert_eq!(body["lines"][1]["values"][0], 30.0);
    // Over a week the same readings come hourly; max is above the average.
    let (_, avg) = chart(&app, &format!("device={DEVICE}&m=solar&range=7d")).await;
    let (_, max) = chart(&app, &format!("device={DEVICE}&m=solar&range=7d&agg=max")).await;
    assert_eq!(avg["resolution"], "hour");
    let values = |v: &Value| -> Vec<f64> {
        v["lines"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (avg_values, max_values) = (values(&avg), values(&max));
    assert_eq!(avg_values.len(), max_values.len());
    // Never below; above in an hour of several readings (the current hour may hold one only,
    // just after the hour: compared hour by hour, not by the last one).
    assert!(avg_values.iter().zip(&max_values).all(|(a, m)| m >= a));
    assert!(
        avg_values.iter().zip(&max_values).any(|(a, m)| m > a),
        "{max} vs {avg}"
    );
}

#[tokio::test]
async fn a_fleet_chart_is_power_from_energy_in_the_viewers_timezone() {
    let app = app_with_readings(180).await;
    let (status, body) = chart(&app, "m=solar,grid&range=24h").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["timezone"], "Europe/Berlin");
    assert_eq!(body["resolution"], "hour");
    let grid = values(&body, 1);
    assert!(!grid.is_empty());
    assert!(
        grid.iter().all(|w| *w <= 5.0 + 1e-9),
        "average grid power: {grid:?}"
    );
    // Hourly labels name the zone (CET or CEST), so two 02:00s of an autumn night differ.
    let label = body["labels"][0].as_str().unwrap();
    assert!(
        label.ends_with(" CET") || label.ends_with(" CEST"),
        "{label}"
    );
}

/// The numbers of line `i` of a chart, skipping empty buckets.
fn values(body: &Value, i: usize) -> Vec<f64> {
    body["lines"][i]["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

#[tokio::test]
async fn a_fleet_chart_shows_any_metric_over_the_fleets_readings() {
    let app = app_with_readings(180).await;
    // A second device, in another org, runs hotter and slower.
    app.add_customers(&["hill-farms"]).await;
    let hot = app
        .add_device(
            sunfleet_tests::DeviceSpec {
                id: "SF-HOT-1",
                name: "Hill Well",
                owner: "hill-farms",
                model: "SPC-5",
                last: None,
            },
            chrono::Utc::now(),
        )
        .await;
    let readings: Vec<Value> = (0..180)
        .map(|m| {
            json!({"time": minute(180 - m).to_rfc3339(), "solar_w": 1000.0, "grid_w": 0.0,
                   "load_w": 1000.0, "motor_rpm": 1000, "motor_on": true,
                   "dc_bus_v": 300.0, "temperature_c": 50.0})
        })
        .collect();
    app.post_readings(&hot, &readings).await;
    app.ingest.writer.flush().await.unwrap();

    let (status, body) = chart(&app, "m=temperature,rpm,solar&range=24h&agg=max").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resolution"], "hour");
    let (temperature, rpm, solar) = (values(&body, 0), values(&body, 1), values(&body, 2));
    assert!(!temperature.is_empty());
    assert!(temperature.iter().all(|t| *t == 50.0), "{temperature:?}");
    assert!(rpm.iter().all(|r| *r == 3000.0), "{rpm:?}");
    // The max of one device's solar, not the fleet's total of 1,000 W and the ramp.
    assert!(solar.iter().all(|w| *w <= 1790.0 + 1e-9), "{solar:?}");
    assert!(solar.iter().any(|w| *w > 1000.0), "{solar:?}");

    let (status, body) = chart(&app, "m=temperature,rpm&range=24h&agg=min").await;
    assert_eq!(status, 200, "{body}");
    assert!(values(&body, 0).iter().all(|t| *t == 30.0));
    assert!(values(&body, 1).iter().all(|r| *r == 1000.0));

    // The fleet mean of every reading: both devices read every minute, so 40 °C.
    let (_, body) = chart(&app, "m=temperature&range=24h").await;
    let mean = values(&body, 0);
    assert!(mean.iter().all(|t| (t - 40.0).abs() < 1e-9), "{mean:?}");

    // One org of the fleet: only its device.
    let (status, body) = chart(&app, "org=hill-farms&m=temperature,solar&range=24h").await;
    assert_eq!(status, 200, "{body}");
    assert!(values(&body, 0).iter().all(|t| *t == 50.0), "{body}");
    // Its total power: 1,000 W over each whole hour (less in the hours it began or is in).
    let solar = values(&body, 1);
    assert!(solar.iter().all(|w| *w <= 1000.0 + 1e-6), "{solar:?}");
    assert!(solar.iter().any(|w| *w > 990.0), "{solar:?}");
}

#[tokio::test]
async fn daily_energy_counts_kwh_per_local_day() {
    let app = app_with_readings(300).await;
    let (status, body) = chart(&app, &format!("device={DEVICE}&type=daily_energy&range=7d")).await;
    assert_eq!(status, 200, "{body}");
    let days = body["days"].as_array().unwrap();
    assert!(!days.is_empty() && days.len() <= 2, "{body}");
    let grid_wh: f64 = days.iter().map(|d| d["grid_wh"].as_f64().unwrap()).sum();
    // 5 W for just under 5 hours.
    assert!((grid_wh - 5.0 * 299.0 / 60.0).abs() < 0.5, "{grid_wh}");
    let date = days[0]["date"].as_str().unwrap();
    assert_eq!(date.len(), 10, "YYYY-MM-DD: {date}");
}

#[tokio::test]
async fn a_range_without_data_is_empty_and_a_backwards_range_is_refused() {
    let app = app_with_readings(10).await;
    let (status, body) = chart(
        &app,
        &format!("device={DEVICE}&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["times"].as_array().unwrap().is_empty());
    let (status, body) = chart(
        &app,
        &format!("device={DEVICE}&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("ends before it starts"));
}

#[tokio::test]
async fn charts_stay_inside_the_callers_scope() {
    let app = app_with_readings(10).await;
    app.add_customers(&["other-farm"]).await;
    let other = app
        .add_user(Persona::Customer, "c@other.example", "other-farm")
        .await;
    let (status, _) = app
        .post_fn_as(
            &other,
            "/api/chart",
            &[("config", &format!("device={DEVICE}"))],
        )
        .await;
    assert_eq!(status, 404, "someone else's device");
    let (status, _) = app
        .post_fn_as(&other, "/api/chart", &[("config", "org=valley-farms")])
        .await;
    assert_eq!(status, 404, "someone else's org");
    let (status, body) = app
        .post_fn_as(&other, "/api/chart", &[("config", "m=solar&range=24h")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["times"].as_array().unwrap().is_empty(),
        "their own (empty) fleet: {body}"
    );
}

#[tokio::test]
async fn saved_charts_belong_to_their_user() {
    let app = app_with_readings(10).await;
    let config = format!("m=solar,grid&range=7d&type=area&device={DEVICE}");
    let (status, body) = app
        .post_fn(
            "/api/chart_save",
            &[("name", "Valley this week"), ("config", &config)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Saving under the same name replaces it.
    let (status, _) = app
        .post_fn(
            "/api/chart_save",
            &[("name", "Valley this week"), ("config", &config)],
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = app.post_fn("/api/charts", &[]).await;
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "Valley this week");
    assert!(list[0]["config"].as_str().unwrap().contains("type=area"));

    app.add_customers(&["other-farm"]).await;
    let other = app
        .add_user(Persona::Customer, "c@other.example", "other-farm")
        .await;
    let (_, theirs) = app.post_fn_as(&other, "/api/charts", &[]).await;
    assert_eq!(theirs, json!([]));
    let id = list[0]["id"].as_str().unwrap();
    let (status, _) = app
        .post_fn_as(&other, "/api/chart_delete", &[("id", id)])
        .await;
    assert_eq!(status, 404, "not theirs to delete");
    let (status, body) = app
        .post_fn("/api/chart_save", &[("name", ""), ("config", &config)])
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post_fn("/api/chart_save", &[("name", "Bad"), ("config", "m=wind")])
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app.post_fn("/api/chart_delete", &[("id", id)]).await;
    assert_eq!(status, 200);
    let (_, after) = app.post_fn("/api/charts", &[]).await;
    assert_eq!(after, json!([]));
}
