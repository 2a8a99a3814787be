use chrono::{Duration, Utc};
use sunfleet_tests::{spawn_app, DeviceSpec};

#[tokio::test]
async fn the_device_api_returns_identity_and_latest_status() {
    let app = spawn_app().await;
    app.add_customers(&["magic-valley"]).await;
    app.add_device(
        DeviceSpec {
            id: "E00FCE68ABCDEFABCDEF0123",
            name: "Pivot 7",
            owner: "magic-valley",
            model: "SPC-7.5",
            last: Some((Duration::minutes(2), 5120.0, 0.0, None)),
        },
        Utc::now(),
    )
    .await;

    let (status, body) = app.device("e00fce68abcdefabcdef0123").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Pivot 7");
    assert_eq!(body["owner"], "Magic Valley");
    assert_eq!(body["model"], "SPC-7.5");
    assert_eq!(body["timezone"], "America/Denver");
    assert_eq!(body["connectivity"], "online");
    assert_eq!(body["latest"]["solar_w"], 5120.0);
    assert_eq!(body["latest"]["ago"], "2 min ago");
    let at_local = body["latest"]["at_local"].as_str().unwrap();
    assert!(
        at_local.ends_with("MST") || at_local.ends_with("MDT"),
        "{at_local}"
    );
}

#[tokio::test]
async fn an_unknown_device_is_a_json_404() {
    let app = spawn_app().await;
    for id in ["e00fce68ffffffffffffffff", "not a device id", ""] {
        let (status, body) = app.device(id).await;
        assert_eq!(status, 404, "{id:?}: {body}");
        assert_eq!(body["code"], "device_not_found", "{id:?}");
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn the_device_page_shows_database_values() {
    let app = spawn_app().await;
    app.add_customers(&["magic-valley"]).await;
    app.add_device(
        DeviceSpec {
            id: "SF-3-00001",
            name: "Booster 1",
            owner: "magic-valley",
            model: "SPC-3",
            last: Some((Duration::minutes(1), 1875.0, 40.0, Some(5))),
        },
        Utc::now(),
    )
    .await;
    let (status, html) = app.get("/devices/SF-3-00001").await;
    assert_eq!(status, 200);
    for expected in [
        "Booster 1",
        "Magic Valley",
        "1.88 kW",
        "40 W",
        "E05 Dry run",
        "SPC-3",
    ] {
        assert!(html.contains(expected), "page shows {expected:?}");
    }
}

#[tokio::test]
async fn an_unknown_device_page_is_a_404_page() {
    let app = spawn_app().await;
    for path in [
        "/devices/e00fce68ffffffffffffffff",
        "/devices/%20bad%20id",
        "/no/such/page",
    ] {
        let (status, html) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Not found"), "{path} renders the 404 page");
    }
}
