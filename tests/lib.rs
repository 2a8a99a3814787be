//! Test helpers: `spawn_app()` starts the real router on a random port with a fresh
//! SurrealKV database on disk, and `TestApp` has one method per endpoint.

use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sunfleet::{router, AppState};
use sunfleet_app::accounts::model::Persona;
use sunfleet_app::accounts::users;
use sunfleet_app::db::{self, Db, DbConfig};
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::devices::store::{self as devices, NewDevice, StatusRecord};
use sunfleet_app::orgs::store::{self as orgs, org_record, NewOrg};

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    pub client: reqwest::Client,
    /// The admin every helper without a `_as` acts as.
    pub admin: Who,
    /// Keeps the database directory alive for the test's duration.
    pub dir: tempfile::TempDir,
    /// The server's ingest writer and auth caches.
    pub ingest: sunfleet::ingest::Ingest,
    /// The server's control cache (schedules and open commands), e.g. to run the command
    /// expiry job's step.
    pub control: std::sync::Arc<sunfleet_app::control::cache::ControlCache>,
    /// The server's fleet snapshot. Helpers that write devices or orgs straight to the
    /// database drop it, as the server's own changes do: it holds its store alone and
    /// never reloads the snapshot for age.
    pub fleet: std::sync::Arc<sunfleet_app::devices::snapshot::FleetCache>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts sunfleet on a fresh SurrealKV database in a new temporary directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// As [`spawn_app`], with the server's state adjusted first (e.g. a mailer).
pub async fn spawn_app_with(configure: impl FnOnce(&mut AppState) + Send + 'static) -> TestApp {
    // Server logs show up in the output of a failing test (and nowhere else).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,surrealdb=warn")
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = DbConfig {
        url: format!("surrealkv://{}", dir.path().join("db").display()),
        user: None,
        pass: None,
    };
    let db = db::connect(&config).await.expect("open test database");
    db::migrate(&db).await.expect("migrate test database");
    orgs::insert_orgs(&db, vec![operator()])
        .await
        .expect("operator org");
    create_user(&db, Persona::Admin, ADMIN_EMAIL, "operator").await;
    serve(db, dir, move |db| {
        let mut state = AppState::new(db);
        configure(&mut state);
        state
    })
    .await
}

pub const ADMIN_EMAIL: &str = "admin@test.example";
/// Every test user's password.
pub const PASSWORD: &str = "test-password-123";

fn operator() -> NewOrg {
    NewOrg {
        id: org_record("operator"),
        name: "Operator".into(),
        kind: "operator".into(),
        parent: None,
    }
}

async fn create_user(db: &Db, persona: Persona, email: &str, org: &str) {
    users::create_user(
        db,
        users::UserSpec {
            email: email.into(),
            name: email.split('@').next().unwrap().into(),
            persona,
            org: org_record(org),
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .expect("create test user");
}

/// The org tree most account tests use, one live device per customer:
/// operator → partner "agri" → customer "agri-farm" (Agri Well, SF-1-00001);
/// operator → dealer "rocky" → customers "platte" (Platte Well, SF-1-00002) and "laramie"
/// (Laramie Well, SF-1-00003); operator → customer "direct" (Direct Well, SF-1-00004);
/// operator → dealer "basin" (empty).
pub async fn spawn_sample_tree() -> TestApp {
    let app = spawn_app().await;
    app.add_orgs(&[
        ("agri", "partner", "operator"),
        ("agri-farm", "customer", "agri"),
        ("rocky", "dealer", "operator"),
        ("platte", "customer", "rocky"),
        ("laramie", "customer", "rocky"),
        ("direct", "customer", "operator"),
        ("basin", "dealer", "operator"),
    ])
    .await;
    for (id, name, owner) in [
        ("SF-1-00001", "Agri Well", "agri-farm"),
        ("SF-1-00002", "Platte Well", "platte"),
        ("SF-1-00003", "Laramie Well", "laramie"),
        ("SF-1-00004", "Direct Well", "direct"),
    ] {
        app.add_device(
            DeviceSpec {
                id,
                name,
                owner,
                model: "SPC-5",
                last: Some((Duration::minutes(2), 1200.0, 0.0, None)),
            },
            Utc::now(),
        )
        .await;
    }
    app
}

/// Credentials a request is sent with: a session cookie, an API key, or nothing.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    Session(String),
    Key(String),
}

impl Who {
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Who::Anonymous => request,
            Who::Session(token) => request.header(
                "cookie",
                format!("{}={token}", sunfleet_app::accounts::caller::SESSION_COOKIE),
            ),
            Who::Key(key) => request.header("authorization", format!("Bearer {key}")),
        }
    }
}

async fn serve(db: Db, dir: tempfile::TempDir, state: impl FnOnce(Db) -> AppState) -> TestApp {
    let listener = sunfleet::http::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    use axum::serve::Listener as _;
    let addr = listener.local_addr().expect("local addr");
    let state = state(db.clone());
    let ingest = state.ingest.clone();
    let control = state.control.clone();
    let fleet = state.fleet.clone();
    let app = router(state);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server");
    });
    let admin = sign_in(&client, addr, ADMIN_EMAIL, PASSWORD)
        .await
        .expect("the test admin signs in");
    TestApp {
        addr,
        db,
        client,
        admin,
        dir,
        ingest,
        control,
        fleet,
        server,
    }
}

/// Signs in through `/api/login`; the session cookie, or the status and body of a refusal.
pub async fn sign_in(
    client: &reqwest::Client,
    addr: SocketAddr,
    email: &str,
    password: &str,
) -> Result<Who, (u16, Value)> {
    let response = client
        .post(format!("http://{addr}/api/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("login request");
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!(
                "{}=",
                sunfleet_app::accounts::caller::SESSION_COOKIE
            ))
            .map(|rest| rest.split(';').next().unwrap_or("").to_string())
        });
    let body = response.text().await.expect("login body");
    match (status, cookie) {
        (200, Some(token)) => Ok(Who::Session(token)),
        _ => Err((
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )),
    }
}

impl TestApp {
    /// A new server (fresh caches) over the same database.
    pub async fn reopen(mut self) -> TestApp {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let db = self.db.clone();
        drop(self);
        serve(db, dir, AppState::new).await
    }

    /// A new server whose ingest queue holds only `readings` readings.
    pub async fn reopen_with_queue(mut self, readings: usize) -> TestApp {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let db = self.db.clone();
        drop(self);
        serve(db, dir, move |db| AppState::with_ingest_queue(db, readings)).await
    }
}

/// A device to place in the test database.
pub struct DeviceSpec<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub owner: &'a str,
    pub model: &'a str,
    /// Last reading: (age, solar W, grid W, fault code). `None`: never seen.
    pub last: Option<(Duration, f64, f64, Option<i64>)>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates an operator, and customer orgs named by slug (their name is the slug in
    /// Title Case words).
    pub async fn add_customers(&self, slugs: &[&str]) {
        let mut rows = vec![operator()];
        rows.extend(slugs.iter().map(|slug| NewOrg {
            id: org_record(slug),
            name: title(slug),
            kind: "customer".into(),
            parent: Some(org_record("operator")),
        }));
        orgs::insert_orgs(&self.db, rows)
            .await
            .expect("insert orgs");
        self.fleet.invalidate();
    }

    pub async fn add_device(&self, spec: DeviceSpec<'_>, now: DateTime<Utc>) -> DeviceId {
        let id = DeviceId::parse(spec.id).expect("valid test id");
        devices::insert_devices(
            &self.db,
            vec![NewDevice {
                id: devices::device_record(&id),
                name: spec.name.into(),
                model: spec.model.into(),
                firmware: "2.5.2".into(),
                owner: org_record(spec.owner),
                dealer: None,
                location: None,
                timezone: "America/Denver".into(),
                installed_at: Some(now - Duration::days(30)),
                offline_timeout_s: 600,
                token_hash: Some(sunfleet::ingest::auth::hash_secret(&device_token(&id))),
            }],
        )
        .await
        .expect("insert device");
        if let Some((age, solar_w, grid_w, fault_code)) = spec.last {
            devices::upsert_statuses(
                &self.db,
                vec![StatusRecord {
                    id: devices::status_record(&id),
                    last_seen: now - age,
                    last_heard: Some(now - age),
                    online: age < Duration::minutes(10),
                    fault_code,
                    solar_w,
                    grid_w,
                    load_w: solar_w + grid_w,
                    motor_rpm: 3400,
                    motor_on: true,
                    dc_bus_v: 350.0,
                    temperature_c: 21.5,
                }],
            )
            .await
            .expect("insert status");
        }
        self.fleet.invalidate();
        id
    }

    /// Adds orgs under existing parents: (slug, kind, parent slug).
    pub async fn add_orgs(&self, orgs: &[(&str, &str, &str)]) {
        let rows = orgs
            .iter()
            .map(|(slug, kind, parent)| NewOrg {
                id: org_record(slug),
                name: title(slug),
                kind: (*kind).into(),
                parent: Some(org_record(parent)),
            })
            .collect();
        orgs::insert_orgs(&self.db, rows)
            .await
            .expect("insert orgs");
        self.fleet.invalidate();
    }

    /// In [`spawn_sample_tree`]: a partner of agri, a dealer of rocky and a customer of
    /// platte, signed in.
    pub async fn sample_personas(&self) -> (Who, Who, Who) {
        let partner = self
            .add_user(Persona::Partner, "p@agri.example", "agri")
            .await;
        let dealer = self
            .add_user(Persona::Dealer, "d@rocky.example", "rocky")
            .await;
        let customer = self
            .add_user(Persona::Customer, "c@platte.example", "platte")
            .await;
        (partner, dealer, customer)
    }

    /// Creates a user of `persona` in `org` (password [`PASSWORD`]) and signs them in.
    pub async fn add_user(&self, persona: Persona, email: &str, org: &str) -> Who {
        create_user(&self.db, persona, email, org).await;
        self.sign_in(email, PASSWORD)
            .await
            .expect("new user signs in")
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Who, (u16, Value)> {
        sign_in(&self.client, self.addr, email, password).await
    }

    /// A customer "valley-farms" with one never-seen SPC-5 device, "Valley Well 1".
    pub async fn add_valley_device(&self, id: &str) -> DeviceId {
        self.add_customers(&["valley-farms"]).await;
        self.add_device(
            DeviceSpec {
                id,
                name: "Valley Well 1",
                owner: "valley-farms",
                model: "SPC-5",
                last: None,
            },
            Utc::now(),
        )
        .await
    }

    /// Adds a webhook integration with this secret.
    pub async fn add_integration(&self, name: &str, secret: &str) {
        sunfleet::ingest::integrations::add(&self.db, name, Some(secret.into()))
            .await
            .expect("add integration");
    }

    /// Posts to the Particle webhook with a bearer secret and a content type.
    pub async fn post_particle(
        &self,
        secret: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url("/ingest/particle"))
            .header("content-type", content_type)
            .body(body);
        if let Some(secret) = secret {
            request = request.header("authorization", format!("Bearer {secret}"));
        }
        json_response(request).await
    }

    /// Posts status JSON on the direct device path with a bearer token.
    pub async fn post_direct(&self, id: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.post_direct_raw(id, token, "application/json", body.to_string().into_bytes())
            .await
    }

    /// Posts any body with any content type on the direct device path.
    pub async fn post_direct_raw(
        &self,
        id: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url(&format!("/ingest/v1/devices/{id}/status")))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        json_response(request).await
    }

    /// Posts `readings` for device `id` on the direct path with its token, 1,000 per request
    /// (the path's limit), each request answered 200.
    pub async fn post_readings(&self, id: &DeviceId, readings: &[Value]) {
        for chunk in readings.chunks(1000) {
            let (status, body) = self
                .post_direct(
                    id.as_str(),
                    Some(&device_token(id)),
                    &Value::Array(chunk.to_vec()),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }

    /// Calls the Fleet server function the way the browser does (form-encoded POST), with
    /// free text `query` as the only filter.
    pub async fn fleet(&self, query: &str) -> (u16, Value) {
        let filter = serde_urlencoded::to_string([("q", query)]).expect("encode");
        self.fleet_filter(&filter).await
    }

    /// Calls the Fleet server function with a Fleet URL query string (`status=offline&page=2`).
    pub async fn fleet_filter(&self, filter: &str) -> (u16, Value) {
        self.post_fn("/api/fleet", &[("filter", filter)]).await
    }

    pub async fn device(&self, id: &str) -> (u16, Value) {
        self.post_fn("/api/device", &[("id", id)]).await
    }

    /// Calls a server function as the test admin.
    pub async fn post_fn(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        self.post_fn_as(&self.admin, path, form).await
    }

    /// Calls a server function (form-encoded POST, as the browser does) as `who`.
    pub async fn post_fn_as(&self, who: &Who, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = who
            .apply(self.client.post(self.url(path)).form(form))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path} answered non-JSON ({e}): {body}"));
        (status, json)
    }

    /// GETs a page or endpoint as the test admin.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_as(&self.admin, path).await
    }

    /// GETs as a browser would (accepting HTML).
    pub async fn get_as(&self, who: &Who, path: &str) -> (u16, String) {
        let response = who
            .apply(
                self.client
                    .get(self.url(path))
                    .header("accept", "text/html"),
            )
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// Sends `request`; its status and JSON body (every answer here is JSON: panics if not).
pub async fn json_response(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("answered non-JSON ({e}) with {status}: {body}"));
    (status, json)
}

/// The start of the minute `ago` minutes before this one (negative: ahead).
pub fn minute(ago: i64) -> DateTime<Utc> {
    use chrono::DurationRound;
    Utc::now()
        .duration_trunc(Duration::minutes(1))
        .expect("minute")
        - Duration::minutes(ago)
}

/// The ingest token `add_device` gives a device.
pub fn device_token(id: &DeviceId) -> String {
    format!("test-token-{id}")
}

fn title(slug: &str) -> String {
    slug.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
