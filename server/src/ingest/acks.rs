//! `POST /ingest/v1/devices/{id}/acks` with the device token: a device acknowledges commands
//! outside a status post (`{"acks": [17, {"id": 18, "ok": false, "error": "…"}]}` or the bare
//! list). Devices on Particle put the same `acks` in their next status instead.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};

use sunfleet_app::control::command::Ack;
use sunfleet_app::error::AppError;

use super::{device_by_token, error_response, media_type, parse_json, read_body};
use crate::http::AppState;

/// Most acknowledgements in one request.
const MAX_ACKS: usize = 100;

pub async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &id, &headers, body).await {
        Ok(r) => r,
        Err(e) => error_response(e, Vec::new()),
    }
}

async fn handle(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let device = device_by_token(state, id, headers).await?;
    let bytes = read_body(body).await?;
    if !media_type(headers).ends_with("json") {
        return Err(AppError::UnsupportedMediaType {
            message: "send the acknowledgements as application/json".into(),
        });
    }
    let list = match parse_json(&bytes)? {
        Value::Object(mut fields) => fields.remove("acks").ok_or_else(|| {
            AppError::validation("the body needs `acks`: a list of command ids or {id, ok, error}")
        })?,
        list @ Value::Array(_) => list,
        _ => {
            return Err(AppError::validation(
                "the body is `{\"acks\": […]}` or the list of acknowledgements",
            ))
        }
    };
    if list.as_array().is_some_and(|l| l.len() > MAX_ACKS) {
        return Err(AppError::validation(format!(
            "at most {MAX_ACKS} acknowledgements per request"
        )));
    }
    let (acks, mut rejected) = Ack::parse_list(&list);
    let offered = acks.len() + rejected.len();
    rejected.extend(
        state
            .control
            .ack(&state.db, &device.id, acks, Utc::now())
            .await?,
    );
    rejected.sort_by_key(|r| r.index);
    let acked = offered - rejected.len();
    if acked == 0 {
        let message = match rejected.as_slice() {
            [one] => format!("the acknowledgement was not taken: {}", one.message),
            many => format!("none of the {} acknowledgements was taken", many.len()),
        };
        let body = json!({"code": "acks_rejected", "message": message, "acks_rejected": rejected});
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response());
    }
    Ok((
        StatusCode::OK,
        axum::Json(json!({ "acked": acked, "acks_rejected": rejected })),
    )
        .into_response())
}
