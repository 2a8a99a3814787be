//! Signing in and out, sessions, throttling, cross-site writes, and what each persona sees.

use chrono::{Duration, Utc};
use serde_json::Value;
use sunfleet_app::accounts::model::Persona;
use sunfleet_tests::{spawn_app, spawn_sample_tree, Who, ADMIN_EMAIL, PASSWORD};

fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn each_persona_sees_exactly_its_own_slice_of_the_fleet() {
    let app = spawn_sample_tree().await;
    let (partner, dealer, customer) = app.sample_personas().await;
    let cases = [
        (
            &app.admin,
            vec!["Agri Well", "Direct Well", "Laramie Well", "Platte Well"],
        ),
        (&partner, vec!["Agri Well"]),
        (&dealer, vec!["Laramie Well", "Platte Well"]),
        (&customer, vec!["Platte Well"]),
    ];
    for (who, expected) in cases {
        let (status, body) = app.post_fn_as(who, "/api/fleet", &[("filter", "")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(names(&body), expected, "{who:?}");
        assert_eq!(body["total"], expected.len(), "{who:?}");
    }
}

#[tokio::test]
async fn customer_cannot_see_other_customers_devices() {
    let app = spawn_sample_tree().await;
    let customer = app
        .add_user(Persona::Customer, "c@platte.example", "platte")
        .await;
    let (status, _) = app
        .post_fn_as(&customer, "/api/device", &[("id", "SF-1-00002")])
        .await;
    assert_eq!(status, 200);
    // Another customer's device and a device that does not exist answer the same: 404.
    for id in ["SF-1-00003", "SF-9-99999"] {
        let (status, body) = app
            .post_fn_as(&customer, "/api/device", &[("id", id)])
            .await;
        assert_eq!(status, 404, "{id}");
        assert_eq!(body["code"], "device_not_found");
    }
    let (status, _) = app.get_as(&customer, "/devices/SF-1-00003").await;
    assert_eq!(status, 404);
    let now = Utc::now();
    let (from, to) = ((now - Duration::hours(1)).to_rfc3339(), now.to_rfc3339());
    let (status, _) = app
        .post_fn_as(
            &customer,
            "/api/series",
            &[("device", "SF-1-00003"), ("from", &from), ("to", &to)],
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn anonymous_callers_reach_only_sign_in_health_and_ingest() {
    let app = spawn_sample_tree().await;
    let anon = Who::Anonymous;
    let (status, body) = app.post_fn_as(&anon, "/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "unauthorized");
    let response = app
        .client
        .get(app.url("/devices/SF-1-00002?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response.headers()["location"],
        "/login?next=%2Fdevices%2FSF-1-00002%3Fx%3D1"
    );
    let (status, html) = app.get_as(&anon, "/login").await;
    assert_eq!(status, 200);
    assert!(html.contains("Sign in"));
    assert_eq!(app.get_as(&anon, "/healthz").await.0, 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app
        .sign_in(ADMIN_EMAIL, "not-the-password")
        .await
        .unwrap_err();
    let unknown = app
        .sign_in("nobody@test.example", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong.1["code"], "invalid_credentials");
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_and_loses_open_sessions() {
    let app = spawn_app().await;
    app.db
        .query("UPDATE user SET disabled = true WHERE email = $e")
        .bind(("e", ADMIN_EMAIL))
        .await
        .unwrap()
        .check()
        .unwrap();
    let (status, _) = app.post_fn("/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 401, "the open session ends");
    let (status, body) = app.sign_in(ADMIN_EMAIL, PASSWORD).await.unwrap_err();
    assert_eq!(status, 401);
    assert_eq!(body["code"], "account_disabled");
}

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_and_signing_out_ends_the_session() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("next", "/devices/X"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert_eq!(response.text().await.unwrap(), "\"/devices/X\"");

    let (status, _) = app.post_fn("/api/logout", &[]).await;
    assert_eq!(status, 200);
    let (status, _) = app.post_fn("/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 401, "the old session no longer works");
}

#[tokio::test]
async fn a_session_presented_at_sign_in_is_replaced_not_reused() {
    let app = spawn_app().await;
    let Who::Session(old) = app.admin.clone() else {
        panic!("admin has a session")
    };
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("cookie", format!("sunfleet_session={old}"))
        .form(&[("email", ADMIN_EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!cookie.contains(&old), "a new id");
    let (status, _) = app.post_fn("/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 401, "the presented session was ended");
}

#[tokio::test]
async fn an_expired_session_is_signed_out() {
    let app = spawn_app().await;
    app.db
        .query("UPDATE session SET expires_at = time::now() - 1s")
        .await
        .unwrap()
        .check()
        .unwrap();
    let (status, _) = app.post_fn("/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 401);
    let mut left = app
        .db
        .query("RETURN count(SELECT * FROM session)")
        .await
        .unwrap();
    let left: Option<i64> = left.take(0).unwrap();
    assert_eq!(left, Some(0), "the ended session is deleted");
}

#[tokio::test]
async fn an_idle_session_is_signed_out() {
    let app = spawn_app().await;
    app.db
        .query("UPDATE session SET last_seen = time::now() - 13h")
        .await
        .unwrap()
        .check()
        .unwrap();
    let (status, _) = app.post_fn("/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_before_it_does_anything() {
    let app = spawn_app().await;
    let Who::Session(token) = app.admin.clone() else {
        panic!()
    };
    let response = app
        .client
        .post(app.url("/api/logout"))
        .header("cookie", format!("sunfleet_session={token}"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "cross_site_request");
    let (status, _) = app.post_fn("/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 200, "still signed in: the logout was refused");
}

#[tokio::test]
async fn sign_in_is_throttled_after_five_failures() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let (status, _) = app
            .sign_in(ADMIN_EMAIL, "wrong-password")
            .await
            .unwrap_err();
        assert_eq!(status, 401);
    }
    let response = app
        .client
        .post(app.url("/api/login"))
        .form(&[("email", ADMIN_EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        429,
        "even the right password waits"
    );
    let wait: u32 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 900, "{wait}");
}

#[tokio::test]
async fn api_keys_read_their_org_subtree_until_revoked_or_expired() {
    let app = spawn_sample_tree().await;
    let org = sunfleet_app::orgs::store::org_record("agri");
    let issue = |expires| {
        sunfleet_app::accounts::keys::issue_key(&app.db, &org, "erp", true, false, expires, "test")
    };
    let key = issue(None).await.unwrap();
    let who = Who::Key(key.clone());
    let (status, body) = app.post_fn_as(&who, "/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), vec!["Agri Well"]);

    // Revoked through the console (which also forgets the key's cached resolution).
    let hash = sunfleet_app::accounts::secret::token_hash(&key);
    let (status, _) = app.post_fn("/api/key_revoke", &[("id", &hash)]).await;
    assert_eq!(status, 200);
    let (status, body) = app.post_fn_as(&who, "/api/fleet", &[("filter", "")]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("api_key_revoked"))
    );

    let soon = issue(Some(Utc::now() + Duration::seconds(1)))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = app
        .post_fn_as(&Who::Key(soon), "/api/fleet", &[("filter", "")])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("api_key_expired"))
    );

    let (status, body) = app
        .post_fn_as(
            &Who::Key("sfk_nonsense".into()),
            "/api/fleet",
            &[("filter", "")],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("api_key_invalid"))
    );
}

#[tokio::test]
async fn users_are_created_only_in_an_org_of_their_persona_and_emails_are_unique() {
    use sunfleet_app::accounts::users::{create_user, UserSpec};
    let app = spawn_sample_tree().await;
    let spec = |email: &str, persona, org: &str| UserSpec {
        email: email.into(),
        name: "N".into(),
        persona,
        org: sunfleet_app::orgs::store::org_record(org),
        password: Some(PASSWORD.into()),
    };
    let err = create_user(&app.db, spec("x@y.example", Persona::Dealer, "platte"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422, "{err}");
    let err = create_user(
        &app.db,
        spec(" Admin@Test.example ", Persona::Admin, "operator"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 409, "{err}");
    let err = create_user(
        &app.db,
        UserSpec {
            password: Some("short".into()),
            ..spec("z@y.example", Persona::Customer, "platte")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 422);
}

#[tokio::test]
async fn the_home_page_greets_each_persona_with_its_own_summary() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let customer = app
        .add_user(Persona::Customer, "c@platte.example", "platte")
        .await;
    let (status, body) = app.post_fn_as(&dealer, "/api/home", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["me"]["persona"], "dealer");
    assert_eq!(body["counts"]["total"], 2);
    let orgs: Vec<&str> = body["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, vec!["Laramie", "Platte"]);
    let (status, html) = app.get_as(&customer, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("My devices") && html.contains("Platte Well"));
    assert!(!html.contains("Laramie Well"));
}

#[tokio::test]
async fn ended_sessions_are_purged_and_live_ones_kept() {
    let app = spawn_app().await;
    let other = app.sign_in(ADMIN_EMAIL, PASSWORD).await.unwrap();
    app.db
        .query("UPDATE (SELECT VALUE id FROM session LIMIT 1) SET last_seen = time::now() - 13h")
        .await
        .unwrap()
        .check()
        .unwrap();
    let idle = sunfleet_app::accounts::caller::SESSION_IDLE;
    let purged = sunfleet_app::accounts::store::purge_ended(&app.db, Utc::now(), idle)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let alive = [&app.admin, &other]
        .into_iter()
        .map(|who| app.post_fn_as(who, "/api/fleet", &[("filter", "")]));
    let mut statuses = Vec::new();
    for call in alive {
        statuses.push(call.await.0);
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 401]);
}

#[tokio::test]
async fn a_customers_home_sums_todays_solar_and_grid_energy_of_its_devices_only() {
    use sunfleet_tests::{device_token, minute};
    let app = spawn_sample_tree().await;
    let customer = app
        .add_user(Persona::Customer, "c@platte.example", "platte")
        .await;
    // Two readings a minute apart at 1,200 W solar and 60 W grid: 20 Wh and 1 Wh.
    let (first, second) = (minute(3), minute(2));
    let denver = chrono_tz::America::Denver;
    if first.with_timezone(&denver).date_naive() != Utc::now().with_timezone(&denver).date_naive() {
        return; // Denver's midnight in between: "today" has no such readings.
    }
    for device in ["SF-1-00002", "SF-1-00003"] {
        let id = sunfleet_app::devices::model::DeviceId::parse(device).unwrap();
        let body = serde_json::json!([
            {"time": first.to_rfc3339(), "solar_w": 1200.0, "grid_w": 60.0, "load_w": 1260.0,
             "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 20.0},
            {"time": second.to_rfc3339(), "solar_w": 1200.0, "grid_w": 60.0, "load_w": 1260.0,
             "motor_rpm": 3000, "motor_on": true, "dc_bus_v": 350.0, "temperature_c": 20.0},
        ]);
        let (status, answer) = app
            .post_direct(device, Some(&device_token(&id)), &body)
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    app.ingest.writer.flush().await.unwrap();
    let (status, home) = app.post_fn_as(&customer, "/api/home", &[]).await;
    assert_eq!(status, 200, "{home}");
    let solar = home["solar_wh_today"].as_f64().unwrap();
    let grid = home["grid_wh_today"].as_f64().unwrap();
    assert!((solar - 20.0).abs() < 0.01, "only Platte's device: {solar}");
    assert!((grid - 1.0).abs() < 0.01, "{grid}");
    let (_, admin_home) = app.post_fn("/api/home", &[]).await;
    let all = admin_home["solar_wh_today"].as_f64().unwrap();
    assert!((all - 40.0).abs() < 0.01, "the admin sees both: {all}");
}

/// Requests of one session arrive together (a page and its server functions) and all mark
/// it used; SurrealKV refuses all but the first of those writes, and that used to be a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_used_by_many_requests_at_once_is_touched_without_an_error() {
    use sunfleet_app::accounts::store::{create_session, touch_session};
    let app = spawn_app().await;
    let now = Utc::now();
    let user = surrealdb::types::RecordId::new("user", "racer");
    create_session(&app.db, "race", &user, now, now + Duration::days(1))
        .await
        .unwrap();
    // The statement itself does conflict when run together, so this is a real race (how
    // soon depends on how busy the machine is: rounds until the first conflict)…
    let mut conflicted = false;
    for round in 0..500 {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let db = app.db.clone();
            tasks.spawn(async move {
                db.query("UPDATE session SET last_seen = $at RETURN NONE")
                    .bind((
                        "at",
                        surrealdb::types::Datetime::from(now + Duration::seconds(round)),
                    ))
                    .await
                    .and_then(|r| r.check())
                    .err()
            });
        }
        while let Some(done) = tasks.join_next().await {
            conflicted |= done
                .unwrap()
                .is_some_and(|e| sunfleet_app::db::is_conflict(&e));
        }
        if conflicted {
            break;
        }
    }
    assert!(conflicted, "none of 500 rounds of 32 writes conflicted");
    // …which touching the session absorbs.
    for round in 0..50 {
        let at = now + Duration::minutes(round + 1);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let db = app.db.clone();
            tasks.spawn(async move { touch_session(&db, "race", at).await });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap()
                .expect("a touch that lost the race is no error");
        }
    }
}
