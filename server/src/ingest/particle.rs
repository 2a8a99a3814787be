//! `POST /ingest/particle`: Particle's webhook. The body is JSON or form-encoded with
//! `event`, `data`, `coreid`, `published_at` and whatever else Particle adds (ignored).
//! `data` is a string holding the device's JSON (Particle's default template) or, with a
//! custom template, the JSON itself.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use sunfleet_app::control::command::CommandOrder;
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::error::AppError;
use sunfleet_app::telemetry::model::{IngestReceipt, ScheduleNotice};

use super::{auth, media_type, parse_json, parse_readings, read_body, refuse, store, Refusal};
use crate::http::AppState;

/// The fields of a Particle event that sunfleet uses.
#[derive(Debug, PartialEq)]
pub struct ParticleEvent {
    pub coreid: String,
    pub data: Value,
    pub published_at: Option<DateTime<Utc>>,
}

/// The envelope fields sunfleet reads. Particle's others (`event`, `ttl`, `userid`,
/// `fw_version`, …) are skipped by the JSON parser without being built: reading the whole
/// envelope into a map first was 2 % of the server's CPU under ingest (perf beside
/// `bench/ingest.sh`).
#[derive(Default, Deserialize)]
struct Envelope {
    coreid: Option<Value>,
    data: Option<Value>,
    published_at: Option<Value>,
}

impl Envelope {
    fn from_json(body: &[u8]) -> Result<Envelope, AppError> {
        // serde's derive also takes an array for a struct (fields by position), hence the
        // look at the first byte.
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            if let Ok(envelope) = serde_json::from_slice(body) {
                return Ok(envelope);
            }
        }
        // Not JSON, not an object, or an object the derive refuses (a key given twice,
        // where the last one counts): the general parser says which.
        match parse_json(body)? {
            Value::Object(mut fields) => Ok(Envelope {
                coreid: fields.remove("coreid"),
                data: fields.remove("data"),
                published_at: fields.remove("published_at"),
            }),
            _ => Err(AppError::bad_request(
                "invalid_event",
                "a Particle event is a JSON object",
            )),
        }
    }

    fn from_form(body: &[u8]) -> Result<Envelope, AppError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            AppError::bad_request("invalid_form", format!("the form body cannot be read: {e}"))
        })?;
        let mut envelope = Envelope::default();
        for (key, value) in pairs {
            let field = match key.as_str() {
                "coreid" => &mut envelope.coreid,
                "data" => &mut envelope.data,
                "published_at" => &mut envelope.published_at,
                _ => continue,
            };
            *field = Some(Value::String(value));
        }
        Ok(envelope)
    }
}

/// Parses a webhook body by its content type. Never panics, whatever the bytes.
pub fn parse_event(content_type: &str, body: &[u8]) -> Result<ParticleEvent, AppError> {
    let envelope = if content_type.ends_with("json") {
        Envelope::from_json(body)?
    } else if content_type == "application/x-www-form-urlencoded" {
        Envelope::from_form(body)?
    } else {
        return Err(AppError::UnsupportedMediaType {
            message: "send application/json or application/x-www-form-urlencoded".into(),
        });
    };
    let coreid = match &envelope.coreid {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(AppError::bad_request(
                "missing_coreid",
                "`coreid` (the Particle device id) is required",
            ))
        }
    };
    let data = match envelope.data {
        Some(Value::String(s)) => serde_json::from_str(&s).map_err(|e| {
            AppError::bad_request("invalid_data", format!("`data` is not JSON: {e}"))
        })?,
        Some(v @ (Value::Object(_) | Value::Array(_))) => v,
        _ => {
            return Err(AppError::bad_request(
                "invalid_data",
                "`data` must hold the device's status JSON",
            ))
        }
    };
    // Particle's time of publication: the reading's time when the device sent none.
    let published_at = match &envelope.published_at {
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    AppError::bad_request(
                        "invalid_published_at",
                        "`published_at` is not an RFC 3339 time",
                    )
                })?
                .with_timezone(&Utc),
        ),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_published_at",
                "`published_at` is not an RFC 3339 time",
            ))
        }
    };
    Ok(ParticleEvent {
        coreid,
        data,
        published_at,
    })
}

pub async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state, &headers, body).await {
        Ok(r) => r,
        Err(refusal) => refuse(&state, refusal).await,
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, Refusal> {
    let secret = auth::bearer(headers)?;
    if !state.ingest.auth.integration_secret_ok(secret).await? {
        return Err(AppError::Unauthorized.into());
    }
    let bytes = read_body(body).await?;
    let keep = |e: AppError, device: Option<&str>| {
        Refusal::from(e).keep("particle", device, headers, &bytes)
    };
    let event = parse_event(&media_type(headers), &bytes).map_err(|e| keep(e, None))?;
    let device = match DeviceId::parse(&event.coreid) {
        Ok(id) => state.ingest.auth.device(&id).await?,
        Err(_) => None,
    };
    let Some(device) = device else {
        return Err(keep(AppError::not_found("device"), Some(&event.coreid)));
    };
    let now = Utc::now();
    let parsed = parse_readings(&event.data, event.published_at, now)
        .map_err(|e| keep(e, Some(device.id.as_str())))?;
    let rejects = (!parsed.rejected.is_empty()).then(|| {
        keep(
            AppError::Unprocessable {
                code: "readings_rejected",
                message: format!("{} reading(s) rejected", parsed.rejected.len()),
            },
            Some(device.id.as_str()),
        )
    });
    let answer = store(state, &device, parsed).await.map(hook_response);
    if let Some(Refusal {
        dead_letter: Some(letter),
        ..
    }) = rejects
    {
        if let Err(e) = sunfleet_app::telemetry::store::insert_dead_letter(&state.db, letter).await
        {
            tracing::warn!(error = %e, "could not keep a dead letter");
        }
    }
    answer
}

/// Particle hands a webhook's answer to the device as `hook-response` events of at most
/// 512 bytes; one chunk is all a controller should have to put together. So the answer
/// names rejections by index and code only (the whole request is kept as a dead letter),
/// and when even those do not fit it lists the first ones and counts the rest in
/// `not_listed`. The schedule notice and the commands (at most 5) always go whole: they
/// are what the device must act on.
pub const HOOK_CHUNK: usize = 512;

#[derive(Serialize)]
struct HookResponse {
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<ScheduleNotice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    commands: Vec<CommandOrder>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    acks_rejected: Vec<Reason>,
    #[serde(skip_serializing_if = "is_zero")]
    not_listed: usize,
}

#[derive(Serialize)]
struct Reason {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    code: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// More reasons than this never fit one chunk (each takes 30 bytes or more).
const MOST_REASONS: usize = 16;

fn hook_response(receipt: IngestReceipt) -> Response {
    let mut answer = HookResponse {
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
        not_listed: receipt.rejected.len().saturating_sub(MOST_REASONS)
            + receipt.acks_rejected.len().saturating_sub(MOST_REASONS),
        rejected: (receipt.rejected.into_iter().take(MOST_REASONS))
            .map(|r| Reason {
                index: r.index,
                id: None,
                code: r.code,
            })
            .collect(),
        schedule: receipt.schedule,
        commands: receipt.commands,
        acks_rejected: (receipt.acks_rejected.into_iter().take(MOST_REASONS))
            .map(|r| Reason {
                index: r.index,
                id: r.id,
                code: r.code,
            })
            .collect(),
    };
    loop {
        let text = serde_json::to_string(&answer).unwrap_or_default();
        if text.len() <= HOOK_CHUNK {
            return ([(header::CONTENT_TYPE, "application/json")], text).into_response();
        }
        // Reasons for acks go first: the device learns of a lost ack by its command
        // coming again.
        if answer.acks_rejected.pop().is_none() && answer.rejected.pop().is_none() {
            return ([(header::CONTENT_TYPE, "application/json")], text).into_response();
        }
        answer.not_listed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn a_hook_response_fits_one_chunk_whatever_was_rejected() {
        use sunfleet_app::control::command::{AckRejected, Command};
        use sunfleet_app::telemetry::model::RejectedReading;
        let receipt = IngestReceipt {
            accepted: 1_000,
            duplicates: 1_000,
            rejected: (0..990)
                .map(|index| RejectedReading {
                    index,
                    code: "value_out_of_range".into(),
                    message: "solar_w must be a number of watts of 0 or more".into(),
                })
                .collect(),
            schedule: Some(ScheduleNotice {
                version: 4_294_967_295,
                url: "/ingest/v1/devices/0123456789abcdef01234567/schedule".into(),
            }),
            commands: (0..5)
                .map(|i| CommandOrder {
                    id: 9_999_999_990 + i,
                    command: Command::SetSpeed { percent: 100 },
                })
                .collect(),
            acks_rejected: (0..40)
                .map(|index| AckRejected {
                    index,
                    id: Some(9_999_999_000 + index as u64),
                    code: "command_not_found".into(),
                    message: "no such command for this device".into(),
                })
                .collect(),
        };
        let response = hook_response(receipt);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        assert!(body.len() <= HOOK_CHUNK, "{} bytes", body.len());
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["commands"].as_array().unwrap().len(), 5, "{answer}");
        assert_eq!(answer["schedule"]["version"], 4_294_967_295u64);
        let listed = answer["rejected"].as_array().unwrap().len()
            + answer["acks_rejected"].as_array().map_or(0, Vec::len);
        assert!(listed > 0, "{answer}");
        assert_eq!(
            listed as u64 + answer["not_listed"].as_u64().unwrap(),
            1_030
        );
        assert_eq!(
            answer["rejected"][0],
            serde_json::json!({"index": 0, "code": "value_out_of_range"})
        );
    }

    #[test]
    fn particle_default_json_body_parses() {
        let body = br#"{"event":"status","data":"{\"solar_w\":1}","coreid":"e00fce68aaaaaaaaaaaaaaaa",
            "published_at":"2026-11-22T12:00:00.000Z","ttl":60,"userid":"x","fw_version":12,"public":false}"#;
        let e = parse_event("application/json", body).unwrap();
        assert_eq!(e.coreid, "e00fce68aaaaaaaaaaaaaaaa");
        assert_eq!(e.data, serde_json::json!({"solar_w": 1}));
        assert!(e.published_at.is_some());
    }

    #[test]
    fn form_bodies_and_object_data_parse() {
        let body = b"event=status&data=%7B%22solar_w%22%3A2%7D&coreid=abc&published_at=2026-11-22T12%3A00%3A00Z&productID=7";
        let e = parse_event("application/x-www-form-urlencoded", body).unwrap();
        assert_eq!(e.data, serde_json::json!({"solar_w": 2}));
        let body = br#"{"data":{"solar_w":3},"coreid":"abc"}"#;
        assert_eq!(
            parse_event("application/json", body).unwrap().data,
            serde_json::json!({"solar_w": 3})
        );
    }

    #[test]
    fn an_envelope_is_an_object_and_its_last_key_counts() {
        let code = |b: &[u8]| parse_event("application/json", b).unwrap_err().code();
        // serde's derive would take these for the three fields by position.
        assert_eq!(
            code(br#"["e00fce68aaaaaaaaaaaaaaaa","{}",null]"#),
            "invalid_event"
        );
        assert_eq!(code(b" \n[1,2,3]"), "invalid_event");
        let body = br#" {"coreid":"first","coreid":"second","data":"{\"solar_w\":4}","event":1}"#;
        let e = parse_event("application/json", body).unwrap();
        assert_eq!(e.coreid, "second");
        assert_eq!(e.data, serde_json::json!({"solar_w": 4}));
        let body = b"coreid=first&coreid=second&data=%7B%7D";
        assert_eq!(
            parse_event("application/x-www-form-urlencoded", body)
                .unwrap()
                .coreid,
            "second"
        );
    }

    #[test]
    fn bad_bodies_get_their_own_codes() {
        let code = |ct: &str, b: &[u8]| parse_event(ct, b).unwrap_err().code();
        assert_eq!(code("application/json", b"{nope"), "invalid_json");
        assert_eq!(code("application/json", b"[1]"), "invalid_event");
        assert_eq!(
            code("application/json", br#"{"data":"{}"}"#),
            "missing_coreid"
        );
        assert_eq!(
            code("application/json", br#"{"coreid":"a","data":"not json"}"#),
            "invalid_data"
        );
        assert_eq!(
            code("application/json", br#"{"coreid":"a","data":5}"#),
            "invalid_data"
        );
        assert_eq!(code("text/plain", b"x"), "unsupported_media_type");
        assert_eq!(
            code(
                "application/json",
                br#"{"coreid":"a","data":"{}","published_at":"soon"}"#
            ),
            "invalid_published_at"
        );
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            any::<i64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("coreid".to_string()),
                        Just("data".to_string()),
                        Just("published_at".to_string()),
                        Just("solar_w".to_string()),
                        Just("time".to_string()),
                        ".{0,8}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        /// Whatever arrives, parsing answers (an event or a 4xx error), and never panics.
        #[test]
        fn the_webhook_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512),
                                           form in any::<bool>()) {
            let ct = if form { "application/x-www-form-urlencoded" } else { "application/json" };
            if let Err(e) = parse_event(ct, &bytes) {
                prop_assert!(e.status() >= 400 && e.status() < 500);
            }
        }

        #[test]
        fn structured_webhook_bodies_parse_or_fail_cleanly(event in any_json(), data in any_json(),
                                                           as_string in any::<bool>()) {
            let mut body = match event { Value::Object(m) => m, _ => serde_json::Map::new() };
            let data = if as_string { Value::String(data.to_string()) } else { data };
            body.insert("data".into(), data);
            body.insert("coreid".into(), "e00fce68aaaaaaaaaaaaaaaa".into());
            let bytes = serde_json::to_vec(&Value::Object(body)).unwrap();
            match parse_event("application/json", &bytes) {
                Ok(e) => {
                    let now = Utc::now();
                    // Every status in it parses or is rejected with a reason.
                    if let Ok(p) = super::super::parse_readings(&e.data, e.published_at, now) {
                        prop_assert!(p.readings.len() + p.rejected.len() + p.acks.len() + p.acks_rejected.len() >= 1
                            || e.data.get("acks").is_some());
                    }
                }
                Err(e) => prop_assert!(e.status() >= 400 && e.status() < 500),
            }
        }
    }
}
