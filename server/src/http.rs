//! The HTTP surface: Leptos pages and server functions, embedded assets, ops endpoints.

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, MethodRouter};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use sunfleet_app::db::Db;
use sunfleet_app::error::AppError;
use sunfleet_app::{shell, App};

use crate::config::ServeArgs;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub leptos: LeptosOptions,
    pub ingest: crate::ingest::Ingest,
    pub login_throttle: std::sync::Arc<sunfleet_app::accounts::throttle::LoginThrottle>,
    pub callers: std::sync::Arc<sunfleet_app::accounts::cache::CallerCache>,
    /// Sends invite and reset links when an SMTP relay is configured.
    pub mailer: Option<std::sync::Arc<sunfleet_app::accounts::mail::Mailer>>,
    /// The live fleet in memory, shared by every list, map and export.
    pub fleet: std::sync::Arc<sunfleet_app::devices::snapshot::FleetCache>,
    /// Desired and reported schedule versions, for ingest answers and schedule saves.
    pub control: std::sync::Arc<sunfleet_app::control::cache::ControlCache>,
    /// Behind an `Arc`: the state is cloned for every request, its strings need not be.
    pub tiles: std::sync::Arc<sunfleet_app::devices::model::Tiles>,
    pub particle: Option<std::sync::Arc<sunfleet_app::control::particle::ParticleApi>>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// Starts the ingest writer task, so call it inside the runtime.
    pub fn new(db: Db) -> Self {
        Self::with_ingest_queue(db, crate::ingest::writer::QUEUE_READINGS)
    }

    /// As `new`, with an ingest queue of `readings` readings.
    pub fn with_ingest_queue(db: Db, readings: usize) -> Self {
        // Built here, not read from Cargo.toml: the binary must run alone in any directory.
        let leptos = LeptosOptions::builder()
            .output_name("sunfleet")
            .site_pkg_dir("pkg")
            .env(leptos::config::Env::PROD)
            .build();
        let fleet =
            std::sync::Arc::new(sunfleet_app::devices::snapshot::FleetCache::for_store(&db));
        let ingest = crate::ingest::Ingest::new(db.clone(), readings, fleet.clone());
        Self {
            db,
            leptos,
            ingest,
            login_throttle: Default::default(),
            callers: Default::default(),
            mailer: None,
            fleet,
            control: Default::default(),
            tiles: std::sync::Arc::new(sunfleet_app::devices::model::Tiles::openstreetmap()),
            particle: None,
        }
    }

    /// Context every page render and server function gets.
    fn provide(&self) -> impl Fn() + Clone + Send + 'static {
        let db = self.db.clone();
        let throttle = self.login_throttle.clone();
        let callers = self.callers.clone();
        let mailer = self.mailer.clone();
        let fleet = self.fleet.clone();
        let control = self.control.clone();
        let tiles = self.tiles.clone();
        let particle = self.particle.clone();
        move || {
            provide_context(db.clone());
            provide_context(throttle.clone());
            provide_context(callers.clone());
            provide_context(fleet.clone());
            provide_context(control.clone());
            provide_context(sunfleet_app::devices::model::Tiles::clone(&tiles));
            if let Some(mailer) = &mailer {
                provide_context(mailer.clone());
            }
            if let Some(particle) = &particle {
                provide_context(particle.clone());
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let provide = state.provide();
    let options = state.leptos.clone();
    // Pages and server functions sit behind the gate (caller resolution, sign-in, cross-site
    // check); the open routes (health, ingest) have their own rules and credentials.
    let gated = gated_routes()
        .into_iter()
        .fold(Router::new(), |router, (_, path, route)| {
            router.route(path, route)
        })
        .route(UNKNOWN_API, any(unknown_api))
        .leptos_routes_with_context(&state, routes, provide, move || shell(options.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::gate,
        ));
    open_routes()
        .into_iter()
        .fold(gated, |router, (_, path, route)| router.route(path, route))
        .fallback(asset_or_not_found)
        .layer(axum::middleware::map_response(server_fn_error_status))
        // Pages and API answers: gzip level 1. Brotli (even at level 1) cost a quarter of a
        // Fleet page's CPU for 6.6 KB instead of gzip's 7.2 KB (bench/pages.sh, perf).
        // Static assets are served precompressed (brotli, highest level) by `assets`.
        .layer(
            CompressionLayer::new()
                .no_br()
                .quality(CompressionLevel::Fastest),
        )
        .with_state(state)
}

/// Catches every `/api/` path that is not a server function.
const UNKNOWN_API: &str = "/api/{*rest}";

/// Routes outside the gate: (method, path, handler).
fn open_routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    let mut routes = vec![
        (Method::GET, "/healthz", get(|| async { "ok" })),
        (Method::GET, "/readyz", get(readyz)),
    ];
    routes.extend(crate::ingest::routes());
    routes
}

/// Routes behind the gate that are neither pages nor server functions: (method, path, handler).
fn gated_routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/fleet.csv", get(fleet_csv)),
        (Method::GET, "/history.csv", get(history_csv)),
    ]
}

/// The Fleet as CSV, for the same query string as the Fleet page.
async fn fleet_csv(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    caller: Option<axum::Extension<sunfleet_app::accounts::caller::Caller>>,
) -> Response {
    let Some(axum::Extension(caller)) = caller else {
        return error_response(AppError::Unauthorized);
    };
    let query = query.unwrap_or_default();
    let result =
        sunfleet_app::devices::export::fleet_csv(&state.db, &state.fleet, &caller, &query).await;
    csv_download("devices", result)
}

/// The event history as CSV, for the same query string as the History page.
async fn history_csv(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    caller: Option<axum::Extension<sunfleet_app::accounts::caller::Caller>>,
) -> Response {
    let Some(axum::Extension(caller)) = caller else {
        return error_response(AppError::Unauthorized);
    };
    let query = query.unwrap_or_default();
    let result = sunfleet_app::history::history_csv(&state.db, &caller, &query).await;
    csv_download("history", result)
}

/// A CSV attachment named `sunfleet-{what}-{UTC time}.csv`, or the error as JSON.
fn csv_download(what: &str, result: Result<String, AppError>) -> Response {
    match result {
        Ok(csv) => {
            let name = format!(
                "sunfleet-{what}-{}.csv",
                chrono::Utc::now().format("%Y%m%d-%H%M")
            );
            (
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_string(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
                ],
                csv,
            )
                .into_response()
        }
        Err(e) => error_response(e),
    }
}

/// Every (method, route) the router serves, named as the router names them: pages, server
/// functions, the catch-all for unknown `/api/` paths (`ANY`) and the open routes. The
/// authorization matrix test checks it has an entry for each.
pub fn endpoints() -> Vec<(String, String)> {
    let pages = generate_route_list(App)
        .into_iter()
        .map(|r| ("GET".to_string(), r.path().to_string()));
    let functions = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (method.to_string(), path.to_string()));
    let open = open_routes()
        .into_iter()
        .chain(gated_routes())
        .map(|(method, path, _)| (method.to_string(), path.to_string()));
    pages
        .chain(functions)
        .chain(open)
        .chain([("ANY".to_string(), UNKNOWN_API.to_string())])
        .collect()
}

/// leptos registers a route per server function; anything else under `/api/` lands here.
async fn unknown_api() -> Response {
    error_response(AppError::not_found("endpoint"))
}

/// Arguments that fail to parse are rejected before a server function's body runs, and
/// leptos answers those with 500; give them the status their error code stands for.
async fn server_fn_error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Error bodies are a code and a message; anything larger is not one of ours.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error_response(AppError::Internal);
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(parts.status);
    }
    Response::from_parts(parts, Body::from(bytes))
}

pub(crate) fn error_response(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(error)).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match sunfleet_app::db::ping(&state.db).await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Embedded files first; anything else is rendered by the app, whose router answers 404.
async fn asset_or_not_found(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    request: Request<Body>,
) -> Response {
    if let Some(response) = crate::assets::response(uri.path(), &headers) {
        return response;
    }
    let options = state.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(state.provide(), move || {
        shell(options.clone())
    });
    handler(request).await.into_response()
}

/// This server's own address, for the demo's devices: a wildcard listener is reached on
/// the loopback interface.
fn loopback_url(addr: std::net::SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, addr.port()))
}

/// Expires commands whose time to live passed, every few seconds (the ingest answers already
/// skip them; this records the outcome and its event).
async fn expire_commands(
    db: sunfleet_app::db::Db,
    control: std::sync::Arc<sunfleet_app::control::cache::ControlCache>,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        match control.expire(&db, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(commands = n, "expired commands"),
            Err(e) => tracing::warn!(error = %e, "expiring commands failed"),
        }
    }
}

/// `sunfleet serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mailer = match &args.smtp_url {
        None => None,
        Some(url) => {
            let public = args.public_url.as_deref().unwrap_or_default();
            let mailer = sunfleet_app::accounts::mail::Mailer::parse(url, &args.smtp_from, public)
                .map_err(|e| anyhow::anyhow!(e))?;
            Some(std::sync::Arc::new(mailer))
        }
    };
    let db = sunfleet_app::db::connect(&args.db.to_config()).await?;
    // Closed however serving ends, so that the next start opens from flushed tables.
    let result = serve_on(&db, args, mailer).await;
    db.close().await;
    result
}

async fn serve_on(
    db: &Db,
    args: ServeArgs,
    mailer: Option<std::sync::Arc<sunfleet_app::accounts::mail::Mailer>>,
) -> anyhow::Result<()> {
    sunfleet_app::db::migrate(db).await?;
    let mut state = AppState::new(db.clone());
    state.mailer = mailer;
    state.tiles = std::sync::Arc::new(args.tiles()?);
    state.particle = args.particle()?.map(std::sync::Arc::new);
    if args.demo {
        crate::demo::seed_once(db).await?;
        crate::demo::ensure_demo_users(db).await?;
        tokio::spawn(crate::demo::keep_alive(
            db.clone(),
            state.ingest.writer.clone(),
            loopback_url(args.addr),
        ));
    }
    tokio::spawn(purge_ended_sessions(db.clone()));
    tokio::spawn(expire_commands(db.clone(), state.control.clone()));
    if !crate::assets::has_front_end() {
        tracing::warn!("this binary was built without the front end: pages will not hydrate");
    }
    let listener = bind(args.addr).await?;
    let writer = state.ingest.writer.clone();
    let app = router(state);
    tracing::info!(addr = %args.addr, "sunfleet is listening on http://{}", args.addr);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server stopped")?;
    // Rollups and statuses held in memory go out now, rather than be replayed from the
    // journal at the next start; then (in `serve`) the database closes its files.
    match tokio::time::timeout(std::time::Duration::from_secs(10), writer.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "flushing rollups and statuses at shutdown; the next start replays them")
        }
        Err(_) => {
            tracing::warn!("rollups and statuses not flushed in 10 s; the next start replays them")
        }
    }
    Ok(())
}

/// Hourly: sessions that ended without being presented again, and spent links, are
/// deleted (a presented one is deleted on the spot).
async fn purge_ended_sessions(db: Db) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let idle = sunfleet_app::accounts::caller::SESSION_IDLE;
        match sunfleet_app::accounts::store::purge_ended(&db, chrono::Utc::now(), idle).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "purged ended sessions and links"),
            Err(e) => tracing::warn!(error = %e, "purging ended sessions failed"),
        }
    }
}

/// Binds with TCP_NODELAY: without it every streamed response stalls ~40 ms on the client's
/// delayed ACK (BUILD.md, measured).
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<Listener> {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "SUNFLEET_ADDR: {addr} is already in use (is another sunfleet running?)"
            )
        } else {
            anyhow::anyhow!("SUNFLEET_ADDR: cannot listen on {addr}: {e}")
        }
    })?;
    Ok(listener.tap_io(nodelay as fn(&mut tokio::net::TcpStream)))
}

/// The listener `bind` returns; a named type so that connection info (the peer address)
/// can be extracted from it.
pub type Listener = axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>;

fn nodelay(tcp: &mut tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
