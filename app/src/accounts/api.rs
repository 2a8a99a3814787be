//! Server functions for signing in and out and for "who am I".

use leptos::prelude::*;

use super::model::Me;
use crate::error::AppError;

/// The client address the server saw, for per-address throttling. Inserted into the
/// request by the server's middleware.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// Signs in with email and password. Answers the path to continue to (`next` when it is a
/// local path, else `/`) and sets a new session cookie; any session the browser presented
/// is ended first, so a session id is never carried across a sign-in.
#[server(endpoint = "login")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip(password)))]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<String, AppError> {
    crate::error::respond(sign_in(email, password, next).await)
}

#[cfg(feature = "ssr")]
async fn sign_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<String, AppError> {
    use super::caller::{cookie, is_https, session_cookie, SESSION_ABSOLUTE, SESSION_COOKIE};
    use super::{secret, store, throttle::LoginThrottle};
    use std::sync::Arc;
    use std::time::Instant;

    let parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| AppError::internal("login", "no request parts"))?;
    let throttle = use_context::<Arc<LoginThrottle>>()
        .ok_or_else(|| AppError::internal("login", "no login throttle in context"))?;
    let address = parts
        .extensions
        .get::<ClientAddr>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    let invalid = || AppError::Unauthenticated {
        code: "invalid_credentials",
        message: "the email or the password is wrong".into(),
    };
    if password.len() > 1024 {
        return Err(invalid());
    }
    let email = super::model::Email::parse(&email)?;
    if let Err(wait) = throttle.check(email.as_str(), &address, Instant::now()) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.insert_header(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(wait),
            );
        }
        return Err(AppError::RateLimited {
            retry_after_s: wait,
        });
    }
    let db = crate::db::db()?;
    let user = store::user_by_email(&db, &email).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => secret::verify_password(&password, &hash),
        None => {
            secret::burn_password_check(&password);
            false
        }
    })
    .await
    .map_err(|e| AppError::internal("password check", e))?;
    let Some(user) = user.filter(|_| matches) else {
        throttle.failed(email.as_str(), &address, Instant::now());
        return Err(invalid());
    };
    if user.disabled {
        return Err(AppError::Unauthenticated {
            code: "account_disabled",
            message: "this account is disabled; ask your administrator".into(),
        });
    }
    throttle.succeeded(email.as_str());
    if let Some(old) = cookie(&parts.headers, SESSION_COOKIE) {
        store::delete_session(&db, &secret::token_hash(&old)).await?;
    }
    let now = chrono::Utc::now();
    let token = secret::token("");
    store::create_session(
        &db,
        &secret::token_hash(&token),
        &user.id,
        now,
        now + SESSION_ABSOLUTE,
    )
    .await?;
    store::set_last_login(&db, &user.id, now).await?;
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let value = session_cookie(&token, is_https(&parts.headers));
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }
    tracing::info!(user = %crate::db::record_string(&user.id), "signed in");
    Ok(super::model::local_path(next.as_deref()))
}

/// Ends the current session.
#[server(endpoint = "logout")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn logout() -> Result<(), AppError> {
    crate::error::respond(
        async {
            use super::caller::{clear_session_cookie, cookie, is_https, SESSION_COOKIE};
            let parts = use_context::<axum::http::request::Parts>()
                .ok_or_else(|| AppError::internal("logout", "no request parts"))?;
            if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
                let db = crate::db::db()?;
                super::store::delete_session(&db, &super::secret::token_hash(&token)).await?;
            }
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                let value = clear_session_cookie(is_https(&parts.headers));
                if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                    response.append_header(axum::http::header::SET_COOKIE, value);
                }
            }
            Ok(())
        }
        .await,
    )
}

/// The signed-in user, `None` when anonymous.
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    Ok(super::caller::current().map(|c| c.me()))
}
