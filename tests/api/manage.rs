//! Device management against the real router and SurrealKV: the Fleet's filters, sorting and
//! pages, registration, editing, transfer, location, tokens, decommissioning, CSV export and
//! import, each within the caller's scope.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sunfleet_app::accounts::model::Persona;
use sunfleet_tests::{spawn_sample_tree, DeviceSpec, TestApp, Who};

fn names(body: &Value) -> Vec<String> {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// The sample tree plus 60 more Platte devices: three pages for an admin.
async fn big_fleet() -> TestApp {
    let app = spawn_sample_tree().await;
    for n in 0..60 {
        let id = format!("SF-7-{n:05}");
        let name = format!("Pump {n:02}");
        let last = match n % 3 {
            0 => Some((Duration::minutes(1), 100.0 * n as f64, 5.0, None)),
            1 => Some((Duration::hours(3), 0.0, 80.0, None)),
            _ => None,
        };
        app.add_device(
            DeviceSpec {
                id: &id,
                name: &name,
                owner: "platte",
                model: if n < 10 { "SP-3" } else { "SPC-5" },
                last,
            },
            Utc::now(),
        )
        .await;
    }
    app
}

#[tokio::test]
async fn the_fleet_pages_fifty_at_a_time_and_says_how_many_match() {
    let app = big_fleet().await;
    let (status, first) = app.fleet_filter("").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["total"], 64);
    assert_eq!(first["matched"], 64);
    assert_eq!(first["pages"], 2);
    assert_eq!(names(&first).len(), 50);
    let (_, second) = app.fleet_filter("page=2").await;
    assert_eq!(names(&second).len(), 14);
    assert_eq!(second["filter"]["page"], 2);
    // A page past the end shows the last one.
    let (_, past) = app.fleet_filter("page=99").await;
    assert_eq!(past["filter"]["page"], 2);
}

#[tokio::test]
async fn filters_combine_and_sorting_orders_the_whole_match() {
    let app = big_fleet().await;
    let (_, never) = app.fleet_filter("status=never&org=platte").await;
    assert_eq!(never["matched"], 20, "{never}");
    let (_, model) = app.fleet_filter("model=SP-3").await;
    assert_eq!(model["matched"], 10);
    let (_, offline) = app.fleet_filter("status=offline&q=pump").await;
    assert_eq!(offline["matched"], 20);
    let (_, by_solar) = app.fleet_filter("sort=solar&dir=desc").await;
    assert_eq!(names(&by_solar)[0], "Pump 57", "the strongest solar first");
    let (_, by_name_desc) = app.fleet_filter("dir=desc").await;
    assert_eq!(names(&by_name_desc)[0], "Pump 59");
    // Devices with no reading go last whichever way solar is sorted.
    let (_, asc) = app.fleet_filter("sort=solar&page=2").await;
    assert!(asc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["solar_w"].is_null()));
}

#[tokio::test]
async fn a_bad_filter_value_is_named_in_a_422() {
    let app = big_fleet().await;
    for (filter, needle) in [
        ("status=asleep", "asleep"),
        ("sort=colour", "colour"),
        ("page=-1", "page"),
        ("bbox=1,2", "bbox"),
        ("sort=distance", "position"),
    ] {
        let (status, body) = app.fleet_filter(filter).await;
        assert_eq!(status, 422, "{filter}: {body}");
        assert_eq!(body["code"], "validation_failed");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{filter}: {body}"
        );
    }
}

#[tokio::test]
async fn near_me_sorts_by_distance_and_a_box_keeps_only_what_is_inside() {
    let app = spawn_sample_tree().await;
    for (id, lat, lon) in [
        ("SF-1-00001", 41.0, -104.0),
        ("SF-1-00002", 40.0, -105.0),
        ("SF-1-00003", 45.0, -110.0),
    ] {
        let (status, body) = app
            .post_fn(
                "/api/device_locate",
                &[
                    ("id", id),
                    ("lat", &lat.to_string()),
                    ("lon", &lon.to_string()),
                    ("source", "typed"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, near) = app.fleet_filter("near=40.1,-105.1&sort=distance").await;
    assert_eq!(
        names(&near),
        ["Platte Well", "Agri Well", "Laramie Well", "Direct Well"],
        "nearest first, no location last"
    );
    assert!(near["rows"][0]["distance_km"].as_f64().unwrap() < 20.0);
    let (_, inside) = app.fleet_filter("bbox=39,-106,42,-103").await;
    assert_eq!(names(&inside), ["Agri Well", "Platte Well"]);
    let (_, map) = app.post_fn("/api/fleet_map", &[("filter", "")]).await;
    assert_eq!(map["points"].as_array().unwrap().len(), 3);
    assert_eq!(map["unplaced"], 1);
    assert!(map["tiles"]["url"].as_str().unwrap().contains("{z}"));
    // The map's area as a filter: the list and the map show the same devices.
    let (_, boxed) = app
        .post_fn("/api/fleet_map", &[("filter", "bbox=39,-106,42,-103")])
        .await;
    let mut ids = map_ids(&boxed);
    ids.sort();
    assert_eq!(ids, ["SF-1-00001", "SF-1-00002"]);
    // Each persona's map holds its own devices only.
    let (partner, dealer, customer) = app.sample_personas().await;
    for (who, expected) in [
        (&partner, vec!["SF-1-00001"]),
        (&dealer, vec!["SF-1-00002", "SF-1-00003"]),
        (&customer, vec!["SF-1-00002"]),
    ] {
        let (status, map) = app
            .post_fn_as(who, "/api/fleet_map", &[("filter", "")])
            .await;
        assert_eq!(status, 200, "{map}");
        let mut ids = map_ids(&map);
        ids.sort();
        assert_eq!(ids, expected, "{who:?}");
        assert_eq!(map["unplaced"], 0, "{who:?}");
    }
}

fn map_ids(map: &Value) -> Vec<String> {
    map["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

/// A server function's form fields.
type Form<'a> = Vec<(&'a str, &'a str)>;

fn register_form<'a>(id: &'a str, owner: &'a str) -> Form<'a> {
    vec![
        ("id", id),
        ("name", "New Well"),
        ("model", "SPC-5"),
        ("firmware", "3.0.1"),
        ("owner", owner),
        ("timezone", "America/Denver"),
        ("lat", "40.5"),
        ("lon", "-104.9"),
    ]
}

#[tokio::test]
async fn a_dealer_registers_a_device_for_its_customer_and_its_token_posts_readings() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/device_register",
            &register_form("e00fce68bbbbbbbbbbbbbbbb", "platte"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("sfd_"));
    let (status, device) = app.device("e00fce68bbbbbbbbbbbbbbbb").await;
    assert_eq!(status, 200, "{device}");
    assert_eq!(device["owner"], "Platte");
    assert_eq!(device["dealer"], "Rocky", "installed by the nearest dealer");
    assert_eq!(device["location"]["lat"], 40.5);
    let reading = json!({"time": Utc::now().to_rfc3339(), "solar_w": 500.0, "grid_w": 0.0,
        "load_w": 500.0, "motor_rpm": 0, "motor_on": false, "dc_bus_v": 300.0,
        "temperature_c": 20.0});
    let (status, body) = app
        .post_direct("e00fce68bbbbbbbbbbbbbbbb", Some(&token), &reading)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, events) = app
        .post_fn("/api/audit", &[("actor", "d@rocky.example")])
        .await;
    assert!(events.to_string().contains("device_registered"), "{events}");
}

#[tokio::test]
async fn registration_refuses_taken_ids_bad_fields_and_orgs_outside_the_scope() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            register_form("SF-1-00004", "platte"),
            409,
            "already registered",
        ),
        (register_form("not an id!", "platte"), 422, "device id"),
        (register_form("SF-8-00001", "direct"), 404, "org"),
        (register_form("SF-8-00001", "no-such-org"), 404, "org"),
        (
            {
                let mut f = register_form("SF-8-00001", "platte");
                f[5] = ("timezone", "Mars/Olympus");
                f
            },
            422,
            "timezone",
        ),
        (
            {
                let mut f = register_form("SF-8-00001", "platte");
                f[6] = ("lat", "95");
                f
            },
            422,
            "latitude",
        ),
        (
            {
                let mut f = register_form("SF-8-00001", "platte");
                f[7] = ("lon", "");
                f
            },
            422,
            "both",
        ),
    ];
    for (form, want, needle) in cases {
        let (status, body) = app.post_fn_as(&dealer, "/api/device_register", &form).await;
        assert_eq!(status, want, "{form:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    let (_, fleet) = app.fleet("").await;
    assert_eq!(fleet["total"], 4, "nothing was registered");
}

#[tokio::test]
async fn edits_transfers_and_locations_are_saved_and_recorded() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/device_update",
            &[
                ("id", "SF-1-00002"),
                ("name", "Platte North"),
                ("model", "SPC-7"),
                ("firmware", "3.1.0"),
                ("timezone", "America/Chicago"),
                ("offline_timeout_min", "30"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/device_transfer",
            &[("id", "SF-1-00002"), ("owner", "laramie")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/device_locate",
            &[
                ("id", "SF-1-00002"),
                ("lat", "40.58"),
                ("lon", "-105.08"),
                ("source", "geolocation"),
                ("accuracy_m", "12.5"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, device) = app.device("SF-1-00002").await;
    assert_eq!(device["name"], "Platte North");
    assert_eq!(device["timezone"], "America/Chicago");
    assert_eq!(device["offline_timeout_min"], 30);
    assert_eq!(device["owner"], "Laramie");
    assert_eq!(device["location"]["accuracy_m"], 12.5);
    assert_eq!(device["location"]["source"], "geolocation");
    // The list shows the change at once, not after the snapshot ages.
    let (_, fleet) = app.fleet("platte north").await;
    assert_eq!(fleet["rows"][0]["owner"], "Laramie");
    // The new firmware is a filter of its own.
    let (_, fleet) = app.fleet_filter("firmware=3.1.0").await;
    assert_eq!(names(&fleet), ["Platte North"], "{fleet}");
    let (_, fleet) = app.fleet_filter("firmware=2.5.2").await;
    assert!(
        !names(&fleet).contains(&"Platte North".to_string()),
        "{fleet}"
    );
    // A click on the map moves it again, recorded as such.
    let (status, body) = app
        .post_fn_as(
            &dealer,
            "/api/device_locate",
            &[
                ("id", "SF-1-00002"),
                ("lat", "40.6"),
                ("lon", "-105.1"),
                ("source", "map"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, device) = app.device("SF-1-00002").await;
    assert_eq!(device["location"]["source"], "map");
    assert!(device["location"]["accuracy_m"].is_null(), "{device}");
    let (_, audit) = app.post_fn("/api/audit", &[]).await;
    let text = audit.to_string();
    for kind in ["device_updated", "device_transferred", "device_located"] {
        assert!(text.contains(kind), "{kind} missing: {text}");
    }
    assert!(text.contains("±12 m") || text.contains("±13 m"), "{text}");
    assert!(text.contains("40.60000, -105.10000 (map)"), "{text}");
}

#[tokio::test]
async fn bad_edits_change_nothing() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let edit = |name: &'static str, tz: &'static str, timeout: &'static str| {
        vec![
            ("id", "SF-1-00002"),
            ("name", name),
            ("model", "SPC-5"),
            ("firmware", ""),
            ("timezone", tz),
            ("offline_timeout_min", timeout),
        ]
    };
    for (form, needle) in [
        (edit("", "UTC", "10"), "name"),
        (edit("X", "Nowhere/Land", "10"), "timezone"),
        (edit("X", "UTC", "0"), "timeout"),
        (edit("X", "UTC", "lots"), "timeout"),
    ] {
        let (status, body) = app.post_fn_as(&dealer, "/api/device_update", &form).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    for (lat, lon, source) in [
        ("91", "0", "typed"),
        ("0", "181", "typed"),
        ("NaN", "0", "typed"),
        ("1", "1", "guess"),
    ] {
        let (status, body) = app
            .post_fn_as(
                &dealer,
                "/api/device_locate",
                &[
                    ("id", "SF-1-00002"),
                    ("lat", lat),
                    ("lon", lon),
                    ("source", source),
                ],
            )
            .await;
        assert_eq!(status, 422, "{lat},{lon},{source}: {body}");
    }
    // Outside the dealer's subtree: the same 404 as a device that does not exist.
    let (status, _) = app
        .post_fn_as(
            &dealer,
            "/api/device_transfer",
            &[("id", "SF-1-00004"), ("owner", "platte")],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post_fn_as(
            &dealer,
            "/api/device_transfer",
            &[("id", "SF-1-00002"), ("owner", "direct")],
        )
        .await;
    assert_eq!(
        status, 404,
        "a target org outside the scope is not found either"
    );
    let (_, device) = app.device("SF-1-00002").await;
    assert_eq!(device["name"], "Platte Well");
    assert_eq!(device["owner"], "Platte");
    assert!(device["location"].is_null());
}

#[tokio::test]
async fn a_decommissioned_device_leaves_the_fleet_but_keeps_its_history_and_id() {
    let app = spawn_sample_tree().await;
    let id = sunfleet_app::devices::model::DeviceId::parse("SF-1-00002").unwrap();
    let readings: Vec<Value> = (1..=30)
        .map(|m| {
            json!({"time": sunfleet_tests::minute(m).to_rfc3339(), "solar_w": 700.0,
                   "grid_w": 0.0, "load_w": 700.0, "motor_rpm": 3000, "motor_on": true,
                   "dc_bus_v": 350.0, "temperature_c": 30.0})
        })
        .collect();
    app.post_readings(&id, &readings).await;
    app.ingest.writer.flush().await.unwrap();
    let (_, body) = app
        .post_fn("/api/device_token", &[("id", "SF-1-00002")])
        .await;
    let token = body.as_str().expect("token").to_string();
    let (status, body) = app
        .post_fn(
            "/api/device_decommission",
            &[("id", "SF-1-00002"), ("confirm", "sf-1-00002")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, fleet) = app.fleet("").await;
    assert_eq!(fleet["total"], 3);
    let (status, _) = app.device("SF-1-00002").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post_direct(
            "SF-1-00002",
            Some(&token),
            &json!({"time": Utc::now().to_rfc3339(), "solar_w": 1.0, "grid_w": 0.0,
                "load_w": 1.0, "motor_rpm": 0, "motor_on": false, "dc_bus_v": 1.0,
                "temperature_c": 1.0}),
        )
        .await;
    assert!(
        status == 401 || status == 404,
        "its token is void: {status}"
    );
    let (status, body) = app
        .post_fn(
            "/api/device_register",
            &[
                ("id", "SF-1-00002"),
                ("name", "Reuse"),
                ("model", "X"),
                ("firmware", ""),
                ("owner", "platte"),
                ("timezone", "UTC"),
            ],
        )
        .await;
    assert_eq!(status, 409, "ids are not reused: {body}");
    let kept: Option<String> = app
        .db
        .query("SELECT VALUE name FROM ONLY device:⟨SF-1-00002⟩")
        .await
        .unwrap()
        .take(0)
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Platte Well"), "the record stays");
    // Its readings stay, and its chart still draws them.
    let (status, chart) = app
        .post_fn(
            "/api/chart",
            &[("config", "device=SF-1-00002&m=solar&range=1h")],
        )
        .await;
    assert_eq!(status, 200, "{chart}");
    let solar = chart["lines"][0]["values"].as_array().unwrap();
    assert_eq!(solar.len(), 30, "{chart}");
    assert!(solar.iter().all(|w| w.as_f64() == Some(700.0)), "{chart}");
}

#[tokio::test]
async fn a_new_token_replaces_the_old_one() {
    let app = spawn_sample_tree().await;
    let (status, first) = app
        .post_fn("/api/device_token", &[("id", "SF-1-00003")])
        .await;
    assert_eq!(status, 200);
    let (_, second) = app
        .post_fn("/api/device_token", &[("id", "SF-1-00003")])
        .await;
    assert_ne!(first, second);
    let hash: Option<String> = app
        .db
        .query("SELECT VALUE token_hash FROM ONLY device:⟨SF-1-00003⟩")
        .await
        .unwrap()
        .take(0)
        .unwrap();
    assert_eq!(
        hash.unwrap(),
        sunfleet::ingest::auth::hash_secret(second.as_str().unwrap()),
        "only the hash of the newest token is stored"
    );
}

async fn csv_as(app: &TestApp, who: &Who, query: &str) -> (u16, String, String) {
    let response = who
        .apply(app.client.get(app.url(&format!("/fleet.csv?{query}"))))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let disposition = response
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, disposition, response.text().await.unwrap())
}

#[tokio::test]
async fn the_csv_export_is_the_filtered_fleet_in_the_callers_scope() {
    let app = big_fleet().await;
    let (status, disposition, csv) = csv_as(&app, &app.admin, "model=SP-3&sort=id").await;
    assert_eq!(status, 200, "{csv}");
    assert!(disposition.starts_with("attachment; filename=\"sunfleet-devices-"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,name,owner,owner_name,model,firmware,status"));
    assert_eq!(
        lines.len(),
        11,
        "header and the 10 SP-3 devices, not one page"
    );
    assert!(lines[1].starts_with("SF-7-00000,Pump 00,platte,Platte,SP-3"));
    let customer = app
        .add_user(Persona::Customer, "c@laramie.example", "laramie")
        .await;
    let (status, _, csv) = csv_as(&app, &customer, "").await;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 2, "only Laramie's device: {csv}");
    assert!(csv.contains("Laramie Well"));
    let (status, _, body) = csv_as(&app, &app.admin, "status=nope").await;
    assert_eq!(status, 422, "{body}");
    let (status, _, _) = csv_as(&app, &Who::Anonymous, "").await;
    assert_eq!(status, 303, "sent to sign in");
}

const IMPORT: &str = "id,name,model,owner,timezone,lat,lon\n\
SF-5-00001,Import One,SPC-5,platte,America/Denver,40.1,-104.1\n\
SF-5-00002,Import Two,SPC-5,Laramie,America/Denver,,\n\
SF-5-00003,Bad Place,SPC-5,platte,UTC,123,5\n\
SF-1-00002,Platte Well renamed,,,,,\n\
SF-5-00001,Twice,SPC-5,platte,UTC,,\n";

async fn import(app: &TestApp, who: &Who, csv: &str, commit: bool) -> (u16, Value) {
    app.post_fn_as(
        who,
        "/api/device_import",
        &[
            ("csv", csv),
            ("commit", if commit { "true" } else { "false" }),
        ],
    )
    .await
}

#[tokio::test]
async fn an_import_previews_then_writes_the_good_rows_and_reimports_as_unchanged() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let (status, preview) = import(&app, &dealer, IMPORT, false).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["committed"], false);
    assert_eq!(
        (&preview["created"], &preview["updated"], &preview["errors"]),
        (&json!(2), &json!(1), &json!(2)),
        "{preview}"
    );
    let actions: Vec<&str> = preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "create", "error", "update", "error"]);
    assert!(preview["rows"][2]["detail"]
        .as_str()
        .unwrap()
        .contains("latitude"));
    assert!(preview["rows"][4]["detail"]
        .as_str()
        .unwrap()
        .contains("line 2"));
    let (_, fleet) = app.fleet("import").await;
    assert_eq!(fleet["matched"], 0, "a preview writes nothing");

    let (status, done) = import(&app, &dealer, IMPORT, true).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["committed"], true);
    let (_, fleet) = app.fleet("import").await;
    assert_eq!(names(&fleet), ["Import One", "Import Two"]);
    let (_, two) = app.device("SF-5-00002").await;
    assert_eq!(two["owner"], "Laramie", "an owner may be named by its name");
    let (_, renamed) = app.device("SF-1-00002").await;
    assert_eq!(renamed["name"], "Platte Well renamed");
    assert_eq!(renamed["model"], "SPC-5", "empty cells keep what was there");

    let (_, again) = import(&app, &dealer, IMPORT, true).await;
    assert_eq!(
        (&again["created"], &again["updated"], &again["unchanged"]),
        (&json!(0), &json!(0), &json!(3)),
        "{again}"
    );
}

#[tokio::test]
async fn the_largest_import_allowed_commits_at_once() {
    // 5,000 rows (MAX_ROWS) with a location each: one transaction with the devices and an
    // audit event each, which must fit in the database's memtable.
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let mut csv = String::from("id,name,model,owner,timezone,lat,lon\n");
    for i in 0..sunfleet_app::devices::import::MAX_ROWS {
        csv.push_str(&format!(
            "SF-9-{i:05},Bulk well {i},SPC-5,platte,America/Denver,40.{i:04},-104.{i:04}\n"
        ));
    }
    let (status, done) = import(&app, &dealer, &csv, true).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (&done["created"], &done["errors"]),
        (&json!(5000), &json!(0))
    );
    let (_, fleet) = app.fleet("Bulk well").await;
    assert_eq!(fleet["matched"], 5000);
}

#[tokio::test]
async fn an_exported_file_imports_back_unchanged() {
    let app = big_fleet().await;
    let (_, _, csv) = csv_as(&app, &app.admin, "").await;
    let (status, report) = import(&app, &app.admin, &csv, false).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["unchanged"], 64, "{report}");
    assert_eq!(report["errors"], 0);
}

#[tokio::test]
async fn an_import_cannot_reach_outside_the_scope() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let csv = "id,name,owner\nSF-1-00004,Mine now,platte\nSF-6-00001,New,direct\n";
    let (status, report) = import(&app, &dealer, csv, true).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["errors"], 2, "{report}");
    assert!(report["rows"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("another organisation"));
    let (_, device) = app.device("SF-1-00004").await;
    assert_eq!(device["name"], "Direct Well");
}

#[tokio::test]
async fn a_file_with_wrong_columns_is_refused_whole() {
    let app = spawn_sample_tree().await;
    for (csv, needle) in [
        ("", "empty"),
        ("name,model\nA,B\n", "\"id\""),
        ("id,colour\nSF-1,red\n", "colour"),
        ("id,name\n\"SF-1,unclosed\n", "never closed"),
    ] {
        let (status, body) = import(&app, &app.admin, csv, true).await;
        assert_eq!(status, 422, "{csv:?}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{csv:?}: {body}"
        );
    }
    let (_, fleet) = app.fleet("").await;
    assert_eq!(fleet["total"], 4);
}

/// The Device page sends its closed panels as summaries: their forms are built in the
/// browser after hydration (`ui::AfterLoad`), so no request renders them (the copy panel too,
/// shown once a schedule is saved; the schedule browser test opens it), and so is the
/// schedule editor's form. The visible cards are still rendered by the server.
#[tokio::test]
async fn the_device_page_sends_closed_panels_as_their_summaries_only() {
    let app = spawn_sample_tree().await;
    let (status, html) = app.get_as(&app.admin, "/devices/SF-1-00002").await;
    assert_eq!(status, 200);
    for summary in [
        "Edit details",
        "Transfer to another organisation",
        "Ingest token",
        "Decommission",
        "Save this chart",
    ] {
        assert!(html.contains(summary), "{summary}");
    }
    for body in [
        "ed-name",
        "tr-owner",
        "dc-confirm",
        "copy-org",
        "chart-name",
    ] {
        assert!(!html.contains(&format!("id=\"{body}\"")), "{body}");
    }
    // The schedule's form too (its inputs take their values in the browser); the week grid
    // shows the schedule from the server.
    assert!(!html.contains("class=\"schedule-form\""));
    assert!(html.contains("class=\"week-grid\""));
}
