//! Commands against the real router and SurrealKV: queued, handed to the device in its next
//! ingest answer (in order, again until acknowledged), acknowledged in a status or at the
//! ack endpoint, expired, refused for decommissioned devices and bad input; and Particle's
//! function call against a local server that answers as Particle does.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use sunfleet_app::accounts::model::Persona;
use sunfleet_app::control::particle::{CallOutcome, ParticleApi};
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::telemetry::store::device_events;
use sunfleet_tests::{
    device_token, json_response, minute, spawn_app_with, spawn_sample_tree, TestApp,
};

const PLATTE: &str = "SF-1-00002";
/// The device the Particle stand-in answers 429 for.
const RATE_LIMITED: &str = "0123456789abcdef0123456d";
const SLOW: &str = "0123456789abcdef0123456e";

fn reading(ago: i64) -> Value {
    json!({
        "time": minute(ago).to_rfc3339(), "solar_w": 900.0, "grid_w": 0.0,
        "load_w": 850.0, "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 360.0,
        "temperature_c": 28.0, "fault_code": 0
    })
}

fn token(id: &str) -> String {
    device_token(&DeviceId::parse(id).unwrap())
}

/// A direct post from `id`; status and answer.
async fn post(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    app.post_direct(id, Some(&token(id)), &body).await
}

async fn send(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    app.post_fn("/api/command_send", form).await
}

async fn commands(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.post_fn("/api/commands", &[("id", id)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn states(list: &Value) -> Vec<(u64, String)> {
    list["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_u64().unwrap(),
                c["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn kinds(app: &TestApp, id: &str) -> Vec<String> {
    device_events(&app.db, &DeviceId::parse(id).unwrap(), 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn ack_endpoint(app: &TestApp, id: &str, tok: &str, body: Value) -> (u16, Value) {
    json_response(
        app.client
            .post(app.url(&format!("/ingest/v1/devices/{id}/acks")))
            .header("authorization", format!("Bearer {tok}"))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

#[tokio::test]
async fn commands_reach_the_device_in_order_in_its_next_answer_and_are_acked_in_its_status() {
    let app = spawn_sample_tree().await;
    let (status, start) = send(&app, &[("id", PLATTE), ("kind", "start")]).await;
    assert_eq!(status, 200, "{start}");
    assert_eq!(start["state"], "queued");
    assert_eq!(start["what"], "start the motor");
    // Sent without a time to live: it waits an hour (local times, in the device's zone).
    let local = |field: &str| {
        let text = start[field].as_str().unwrap().to_string();
        let time = chrono::NaiveDateTime::parse_from_str(&text[..19], "%Y-%m-%d %H:%M:%S");
        (time.unwrap(), text[20..].to_string())
    };
    let ((created, created_zone), (expires, expires_zone)) = (local("created"), local("expires"));
    let clocks_changed = match (created_zone.as_str(), expires_zone.as_str()) {
        (a, b) if a == b => 0,
        ("MST", "MDT") => 3600,
        _ => -3600,
    };
    assert_eq!(
        (expires - created).num_seconds(),
        3600 + clocks_changed,
        "{start}"
    );
    let (_, speed) = send(
        &app,
        &[("id", PLATTE), ("kind", "set_speed"), ("percent", "70")],
    )
    .await;
    let (a, b) = (start["id"].as_u64().unwrap(), speed["id"].as_u64().unwrap());
    assert!(b > a);

    // The next post hands both over, oldest first, compact enough for Particle.
    let (status, answer) = post(&app, PLATTE, reading(2)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["commands"],
        json!([{"id": a, "kind": "start"}, {"id": b, "kind": "set_speed", "percent": 70}])
    );
    assert!(answer.to_string().len() <= 512, "{answer}");
    let listed = commands(&app, PLATTE).await;
    assert_eq!(
        states(&listed),
        vec![(b, "delivered".into()), (a, "delivered".into())]
    );

    // Until acknowledged they come again; an ack of one leaves the other.
    let mut next = reading(1);
    next["acks"] = json!([a]);
    let (_, answer) = post(&app, PLATTE, next).await;
    assert_eq!(answer["accepted"], 1, "the reading with the ack is stored");
    assert_eq!(
        answer["commands"],
        json!([{"id": b, "kind": "set_speed", "percent": 70}])
    );
    // A failure with the device's reason; a repeat of the same ack is harmless.
    let (status, answer) = post(
        &app,
        PLATTE,
        json!({"acks": [{"id": b, "ok": false, "error": "motor jammed"}, a]}),
    )
    .await;
    assert_eq!(status, 200, "an ack-only status is fine: {answer}");
    assert!(answer.get("commands").is_none(), "{answer}");
    assert!(answer.get("acks_rejected").is_none(), "{answer}");

    let listed = commands(&app, PLATTE).await;
    assert_eq!(
        states(&listed),
        vec![(b, "failed".into()), (a, "acked".into())]
    );
    assert_eq!(listed["commands"][0]["note"], "motor jammed");
    assert!(listed["commands"][0]["finished"].is_string());
    let events = kinds(&app, PLATTE).await;
    for kind in [
        "command_queued",
        "command_delivered",
        "command_acked",
        "command_failed",
    ] {
        assert!(events.contains(&kind.to_string()), "{kind} in {events:?}");
    }
}

#[tokio::test]
async fn more_commands_than_one_answer_holds_wait_their_turn_in_the_order_sent() {
    let app = spawn_sample_tree().await;
    let sent: [&[(&str, &str)]; 8] = [
        &[("kind", "stop")],
        &[("kind", "set_speed"), ("percent", "40")],
        &[("kind", "start")],
        &[("kind", "set_speed"), ("percent", "100")],
        &[("kind", "sync_schedule")],
        &[("kind", "stop")],
        &[("kind", "reboot")],
        &[("kind", "start")],
    ];
    let mut ids = Vec::new();
    for args in sent {
        let mut form = vec![("id", PLATTE)];
        form.extend_from_slice(args);
        let (status, body) = send(&app, &form).await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].as_u64().unwrap());
    }
    let handed = |answer: &Value| -> Vec<u64> {
        answer["commands"]
            .as_array()
            .map(|list| list.iter().map(|c| c["id"].as_u64().unwrap()).collect())
            .unwrap_or_default()
    };

    // One answer holds five, the oldest, and stays within one Particle chunk.
    let (_, answer) = post(&app, PLATTE, reading(3)).await;
    assert_eq!(handed(&answer), ids[..5].to_vec(), "{answer}");
    assert_eq!(
        answer["commands"][1],
        json!({"id": ids[1], "kind": "set_speed", "percent": 40})
    );
    assert!(answer.to_string().len() <= 512, "{answer}");
    let listed = states(&commands(&app, PLATTE).await);
    let mut queued: Vec<u64> = listed
        .iter()
        .filter(|(_, state)| state == "queued")
        .map(|(id, _)| *id)
        .collect();
    queued.sort();
    assert_eq!(queued, ids[5..].to_vec(), "{listed:?}");

    // The device ran three: the two it has not acknowledged come again first, then the rest.
    let mut next = reading(2);
    next["acks"] = json!(ids[..3]);
    let (_, answer) = post(&app, PLATTE, next).await;
    assert_eq!(handed(&answer), ids[3..].to_vec(), "{answer}");

    let mut last = reading(1);
    last["acks"] = json!(ids[3..]);
    let (_, answer) = post(&app, PLATTE, last).await;
    assert!(answer.get("commands").is_none(), "{answer}");
    let listed = states(&commands(&app, PLATTE).await);
    assert_eq!(listed.len(), 8);
    assert!(
        listed.iter().all(|(_, state)| state == "acked"),
        "{listed:?}"
    );
}

#[tokio::test]
async fn an_ack_of_another_devices_command_is_refused_and_changes_nothing() {
    let app = spawn_sample_tree().await;
    let (_, theirs) = send(&app, &[("id", "SF-1-00003"), ("kind", "reboot")]).await;
    let id = theirs["id"].as_u64().unwrap();

    // Platte's token, Laramie's command: refused like an unknown one.
    let (status, body) = ack_endpoint(&app, PLATTE, &token(PLATTE), json!({"acks": [id]})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "acks_rejected");
    assert_eq!(body["acks_rejected"][0]["code"], "command_not_found");
    let (status, body) =
        ack_endpoint(&app, PLATTE, &token(PLATTE), json!({"acks": [987654]})).await;
    assert_eq!(status, 422);
    assert_eq!(body["acks_rejected"][0]["code"], "command_not_found");
    // In a status the reading is stored all the same, and the refusal is named.
    let mut with_ack = reading(1);
    with_ack["acks"] = json!([id, "nonsense"]);
    let (status, answer) = post(&app, PLATTE, with_ack).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let refused: Vec<&str> = answer["acks_rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(refused, vec!["command_not_found", "invalid_ack"]);
    assert_eq!(
        states(&commands(&app, "SF-1-00003").await),
        vec![(id, "queued".into())]
    );

    // The right device acks it at the endpoint; a wrong token gets 401 and nothing else.
    let (status, _) = ack_endpoint(&app, "SF-1-00003", &token(PLATTE), json!([id])).await;
    assert_eq!(status, 401);
    let (status, body) = ack_endpoint(
        &app,
        "SF-1-00003",
        &token("SF-1-00003"),
        json!([id, 987654]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acked"], 1);
    assert_eq!(body["acks_rejected"][0]["index"], 1);
    assert_eq!(
        states(&commands(&app, "SF-1-00003").await),
        vec![(id, "acked".into())]
    );
}

#[tokio::test]
async fn bad_commands_and_bad_acks_are_refused_with_their_reason() {
    let app = spawn_sample_tree().await;
    for (form, code, needle) in [
        (
            vec![("kind", "launch")],
            "validation_failed",
            "unknown command kind",
        ),
        (
            vec![("kind", "set_speed"), ("percent", "140")],
            "validation_failed",
            "0–100",
        ),
        (vec![("kind", "set_speed")], "validation_failed", "percent"),
        (
            vec![("kind", "start"), ("ttl_s", "5")],
            "validation_failed",
            "60 s",
        ),
        (
            vec![("kind", "set_speed"), ("percent", "fast")],
            "validation_failed",
            "",
        ),
    ] {
        let mut form = form;
        form.push(("id", PLATTE));
        let (status, body) = send(&app, &form).await;
        assert_eq!(status, 422, "{form:?}: {body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, body) = send(&app, &[("id", "SF-9-99999"), ("kind", "start")]).await;
    assert_eq!(status, 404, "{body}");
    assert!(commands(&app, PLATTE).await["commands"]
        .as_array()
        .unwrap()
        .is_empty());

    let tok = token(PLATTE);
    for body in [
        json!({"nope": 1}),
        json!("acks"),
        json!({"acks": [0, -3, {"id": "x"}]}),
    ] {
        let (status, answer) = ack_endpoint(&app, PLATTE, &tok, body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    let (status, _) = json_response(
        app.client
            .post(app.url(&format!("/ingest/v1/devices/{PLATTE}/acks")))
            .header("authorization", format!("Bearer {tok}"))
            .header("content-type", "text/plain")
            .body("17"),
    )
    .await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn a_decommissioned_device_takes_no_commands() {
    let app = spawn_sample_tree().await;
    let (status, body) = app
        .post_fn(
            "/api/device_decommission",
            &[("id", PLATTE), ("confirm", "sf-1-00002")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(&app, &[("id", PLATTE), ("kind", "start")]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "device_decommissioned");
}

#[tokio::test]
async fn commands_nobody_acknowledged_expire_and_are_no_longer_handed_out() {
    let app = spawn_sample_tree().await;
    let (_, stop) = send(&app, &[("id", PLATTE), ("kind", "stop"), ("ttl_s", "60")]).await;
    let (_, keep) = send(&app, &[("id", PLATTE), ("kind", "reboot")]).await;
    let (stop, keep) = (stop["id"].as_u64().unwrap(), keep["id"].as_u64().unwrap());
    let (_, answer) = post(&app, PLATTE, reading(3)).await;
    assert_eq!(answer["commands"].as_array().unwrap().len(), 2);

    // A minute and a bit later, by the expiry job's clock.
    let later = chrono::Utc::now() + chrono::Duration::seconds(61);
    assert_eq!(app.control.expire(&app.db, later).await.unwrap(), 1);
    assert_eq!(app.control.expire(&app.db, later).await.unwrap(), 0, "once");
    let (_, answer) = post(&app, PLATTE, reading(2)).await;
    assert_eq!(answer["commands"], json!([{"id": keep, "kind": "reboot"}]));
    assert_eq!(
        states(&commands(&app, PLATTE).await),
        vec![(keep, "delivered".into()), (stop, "expired".into())]
    );
    assert!(kinds(&app, PLATTE)
        .await
        .contains(&"command_expired".to_string()));
    // The device ran it after all: its late ack counts (it had been delivered).
    let mut late = reading(1);
    late["acks"] = json!([stop]);
    let (_, answer) = post(&app, PLATTE, late).await;
    assert!(answer.get("acks_rejected").is_none(), "{answer}");
    assert_eq!(
        states(&commands(&app, PLATTE).await)[1],
        (stop, "acked".to_string())
    );
}

#[tokio::test]
async fn who_may_send_commands_follows_the_control_right() {
    let app = spawn_sample_tree().await;
    let customer = app
        .add_user(Persona::Customer, "c@platte.example", "platte")
        .await;
    let (status, body) = app
        .post_fn_as(
            &customer,
            "/api/command_send",
            &[("id", PLATTE), ("kind", "start")],
        )
        .await;
    assert_eq!(status, 200, "a customer controls their own device: {body}");
    assert_eq!(body["created_by"], "c@platte.example");
    let (status, _) = app
        .post_fn_as(
            &customer,
            "/api/command_send",
            &[("id", "SF-1-00003"), ("kind", "start")],
        )
        .await;
    assert_eq!(status, 404, "not another customer's");
    let (status, list) = app
        .post_fn_as(&customer, "/api/commands", &[("id", PLATTE)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["may_send"], true);
}

/// One function call Particle got: device, function, authorization header, `arg`.
type Call = (String, String, String, String);

/// What the Particle stand-in answers per device, and the calls it got.
#[derive(Clone, Default)]
struct FakeParticle {
    calls: Arc<Mutex<Vec<Call>>>,
    /// "begin <arg>" and "end <arg>" per call, in the order they happened.
    timeline: Arc<Mutex<Vec<String>>>,
}

async fn particle_function(
    State(fake): State<FakeParticle>,
    Path((device, function)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::response::Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let arg: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let arg = arg
        .into_iter()
        .find(|(k, _)| k == "arg")
        .map(|(_, v)| v)
        .unwrap_or_default();
    fake.calls
        .lock()
        .unwrap()
        .push((device.clone(), function, auth.clone(), arg.clone()));
    if auth != "Bearer particle-token" {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_token"})),
        )
            .into_response();
    }
    // Particle's documented answers: connected devices return the function's int; offline
    // ones are 404 "not connected"; a device that does not answer in time is 408; too many
    // calls are 429.
    match device.as_str() {
        // A device that takes its time over a start (Particle waits up to 30 s).
        SLOW => {
            fake.timeline.lock().unwrap().push(format!("begin {arg}"));
            if arg.contains("start") {
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            }
            fake.timeline.lock().unwrap().push(format!("end {arg}"));
            axum::Json(json!({"id": device, "connected": true, "return_value": 1})).into_response()
        }
        "0123456789abcdef0123456a" => axum::Json(json!({
            "id": device, "name": "pump-a", "connected": true,
            "return_value": if arg.contains("reboot") { -2 } else { 1 }
        }))
        .into_response(),
        RATE_LIMITED => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "60")],
            axum::Json(json!({"ok": false, "error": "Too many requests"})),
        )
            .into_response(),
        "0123456789abcdef0123456b" => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"ok": false, "error": "Device is not connected"})),
        )
            .into_response(),
        _ => (
            StatusCode::REQUEST_TIMEOUT,
            axum::Json(json!({"ok": false, "error": "Timed out."})),
        )
            .into_response(),
    }
}

async fn fake_particle() -> (String, FakeParticle) {
    let fake = FakeParticle::default();
    let app = axum::Router::new()
        .route(
            "/v1/devices/{device}/{function}",
            axum::routing::post(particle_function),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

async fn settled(app: &TestApp, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let list = commands(app, id).await;
        if check(&list["commands"][0]) {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{id}: no change: {}", commands(app, id).await);
}

#[tokio::test]
async fn with_a_particle_token_connected_devices_run_commands_at_once_and_others_wait_for_their_post(
) {
    let (url, fake) = fake_particle().await;
    let api = ParticleApi::new(&url, "particle-token").unwrap();
    let app = spawn_app_with(move |state| state.particle = Some(Arc::new(api))).await;
    app.add_customers(&["farm"]).await;
    let now = chrono::Utc::now();
    for id in [
        "0123456789abcdef0123456a",
        "0123456789abcdef0123456b",
        "0123456789abcdef0123456c",
    ] {
        app.add_device(
            sunfleet_tests::DeviceSpec {
                id,
                name: id,
                owner: "farm",
                model: "SP-2",
                last: Some((chrono::Duration::minutes(1), 500.0, 0.0, None)),
            },
            now,
        )
        .await;
    }
    let connected = "0123456789abcdef0123456a";
    let (status, sent) = send(
        &app,
        &[("id", connected), ("kind", "set_speed"), ("percent", "55")],
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let id = sent["id"].as_u64().unwrap();
    let list = settled(&app, connected, |c| c["state"] == "acked").await;
    assert!(
        list["commands"][0]["note"]
            .as_str()
            .unwrap()
            .contains("Particle"),
        "{list}"
    );
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![(
            connected.to_string(),
            "command".to_string(),
            "Bearer particle-token".to_string(),
            format!("{id} set_speed 55")
        )]
    );
    // The firmware's negative return value: failed.
    send(&app, &[("id", connected), ("kind", "reboot")]).await;
    settled(&app, connected, |c| c["state"] == "failed").await;

    // Not connected (404) and timed out (408): still queued, with the reason noted; the
    // device gets it in its next ingest answer.
    for (device, why) in [
        ("0123456789abcdef0123456b", "not connected"),
        ("0123456789abcdef0123456c", "did not answer in time"),
    ] {
        send(&app, &[("id", device), ("kind", "stop")]).await;
        let list = settled(&app, device, |c| c["note"].is_string()).await;
        let first = &list["commands"][0];
        assert_eq!(first["state"], "queued", "{first}");
        assert!(first["note"].as_str().unwrap().contains(why), "{first}");
    }
    let offline = "0123456789abcdef0123456b";
    let (_, answer) = post(&app, offline, reading(0)).await;
    assert_eq!(answer["commands"][0]["kind"], "stop", "{answer}");
}

/// Each command's function call runs in the background; a second command sent while the
/// first one's call lasts waits for it, so the device runs them in the order they were sent.
#[tokio::test]
async fn particle_calls_to_one_device_run_one_after_another_in_the_order_sent() {
    let (url, fake) = fake_particle().await;
    let api = ParticleApi::new(&url, "particle-token").unwrap();
    let app = spawn_app_with(move |state| state.particle = Some(Arc::new(api))).await;
    app.add_customers(&["farm"]).await;
    app.add_device(
        sunfleet_tests::DeviceSpec {
            id: SLOW,
            name: "slow pump",
            owner: "farm",
            model: "SP-2",
            last: Some((chrono::Duration::minutes(1), 500.0, 0.0, None)),
        },
        chrono::Utc::now(),
    )
    .await;
    let mut ids = Vec::new();
    for kind in ["start", "stop"] {
        let (status, sent) = send(&app, &[("id", SLOW), ("kind", kind)]).await;
        assert_eq!(status, 200, "{sent}");
        ids.push(sent["id"].as_u64().unwrap());
    }
    // Newest first: both acked once the stop is.
    let list = settled(&app, SLOW, |c| c["state"] == "acked").await;
    assert_eq!(list["commands"][1]["state"], "acked", "{list}");
    let (start, stop) = (format!("{} start", ids[0]), format!("{} stop", ids[1]));
    assert_eq!(
        *fake.timeline.lock().unwrap(),
        vec![
            format!("begin {start}"),
            format!("end {start}"),
            format!("begin {stop}"),
            format!("end {stop}"),
        ]
    );
}

#[tokio::test]
async fn particle_refusals_name_their_reason_and_leave_the_command_for_the_next_post() {
    let (url, fake) = fake_particle().await;
    // A token Particle does not take (expired, revoked): 401.
    let api = ParticleApi::new(&url, "expired-token").unwrap();
    let app = spawn_app_with(move |state| state.particle = Some(Arc::new(api))).await;
    app.add_customers(&["farm"]).await;
    let connected = "0123456789abcdef0123456a";
    app.add_device(
        sunfleet_tests::DeviceSpec {
            id: connected,
            name: "pump-a",
            owner: "farm",
            model: "SP-2",
            last: Some((chrono::Duration::minutes(1), 500.0, 0.0, None)),
        },
        chrono::Utc::now(),
    )
    .await;
    let (status, sent) = send(&app, &[("id", connected), ("kind", "stop")]).await;
    assert_eq!(status, 200, "{sent}");
    let list = settled(&app, connected, |c| c["note"].is_string()).await;
    let first = &list["commands"][0];
    assert_eq!(first["state"], "queued", "{first}");
    assert!(
        first["note"]
            .as_str()
            .unwrap()
            .contains("refused the access token (HTTP 401)"),
        "{first}"
    );
    assert_eq!(
        fake.calls.lock().unwrap().len(),
        1,
        "called once, not retried"
    );
    let (_, answer) = post(&app, connected, reading(0)).await;
    assert_eq!(answer["commands"][0]["kind"], "stop", "{answer}");

    // Rate limited (429) and no Particle at all: named, not delivered.
    let api = ParticleApi::new(&url, "particle-token").unwrap();
    assert_eq!(
        api.call(RATE_LIMITED, "7 stop").await,
        CallOutcome::NotDelivered("Particle: rate limited".into())
    );
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gone = ParticleApi::new(&format!("http://{closed}"), "particle-token").unwrap();
    assert_eq!(
        gone.call(connected, "8 stop").await,
        CallOutcome::NotDelivered("Particle API unreachable".into())
    );
    assert!(ParticleApi::new("ftp://api.particle.io", "t").is_err());
    assert!(ParticleApi::new(&url, "  ").is_err());
}

#[tokio::test]
async fn a_simulated_device_fetches_its_new_schedule_runs_a_command_and_acknowledges_both() {
    let app = spawn_app_with(|_| {}).await;
    // Seeded as of 8 days ago: the simulator's clock (at full rate) starts a week back, and
    // a report only counts when it is newer than the last one.
    let seeded = chrono::Utc::now() - chrono::Duration::days(8);
    sunfleet::demo::seed(&app.db, seeded, 240, 0)
        .await
        .expect("seed");
    let fleet = sunfleet::demo::Fleet::generate_n(seeded, sunfleet::demo::SEED, 240);
    let device = fleet
        .devices
        .iter()
        .find(|d| d.reports_live())
        .expect("a reporting demo device")
        .id
        .to_string();

    let windows = json!([{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                          "start": "05:00", "end": "09:30", "action": "setpoint", "setpoint": 80}]);
    let (status, saved) = json_response(
        app.admin.apply(
            app.client
                .post(app.url("/api/schedule_save"))
                .header("content-type", "application/json")
                .body(json!({"id": device, "windows": windows}).to_string()),
        ),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["version"], 2);
    let (status, sent) = send(
        &app,
        &[("id", &device), ("kind", "set_speed"), ("percent", "40")],
    )
    .await;
    assert_eq!(status, 200, "{sent}");

    let summary = sunfleet::simulate::run(sunfleet::simulate::SimulateArgs {
        url: app.url(""),
        devices: 240,
        rate: sunfleet::simulate::Rate::Max,
        via: sunfleet::simulate::Via::Particle,
        duration: std::time::Duration::from_secs(3),
        connections: 8,
        secret: sunfleet::demo::DEMO_INTEGRATION_SECRET.into(),
        duplicates: 0.0,
        reorder: 0.0,
        quiet: true,
        live_only: false,
    })
    .await
    .expect("simulate");
    assert_eq!(summary.acked, summary.sent, "{summary}");
    assert!(summary.commands >= 1 && summary.schedules >= 1, "{summary}");

    let list = commands(&app, &device).await;
    assert_eq!(list["commands"][0]["state"], "acked", "{list}");
    let (_, schedule) = app.post_fn("/api/schedule", &[("id", &device)]).await;
    assert_eq!(schedule["sync"]["state"], "in_sync", "{schedule}");
    assert_eq!(schedule["reported"], 2);
    // It reports the hash its fetch gave it.
    assert!(schedule["hash"].is_string(), "{schedule}");
    assert_eq!(schedule["reported_hash"], schedule["hash"], "{schedule}");
    let events = kinds(&app, &device).await;
    for kind in [
        "schedule_changed",
        "command_queued",
        "command_delivered",
        "command_acked",
        "schedule_synced",
    ] {
        assert!(events.contains(&kind.to_string()), "{kind} in {events:?}");
    }
}
