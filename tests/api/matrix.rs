//! The authorization matrix: every endpoint the router serves, called as every kind of
//! caller, with the exact outcome expected. The endpoint list comes from the router itself
//! (`sunfleet::http::endpoints`), so a new endpoint without an entry here fails this test.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use serde_json::Value;
use sunfleet_app::accounts::model::Persona;
use sunfleet_tests::{spawn_sample_tree, TestApp, Who};

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 9] = [
    "anonymous",
    "admin",
    "partner",
    "dealer",
    "customer",
    "disabled user",
    "expired key",
    "revoked key",
    "read-only key",
];

/// What a caller gets.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// This status (for pages: 303 is "sent to sign in").
    Status(u16),
    /// 200 with exactly these device names (fleet-shaped answers).
    Rows(&'static [&'static str]),
}
use Outcome::*;

const ALL: &[&str] = &["Agri Well", "Direct Well", "Laramie Well", "Platte Well"];
const AGRI: &[&str] = &["Agri Well"];
const ROCKY: &[&str] = &["Laramie Well", "Platte Well"];
const PLATTE: &[&str] = &["Platte Well"];

/// One request to make.
enum Request {
    Get(&'static str),
    /// A server function, form-encoded like the browser sends it.
    Fn(&'static str, Vec<(&'static str, String)>),
    /// A raw POST with a JSON body (ingest).
    PostJson(&'static str, &'static str),
}

struct Row {
    method: &'static str,
    /// The route as the router names it.
    route: &'static str,
    request: Request,
    expect: [Outcome; 9],
}

fn rows() -> Vec<Row> {
    let now = Utc::now();
    let from = (now - Duration::hours(1)).to_rfc3339();
    let to = now.to_rfc3339();
    let series = |device: &'static str| {
        vec![
            ("device", device.to_string()),
            ("from", from.clone()),
            ("to", to.clone()),
        ]
    };
    let s = Status;
    vec![
        Row {
            method: "GET",
            route: "/healthz",
            request: Request::Get("/healthz"),
            expect: [s(200); 9],
        },
        Row {
            method: "GET",
            route: "/readyz",
            request: Request::Get("/readyz"),
            expect: [s(200); 9],
        },
        // Ingest has its own credentials (integration secret, device token); sessions and
        // API keys are not among them.
        Row {
            method: "POST",
            route: "/ingest/particle",
            request: Request::PostJson(
                "/ingest/particle",
                r#"{"event":"status","data":"{}","coreid":"SF-1-00002"}"#,
            ),
            expect: [s(401); 9],
        },
        Row {
            method: "POST",
            route: "/ingest/v1/devices/{id}/status",
            request: Request::PostJson("/ingest/v1/devices/SF-1-00002/status", "{}"),
            expect: [s(401); 9],
        },
        Row {
            method: "GET",
            route: "/login",
            request: Request::Get("/login"),
            // Signed-in callers are sent on home; a failed key says why.
            expect: [
                s(200),
                s(302),
                s(302),
                s(302),
                s(302),
                s(200),
                s(401),
                s(401),
                s(302),
            ],
        },
        Row {
            method: "POST",
            route: "/api/login",
            request: Request::Fn(
                "/api/login",
                vec![
                    ("email", "nobody@test.example".into()),
                    ("password", "wrong-password".into()),
                ],
            ),
            // Reachable by all; the same wrong sign-in, repeated: the sixth try on one
            // account is throttled (failed keys are stopped at the gate and do not count).
            expect: [
                s(401),
                s(401),
                s(401),
                s(401),
                s(401),
                s(429),
                s(401),
                s(401),
                s(429),
            ],
        },
        Row {
            method: "GET",
            route: "/",
            request: Request::Get("/"),
            expect: pages(),
        },
        Row {
            method: "GET",
            route: "/fleet",
            request: Request::Get("/fleet"),
            expect: pages(),
        },
        Row {
            method: "GET",
            route: "/devices/{id}",
            request: Request::Get("/devices/SF-1-00002"),
            // Platte's device: outside the partner's (and its key's) scope, a 404.
            expect: [
                s(303),
                s(200),
                s(404),
                s(200),
                s(200),
                s(303),
                s(401),
                s(401),
                s(404),
            ],
        },
        Row {
            method: "POST",
            route: "/api/fleet",
            request: Request::Fn("/api/fleet", vec![("filter", String::new())]),
            expect: [
                s(401),
                Rows(ALL),
                Rows(AGRI),
                Rows(ROCKY),
                Rows(PLATTE),
                s(401),
                s(401),
                s(401),
                Rows(AGRI),
            ],
        },
        Row {
            method: "GET",
            route: "/charts",
            request: Request::Get("/charts"),
            expect: pages(),
        },
        Row {
            method: "POST",
            route: "/api/chart",
            request: Request::Fn(
                "/api/chart",
                vec![("config", "device=SF-1-00002&m=solar".into())],
            ),
            // Platte's device: outside the partner's (and its key's) scope.
            expect: fns([s(200), s(404), s(200), s(200)], s(404)),
        },
        Row {
            method: "POST",
            route: "/api/charts",
            request: Request::Fn("/api/charts", vec![]),
            // Saved charts are people's; a key has none.
            expect: fns([s(200), s(200), s(200), s(200)], s(200)),
        },
        Row {
            method: "POST",
            route: "/api/chart_save",
            request: Request::Fn(
                "/api/chart_save",
                vec![("name", "Mine".into()), ("config", "m=solar".into())],
            ),
            expect: fns([s(200), s(200), s(200), s(200)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/chart_delete",
            request: Request::Fn("/api/chart_delete", vec![("id", "nosuchchart".into())]),
            expect: fns([s(404), s(404), s(404), s(404)], s(403)),
        },
        Row {
            method: "GET",
            route: "/fleet.csv",
            request: Request::Get("/fleet.csv"),
            expect: pages(),
        },
        Row {
            method: "GET",
            route: "/devices/new",
            request: Request::Get("/devices/new"),
            expect: managers(&[true, false, true, false]),
        },
        Row {
            method: "GET",
            route: "/devices/import",
            request: Request::Get("/devices/import"),
            expect: managers(&[true, false, true, false]),
        },
        Row {
            method: "POST",
            route: "/api/fleet_map",
            request: Request::Fn("/api/fleet_map", vec![("filter", String::new())]),
            expect: signed_in(200),
        },
        Row {
            method: "POST",
            route: "/api/device_orgs",
            request: Request::Fn("/api/device_orgs", vec![]),
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_register",
            request: Request::Fn(
                "/api/device_register",
                vec![
                    ("id", "SF-9-MATRIX".into()),
                    ("name", "Matrix Well".into()),
                    ("model", "SPC-5".into()),
                    ("firmware", "1.0".into()),
                    ("owner", "platte".into()),
                    ("timezone", "America/Denver".into()),
                ],
            ),
            // The admin registers it; the dealer, allowed too, then finds the id taken.
            expect: fns([s(200), s(403), s(409), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_update",
            request: Request::Fn(
                "/api/device_update",
                vec![
                    ("id", "SF-1-00002".into()),
                    ("name", "Platte Well".into()),
                    ("model", "SPC-5".into()),
                    ("firmware", "".into()),
                    ("timezone", "America/Denver".into()),
                    ("offline_timeout_min", "10".into()),
                ],
            ),
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_transfer",
            request: Request::Fn(
                "/api/device_transfer",
                vec![("id", "SF-1-00002".into()), ("owner", "platte".into())],
            ),
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_locate",
            request: Request::Fn(
                "/api/device_locate",
                vec![
                    ("id", "SF-1-00002".into()),
                    ("lat", "41.1".into()),
                    ("lon", "-104.8".into()),
                    ("source", "typed".into()),
                ],
            ),
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_token",
            request: Request::Fn("/api/device_token", vec![("id", "SF-1-00002".into())]),
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_decommission",
            request: Request::Fn(
                "/api/device_decommission",
                vec![
                    ("id", "SF-1-00002".into()),
                    ("confirm", "not the id".into()),
                ],
            ),
            // Allowed callers get as far as the confirmation, which is wrong: nothing changes.
            expect: fns([s(422), s(403), s(422), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device_import",
            request: Request::Fn(
                "/api/device_import",
                vec![
                    ("csv", "id,name\nSF-1-00002,Platte Well\n".into()),
                    ("commit", "false".into()),
                ],
            ),
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/device",
            request: Request::Fn("/api/device", vec![("id", "SF-1-00003".into())]),
            // Laramie's device: the Platte customer gets the same 404 as for no device.
            expect: [
                s(401),
                s(200),
                s(404),
                s(200),
                s(404),
                s(401),
                s(401),
                s(401),
                s(404),
            ],
        },
        Row {
            method: "POST",
            route: "/api/schedule",
            request: Request::Fn("/api/schedule", vec![("id", "SF-1-00002".into())]),
            // Platte's device: outside the partner's and the agri key's subtree.
            expect: fns([s(200), s(404), s(200), s(200)], s(404)),
        },
        Row {
            method: "POST",
            route: "/api/schedule_save",
            request: Request::PostJson(
                "/api/schedule_save",
                r#"{"id":"SF-1-00002","windows":[{"days":["mon"],"start":"06:00","end":"07:00","action":"run"}]}"#,
            ),
            // Customers steer their own devices; a key without `control` may not.
            expect: fns([s(200), s(404), s(200), s(200)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/schedule_copy_preview",
            request: Request::Fn(
                "/api/schedule_copy_preview",
                vec![("id", "SF-1-00002".into()), ("ids", "SF-1-00003".into())],
            ),
            // From Platte (saved above) to Laramie: the customer may not reach Laramie.
            expect: fns([s(200), s(404), s(200), s(404)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/schedule_copy",
            request: Request::Fn(
                "/api/schedule_copy",
                vec![
                    ("id", "SF-1-00002".into()),
                    ("ids", "SF-1-00003".into()),
                    ("expect", "999".into()),
                ],
            ),
            // Not the previewed count: a conflict, and nothing copied.
            expect: fns([s(409), s(404), s(409), s(404)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/commands",
            request: Request::Fn("/api/commands", vec![("id", "SF-1-00002".into())]),
            expect: fns([s(200), s(404), s(200), s(200)], s(404)),
        },
        Row {
            method: "POST",
            route: "/api/command_send",
            request: Request::Fn(
                "/api/command_send",
                vec![("id", "SF-1-00002".into()), ("kind", "stop".into())],
            ),
            // As schedules: customers their own devices, keys only with `control`.
            expect: fns([s(200), s(404), s(200), s(200)], s(403)),
        },
        Row {
            method: "POST",
            route: "/ingest/v1/devices/{id}/acks",
            request: Request::PostJson("/ingest/v1/devices/SF-1-00002/acks", "[1]"),
            // Only the device's own token acknowledges its commands.
            expect: [s(401); 9],
        },
        Row {
            method: "GET",
            route: "/ingest/v1/devices/{id}/schedule",
            request: Request::Get("/ingest/v1/devices/SF-1-00002/schedule"),
            // Only the device's own token fetches its schedule.
            expect: [s(401); 9],
        },
        Row {
            method: "POST",
            route: "/api/series",
            request: Request::Fn("/api/series", series("SF-1-00001")),
            expect: [
                s(401),
                s(200),
                s(200),
                s(404),
                s(404),
                s(401),
                s(401),
                s(401),
                s(200),
            ],
        },
        Row {
            method: "POST",
            route: "/api/home",
            request: Request::Fn("/api/home", vec![]),
            expect: signed_in(200),
        },
        Row {
            method: "POST",
            route: "/api/whoami",
            request: Request::Fn("/api/whoami", vec![]),
            expect: signed_in(200),
        },
        Row {
            method: "ANY",
            route: "/api/{*rest}",
            request: Request::Fn("/api/no-such-function", vec![]),
            // Behind the gate like the rest of `/api/`: who is not signed in learns nothing.
            expect: signed_in(404),
        },
        Row {
            method: "GET",
            route: "/orgs",
            request: Request::Get("/orgs"),
            expect: pages(),
        },
        Row {
            method: "GET",
            route: "/users",
            request: Request::Get("/users"),
            expect: managers(&[true, true, true, false]),
        },
        Row {
            method: "GET",
            route: "/keys",
            request: Request::Get("/keys"),
            expect: managers(&[true, true, false, false]),
        },
        Row {
            method: "GET",
            route: "/audit",
            request: Request::Get("/audit"),
            expect: managers(&[true, false, false, false]),
        },
        Row {
            method: "GET",
            route: "/api-docs",
            request: Request::Get("/api-docs"),
            expect: pages(),
        },
        Row {
            method: "GET",
            route: "/account",
            request: Request::Get("/account"),
            expect: pages(),
        },
        Row {
            method: "GET",
            route: "/welcome",
            request: Request::Get("/welcome?token=x"),
            // Public: the link in it is the credential.
            expect: [
                s(200),
                s(200),
                s(200),
                s(200),
                s(200),
                s(200),
                s(401),
                s(401),
                s(200),
            ],
        },
        Row {
            method: "POST",
            route: "/api/orgs",
            request: Request::Fn("/api/orgs", vec![]),
            expect: signed_in(200),
        },
        Row {
            method: "POST",
            route: "/api/org_names",
            request: Request::Fn("/api/org_names", vec![]),
            expect: signed_in(200),
        },
        Row {
            method: "POST",
            route: "/api/org_create",
            request: Request::Fn(
                "/api/org_create",
                vec![
                    ("name", "New Farm".into()),
                    ("kind", "customer".into()),
                    ("parent", "rocky".into()),
                ],
            ),
            // Dealers create customers under themselves; nobody else but admins.
            expect: fns([s(200), s(403), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/org_rename",
            request: Request::Fn(
                "/api/org_rename",
                vec![("id", "direct".into()), ("name", "Direct".into())],
            ),
            expect: fns([s(200), s(403), s(403), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/org_move",
            request: Request::Fn(
                "/api/org_move",
                vec![("id", "laramie".into()), ("parent", "rocky".into())],
            ),
            expect: fns([s(200), s(403), s(403), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/org_delete",
            request: Request::Fn("/api/org_delete", vec![("id", "no-such-org".into())]),
            expect: fns([s(404), s(403), s(403), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/users",
            request: Request::Fn("/api/users", vec![]),
            expect: fns([s(200), s(200), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/user_create",
            request: Request::Fn(
                "/api/user_create",
                vec![
                    ("email", "invitee@platte.example".into()),
                    ("name", "Invitee".into()),
                    ("persona", "customer".into()),
                    ("org", "platte".into()),
                ],
            ),
            // The partner does not manage Platte (404); the dealer does, but the admin has
            // just invited that email (409).
            expect: fns([s(200), s(404), s(409), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/user_update",
            request: Request::Fn(
                "/api/user_update",
                vec![
                    ("id", "fixed".into()),
                    ("name", "Fixed User".into()),
                    ("persona", "customer".into()),
                    ("org", "platte".into()),
                ],
            ),
            expect: fns([s(200), s(404), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/user_reset",
            request: Request::Fn("/api/user_reset", vec![("id", "fixed".into())]),
            expect: fns([s(200), s(404), s(200), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/link_accept",
            request: Request::Fn(
                "/api/link_accept",
                vec![
                    ("token", "bogus".into()),
                    ("password", "long enough password".into()),
                ],
            ),
            // Public; a token that is no link is refused.
            expect: [
                s(403),
                s(403),
                s(403),
                s(403),
                s(403),
                s(403),
                s(401),
                s(401),
                s(403),
            ],
        },
        Row {
            method: "POST",
            route: "/api/password_change",
            request: Request::Fn(
                "/api/password_change",
                vec![
                    ("current", "not the password".into()),
                    ("new", "long enough password".into()),
                ],
            ),
            // Users get as far as the wrong current password; a key has no password.
            expect: fns([s(422), s(422), s(422), s(422)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/keys",
            request: Request::Fn("/api/keys", vec![]),
            expect: fns([s(200), s(200), s(403), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/key_create",
            request: Request::Fn(
                "/api/key_create",
                vec![
                    ("org", "agri".into()),
                    ("name", "erp".into()),
                    ("read", "on".into()),
                ],
            ),
            expect: fns([s(200), s(200), s(403), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/key_revoke",
            request: Request::Fn("/api/key_revoke", vec![("id", "0".repeat(64))]),
            expect: fns([s(404), s(404), s(403), s(403)], s(403)),
        },
        Row {
            method: "GET",
            route: "/history",
            request: Request::Get("/history"),
            expect: pages(),
        },
        Row {
            method: "POST",
            route: "/api/history",
            request: Request::Fn("/api/history", vec![("query", "device=SF-1-00002".into())]),
            // Platte Well is the dealer's and the customer's, not the partner's (nor its key's).
            expect: fns([s(200), s(404), s(200), s(200)], s(404)),
        },
        Row {
            method: "GET",
            route: "/history.csv",
            request: Request::Get("/history.csv?device=SF-1-00002"),
            expect: [
                s(303),
                s(200),
                s(404),
                s(200),
                s(200),
                s(303),
                s(401),
                s(401),
                s(404),
            ],
        },
        Row {
            method: "POST",
            route: "/api/audit",
            request: Request::Fn("/api/audit", vec![]),
            expect: fns([s(200), s(403), s(403), s(403)], s(403)),
        },
        Row {
            method: "POST",
            route: "/api/logout",
            request: Request::Fn("/api/logout", vec![]),
            expect: signed_in(200),
        },
    ]
}

/// Pages: anonymous and ended sessions are sent to sign in; failed keys get a 401.
fn pages() -> [Outcome; 9] {
    let s = Status;
    [
        s(303),
        s(200),
        s(200),
        s(200),
        s(200),
        s(303),
        s(401),
        s(401),
        s(200),
    ]
}

/// Pages that need a right: 403 for the personas (admin, partner, dealer, customer) without
/// it and for the read-only key.
fn managers(allowed: &[bool; 4]) -> [Outcome; 9] {
    let p = |ok: bool| Status(if ok { 200 } else { 403 });
    let s = Status;
    [
        s(303),
        p(allowed[0]),
        p(allowed[1]),
        p(allowed[2]),
        p(allowed[3]),
        s(303),
        s(401),
        s(401),
        s(403),
    ]
}

/// A server function: the four personas' outcomes and the read-only key's; anonymous,
/// disabled, expired and revoked callers get 401.
fn fns(personas: [Outcome; 4], key: Outcome) -> [Outcome; 9] {
    let s = Status;
    [
        s(401),
        personas[0],
        personas[1],
        personas[2],
        personas[3],
        s(401),
        s(401),
        s(401),
        key,
    ]
}

/// Server functions every identity may call.
fn signed_in(ok: u16) -> [Outcome; 9] {
    let s = Status;
    [
        s(401),
        s(ok),
        s(ok),
        s(ok),
        s(ok),
        s(401),
        s(401),
        s(401),
        s(ok),
    ]
}

/// Fresh credentials of every kind (sessions are fresh because `/api/logout` ends them).
async fn callers(app: &TestApp, round: usize) -> Vec<Who> {
    use sunfleet_app::accounts::{keys, secret, store};
    let user = |persona, name: &'static str, org: &'static str| {
        let email = format!("{name}{round}@{org}.example");
        async move { app.add_user(persona, &email, org).await }
    };
    let admin = app
        .sign_in(sunfleet_tests::ADMIN_EMAIL, sunfleet_tests::PASSWORD)
        .await
        .unwrap();
    let partner = user(Persona::Partner, "partner", "agri").await;
    let dealer = user(Persona::Dealer, "dealer", "rocky").await;
    let customer = user(Persona::Customer, "customer", "platte").await;
    let disabled = user(Persona::Dealer, "disabled", "rocky").await;
    app.db
        .query("UPDATE user SET disabled = true WHERE email = $e")
        .bind(("e", format!("disabled{round}@rocky.example")))
        .await
        .unwrap()
        .check()
        .unwrap();
    let agri = sunfleet_app::orgs::store::org_record("agri");
    let key = |expires| keys::issue_key(&app.db, &agri, "k", true, false, expires, "test");
    let expiring = key(Some(Utc::now() + Duration::milliseconds(300)))
        .await
        .unwrap();
    let revoked = key(None).await.unwrap();
    store::revoke_api_key(&app.db, &secret::token_hash(&revoked), Utc::now())
        .await
        .unwrap();
    let read = key(None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    vec![
        Who::Anonymous,
        admin,
        partner,
        dealer,
        customer,
        disabled,
        Who::Key(expiring),
        Who::Key(revoked),
        Who::Key(read),
    ]
}

async fn call(app: &TestApp, who: &Who, request: &Request) -> (u16, Value) {
    match request {
        Request::Get(path) => {
            let (status, body) = app.get_as(who, path).await;
            (status, serde_json::from_str(&body).unwrap_or(Value::Null))
        }
        Request::Fn(path, form) => {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_fn_as(who, path, &form).await
        }
        Request::PostJson(path, body) => {
            let response = who
                .apply(
                    app.client
                        .post(app.url(path))
                        .header("content-type", "application/json")
                        .body(*body),
                )
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
    }
}

fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| r["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn every_endpoint_answers_every_kind_of_caller_exactly_as_specified() {
    let app = spawn_sample_tree().await;
    // A user with a known id, for the rows that change one.
    app.db
        .query(
            "CREATE user:fixed SET email = 'fixed@platte.example', name = 'Fixed',
                               org = org:platte, persona = 'customer'",
        )
        .await
        .unwrap()
        .check()
        .unwrap();
    let rows = rows();
    let served: BTreeSet<(String, String)> = sunfleet::http::endpoints()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    let specified: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    let missing: Vec<_> = served.difference(&specified).collect();
    assert!(
        missing.is_empty(),
        "endpoints without an authorization entry (add them to tests/api/matrix.rs): {missing:?}"
    );
    let stale: Vec<_> = specified.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "entries for endpoints that no longer exist: {stale:?}"
    );

    let mut failures = Vec::new();
    for (round, row) in rows.iter().enumerate() {
        let callers = callers(&app, round).await;
        for ((who, name), expected) in callers.iter().zip(CALLERS).zip(row.expect) {
            let (status, body) = call(&app, who, &row.request).await;
            let ok = match expected {
                Status(want) => status == want,
                Rows(want) => status == 200 && names(&body) == want,
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {name}: expected {expected:?}, got {status} {body}",
                    row.method, row.route
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
