//! Particle's function call (<https://docs.particle.io/reference/cloud-apis/api/#call-a-function>):
//! `POST {api}/v1/devices/{id}/{function}` with an access token and the form field `arg`,
//! answered `{"id", "connected": true, "return_value": N}` when the device ran it, or an
//! error: 404 when the device is not connected, 408 when it did not answer in time, 401/403
//! for the token, 429 when rate limited. Used for commands to Particle devices when
//! `SUNFLEET_PARTICLE_TOKEN` is set, so a connected device acts now instead of at its next
//! post. Whatever Particle answers, the command also stays queued for the ingest answer
//! until the device acknowledges it. Server-only.

use std::time::Duration;

use serde::Deserialize;

/// The firmware function that takes commands: `arg` is `"<id> <kind> [percent]"`.
pub const FUNCTION: &str = "command";

#[derive(Debug, Clone)]
pub struct ParticleApi {
    base: String,
    token: String,
    client: reqwest::Client,
}

/// How one call went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The device ran the function; firmware returns ≥ 0 for done, < 0 for failed.
    Returned(i64),
    /// It did not reach the device (or we cannot tell): the reason, for the command's note.
    NotDelivered(String),
}

#[derive(Deserialize)]
struct Success {
    return_value: Option<i64>,
    connected: Option<bool>,
}

#[derive(Deserialize)]
struct Failure {
    error: Option<String>,
}

impl ParticleApi {
    /// `base` like `https://api.particle.io` (no trailing slash needed).
    pub fn new(base: &str, token: &str) -> Result<Self, String> {
        let base = base.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!(
                "SUNFLEET_PARTICLE_API: {base:?} is not an http(s) URL"
            ));
        }
        if token.trim().is_empty() {
            return Err("SUNFLEET_PARTICLE_TOKEN is empty".into());
        }
        let client = reqwest::Client::builder()
            // Particle waits up to about 30 s for a device before answering 408.
            .timeout(Duration::from_secs(40))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            base,
            token: token.trim().to_string(),
            client,
        })
    }

    pub async fn call(&self, device: &str, arg: &str) -> CallOutcome {
        let url = format!("{}/v1/devices/{device}/{FUNCTION}", self.base);
        let sent = self
            .client
            .post(url)
            .bearer_auth(&self.token)
            .form(&[("arg", arg)])
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(device, error = %e, "Particle API unreachable");
                return CallOutcome::NotDelivered("Particle API unreachable".into());
            }
        };
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status == 200 {
            return match serde_json::from_str::<Success>(&body) {
                Ok(Success {
                    return_value: Some(v),
                    connected: Some(true) | None,
                }) => CallOutcome::Returned(v),
                _ => CallOutcome::NotDelivered("Particle answered without a return value".into()),
            };
        }
        let said = serde_json::from_str::<Failure>(&body)
            .ok()
            .and_then(|f| f.error)
            .unwrap_or_default();
        let why = match status {
            404 => "Particle: the device is not connected".to_string(),
            408 => "Particle: the device did not answer in time".to_string(),
            401 | 403 => format!("Particle refused the access token (HTTP {status})"),
            429 => "Particle: rate limited".to_string(),
            _ => format!("Particle: HTTP {status} {said}").trim().to_string(),
        };
        tracing::info!(device, status, said, "Particle function call not delivered");
        CallOutcome::NotDelivered(why)
    }
}
