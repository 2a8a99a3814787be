//! One error type for the whole app (STYLE.md §5).
//!
//! On the wire every error is `{"code": "...", "message": "..."}` (DESIGN.md §6) whatever the
//! variant, so partners can match on a stable `code`. `Internal` never carries detail to the
//! client: the detail is logged where the error is made.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(into = "ErrorBody")]
pub enum AppError {
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("sign in required")]
    Unauthorized,
    /// Credentials were presented and refused; `code` says how (`invalid_credentials`,
    /// `api_key_revoked`, …).
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    #[error("not allowed")]
    Forbidden,
    /// Refused for a reason the caller can act on; `code` says which.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("{message}")]
    Validation { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("too many attempts; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u32 },
    /// The request could not be read at all; `code` says how (`invalid_json`, …).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// Readable, but not acceptable; `code` says why (`readings_rejected`, …).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("the body is larger than {limit_kb} KB")]
    PayloadTooLarge { limit_kb: usize },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    /// Overloaded for a moment: the caller should retry after `retry_after_s`.
    #[error("busy, retry in {retry_after_s} s")]
    Unavailable { retry_after_s: u32 },
    #[error("internal error")]
    Internal,
    /// An error that arrived over the wire with a code this build does not know.
    #[error("{message}")]
    Other { code: String, message: String },
}

/// The JSON shape of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl AppError {
    pub fn not_found(what: &'static str) -> Self {
        Self::NotFound { what }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
        }
    }

    /// Stable, machine-readable code. Never change an existing one: partners match on it.
    pub fn code(&self) -> String {
        match self {
            Self::NotFound { what } => format!("{}_not_found", what.replace(' ', "_")),
            Self::Unauthorized => "unauthorized".into(),
            Self::Unauthenticated { code, .. } => (*code).into(),
            Self::Forbidden => "forbidden".into(),
            Self::Refused { code, .. } => (*code).into(),
            Self::Validation { .. } => "validation_failed".into(),
            Self::Conflict { .. } => "conflict".into(),
            Self::RateLimited { .. } => "rate_limited".into(),
            Self::BadRequest { code, .. } => (*code).into(),
            Self::Unprocessable { code, .. } => (*code).into(),
            Self::PayloadTooLarge { .. } => "payload_too_large".into(),
            Self::UnsupportedMediaType { .. } => "unsupported_media_type".into(),
            Self::Unavailable { .. } => "unavailable".into(),
            Self::Internal => "internal".into(),
            Self::Other { code, .. } => code.clone(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::Unauthorized | Self::Unauthenticated { .. } => 401,
            Self::Forbidden | Self::Refused { .. } => 403,
            Self::Validation { .. } => 422,
            Self::Conflict { .. } => 409,
            Self::RateLimited { .. } => 429,
            Self::BadRequest { .. } => 400,
            Self::Unprocessable { .. } => 422,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType { .. } => 415,
            Self::Unavailable { .. } => 503,
            Self::Internal | Self::Other { .. } => 500,
        }
    }

    /// Logs the detail of an unexpected failure and hides it from the caller.
    #[cfg(feature = "ssr")]
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "{context}");
        Self::Internal
    }
}

impl From<AppError> for ErrorBody {
    fn from(e: AppError) -> Self {
        ErrorBody {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

// By hand rather than `#[serde(from)]`: the derive would tie the input lifetime to the
// `&'static str` in `NotFound`.
impl<'de> Deserialize<'de> for AppError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ErrorBody::deserialize(d).map(Self::from)
    }
}

impl From<ErrorBody> for AppError {
    fn from(b: ErrorBody) -> Self {
        match b.code.as_str() {
            "unauthorized" => Self::Unauthorized,
            "forbidden" => Self::Forbidden,
            "validation_failed" => Self::Validation { message: b.message },
            "conflict" => Self::Conflict { message: b.message },
            "internal" => Self::Internal,
            "device_not_found" => Self::NotFound { what: "device" },
            _ => Self::Other {
                code: b.code,
                message: b.message,
            },
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The caller sent something we could not read: their mistake, say what it was.
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => Self::Validation {
                message: format!("bad request: {m}"),
            },
            // On the server, the only thing deserialized is the request (a JSON body that
            // is not the arguments' shape); in the browser it would be a broken answer.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(m) => Self::Validation {
                message: format!("bad request: {m}"),
            },
            ServerFnErrorErr::Request(m) => Self::Other {
                code: "unreachable".into(),
                message: format!("could not reach the server: {m}"),
            },
            other => Self::Other {
                code: "server_fn".into(),
                message: other.to_string(),
            },
        }
    }
}

/// Sets the HTTP status of the current response from a server function's result, so that
/// both API callers and SSR pages (a 404 device page) get the right status code.
#[cfg(feature = "ssr")]
pub fn respond<T>(result: Result<T>) -> Result<T> {
    if let Err(e) = &result {
        if let Some(opts) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let status = axum::http::StatusCode::from_u16(e.status())
                .expect("BUG: AppError::status returns a valid code");
            opts.set_status(status);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_travel_as_code_and_message() {
        let json = serde_json::to_value(AppError::not_found("device")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "device_not_found", "message": "device not found"})
        );
    }

    #[test]
    fn a_decoded_error_keeps_its_code() {
        let e: AppError = serde_json::from_str(r#"{"code":"forbidden","message":"x"}"#).unwrap();
        assert_eq!(e, AppError::Forbidden);
        let e: AppError = serde_json::from_str(r#"{"code":"new_thing","message":"m"}"#).unwrap();
        assert_eq!(e.code(), "new_thing");
        assert_eq!(e.to_string(), "m");
    }
}
