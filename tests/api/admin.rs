//! Managing orgs, users, passwords and API keys, and the audit trail they leave.

use serde_json::Value;
use sunfleet_app::accounts::model::Persona;
use sunfleet_tests::{spawn_sample_tree, Who, PASSWORD};

fn org_ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

fn token_of(path: &Value) -> String {
    path.as_str()
        .unwrap()
        .strip_prefix("/welcome?token=")
        .expect("a welcome link")
        .to_string()
}

#[tokio::test]
async fn an_invited_user_sets_a_password_through_the_link_once_and_signs_in() {
    let app = spawn_sample_tree().await;
    let (status, link) = app
        .post_fn(
            "/api/user_create",
            &[
                ("email", "New.Farmer@Platte.example"),
                ("name", "New Farmer"),
                ("persona", "customer"),
                ("org", "platte"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["email"], "new.farmer@platte.example");
    assert_eq!(link["invite"], true);
    let token = token_of(&link["path"]);
    // Before the link is used the user cannot sign in at all.
    assert_eq!(
        app.sign_in("new.farmer@platte.example", PASSWORD)
            .await
            .unwrap_err()
            .0,
        401
    );
    let app = &app;
    let accept = |password: &'static str| {
        let token = token.clone();
        async move {
            app.post_fn_as(
                &Who::Anonymous,
                "/api/link_accept",
                &[("token", &token), ("password", password)],
            )
            .await
        }
    };
    let (status, body) = accept("short").await;
    assert_eq!(status, 422, "too short: {body}");
    let (status, body) = accept(PASSWORD).await;
    assert_eq!(
        (status, body.as_str()),
        (200, Some("new.farmer@platte.example"))
    );
    let (status, body) = accept("another long password").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("link_invalid")),
        "once only"
    );
    let who = app
        .sign_in("new.farmer@platte.example", PASSWORD)
        .await
        .expect("signs in with the password set through the link");
    let (status, body) = app.post_fn_as(&who, "/api/fleet", &[("filter", "")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["rows"][0]["name"], "Platte Well");
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_and_ends_the_users_sessions() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let customer = app
        .add_user(Persona::Customer, "c@platte.example", "platte")
        .await;
    let (status, users) = app.post_fn_as(&dealer, "/api/users", &[]).await;
    assert_eq!(status, 200);
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "c@platte.example")
        .expect("the dealer manages its customer's user")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, link) = app
        .post_fn_as(&dealer, "/api/user_reset", &[("id", &id)])
        .await;
    assert_eq!(status, 200, "{link}");
    assert_eq!(link["invite"], false);
    let (status, _) = app
        .post_fn_as(
            &Who::Anonymous,
            "/api/link_accept",
            &[
                ("token", &token_of(&link["path"])),
                ("password", "brand new password"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post_fn_as(&customer, "/api/fleet", &[("filter", "")])
        .await;
    assert_eq!(status, 401, "the old session ended");
    assert!(app.sign_in("c@platte.example", PASSWORD).await.is_err());
    assert!(app
        .sign_in("c@platte.example", "brand new password")
        .await
        .is_ok());
}

#[tokio::test]
async fn changing_ones_password_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_sample_tree().await;
    let here = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let elsewhere = app.sign_in("d@rocky.example", PASSWORD).await.unwrap();
    let (status, body) = app
        .post_fn_as(
            &here,
            "/api/password_change",
            &[("current", "wrong one"), ("new", "a new long password")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = app
        .post_fn_as(
            &here,
            "/api/password_change",
            &[("current", PASSWORD), ("new", "a new long password")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.post_fn_as(&here, "/api/fleet", &[("filter", "")])
            .await
            .0,
        200,
        "this session stays"
    );
    assert_eq!(
        app.post_fn_as(&elsewhere, "/api/fleet", &[("filter", "")])
            .await
            .0,
        401,
        "the other one ends"
    );
    assert!(app
        .sign_in("d@rocky.example", "a new long password")
        .await
        .is_ok());
}

#[tokio::test]
async fn an_org_cannot_move_under_its_own_descendant_and_nothing_changes() {
    let app = spawn_sample_tree().await;
    let (status, body) = app
        .post_fn("/api/org_move", &[("id", "rocky"), ("parent", "platte")])
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, orgs) = app.post_fn("/api/orgs", &[]).await;
    let platte = orgs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "platte")
        .unwrap();
    assert_eq!(platte["parent"], "rocky");
    assert_eq!(platte["depth"], 2);
}

#[tokio::test]
async fn moving_a_customer_to_another_dealer_moves_who_sees_its_devices() {
    let app = spawn_sample_tree().await;
    let rocky = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let basin = app
        .add_user(Persona::Dealer, "d@basin.example", "basin")
        .await;
    let count = |who: &Who| {
        let who = who.clone();
        let app = &app;
        async move {
            app.post_fn_as(&who, "/api/fleet", &[("filter", "")])
                .await
                .1["total"]
                .clone()
        }
    };
    assert_eq!(count(&rocky).await, 2);
    assert_eq!(count(&basin).await, 0);
    let (status, body) = app
        .post_fn("/api/org_move", &[("id", "platte"), ("parent", "basin")])
        .await;
    assert_eq!(status, 200, "{body}");
    // Scope is resolved per request: the next requests see the new tree.
    assert_eq!(count(&rocky).await, 1);
    assert_eq!(count(&basin).await, 1);
    let (_, orgs) = app.post_fn_as(&basin, "/api/orgs", &[]).await;
    assert_eq!(org_ids(&orgs), vec!["basin", "platte"]);
}

#[tokio::test]
async fn an_org_that_still_owns_something_is_not_deleted() {
    let app = spawn_sample_tree().await;
    let (status, body) = app.post_fn("/api/org_delete", &[("id", "platte")]).await;
    assert_eq!(status, 409);
    assert_eq!(
        body["message"],
        "Platte still has 1 device; move or remove them first"
    );
    let (status, body) = app.post_fn("/api/org_delete", &[("id", "rocky")]).await;
    assert_eq!(status, 409);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("2 child organisations"),
        "{body}"
    );
    let (status, _) = app.post_fn("/api/org_delete", &[("id", "basin")]).await;
    assert_eq!(status, 200, "an empty dealer goes");
    let (_, orgs) = app.post_fn("/api/orgs", &[]).await;
    assert!(!org_ids(&orgs).contains(&"basin".to_string()));
}

#[tokio::test]
async fn dealers_create_customers_under_themselves_only() {
    let app = spawn_sample_tree().await;
    let dealer = app
        .add_user(Persona::Dealer, "d@rocky.example", "rocky")
        .await;
    let create = |kind: &'static str, parent: &'static str| {
        let dealer = dealer.clone();
        let app = &app;
        async move {
            app.post_fn_as(
                &dealer,
                "/api/org_create",
                &[
                    ("name", "Sweetwater Ranch"),
                    ("kind", kind),
                    ("parent", parent),
                ],
            )
            .await
        }
    };
    let (status, body) = create("customer", "rocky").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "sweetwater-ranch");
    assert_eq!(body["parent"], "rocky");
    assert_eq!(create("customer", "basin").await.0, 403);
    assert_eq!(create("dealer", "rocky").await.0, 403);
    let (status, body) = create("customer", "rocky").await;
    assert_eq!(
        (status, &body["id"]),
        (200, &Value::from("sweetwater-ranch-2"))
    );
    // An admin cannot place a partner under a dealer either.
    let (status, _) = app
        .post_fn(
            "/api/org_create",
            &[("name", "P"), ("kind", "partner"), ("parent", "rocky")],
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn partners_manage_their_own_org_and_nobody_disables_themselves() {
    let app = spawn_sample_tree().await;
    let partner = app
        .add_user(Persona::Partner, "p@agri.example", "agri")
        .await;
    let (status, users) = app.post_fn_as(&partner, "/api/users", &[]).await;
    assert_eq!(status, 200);
    let emails: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["p@agri.example"]);
    let (status, _) = app
        .post_fn_as(
            &partner,
            "/api/user_create",
            &[
                ("email", "x@rocky.example"),
                ("name", "X"),
                ("persona", "dealer"),
                ("org", "rocky"),
            ],
        )
        .await;
    assert_eq!(status, 404, "rocky is not the partner's to manage");
    let id = users[0]["id"].as_str().unwrap();
    let (status, body) = app
        .post_fn_as(
            &partner,
            "/api/user_update",
            &[
                ("id", id),
                ("name", "P"),
                ("persona", "partner"),
                ("org", "agri"),
                ("disabled", "on"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        app.post_fn_as(&partner, "/api/users", &[]).await.0,
        200,
        "still signed in"
    );
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_at_once() {
    let app = spawn_sample_tree().await;
    let customer = app
        .add_user(Persona::Customer, "c@platte.example", "platte")
        .await;
    // Used just before: its resolution is cached, and must be forgotten.
    assert_eq!(
        app.post_fn_as(&customer, "/api/fleet", &[("filter", "")])
            .await
            .0,
        200
    );
    let (_, users) = app.post_fn("/api/users", &[]).await;
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "c@platte.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = app
        .post_fn(
            "/api/user_update",
            &[
                ("id", &id),
                ("name", "C"),
                ("persona", "customer"),
                ("org", "platte"),
                ("disabled", "on"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.post_fn_as(&customer, "/api/fleet", &[("filter", "")])
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn overlong_and_malformed_fields_are_refused_and_nothing_is_created() {
    let app = spawn_sample_tree().await;
    let long_name = "n".repeat(101);
    let long_email = format!("{}@x.example", "a".repeat(260));
    for (email, name) in [
        ("ok@platte.example", long_name.as_str()),
        (long_email.as_str(), "Name"),
        ("not an email", "Name"),
    ] {
        let (status, body) = app
            .post_fn(
                "/api/user_create",
                &[
                    ("email", email),
                    ("name", name),
                    ("persona", "customer"),
                    ("org", "platte"),
                ],
            )
            .await;
        assert_eq!(status, 422, "{body}");
    }
    let (_, users) = app.post_fn("/api/users", &[]).await;
    assert_eq!(users.as_array().unwrap().len(), 1, "only the test admin");
    let (status, _) = app
        .post_fn(
            "/api/org_create",
            &[
                ("name", &long_name),
                ("kind", "customer"),
                ("parent", "rocky"),
            ],
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn partners_issue_keys_that_work_until_revoked_and_every_change_is_audited() {
    let app = spawn_sample_tree().await;
    let partner = app
        .add_user(Persona::Partner, "p@agri.example", "agri")
        .await;
    let (status, key) = app
        .post_fn_as(
            &partner,
            "/api/key_create",
            &[
                ("org", "agri"),
                ("name", "ERP"),
                ("read", "on"),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{key}");
    let secret = key["secret"].as_str().unwrap().to_string();
    let who = Who::Key(secret.clone());
    assert_eq!(
        app.post_fn_as(&who, "/api/fleet", &[("filter", "")])
            .await
            .0,
        200
    );
    let (_, keys) = app.post_fn_as(&partner, "/api/keys", &[]).await;
    let listed = &keys[0];
    assert_eq!(listed["prefix"], secret[..12]);
    assert!(listed["last_used"].is_string(), "use is recorded: {listed}");
    assert!(
        !keys.to_string().contains(&secret),
        "the secret is never listed"
    );
    let (status, _) = app
        .post_fn_as(
            &partner,
            "/api/key_revoke",
            &[("id", listed["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.post_fn_as(&who, "/api/fleet", &[("filter", "")])
            .await
            .0,
        401
    );

    let (status, log) = app
        .post_fn("/api/audit", &[("actor", "p@agri.example")])
        .await;
    assert_eq!(status, 200, "{log}");
    let kinds: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["api_key_revoked", "api_key_created"]);
    assert!(log["entries"][0]["actor"]
        .as_str()
        .unwrap()
        .contains("p@agri.example"));
    assert_eq!(log["entries"][0]["org"], "Agri");
    let (status, _) = app.post_fn_as(&partner, "/api/audit", &[]).await;
    assert_eq!(status, 403, "only admins read the audit trail");
}

#[tokio::test]
async fn org_pickers_offer_only_the_orgs_in_the_callers_scope() {
    let app = spawn_sample_tree().await;
    let (partner, dealer, customer) = app.sample_personas().await;
    let picker = |who: Option<Who>| {
        let app = &app;
        async move {
            let (status, body) = match who {
                Some(who) => app.post_fn_as(&who, "/api/org_names", &[]).await,
                None => app.post_fn("/api/org_names", &[]).await,
            };
            assert_eq!(status, 200, "{body}");
            let mut ids: Vec<String> = body
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| pair[0].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let everything = picker(None).await;
    for org in [
        "agri",
        "agri-farm",
        "rocky",
        "platte",
        "laramie",
        "direct",
        "basin",
    ] {
        assert!(everything.contains(&org.to_string()), "admin misses {org}");
    }
    assert_eq!(picker(Some(partner)).await, ["agri", "agri-farm"]);
    assert_eq!(picker(Some(dealer)).await, ["laramie", "platte", "rocky"]);
    assert_eq!(picker(Some(customer)).await, ["platte"]);
}
