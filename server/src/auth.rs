//! The gate in front of every page and server function: resolves the caller (session cookie
//! or API key) once per request, refuses cross-site writes, and keeps anonymous callers out
//! of everything but the sign-in page. Server functions then authorize by persona and
//! filter by scope from the resolved caller.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use sunfleet_app::accounts::caller::resolve;
use sunfleet_app::accounts::ClientAddr;
use sunfleet_app::error::AppError;

use crate::http::{error_response, AppState};

/// Pages and server functions an anonymous caller may reach.
pub const PUBLIC_PATHS: &[&str] = &["/login", "/api/login", "/welcome", "/api/link_accept"];

pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // A browser sends its cookies along with a form another site submits; such a write must
    // not act for the user. API keys are not sent by browsers on their own, so they are exempt.
    if writes && !headers.contains_key(header::AUTHORIZATION) && cross_site(headers) {
        return error_response(AppError::Refused {
            code: "cross_site_request",
            message: "requests from other sites are refused".into(),
        });
    }
    // Present when served with `into_make_service_with_connect_info::<SocketAddr>()`.
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let addr = ClientAddr(addr.ip().to_string());
        request.extensions_mut().insert(addr);
    }
    let path = request.uri().path();
    let public = PUBLIC_PATHS.contains(&path);
    match resolve(
        &state.db,
        &state.callers,
        request.headers(),
        chrono::Utc::now(),
    )
    .await
    {
        Ok(Some(caller)) => {
            request.extensions_mut().insert(caller);
        }
        Ok(None) if public => {}
        Ok(None) if path.starts_with("/api/") => return error_response(AppError::Unauthorized),
        Ok(None) => return sign_in_first(request.uri()),
        Err(e) => return error_response(e),
    }
    next.run(request).await
}

/// Sends an anonymous visitor to the sign-in page, to come back here afterwards.
fn sign_in_first(uri: &axum::http::Uri) -> Response {
    let back = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let query = serde_urlencoded::to_string([("next", back)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

/// Whether a request comes from a page of another site: its `Origin` names another host,
/// or (older browsers without `Origin`) `Sec-Fetch-Site` says so. Clients that send
/// neither (curl, other servers) are not browsers acting on someone's behalf.
fn cross_site(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match text(header::ORIGIN) {
        Some(origin) => {
            let host = origin.split_once("://").map(|(_, h)| h);
            host.is_none() || host != text(header::HOST)
        }
        None => headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_and_non_browser_writes_pass_cross_site_ones_do_not() {
        assert!(!cross_site(&headers(&[
            ("host", "fleet.example:3000"),
            ("origin", "https://fleet.example:3000")
        ])));
        assert!(!cross_site(&headers(&[("host", "fleet.example")])));
        assert!(cross_site(&headers(&[
            ("host", "fleet.example"),
            ("origin", "https://evil.example")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "fleet.example"),
            ("origin", "null")
        ])));
        assert!(cross_site(&headers(&[
            ("host", "fleet.example"),
            ("sec-fetch-site", "cross-site")
        ])));
    }
}
