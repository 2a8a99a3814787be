//! Particle's function call (<https://docs.particle.io/reference/cloud-apis/api/#call-a-function>):
//! `POST {api}/v1/devices/{id}/{function}` with an access token and the form field `arg`,
//! answered `{"id", "connected": true, "return_value": N}` when the device ran it, or an
//! error: 404 when the device is not connected, 408 when it did not answer in time, 401/403
//! for the token, 429 when rate limited. Used for commands to Particle devices when
//! `SUNFLEET_PARTICLE_TOKEN` is set, so a connected device acts now instead of at its next
//! post. Whatever Particle answers, the command also stays queued for the ingest answer
//! until the device acknowledges it. Server-only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::oneshot;

/// The firmware function that takes commands: `arg` is `"<id> <kind> [percent]"`.
pub const FUNCTION: &str = "command";

#[derive(Debug, Clone)]
pub struct ParticleApi {
    base: String,
    token: String,
    client: reqwest::Client,
    lines: Lines,
}

/// Per device with calls under way, the last one's turn (its number, and what ends when it
/// is done): each call waits for the one before it.
type Lines = Arc<Mutex<HashMap<String, (u64, oneshot::Receiver<()>)>>>;

/// A call's place in its device's line, taken when the command is sent: `wait` returns when
/// the calls taken before it are done; dropping it lets the next one go. Calls run in the
/// background, so without it two commands sent a moment apart could reach a device in
/// either order (and a device runs a function while Particle's call lasts, up to 30 s).
#[derive(Debug)]
pub struct Turn {
    lines: Lines,
    device: String,
    number: u64,
    before: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl Turn {
    pub async fn wait(&mut self) {
        if let Some(before) = self.before.take() {
            // Sent or dropped, the call before is over either way.
            let _ = before.await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        // Still the last in line: the device has nothing under way now.
        if lines
            .get(&self.device)
            .is_some_and(|(n, _)| *n == self.number)
        {
            lines.remove(&self.device);
        }
    }
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
            lines: Lines::default(),
        })
    }

    /// The next place in `device`'s line of calls (see `Turn`).
    pub fn turn(&self, device: &str) -> Turn {
        static NUMBER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let number = NUMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, ends) = oneshot::channel();
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let before = lines
            .insert(device.to_string(), (number, ends))
            .map(|(_, before)| before);
        Turn {
            lines: self.lines.clone(),
            device: device.to_string(),
            number,
            before,
            _done: done,
        }
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
