use chrono::{Duration, Utc};
use serde_json::Value;
use sunfleet_tests::{spawn_app, DeviceSpec, TestApp};

async fn three_devices() -> TestApp {
    let app = spawn_app().await;
    let now = Utc::now();
    app.add_customers(&["platte-valley", "pecos-dairy"]).await;
    app.add_device(
        DeviceSpec {
            id: "e00fce68aaaaaaaaaaaaaaaa",
            name: "North Well 1",
            owner: "platte-valley",
            model: "SPC-5",
            last: Some((Duration::seconds(30), 2450.0, 120.0, None)),
        },
        now,
    )
    .await;
    app.add_device(
        DeviceSpec {
            id: "SF-15-00042",
            name: "Canal Pump 2",
            owner: "pecos-dairy",
            model: "SPC-15",
            last: Some((Duration::hours(3), 0.0, 8200.0, Some(4))),
        },
        now,
    )
    .await;
    app.add_device(
        DeviceSpec {
            id: "e00fce68bbbbbbbbbbbbbbbb",
            name: "Stock Tank 3",
            owner: "platte-valley",
            model: "SPC-3",
            last: None,
        },
        now,
    )
    .await;
    app
}

fn names(body: &Value) -> Vec<&str> {
    body["rows"]
        .as_array()
        .expect("rows array")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn fleet_lists_every_device_with_owner_status_and_power() {
    let app = three_devices().await;

    let (status, body) = app.fleet("").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 3);
    assert_eq!(
        names(&body),
        ["Canal Pump 2", "North Well 1", "Stock Tank 3"],
        "sorted by name"
    );
    let rows = body["rows"].as_array().unwrap();
    let canal = &rows[0];
    assert_eq!(canal["id"], "SF-15-00042");
    assert_eq!(canal["owner"], "Pecos Dairy");
    assert_eq!(canal["connectivity"], "offline", "silent for 3 h");
    assert_eq!(canal["fault_code"], 4);
    assert_eq!(canal["last_seen_ago"], "3 h ago");
    assert_eq!(canal["grid_w"], 8200.0);
    let north = &rows[1];
    assert_eq!(north["connectivity"], "online");
    assert_eq!(north["solar_w"], 2450.0);
    assert_eq!(north["grid_w"], 120.0);
    assert_eq!(north["last_seen_ago"], "just now");
    let tank = &rows[2];
    assert_eq!(tank["connectivity"], "never_seen");
    assert_eq!(tank["solar_w"], Value::Null);
    assert_eq!(tank["last_seen_ago"], Value::Null);
}

#[tokio::test]
async fn fleet_filter_matches_name_id_owner_and_model_ignoring_case() {
    let app = three_devices().await;
    let cases: &[(&str, &[&str], &str)] = &[
        ("well", &["North Well 1"], "name, lower case"),
        ("PECOS", &["Canal Pump 2"], "owner, upper case"),
        ("sf-15", &["Canal Pump 2"], "serial id"),
        ("bbbbbb", &["Stock Tank 3"], "particle id"),
        (
            "spc-",
            &["Canal Pump 2", "North Well 1", "Stock Tank 3"],
            "model",
        ),
        (
            "  platte  ",
            &["North Well 1", "Stock Tank 3"],
            "surrounding spaces ignored",
        ),
        ("no such thing", &[], "nothing matches"),
    ];
    for (query, expected, why) in cases {
        let (status, body) = app.fleet(query).await;
        assert_eq!(status, 200, "{why}: {body}");
        assert_eq!(names(&body), *expected, "{why} (query {query:?})");
        assert_eq!(body["total"], 3, "{why}: total counts the whole fleet");
    }
}

#[tokio::test]
async fn a_filter_that_looks_like_surrealql_is_just_text() {
    let app = three_devices().await;
    let (status, body) = app.fleet("' OR 1=1; DELETE device; --").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), Vec::<&str>::new());
    let (_, body) = app.fleet("").await;
    assert_eq!(body["total"], 3, "nothing was deleted");
}

#[tokio::test]
async fn an_overlong_filter_is_rejected_with_a_validation_error() {
    let app = three_devices().await;
    let (status, body) = app.fleet(&"x".repeat(201)).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "validation_failed");
    assert!(body["message"].as_str().unwrap().contains("200 characters"));
}

#[tokio::test]
async fn an_empty_fleet_is_an_empty_list_not_an_error() {
    let app = spawn_app().await;
    let (status, body) = app.fleet("").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 0);
    assert_eq!(names(&body), Vec::<&str>::new());
}

#[tokio::test]
async fn the_fleet_page_renders_rows_from_the_database() {
    let app = three_devices().await;
    let (status, html) = app.get("/fleet?q=canal").await;
    assert_eq!(status, 200);
    assert!(html.contains("Canal Pump 2"), "filtered row present");
    assert!(!html.contains("North Well 1"), "other rows filtered out");
    assert!(html.contains("8.20 kW"), "grid power with its unit");
    assert!(html.contains("href=\"/devices/SF-15-00042\""));
}

#[tokio::test]
async fn a_renamed_org_shows_in_the_fleet_at_once() {
    // The server holds its SurrealKV store alone and keeps the fleet in memory without
    // reloading it for age: the rename itself must reach the snapshot.
    let app = three_devices().await;
    let (_, before) = app.fleet("").await;
    assert_eq!(before["rows"][0]["owner"], "Pecos Dairy");

    let (status, body) = app
        .post_fn(
            "/api/org_rename",
            &[("id", "pecos-dairy"), ("name", "Pecos Irrigation")],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (_, after) = app.fleet("").await;
    assert_eq!(after["rows"][0]["owner"], "Pecos Irrigation");
    let (_, filtered) = app.fleet("irrigation").await;
    assert_eq!(
        names(&filtered),
        ["Canal Pump 2"],
        "the search text follows the name"
    );
}
