//! `sunfleet simulate`: a fleet of devices posting to a running sunfleet over real HTTP,
//! through the Particle webhook or the direct device path.
//!
//! The devices are the demo fleet's (the first 240) and more made the same way, so the
//! physics is the demo's: a solar curve by latitude and time of day with clouds, scheduled
//! motor runs in local time, grid draw at night, faults. Like Particle, it sometimes
//! delivers a reading twice and sometimes out of order.
//!
//! Each device is also a controller ([`controller`]): it fetches a newer schedule when an
//! answer says one waits and runs its motor by it, runs the commands answers hand it and
//! acknowledges them in its next status, so sync states and acks move as in the field.

pub mod controller;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context as _;
use chrono::{Duration, DurationRound, Utc};
use clap::{Args, ValueEnum};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, Mutex};

use sunfleet_app::telemetry::model::Status;

use crate::demo::{demo_token, DemoDevice, Fleet, DEMO_INTEGRATION_SECRET};
use controller::{Controller, Fetched};

/// Each device's controller state, shared by the producer (readings, acks) and the workers
/// (answers, fetches).
type Controllers = Arc<Vec<StdMutex<Controller>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    Particle,
    Direct,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The sunfleet to post to.
    #[arg(long, env = "SUNFLEET_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// How many devices (the first 240 are the demo fleet's; `sunfleet seed --devices N`
    /// registers more).
    #[arg(long, default_value_t = 240)]
    pub devices: usize,
    /// `1/min`: each device posts its current reading once a minute (real time);
    /// `max`: as fast as the server answers, each device stepping its clock a minute per
    /// reading (starting a week back).
    #[arg(long, default_value = "1/min")]
    pub rate: Rate,
    /// Particle webhook (integration secret) or direct device path (device tokens).
    #[arg(long, value_enum, default_value_t = Via::Particle)]
    pub via: Via,
    /// How long to run, e.g. 30s, 10m, 1h.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub duration: StdDuration,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// The Particle integration secret (the demo's by default).
    #[arg(long, env = "SUNFLEET_INGEST_SECRET", hide_env_values = true, default_value = DEMO_INTEGRATION_SECRET)]
    pub secret: String,
    /// Share of readings delivered twice, like Particle's retries.
    #[arg(long, default_value_t = 0.01)]
    pub duplicates: f64,
    /// Share of readings held back and delivered after the next one.
    #[arg(long, default_value_t = 0.01)]
    pub reorder: f64,
    /// No progress line (for scripts).
    #[arg(long)]
    pub quiet: bool,
    /// Only the devices the demo keeps reporting (the demo's own live feed); by default
    /// silent demo devices report too, coming back online.
    #[arg(skip)]
    pub live_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    PerMinute,
    Max,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1/min" => Ok(Rate::PerMinute),
            "max" => Ok(Rate::Max),
            other => Err(format!("unknown rate {other:?}: use 1/min or max")),
        }
    }
}

pub fn parse_duration(s: &str) -> Result<StdDuration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 10m or 1h"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?} is not a duration like 30s, 10m or 1h")),
    };
    Ok(StdDuration::from_secs(secs))
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: u64,
    pub acked: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub busy: u64,
    pub failed: u64,
    pub elapsed: StdDuration,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Commands the devices ran, and schedules they fetched.
    pub commands: u64,
    pub schedules: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "sent {} in {:.1} s ({:.0}/s): acked {} (of which repeats {}), rejected {}, \
             busy (503) {}, failed {}; ack latency p50 {:.1} ms, p99 {:.1} ms; \
             commands run {}, schedules fetched {}",
            self.sent,
            secs,
            self.sent as f64 / secs,
            self.acked,
            self.duplicates,
            self.rejected,
            self.busy,
            self.failed,
            self.p50_ms,
            self.p99_ms,
            self.commands,
            self.schedules
        )
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    busy: AtomicU64,
    failed: AtomicU64,
}

/// One request to make: a reading and the acknowledgements it carries.
#[derive(Clone)]
struct Post {
    device: usize,
    reading: Status,
    acks: Vec<u64>,
}

/// Latencies kept for the percentiles (a long run keeps a sample).
const MAX_LATENCIES: usize = 1_000_000;

pub async fn run(args: SimulateArgs) -> anyhow::Result<Summary> {
    if args.devices == 0 || args.connections == 0 {
        anyhow::bail!("--devices and --connections must be at least 1");
    }
    let url = args.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(StdDuration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .with_context(|| format!("--url: cannot reach sunfleet at {url}"))?;

    let fleet = Arc::new(Fleet::generate_n(
        Utc::now(),
        crate::demo::SEED,
        args.devices,
    ));
    let controllers: Controllers = Arc::new(
        (0..fleet.devices.len())
            .map(|_| StdMutex::new(Controller::new(1)))
            .collect(),
    );
    let counters = Arc::new(Counters::default());
    let (tx, rx) = mpsc::channel::<Post>(args.connections * 4);
    let rx = Arc::new(Mutex::new(rx));
    let started = Instant::now();
    let deadline = started + args.duration;

    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (rx, client, fleet, counters, controllers) = (
            rx.clone(),
            client.clone(),
            fleet.clone(),
            counters.clone(),
            controllers.clone(),
        );
        let (url, secret, via) = (url.clone(), args.secret.clone(), args.via);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some(post) = rx.lock().await.recv().await else {
                    break;
                };
                let device = &fleet.devices[post.device];
                let sent = Instant::now();
                let outcome = send(&client, &url, via, &secret, device, &post).await;
                if latencies.len() < MAX_LATENCIES {
                    latencies.push(sent.elapsed().as_micros() as u32);
                }
                counters.sent.fetch_add(1, Ordering::Relaxed);
                let counter = match outcome {
                    Outcome::Acked { repeat, answer } => {
                        if repeat {
                            counters.duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                        let (fetch, acks) = {
                            let mut controller =
                                controllers[post.device].lock().expect("BUG: poisoned");
                            let fetch = controller.on_answer(&answer, post.reading.time);
                            (fetch, controller.take_acks())
                        };
                        // Like firmware that publishes its acks as soon as it has run the
                        // commands, rather than with the next minute's status. Acks lost
                        // here come back: the command is handed out again, and acked again.
                        if !acks.is_empty() {
                            let status = serde_json::json!({ "acks": acks });
                            post_status(&client, &url, via, &secret, device, &status, Utc::now())
                                .await;
                        }
                        if fetch {
                            fetch_schedule(&client, &url, device, &controllers[post.device]).await;
                        }
                        &counters.acked
                    }
                    Outcome::Rejected => &counters.rejected,
                    Outcome::Busy => &counters.busy,
                    Outcome::Failed => &counters.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }

    let progress = (!args.quiet).then(|| {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(StdDuration::from_secs(1)).await;
                let sent = counters.sent.load(Ordering::Relaxed);
                eprint!(
                    "\rsimulate: {:>5.0} s  sent {sent}  acked {}  rejected {}  busy {}  failed {}  {}/s   ",
                    started.elapsed().as_secs_f64(),
                    counters.acked.load(Ordering::Relaxed),
                    counters.rejected.load(Ordering::Relaxed),
                    counters.busy.load(Ordering::Relaxed),
                    counters.failed.load(Ordering::Relaxed),
                    sent - last
                );
                last = sent;
            }
        })
    });

    produce(&fleet, &controllers, &args, tx, deadline).await;
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap_or_default());
    }
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    Ok(Summary {
        sent: counters.sent.load(Ordering::Relaxed),
        acked: counters.acked.load(Ordering::Relaxed),
        duplicates: counters.duplicates.load(Ordering::Relaxed),
        rejected: counters.rejected.load(Ordering::Relaxed),
        busy: counters.busy.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        commands: controllers
            .iter()
            .map(|c| c.lock().expect("BUG: poisoned").commands_run)
            .sum(),
        schedules: controllers
            .iter()
            .map(|c| c.lock().expect("BUG: poisoned").schedules_fetched)
            .sum(),
    })
}

/// Feeds readings to the workers until the deadline, at the chosen rate, with Particle's
/// habits: now and then a repeat, now and then one held back until after the next.
async fn produce(
    fleet: &Fleet,
    controllers: &Controllers,
    args: &SimulateArgs,
    tx: mpsc::Sender<Post>,
    deadline: Instant,
) {
    let mut rng = SmallRng::seed_from_u64(0x51u64 ^ Utc::now().timestamp() as u64);
    let mut held: Vec<Option<Post>> = vec![None; fleet.devices.len()];
    // Every device that was ever installed reports, including those the demo seeded as
    // silent: the simulator brings them back online. Devices never seen stay unseen.
    let live: Vec<usize> = (0..fleet.devices.len())
        .filter(|&i| fleet.devices[i].fate != crate::demo::Fate::NeverSeen)
        .filter(|&i| !args.live_only || fleet.devices[i].reports_live())
        .collect();
    // The device's reading at `at` as its controller steers it, with the acks it owes.
    let reading = |i: usize, at| {
        let mut controller = controllers[i].lock().expect("BUG: poisoned");
        let control = controller.control(at);
        Post {
            device: i,
            reading: fleet.devices[i].reading_with(at, 0, control),
            acks: controller.take_acks(),
        }
    };
    let mut emit = |rng: &mut SmallRng, post: Post| -> Vec<Post> {
        let i = post.device;
        let mut out = Vec::with_capacity(3);
        if rng.random_bool(args.reorder.clamp(0.0, 1.0)) && held[i].is_none() {
            held[i] = Some(post);
            return out;
        }
        let repeat = rng.random_bool(args.duplicates.clamp(0.0, 1.0));
        out.push(post.clone());
        if let Some(late) = held[i].take() {
            out.push(late);
        }
        if repeat {
            out.push(post);
        }
        out
    };
    match args.rate {
        Rate::Max => {
            // Each device's own clock: a week back, a minute further per reading.
            let start = Utc::now()
                .duration_trunc(Duration::minutes(1))
                .expect("BUG: minute")
                - Duration::days(7);
            let mut step = 0i64;
            'outer: loop {
                let at = start + Duration::minutes(step);
                if at > Utc::now() {
                    step = 0;
                    continue;
                }
                for &i in &live {
                    if Instant::now() >= deadline {
                        break 'outer;
                    }
                    for post in emit(&mut rng, reading(i, at)) {
                        if tx.send(post).await.is_err() {
                            break 'outer;
                        }
                    }
                }
                step += 1;
            }
        }
        Rate::PerMinute => {
            // Each device posts at its own second within the minute, like a real fleet.
            'minutes: while Instant::now() < deadline {
                let minute = Utc::now()
                    .duration_trunc(Duration::minutes(1))
                    .expect("BUG: minute");
                for (k, &i) in live.iter().enumerate() {
                    let due =
                        minute + Duration::milliseconds((k as i64 * 60_000) / live.len() as i64);
                    if let Ok(wait) = (due - Utc::now()).to_std() {
                        tokio::time::sleep(wait).await;
                    }
                    if Instant::now() >= deadline {
                        break 'minutes;
                    }
                    for post in emit(&mut rng, reading(i, minute)) {
                        if tx.send(post).await.is_err() {
                            break 'minutes;
                        }
                    }
                }
                let next = minute + Duration::minutes(1);
                if let Ok(wait) = (next - Utc::now()).to_std() {
                    tokio::time::sleep(
                        wait.min(deadline.saturating_duration_since(Instant::now())),
                    )
                    .await;
                }
            }
        }
    }
    // Readings still held back go last, late, as a device catching up would send them:
    // the run's end loses none of them.
    for post in held.into_iter().flatten() {
        if tx.send(post).await.is_err() {
            break;
        }
    }
}

enum Outcome {
    Acked {
        repeat: bool,
        answer: serde_json::Value,
    },
    Rejected,
    Busy,
    Failed,
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    via: Via,
    secret: &str,
    device: &DemoDevice,
    post: &Post,
) -> Outcome {
    let mut status = post.reading.to_json();
    if !post.acks.is_empty() {
        status["acks"] = serde_json::json!(post.acks);
    }
    post_status(client, url, via, secret, device, &status, post.reading.time).await
}

/// Posts one status body (a reading, acks, or both) as the device, through `via`.
async fn post_status(
    client: &reqwest::Client,
    url: &str,
    via: Via,
    secret: &str,
    device: &DemoDevice,
    status: &serde_json::Value,
    published_at: chrono::DateTime<Utc>,
) -> Outcome {
    let request = match via {
        Via::Particle => {
            let body = particle_event(device, status, published_at);
            client
                .post(format!("{url}/ingest/particle"))
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {secret}"))
                .body(body)
        }
        Via::Direct => client
            .post(format!("{url}/ingest/v1/devices/{}/status", device.id))
            .header("content-type", "application/json")
            .header(
                "authorization",
                format!("Bearer {}", demo_token(&device.id)),
            )
            .body(status.to_string()),
    };
    let Ok(response) = request.send().await else {
        return Outcome::Failed;
    };
    let code = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    match code {
        200 => Outcome::Acked {
            repeat: body.contains("\"duplicates\":1"),
            answer: serde_json::from_str(&body).unwrap_or_default(),
        },
        503 | 429 => Outcome::Busy,
        400..=499 => Outcome::Rejected,
        _ => Outcome::Failed,
    }
}

/// Fetches the device's schedule with its token and installs it (a failed fetch is tried
/// again at the next answer that names the version).
async fn fetch_schedule(
    client: &reqwest::Client,
    url: &str,
    device: &DemoDevice,
    controller: &StdMutex<Controller>,
) {
    let response = client
        .get(format!("{url}/ingest/v1/devices/{}/schedule", device.id))
        .header(
            "authorization",
            format!("Bearer {}", demo_token(&device.id)),
        )
        .send()
        .await;
    let fetched = match response {
        Ok(r) if r.status().is_success() => r
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Fetched>(&b).ok()),
        _ => None,
    };
    if let Some(fetched) = fetched {
        controller.lock().expect("BUG: poisoned").install(fetched);
    }
}

/// The webhook body Particle sends with its default template: `data` is a string (the
/// device's status JSON).
pub fn particle_event(
    device: &DemoDevice,
    status: &serde_json::Value,
    published_at: chrono::DateTime<Utc>,
) -> String {
    serde_json::json!({
        "event": "status",
        "data": status.to_string(),
        "coreid": device.id.as_str(),
        "published_at": published_at.to_rfc3339(),
        "ttl": 60,
        "public": false,
        "userid": "5f0c0ffee0c0ffee0c0ffee0",
        "fw_version": 17,
    })
    .to_string()
}
