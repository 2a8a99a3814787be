//! Device ingest (DESIGN.md §4): the Particle webhook and the direct device path. Both
//! parse at the edge into typed [`Status`] readings, hand the good ones to the group-commit
//! [`writer::Writer`], and answer only once those are durable. A bad reading is reported
//! by its index and never takes the good ones of the same request down with it.

mod acks;
pub mod auth;
pub mod integrations;
mod particle;
mod schedule;
pub mod writer;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use chrono::{DateTime, Utc};
use serde_json::Value;

use sunfleet_app::control::cache::Reported;
use sunfleet_app::control::command::{Ack, AckRejected};
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::error::AppError;
use sunfleet_app::telemetry::model::{IngestReceipt, RejectedReading, ScheduleNotice, Status};
use sunfleet_app::telemetry::store::{self as telemetry, DeadLetter};
use sunfleet_app::telemetry::write::Delivery;

use crate::http::AppState;

/// Largest request body accepted (Particle's own limit is far below).
pub const MAX_BODY: usize = 256 * 1024;
/// Most readings in one direct request (a device catching up on a backlog).
pub const MAX_READINGS: usize = 1_000;

/// What the ingest endpoints share.
#[derive(Clone)]
pub struct Ingest {
    pub writer: writer::Writer,
    pub auth: Arc<auth::Auth>,
}

impl Ingest {
    pub fn new(
        db: sunfleet_app::db::Db,
        queue_readings: usize,
        fleet: Arc<sunfleet_app::devices::snapshot::FleetCache>,
    ) -> Self {
        Ingest {
            writer: writer::Writer::spawn_with(db.clone(), queue_readings, fleet.clone()),
            auth: Arc::new(auth::Auth::new(db, fleet)),
        }
    }
}

pub fn routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::POST, "/ingest/particle", post(particle::webhook)),
        (Method::POST, "/ingest/v1/devices/{id}/status", post(direct)),
        (
            Method::POST,
            "/ingest/v1/devices/{id}/acks",
            post(acks::acknowledge),
        ),
        (
            Method::GET,
            "/ingest/v1/devices/{id}/schedule",
            axum::routing::get(schedule::fetch),
        ),
    ]
}

/// An ingest failure: the error, and the raw request to keep as a dead letter (when the
/// caller was authenticated; anonymous junk is not worth disk space).
pub(crate) struct Refusal {
    error: AppError,
    rejected: Vec<RejectedReading>,
    dead_letter: Option<DeadLetter>,
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Self {
        Refusal {
            error,
            rejected: Vec::new(),
            dead_letter: None,
        }
    }
}

impl Refusal {
    fn keep(
        mut self,
        source: &str,
        device: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        self.dead_letter = Some(dead_letter(
            source,
            &self.error.code(),
            &self.error.to_string(),
            device,
            headers,
            body,
        ));
        self
    }
}

fn dead_letter(
    source: &str,
    code: &str,
    message: &str,
    device: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> DeadLetter {
    DeadLetter {
        received_at: Utc::now(),
        source: source.into(),
        code: code.into(),
        message: message.into(),
        device: device.map(str::to_string),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// Answers a refusal as JSON `{code, message}` (plus the rejected readings, if any), after
/// keeping its dead letter.
async fn refuse(state: &AppState, refusal: Refusal) -> Response {
    if let Some(letter) = refusal.dead_letter {
        if let Err(e) = telemetry::insert_dead_letter(&state.db, letter).await {
            tracing::warn!(error = %e, "could not keep a dead letter");
        }
    }
    error_response(refusal.error, refusal.rejected)
}

pub(crate) fn error_response(error: AppError, rejected: Vec<RejectedReading>) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = serde_json::json!({ "code": error.code(), "message": error.to_string() });
    if !rejected.is_empty() {
        body["rejected"] = serde_json::to_value(&rejected).unwrap_or_default();
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let AppError::Unavailable { retry_after_s } = error {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Reads the body, refusing one over [`MAX_BODY`] (413) or an empty one (400).
async fn read_body(body: Body) -> Result<Bytes, AppError> {
    let bytes =
        axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| AppError::PayloadTooLarge {
                limit_kb: MAX_BODY / 1024,
            })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::bad_request(
            "empty_body",
            "the request body is empty",
        ));
    }
    Ok(bytes)
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn parse_json(bytes: &[u8]) -> Result<Value, AppError> {
    serde_json::from_slice(bytes).map_err(|e| {
        AppError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })
}

/// What one request carried: the readings (good and rejected, by index) and the command
/// acknowledgements (`acks` in any of its statuses, numbered across the request).
#[derive(Debug, Default)]
pub struct Parsed {
    pub readings: Vec<Status>,
    pub rejected: Vec<RejectedReading>,
    pub acks: Vec<(usize, Ack)>,
    pub acks_rejected: Vec<AckRejected>,
}

/// Parses a status object or an array of them; bad ones are reported by index. A status
/// may carry `acks`; one that carries nothing else is only an acknowledgement.
pub fn parse_readings(
    data: &Value,
    fallback_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Parsed, AppError> {
    let items: Vec<&Value> = match data {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    if items.is_empty() {
        return Err(AppError::validation("no readings in the request"));
    }
    if items.len() > MAX_READINGS {
        return Err(AppError::PayloadTooLarge {
            limit_kb: MAX_BODY / 1024,
        });
    }
    let mut parsed = Parsed {
        readings: Vec::with_capacity(items.len()),
        ..Parsed::default()
    };
    let mut acks = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let reading = match item.get("acks") {
            None => Some(std::borrow::Cow::Borrowed(item)),
            Some(list) => {
                match list {
                    Value::Array(list) => acks.extend(list.iter().cloned()),
                    one => acks.push(one.clone()),
                }
                let mut rest = item.clone();
                if let Value::Object(fields) = &mut rest {
                    fields.remove("acks");
                }
                let only_acks = rest.as_object().is_some_and(|f| f.is_empty());
                (!only_acks).then_some(std::borrow::Cow::Owned(rest))
            }
        };
        let Some(reading) = reading else { continue };
        match Status::parse(&reading, fallback_time, now) {
            Ok(s) => parsed.readings.push(s),
            Err(r) => parsed.rejected.push(RejectedReading {
                index,
                code: r.code.into(),
                message: r.message,
            }),
        }
    }
    if !acks.is_empty() {
        (parsed.acks, parsed.acks_rejected) = Ack::parse_list(&Value::Array(acks));
    }
    Ok(parsed)
}

/// Takes the acknowledgements, stores the good readings (if any) and builds the answer:
/// a receipt when anything was accepted, 422 with the reasons when nothing was.
async fn store(
    state: &AppState,
    device: &auth::KnownDevice,
    parsed: Parsed,
) -> Result<IngestReceipt, Refusal> {
    let Parsed {
        readings: good,
        rejected,
        acks,
        mut acks_rejected,
    } = parsed;
    let now = Utc::now();
    let took_acks = !acks.is_empty();
    if took_acks {
        acks_rejected.extend(state.control.ack(&state.db, &device.id, acks, now).await?);
        acks_rejected.sort_by_key(|a| a.index);
    }
    if good.is_empty() && (!rejected.is_empty() || !took_acks) {
        let message = match rejected.as_slice() {
            [] => "the request holds no readings".to_string(),
            [one] => format!("the reading was rejected: {}", one.message),
            many => format!("all {} readings were rejected", many.len()),
        };
        return Err(Refusal {
            error: AppError::Unprocessable {
                code: "readings_rejected",
                message,
            },
            rejected,
            dead_letter: None,
        });
    }
    // What the device says it runs, from its newest reading.
    let newest = good.iter().max_by_key(|s| s.time).map(|s| {
        let reported = s.schedule_version.map(|v| Reported {
            version: v.max(0) as u64,
            hash: s.schedule_hash.clone(),
        });
        (s.time, reported)
    });
    let written = if good.is_empty() {
        Default::default()
    } else {
        state
            .ingest
            .writer
            .write(Delivery {
                device: device.id.clone(),
                tz: device.tz,
                owner: device.owner.clone(),
                readings: good,
            })
            .await?
    };
    let (reported, at) = match newest {
        Some((at, reported)) => (reported, at),
        None => (None, now),
    };
    let (schedule, commands) = match state
        .control
        .after_post(
            &state.db,
            &device.id,
            device.owner.as_ref(),
            reported,
            at,
            now,
        )
        .await
    {
        Ok(answer) => (
            answer.fetch.map(|version| ScheduleNotice {
                version,
                url: format!("/ingest/v1/devices/{}/schedule", device.id),
            }),
            answer.commands,
        ),
        // The readings are stored; the device hears of its schedule and commands next time.
        Err(e) => {
            tracing::warn!(device = %device.id, error = %e, "control state unavailable");
            (None, Vec::new())
        }
    };
    Ok(IngestReceipt {
        accepted: written.accepted,
        duplicates: written.duplicates,
        rejected,
        schedule,
        commands,
        acks_rejected,
    })
}

/// `POST /ingest/v1/devices/{id}/status` with `Authorization: Bearer <device token>`.
async fn direct(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = direct_inner(&state, &id, &headers, body).await;
    match result {
        Ok(r) => r,
        Err(refusal) => refuse(&state, refusal).await,
    }
}

/// The device of a direct request, by its token. Unknown device and wrong token look the
/// same (401): ids must not be probeable.
pub(crate) async fn device_by_token(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<Arc<auth::KnownDevice>, AppError> {
    let token = auth::bearer(headers)?;
    let id = DeviceId::parse(id).map_err(|_| AppError::Unauthorized)?;
    state
        .ingest
        .auth
        .device(&id)
        .await?
        .filter(|d| d.token_matches(token))
        .ok_or(AppError::Unauthorized)
}

async fn direct_inner(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let device = device_by_token(state, id, headers).await?;
    let id = device.id.clone();
    let bytes = read_body(body).await?;
    let now = Utc::now();
    let parsed = (|| {
        if !media_type(headers).ends_with("json") {
            return Err(AppError::UnsupportedMediaType {
                message: "send the status as application/json".into(),
            });
        }
        let value = parse_json(&bytes)?;
        parse_readings(&value, Some(now), now)
    })();
    let parsed =
        parsed.map_err(|e| Refusal::from(e).keep("direct", Some(id.as_str()), headers, &bytes))?;
    let has_rejects = !parsed.rejected.is_empty();
    let answer = store(state, &device, parsed)
        .await
        .map(|receipt| (StatusCode::OK, axum::Json(receipt)).into_response());
    if has_rejects {
        // Keep what was refused, whatever became of the rest.
        let code = "readings_rejected";
        let letter = dead_letter(
            "direct",
            code,
            "some readings were rejected",
            Some(id.as_str()),
            headers,
            &bytes,
        );
        if let Err(e) = telemetry::insert_dead_letter(&state.db, letter).await {
            tracing::warn!(error = %e, "could not keep a dead letter");
        }
    }
    answer
}
