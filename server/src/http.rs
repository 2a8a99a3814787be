//! The HTTP surface: Leptos pages and server functions, embedded assets, ops endpoints.

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
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
        let ingest = crate::ingest::Ingest::new(db.clone(), readings);
        Self { db, leptos, ingest }
    }

    /// Context every page render and server function gets.
    fn provide(&self) -> impl Fn() + Clone + Send + 'static {
        let db = self.db.clone();
        move || provide_context(db.clone())
    }
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let provide = state.provide();
    let options = state.leptos.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/{*rest}", any(unknown_api))
        .merge(crate::ingest::routes())
        .leptos_routes_with_context(&state, routes, provide, move || shell(options.clone()))
        .fallback(asset_or_not_found)
        .layer(axum::middleware::map_response(server_fn_error_status))
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
        .with_state(state)
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

fn error_response(error: AppError) -> Response {
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

/// `sunfleet serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let db = sunfleet_app::db::connect(&args.db.to_config()).await?;
    sunfleet_app::db::migrate(&db).await?;
    let state = AppState::new(db.clone());
    if args.demo {
        crate::demo::seed_once(&db).await?;
        tokio::spawn(crate::demo::keep_alive(
            db.clone(),
            state.ingest.writer.clone(),
        ));
    }
    if !crate::assets::has_front_end() {
        tracing::warn!("this binary was built without the front end: pages will not hydrate");
    }
    let listener = bind(args.addr).await?;
    let app = router(state);
    tracing::info!(addr = %args.addr, "sunfleet is listening on http://{}", args.addr);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server stopped")?;
    Ok(())
}

/// Binds with TCP_NODELAY: without it every streamed response stalls ~40 ms on the client's
/// delayed ACK (BUILD.md, measured).
pub async fn bind(
    addr: std::net::SocketAddr,
) -> anyhow::Result<impl axum::serve::Listener<Addr = std::net::SocketAddr>> {
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
    Ok(listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    }))
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
