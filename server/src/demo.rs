//! The demo fleet: a realistic, reproducible fleet in the US Mountain West with 30 days of
//! history, seeded once per database by `sunfleet serve --demo`: one-minute readings for
//! the last [`RAW_DAYS`] days and hourly and daily rollups (computed by the same code as the
//! write path) for all 30. The fleet simulator (`sunfleet simulate`) drives the same devices.
//!
//! The physics is simple but honest: PV power follows the sun's elevation for each device's
//! latitude, longitude and date, dimmed by passing clouds; the pump runs by a daily schedule
//! in the device's local time; without sun the motor draws from the grid, and solar-only
//! sites stop. A few devices go silent, a few never report, a few are in fault.

use std::f64::consts::PI;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use sunfleet_app::accounts::model::Persona;
use sunfleet_app::control::schedule::{ActionSpec, Schedule, WindowSpec, DAY_NAMES};
use sunfleet_app::db::Db;
use sunfleet_app::devices::model::DeviceId;
use sunfleet_app::devices::store::{self as devices, NewDevice, NewLocation, StatusRecord};
use sunfleet_app::orgs::model::OrgKind;
use sunfleet_app::orgs::store::{self as orgs, org_record, NewOrg};
use sunfleet_app::telemetry::model::Status;
use sunfleet_app::telemetry::rollup::{self, day_hours, Sample};
use sunfleet_app::telemetry::store::{
    self as telemetry, day_record, hour_record, ReadingRecord, RollupRecord,
};
use sunfleet_app::telemetry::write::Delivery;

use crate::ingest::auth::hash_secret;
use crate::ingest::writer::Writer as IngestWriter;

const FLAG: &str = "demo_seeded";
/// The demo is the same fleet every time: same ids, names and behaviour.
pub const SEED: u64 = 0x5_0000_0000_07EA;
pub const DEVICES: usize = 240;
/// Days of history the demo starts with.
pub const HISTORY_DAYS: i64 = 30;
/// Days of that history kept as raw one-minute readings (the rest as rollups only).
pub const RAW_DAYS: i64 = 2;
/// The demo's Particle integration secret (a demo database only; documented in the README).
pub const DEMO_INTEGRATION_SECRET: &str = "sunfleet-demo-particle-secret";

/// Seeds the demo fleet unless this database already has it.
pub async fn seed_once(db: &Db) -> anyhow::Result<()> {
    if sunfleet_app::db::flag_is_set(db, FLAG)
        .await
        .context("reading demo marker")?
    {
        println!("demo fleet already present, not seeding again");
        return Ok(());
    }
    let now = Utc::now();
    seed(db, now, DEVICES, HISTORY_DAYS).await?;
    sunfleet_app::db::set_flag(db, FLAG)
        .await
        .context("writing demo marker")?;
    Ok(())
}

/// The demo's sign-ins, one per persona: (persona, email, name, org slug, password). For a
/// demo database only; printed at start-up and listed in the README.
pub const DEMO_USERS: &[(Persona, &str, &str, &str, &str)] = &[
    (
        Persona::Admin,
        "admin@sunfleet.example",
        "Ada Admin",
        "sunfleet-manufacturing",
        "demo-admin-password",
    ),
    (
        Persona::Partner,
        "partner@sunfleet.example",
        "Pat Partner",
        "agrilogic",
        "demo-partner-password",
    ),
    (
        Persona::Dealer,
        "dealer@sunfleet.example",
        "Dana Dealer",
        "rocky-mountain-pumps",
        "demo-dealer-password",
    ),
    (
        Persona::Customer,
        "customer@sunfleet.example",
        "Cary Customer",
        "platte-valley-farms",
        "demo-customer-password",
    ),
];

/// Creates the demo users that are missing (a demo database from before accounts gets them
/// too) and prints how to sign in.
pub async fn ensure_demo_users(db: &Db) -> anyhow::Result<()> {
    use sunfleet_app::accounts::model::Email;
    use sunfleet_app::accounts::{store, users};
    println!("demo sign-ins (demo database only):");
    for (persona, email, name, org, password) in DEMO_USERS {
        let parsed = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
        if store::user_by_email(db, &parsed).await?.is_none() {
            users::create_user(
                db,
                users::UserSpec {
                    email: (*email).into(),
                    name: (*name).into(),
                    persona: *persona,
                    org: org_record(org),
                    password: Some((*password).into()),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo user {email}: {e}"))?;
        }
        println!("  {:<9} {email:<27} {password}", persona.as_str());
    }
    Ok(())
}

/// Writes a fleet of `devices` devices (the demo's own first) as of `now`, with `days` of
/// history (none: devices only, for load tests).
pub async fn seed(db: &Db, now: DateTime<Utc>, devices: usize, days: i64) -> anyhow::Result<()> {
    seed_with(db, now, devices, days, devices).await
}

/// As [`seed`], with history for the first `history` devices only (load tests: thousands
/// of devices, a long history for some).
pub async fn seed_with(
    db: &Db,
    now: DateTime<Utc>,
    devices: usize,
    days: i64,
    history: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let fleet = Fleet::generate_n(now, SEED, devices);
    orgs::insert_orgs(db, fleet.orgs.clone()).await?;
    devices::insert_devices(db, fleet.devices.iter().map(|d| d.record.clone()).collect()).await?;
    let schedules = fleet
        .devices
        .iter()
        .map(|d| Ok((d.id.clone(), d.weekly_schedule()?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    sunfleet_app::control::store::insert_first(db, schedules, "demo seed", now).await?;
    match crate::ingest::integrations::add(db, "demo", Some(DEMO_INTEGRATION_SECRET.into())).await {
        Ok(_) | Err(sunfleet_app::error::AppError::Conflict { .. }) => {}
        Err(e) => return Err(e).context("adding the demo integration"),
    }
    let raw_days = RAW_DAYS.min(days);
    println!(
        "demo: {} organisations, {} devices; writing {days} days of history \
         ({raw_days} days of one-minute readings, rollups for all)…",
        fleet.orgs.len(),
        fleet.devices.len()
    );
    if days <= 0 {
        return Ok(());
    }
    let end = now
        .duration_trunc(Duration::minutes(1))
        .expect("BUG: minute truncation");
    let raw_from = end - Duration::days(raw_days);
    let mut writer = SeedWriter::new(db);
    let mut last_print = Instant::now();
    for (n, device) in fleet.devices.iter().take(history).enumerate() {
        writer
            .add(device, device.simulate(end, days), raw_from, end)
            .await?;
        if last_print.elapsed().as_millis() > 1000 {
            println!(
                "demo: {}/{} devices, {} readings and {} rollups written",
                n + 1,
                fleet.devices.len(),
                writer.readings,
                writer.rollups
            );
            last_print = Instant::now();
        }
    }
    let (readings, rollups) = writer.finish().await?;
    println!(
        "demo: done, {readings} readings and {rollups} rollups for {} devices in {:.1} s",
        history.min(fleet.devices.len()),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Keeps the demo fleet alive. After a restart it first fills the gap since the last
/// reading (up to a day) through the write path; from then on every device that still
/// reports posts its reading every minute through the Particle webhook at `url` — the real
/// simulator over real HTTP, so the demo's devices also fetch new schedules, run commands
/// and acknowledge them like devices in the field.
pub async fn keep_alive(db: Db, writer: IngestWriter, url: String) {
    let now = Utc::now()
        .duration_trunc(Duration::minutes(1))
        .expect("BUG: minute truncation");
    if let Err(e) = LiveDemo::new().catch_up(&db, &writer, now).await {
        tracing::warn!(error = %e, "demo: filling the gap since the last reading failed");
    }
    loop {
        let args = crate::simulate::SimulateArgs {
            url: url.clone(),
            devices: DEVICES,
            rate: crate::simulate::Rate::PerMinute,
            via: crate::simulate::Via::Particle,
            duration: std::time::Duration::from_secs(10 * 365 * 86_400),
            connections: 8,
            secret: DEMO_INTEGRATION_SECRET.into(),
            duplicates: 0.01,
            reorder: 0.01,
            quiet: true,
            live_only: true,
        };
        // Fails at once while the server is not listening yet.
        match crate::simulate::run(args).await {
            Ok(summary) => tracing::info!(%summary, "demo: live devices stopped"),
            Err(e) => tracing::debug!(error = %e, "demo: live devices not started yet"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// How a controller is steered at one reading; `None` keeps the demo's built-in behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Control {
    /// Run the motor (by a fetched schedule or a command) or not.
    pub run: Option<bool>,
    /// Speed in % of rated (a setpoint window or a set_speed command).
    pub speed_pct: Option<u8>,
    /// The schedule version it runs (1, the seeded one, by default)…
    pub schedule_version: Option<i64>,
    /// …and that version's hash, once fetched (16 hex digits).
    pub schedule_hash: Option<u64>,
}

/// The demo devices that keep reporting after the seeded history.
pub struct LiveDemo {
    fleet: Fleet,
}

impl Default for LiveDemo {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveDemo {
    pub fn new() -> Self {
        Self {
            fleet: Fleet::generate(Utc::now(), SEED),
        }
    }

    /// Writes every minute after the latest stored reading up to `to` (at most a day) and
    /// returns how many minutes that was.
    pub async fn catch_up(
        &self,
        db: &Db,
        writer: &IngestWriter,
        to: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        let Some(since) = devices::latest_seen(db).await? else {
            return Ok(0);
        };
        let from = (since + Duration::minutes(1)).max(to - Duration::minutes(24 * 60 - 1));
        if from > to {
            return Ok(0);
        }
        let minutes = (to - from).num_minutes() + 1;
        // An hour of minutes per batch keeps each transaction a sensible size.
        let mut start = 0;
        while start < minutes {
            let span = (minutes - start).min(60);
            let mut writes = tokio::task::JoinSet::new();
            for d in self.fleet.devices.iter().filter(|d| d.reports_live()) {
                let delivery = Delivery {
                    device: d.id.clone(),
                    tz: d.tz,
                    owner: Some(d.record.owner.clone()),
                    readings: (start..start + span)
                        .map(|m| d.reading_at(from + Duration::minutes(m), 0))
                        .collect(),
                };
                let writer = writer.clone();
                writes.spawn(async move { writer.write(delivery).await });
            }
            while let Some(done) = writes.join_next().await {
                done.context("demo writer task")??;
            }
            start += span;
        }
        // The next catch-up starts from the stored statuses.
        writer.flush().await?;
        Ok(minutes)
    }
}

/// Rows per INSERT: one transaction each. Large enough to amortise the commit, small enough
/// to show progress.
const BATCH: usize = 12_000;

/// Writes seeded history a batch (one transaction) at a time, and at the end the latest
/// status of every device that reported.
struct SeedWriter<'a> {
    db: &'a Db,
    readings_batch: Vec<ReadingRecord>,
    hours: Vec<RollupRecord>,
    days: Vec<RollupRecord>,
    statuses: Vec<StatusRecord>,
    events: Vec<sunfleet_app::telemetry::store::EventRecord>,
    readings: usize,
    rollups: usize,
}

impl<'a> SeedWriter<'a> {
    fn new(db: &'a Db) -> Self {
        Self {
            db,
            readings_batch: Vec::with_capacity(BATCH),
            hours: Vec::new(),
            days: Vec::new(),
            statuses: Vec::new(),
            events: Vec::new(),
            readings: 0,
            rollups: 0,
        }
    }

    /// Queues one device's history (oldest first): raw readings from `raw_from`, rollups
    /// for all of it; `now` decides whether it counts as online.
    async fn add(
        &mut self,
        device: &DemoDevice,
        readings: Vec<Status>,
        raw_from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let Some(last) = readings.last() else {
            return Ok(());
        };
        self.statuses.push(device.status_of(last, now));
        self.events.extend(device.history_events(&readings, now));
        let samples: Vec<Sample> = readings.iter().map(Sample::from).collect();
        let hours = rollup::increments(None, &samples, &device.tz);
        for (start, (date, day)) in rollup::days_of(&hours, &device.tz) {
            let id = day_record(&device.id, start);
            let n = day_hours(date, &device.tz);
            self.days
                .push(RollupRecord::new(id, &device.id, start, date, n, &day));
        }
        for (start, hour) in &hours {
            let (date, _) = rollup::local_day(*start, &device.tz);
            let id = hour_record(&device.id, *start);
            self.hours
                .push(RollupRecord::new(id, &device.id, *start, date, 1, hour));
        }
        self.readings_batch.extend(
            readings
                .iter()
                .filter(|r| r.time > raw_from)
                .map(|r| ReadingRecord::new(&device.id, r)),
        );
        if self.readings_batch.len() + self.hours.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        self.readings += self.readings_batch.len();
        self.rollups += self.hours.len() + self.days.len();
        telemetry::insert_readings(self.db, std::mem::take(&mut self.readings_batch)).await?;
        telemetry::replace_rollups(
            self.db,
            std::mem::take(&mut self.hours),
            std::mem::take(&mut self.days),
        )
        .await?;
        // Events in small statements: one large insert with six history keys each is slow.
        for chunk in std::mem::take(&mut self.events).chunks(1_000) {
            sunfleet_app::history::store::insert(self.db, chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Writes what is left and the statuses; returns how many readings and rollups.
    async fn finish(mut self) -> anyhow::Result<(usize, usize)> {
        self.flush().await?;
        devices::upsert_statuses(self.db, std::mem::take(&mut self.statuses)).await?;
        Ok((self.readings, self.rollups))
    }
}

/// The demo ingest token of a device (deterministic, so the simulator can post as any demo
/// device; a real device gets a random token at registration).
pub fn demo_token(id: &DeviceId) -> String {
    format!(
        "sfd_{}",
        &hash_secret(&format!("sunfleet demo token {id}"))[..32]
    )
}

/// Towns the demo places devices around: (name, state, lat, lon, timezone, dealer index).
const TOWNS: &[(&str, &str, f64, f64, &str, usize)] = &[
    ("Greeley", "CO", 40.42, -104.71, "America/Denver", 0),
    ("Fort Morgan", "CO", 40.25, -103.80, "America/Denver", 0),
    ("Alamosa", "CO", 37.47, -105.87, "America/Denver", 0),
    ("Lamar", "CO", 38.09, -102.62, "America/Denver", 0),
    ("Cheyenne", "WY", 41.14, -104.82, "America/Denver", 0),
    ("Torrington", "WY", 42.06, -104.18, "America/Denver", 0),
    ("Riverton", "WY", 43.02, -108.38, "America/Denver", 0),
    ("Farmington", "NM", 36.73, -108.22, "America/Denver", 1),
    ("Roswell", "NM", 33.39, -104.52, "America/Denver", 1),
    ("Las Cruces", "NM", 32.32, -106.76, "America/Denver", 1),
    ("Yuma", "AZ", 32.69, -114.62, "America/Phoenix", 1),
    ("Casa Grande", "AZ", 32.88, -111.76, "America/Phoenix", 1),
    ("Willcox", "AZ", 32.25, -109.83, "America/Phoenix", 1),
    ("Billings", "MT", 45.78, -108.50, "America/Denver", 2),
    ("Great Falls", "MT", 47.50, -111.30, "America/Denver", 2),
    ("Bozeman", "MT", 45.68, -111.04, "America/Denver", 2),
    ("Twin Falls", "ID", 42.56, -114.46, "America/Boise", 2),
    ("Idaho Falls", "ID", 43.49, -112.03, "America/Boise", 2),
    ("Logan", "UT", 41.74, -111.83, "America/Denver", 3),
    ("Delta", "UT", 39.35, -112.58, "America/Denver", 3),
    ("Cedar City", "UT", 37.68, -113.06, "America/Denver", 3),
    ("Fallon", "NV", 39.47, -118.78, "America/Los_Angeles", 3),
    ("Winnemucca", "NV", 40.97, -117.74, "America/Los_Angeles", 3),
];

/// (slug, name) of each dealer, in the order `TOWNS` refers to them.
const DEALERS: &[(&str, &str)] = &[
    ("rocky-mountain-pumps", "Rocky Mountain Pumps"),
    ("high-desert-solar", "High Desert Solar"),
    ("big-sky-irrigation", "Big Sky Irrigation"),
    ("basin-range-water", "Basin & Range Water"),
];

/// (slug, name, dealer index) of each customer.
const CUSTOMERS: &[(&str, &str, usize)] = &[
    ("platte-valley-farms", "Platte Valley Farms", 0),
    ("san-luis-potato", "San Luis Potato Co-op", 0),
    ("laramie-county-water", "Laramie County Water District", 0),
    ("wind-river-cattle", "Wind River Cattle Co.", 0),
    ("mesilla-pecans", "Mesilla Valley Pecans", 1),
    ("pecos-dairy", "Pecos Valley Dairy", 1),
    ("gila-ridge-orchards", "Gila Ridge Orchards", 1),
    ("yellowstone-hay", "Yellowstone Hay Growers", 2),
    ("snake-river-seed", "Snake River Seed", 2),
    ("magic-valley-dairy", "Magic Valley Dairy", 2),
    ("sevier-alfalfa", "Sevier Valley Alfalfa", 3),
    ("lahontan-water", "Lahontan Water District", 3),
    ("cache-valley-growers", "Cache Valley Growers", 3),
];

/// (model, PV peak W, motor rated W) of each controller model.
const MODELS: &[(&str, f64, f64)] = &[
    ("SPC-3", 3_200.0, 2_200.0),
    ("SPC-5", 5_500.0, 3_700.0),
    ("SPC-7.5", 8_000.0, 5_500.0),
    ("SPC-15", 16_000.0, 11_000.0),
];
const FIRMWARE: &[&str] = &["2.4.1", "2.5.0", "2.5.2", "2.5.2", "3.0.1"];
const SITES: &[&str] = &[
    "Well",
    "Pivot",
    "Canal Pump",
    "Stock Tank",
    "Booster",
    "Pond Pump",
];

/// Daily run windows in local hours, `[start, end)`; `end < start` crosses midnight.
const SCHEDULES: &[&[(u32, u32)]] = &[&[(8, 16)], &[(22, 5)], &[(6, 10), (17, 20)], &[(9, 15)]];

pub struct Fleet {
    pub orgs: Vec<NewOrg>,
    pub devices: Vec<DemoDevice>,
}

/// How a demo device behaves over the day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate {
    Healthy,
    /// Stopped reporting this many minutes before the end.
    SilentFor(i64),
    /// Registered, never reported.
    NeverSeen,
    /// In fault `code` for the last `minutes` minutes.
    FaultNow {
        code: i64,
        minutes: i64,
    },
    /// Had fault `code` for an hour starting this many minutes before the end; cleared.
    FaultEarlier {
        code: i64,
        ago: i64,
    },
}

pub struct DemoDevice {
    pub id: DeviceId,
    pub record: NewDevice,
    pub lat: f64,
    pub lon: f64,
    pub tz: Tz,
    pub pv_peak_w: f64,
    pub motor_w: f64,
    pub grid_tied: bool,
    pub cloudiness: f64,
    pub cloud_phase: f64,
    pub schedule: &'static [(u32, u32)],
    pub fate: Fate,
    pub seed: u64,
}

impl Fleet {
    /// The demo fleet.
    pub fn generate(now: DateTime<Utc>, seed: u64) -> Fleet {
        Self::generate_n(now, seed, DEVICES)
    }

    /// A fleet of `n` devices; the first [`DEVICES`] are the demo's own.
    pub fn generate_n(now: DateTime<Utc>, seed: u64, n: usize) -> Fleet {
        let mut rng = SmallRng::seed_from_u64(seed);
        let operator = org_record("sunfleet-manufacturing");
        let mut orgs = vec![
            NewOrg {
                id: operator.clone(),
                name: "Sunfleet Manufacturing".into(),
                kind: OrgKind::Operator.as_str().into(),
                parent: None,
            },
            NewOrg {
                id: org_record("agrilogic"),
                name: "AgriLogic Integrations".into(),
                kind: OrgKind::Partner.as_str().into(),
                parent: Some(operator.clone()),
            },
            NewOrg {
                id: org_record("desert-sun-agritech"),
                name: "Desert Sun Agritech".into(),
                kind: OrgKind::Customer.as_str().into(),
                parent: Some(org_record("agrilogic")),
            },
        ];
        for (slug, name) in DEALERS {
            orgs.push(NewOrg {
                id: org_record(slug),
                name: (*name).into(),
                kind: OrgKind::Dealer.as_str().into(),
                parent: Some(operator.clone()),
            });
        }
        for (slug, name, dealer) in CUSTOMERS {
            orgs.push(NewOrg {
                id: org_record(slug),
                name: (*name).into(),
                kind: OrgKind::Customer.as_str().into(),
                parent: Some(org_record(DEALERS[*dealer].0)),
            });
        }

        let count = n;
        let mut devices = Vec::with_capacity(count);
        let mut site_counter = std::collections::HashMap::<String, u32>::new();
        for n in 0..count {
            let town = TOWNS[rng.random_range(0..TOWNS.len())];
            let (_town, _state, lat0, lon0, tz_name, dealer) = town;
            // Partner devices: one in 24, wherever they are, owned by the partner's customer.
            let partner_owned = n % 24 == 7;
            let customers: Vec<_> = CUSTOMERS.iter().filter(|c| c.2 == dealer).collect();
            let customer = customers[rng.random_range(0..customers.len())];
            let (owner_slug, owner_name) = if partner_owned {
                ("desert-sun-agritech", "Desert Sun Agritech")
            } else {
                (customer.0, customer.1)
            };
            let (model, pv_peak_w, motor_w) = MODELS[rng.random_range(0..MODELS.len())];
            let id = if n % 7 == 3 {
                format!(
                    "SF-{}-{:05}",
                    model.trim_start_matches("SPC-").replace('.', ""),
                    10_000 + n
                )
            } else {
                format!("e00fce68{:016x}", rng.random::<u64>())
            };
            let id = DeviceId::parse(&id).expect("BUG: demo ids are valid");
            let site = SITES[rng.random_range(0..SITES.len())];
            let short = owner_name.split_whitespace().next().unwrap_or(owner_name);
            let counter = site_counter.entry(format!("{short}{site}")).or_insert(0);
            *counter += 1;
            let name = format!("{short} {site} {counter}");
            let lat = lat0 + rng.random_range(-0.35..0.35);
            let lon = lon0 + rng.random_range(-0.45..0.45);
            let tz: Tz = tz_name.parse().expect("BUG: demo timezones are valid");
            let installed_at = now - Duration::days(rng.random_range(30..1500));
            let fate = match n {
                _ if n % 53 == 11 => Fate::NeverSeen,
                _ if n % 17 == 5 => Fate::SilentFor(rng.random_range(20..(20 * 60))),
                _ if n % 61 == 29 => Fate::FaultNow {
                    code: [3, 4, 5][n % 3],
                    minutes: rng.random_range(15..240),
                },
                _ if n % 19 == 2 => Fate::FaultEarlier {
                    code: [1, 5, 6, 7][n % 4],
                    ago: rng.random_range(120..1200),
                },
                _ => Fate::Healthy,
            };
            devices.push(DemoDevice {
                record: NewDevice {
                    id: devices::device_record(&id),
                    name,
                    model: model.into(),
                    firmware: FIRMWARE[rng.random_range(0..FIRMWARE.len())].into(),
                    owner: org_record(owner_slug),
                    dealer: Some(org_record(if partner_owned {
                        "agrilogic"
                    } else {
                        DEALERS[dealer].0
                    })),
                    location: Some(NewLocation {
                        source: None,
                        lat,
                        lon,
                        accuracy_m: Some(rng.random_range(3.0..25.0)),
                        set_by: Some("demo".into()),
                        set_at: Some(installed_at),
                    }),
                    timezone: tz_name.into(),
                    installed_at: Some(installed_at),
                    offline_timeout_s: 600,
                    token_hash: Some(hash_secret(&demo_token(&id))),
                },
                id,
                lat,
                lon,
                tz,
                pv_peak_w,
                motor_w,
                grid_tied: rng.random_bool(0.7),
                cloudiness: rng.random_range(0.0..0.6),
                cloud_phase: rng.random_range(0.0..(2.0 * PI)),
                schedule: SCHEDULES[rng.random_range(0..SCHEDULES.len())],
                fate,
                seed: rng.random(),
            });
        }
        Fleet { orgs, devices }
    }
}

impl DemoDevice {
    /// The events the seeded history of this device implies, as the live write path would
    /// have written them: installation (by its dealer), the first reading, faults raised and
    /// cleared, silences longer than the offline timeout and the returns after them.
    pub fn history_events(
        &self,
        readings: &[Status],
        now: DateTime<Utc>,
    ) -> Vec<sunfleet_app::telemetry::store::EventRecord> {
        use sunfleet_app::devices::model::fault_change;
        let event = |time, kind: &str, severity: &str, message: String, actor: Option<&str>| {
            sunfleet_app::telemetry::store::EventRecord {
                time,
                device: Some(self.id.as_str().to_string()),
                org: Some(self.record.owner.clone()),
                kind: kind.into(),
                severity: severity.into(),
                message,
                actor: actor.map(String::from),
            }
        };
        let mut events = Vec::new();
        if let Some(at) = self.record.installed_at {
            events.push(event(
                at,
                "device_registered",
                "info",
                format!("registered {} ({})", self.id, self.record.name),
                Some("dealer@sunfleet.example"),
            ));
        }
        let timeout = Duration::seconds(self.record.offline_timeout_s);
        let minutes = timeout.num_minutes();
        let offline = |at| {
            let message = format!("no data for {minutes} min (offline after {minutes} min)");
            event(at, "offline", "warning", message, None)
        };
        let mut previous: Option<&Status> = None;
        for r in readings {
            match previous {
                None => events.push(event(
                    r.time,
                    "online",
                    "info",
                    "first reading received".into(),
                    None,
                )),
                Some(p) if r.time - p.time > timeout => {
                    events.push(offline(p.time + timeout));
                    events.push(event(
                        r.time,
                        "online",
                        "info",
                        format!(
                            "back online; the reading before was at {}",
                            p.time.to_rfc3339()
                        ),
                        None,
                    ));
                }
                Some(_) => {}
            }
            if let Some((kind, severity, message)) =
                fault_change(previous.and_then(|p| p.fault_code), r.fault_code)
            {
                events.push(event(r.time, kind, severity, message, None));
            }
            previous = Some(r);
        }
        if let Some(last) = previous.filter(|l| now - l.time > timeout) {
            events.push(offline(last.time + timeout));
        }
        events
    }

    /// Reading times in the `days` ending at `end` (inclusive) this device reports.
    pub fn readings_until(&self, end: DateTime<Utc>, days: i64) -> Vec<DateTime<Utc>> {
        let minutes = days * 24 * 60;
        let last = match self.fate {
            Fate::NeverSeen => return Vec::new(),
            Fate::SilentFor(m) => end - Duration::minutes(m),
            _ => end,
        };
        (0..minutes)
            .map(|i| end - Duration::minutes(minutes - 1 - i))
            .filter(|t| *t <= last)
            .collect()
    }

    /// The daily schedule it runs (version 1 in the seeded history), as windows.
    pub fn weekly_schedule(&self) -> anyhow::Result<Schedule> {
        let every_day: Vec<String> = DAY_NAMES.iter().map(|d| d.to_string()).collect();
        let specs: Vec<WindowSpec> = self
            .schedule
            .iter()
            .map(|&(start, end)| WindowSpec {
                days: every_day.clone(),
                start: format!("{start:02}:00"),
                end: format!("{end:02}:00"),
                action: ActionSpec {
                    action: "run".into(),
                    setpoint: None,
                },
            })
            .collect();
        Schedule::parse(&specs).map_err(|e| anyhow::anyhow!("demo schedule: {e}"))
    }

    fn scheduled(&self, local_hour: f64) -> bool {
        self.schedule.iter().any(|&(start, end)| {
            let (s, e) = (start as f64, end as f64);
            if s <= e {
                local_hour >= s && local_hour < e
            } else {
                local_hour >= s || local_hour < e
            }
        })
    }

    fn fault_at(&self, minutes_before_end: i64) -> Option<i64> {
        match self.fate {
            Fate::FaultNow { code, minutes } if minutes_before_end < minutes => Some(code),
            Fate::FaultEarlier { code, ago } if (ago - 60..ago).contains(&minutes_before_end) => {
                Some(code)
            }
            _ => None,
        }
    }

    /// The readings of the `days` ending at `end`.
    pub fn simulate(&self, end: DateTime<Utc>, days: i64) -> Vec<Status> {
        self.readings_until(end, days)
            .into_iter()
            .map(|at| self.reading_at(at, (end - at).num_minutes()))
            .collect()
    }

    /// Whether the device keeps reporting after the seeded day.
    pub fn reports_live(&self) -> bool {
        !matches!(self.fate, Fate::NeverSeen | Fate::SilentFor(_))
    }

    /// The reading at `at`, `before_end` minutes before the end of the seeded day (0 for
    /// live readings: a fault that is active at the end stays active). Deterministic: the
    /// same device and time always give the same reading.
    pub fn reading_at(&self, at: DateTime<Utc>, before_end: i64) -> Status {
        self.reading_with(at, before_end, Control::default())
    }

    /// As [`Self::reading_at`], for a controller steered by its fetched schedule and by
    /// commands (`control`); what it leaves unset follows the built-in daily schedule.
    pub fn reading_with(&self, at: DateTime<Utc>, before_end: i64, control: Control) -> Status {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ at.timestamp() as u64);
        let pv_available = self.pv_peak_w
            * sun_factor(self.lat, self.lon, at)
            * self.cloud_factor(at)
            * rng.random_range(0.97..1.0);
        let local = at.with_timezone(&self.tz);
        let hour = local.hour() as f64 + local.minute() as f64 / 60.0;
        let fault = self.fault_at(before_end);
        let wants_run = control.run.unwrap_or_else(|| self.scheduled(hour)) && fault.is_none();
        // Pump affinity: speed ∝ n, power ∝ n³.
        let speed = control.speed_pct.map_or(1.0, |p| p as f64 / 100.0);
        // Solar-only sites cannot start the motor on less than a fifth of its power.
        let can_run = self.grid_tied || pv_available > self.motor_w * 0.2;
        let motor_on = wants_run && can_run;
        let standby = 18.0 + rng.random_range(0.0..6.0);
        let (motor_draw, rpm) = if !motor_on {
            (0.0, 0)
        } else if self.grid_tied {
            let draw = self.motor_w * rng.random_range(0.82..0.9) * speed.powi(3);
            (draw, (rng.random_range(3380..3460) as f64 * speed) as i64)
        } else {
            let draw = pv_available.min(self.motor_w * 0.9 * speed.powi(3));
            let speed = (draw / (self.motor_w * 0.9)).cbrt();
            (draw, (3450.0 * speed) as i64)
        };
        let load = motor_draw + standby;
        // PV only produces what the load takes (no storage); the grid covers the rest.
        let solar = pv_available.min(load);
        let grid = if self.grid_tied {
            (load - solar).max(0.0)
        } else {
            0.0
        };
        let dc_bus = if pv_available > 50.0 {
            310.0 + 70.0 * (pv_available / self.pv_peak_w).min(1.0)
        } else if self.grid_tied {
            325.0
        } else {
            12.0
        } + rng.random_range(-2.0..2.0);
        let ambient = ambient_c(self.lat, hour);
        let temperature = ambient + 20.0 * (load / self.motor_w) + rng.random_range(-0.3..0.3);
        Status {
            time: at,
            solar_w: round1(solar),
            grid_w: round1(grid),
            load_w: round1(load),
            motor_rpm: rpm,
            motor_on,
            dc_bus_v: round1(dc_bus),
            temperature_c: round1(temperature),
            fault_code: fault,
            schedule_version: Some(control.schedule_version.unwrap_or(1)),
            schedule_hash: control.schedule_hash.map(|h| format!("{h:016x}")),
            extra: Default::default(),
        }
    }

    /// Latest-status row from the last reading.
    pub fn status_of(&self, r: &Status, end: DateTime<Utc>) -> StatusRecord {
        let online = (end - r.time).num_seconds() <= self.record.offline_timeout_s;
        StatusRecord::from_reading(&self.id, r, r.time, online)
    }

    /// Clouds drift over a site with a period of about 40 minutes.
    fn cloud_factor(&self, at: DateTime<Utc>) -> f64 {
        let t = at.timestamp() as f64 / 60.0;
        let wave = 0.5 + 0.5 * (2.0 * PI * t / 41.0 + self.cloud_phase).sin();
        1.0 - self.cloudiness * wave.powi(3)
    }
}

/// Fraction of PV peak power the sun allows at this place and time (0 at night): a clear-sky
/// model from the solar elevation angle (declination and hour angle; no equation of time).
pub fn sun_factor(lat: f64, lon: f64, at: DateTime<Utc>) -> f64 {
    let day = at.ordinal() as f64;
    let declination = (23.44f64).to_radians() * (2.0 * PI * (284.0 + day) / 365.0).sin();
    let utc_hours = at.hour() as f64 + at.minute() as f64 / 60.0;
    let solar_hours = utc_hours + lon / 15.0;
    let hour_angle = ((solar_hours - 12.0) * 15.0).to_radians();
    let lat = lat.to_radians();
    let sin_elevation =
        lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle.cos();
    if sin_elevation <= 0.0 {
        0.0
    } else {
        // Air mass dims a low sun more than its angle alone.
        (sin_elevation.powf(1.15) * 1.05).min(1.0)
    }
}

/// A late-autumn day in the Mountain West: coldest at dawn, warmest mid-afternoon, colder
/// further north.
fn ambient_c(lat: f64, local_hour: f64) -> f64 {
    let base = 22.0 - 0.45 * (lat - 30.0) * 1.5;
    base - 6.0 + 8.0 * (2.0 * PI * (local_hour - 9.0) / 24.0).sin()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Start of the local day containing `at` (used by tests to reason about schedules).
pub fn local_midnight(tz: &Tz, at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at
        .with_timezone(tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("BUG: midnight");
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(at)
}

/// Writes `n` events spread over the `days` before `now` across `fleet`'s devices — faults
/// raised and cleared, offline and back, commands and their acks, schedule saves — in the
/// shapes the application writes them: to measure the history at millions of events.
pub async fn seed_events(
    db: &Db,
    fleet: &Fleet,
    n: usize,
    days: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use sunfleet_app::devices::model::fault_label;
    use sunfleet_app::telemetry::store::EventRecord;
    // A transaction must fit in the database's memtable (32 MiB by default, app/src/db):
    // 10,000 events with their ten index entries each did not.
    const BATCH: usize = 1_000;
    anyhow::ensure!(!fleet.devices.is_empty(), "--events needs devices");
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(SEED ^ 0xe7e7);
    let span_ms = Duration::days(days.max(1)).num_milliseconds();
    let mut written = 0;
    // One batch is written while the next is made and written: two transactions at a time
    // keep both cores busy (the events' keys are random, so they never conflict).
    let mut writing: Option<tokio::task::JoinHandle<sunfleet_app::error::Result<()>>> = None;
    while written < n {
        let batch: Vec<EventRecord> = (written..(written + BATCH).min(n))
            .map(|_| {
                let d = &fleet.devices[rng.random_range(0..fleet.devices.len())];
                let time = now - Duration::milliseconds(rng.random_range(0..span_ms));
                let code = rng.random_range(1..=12);
                let command = rng.random_range(1..100_000);
                let (kind, severity, message, actor) = match rng.random_range(0..10) {
                    0 => (
                        "fault",
                        "critical",
                        format!("fault {code}: {}", fault_label(code)),
                        None,
                    ),
                    1 => (
                        "fault_cleared",
                        "info",
                        format!("fault {code} cleared: {}", fault_label(code)),
                        None,
                    ),
                    2 => (
                        "offline",
                        "warning",
                        "no data for 11 min (offline after 10 min)".to_string(),
                        None,
                    ),
                    3 | 4 => ("online", "info", "back online".to_string(), None),
                    5 => (
                        "command_queued",
                        "info",
                        format!("command {command}: start, expires in 1 h"),
                        Some("dealer@example.com".to_string()),
                    ),
                    6 => (
                        "command_delivered",
                        "info",
                        format!("command {command} delivered"),
                        None,
                    ),
                    7 => (
                        "command_acked",
                        "info",
                        format!("command {command} (start) acknowledged"),
                        None,
                    ),
                    8 => (
                        "schedule_changed",
                        "info",
                        "schedule version 3: 2 windows".to_string(),
                        Some("customer@example.com".to_string()),
                    ),
                    _ => (
                        "device_located",
                        "info",
                        format!("located at {:.5}, {:.5} (geolocation)", d.lat, d.lon),
                        Some("dealer@example.com".to_string()),
                    ),
                };
                EventRecord {
                    time,
                    device: Some(d.id.as_str().to_string()),
                    org: Some(d.record.owner.clone()),
                    kind: kind.into(),
                    severity: severity.into(),
                    message,
                    actor,
                }
            })
            .collect();
        written += batch.len();
        let db = db.clone();
        let next =
            tokio::spawn(async move { sunfleet_app::history::store::insert(&db, batch).await });
        if let Some(previous) = writing.replace(next) {
            previous.await??;
        }
        if written == n {
            if let Some(last) = writing.take() {
                last.await??;
            }
        }
        if written % 500_000 == 0 || written == n {
            eprintln!(
                "events: {written}/{n} written ({:.0}/s)",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noon_in_denver() -> DateTime<Utc> {
        // 2026-06-21 12:00 MDT = 18:00 UTC.
        Utc.with_ymd_and_hms(2026, 6, 21, 18, 0, 0).unwrap()
    }

    #[test]
    fn the_sun_is_up_at_noon_and_down_at_midnight() {
        let noon = noon_in_denver();
        assert!(sun_factor(39.7, -105.0, noon) > 0.8);
        assert_eq!(sun_factor(39.7, -105.0, noon + Duration::hours(12)), 0.0);
    }

    #[test]
    fn winter_sun_is_weaker_further_north() {
        let winter_noon = Utc.with_ymd_and_hms(2026, 12, 21, 19, 0, 0).unwrap();
        assert!(sun_factor(47.5, -111.3, winter_noon) < sun_factor(32.3, -111.3, winter_noon));
    }

    #[test]
    fn the_fleet_is_large_spread_and_reproducible() {
        let now = noon_in_denver();
        let a = Fleet::generate(now, 7);
        let b = Fleet::generate(now, 7);
        assert!(a.devices.len() >= 200);
        let ids_a: Vec<_> = a.devices.iter().map(|d| d.id.clone()).collect();
        let ids_b: Vec<_> = b.devices.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids_a, ids_b);
        let unique: std::collections::HashSet<_> = ids_a.iter().collect();
        assert_eq!(unique.len(), ids_a.len(), "device ids are unique");
        for fate in ["never", "silent", "fault"] {
            assert!(
                a.devices.iter().any(|d| matches!(
                    (fate, d.fate),
                    ("never", Fate::NeverSeen)
                        | ("silent", Fate::SilentFor(_))
                        | ("fault", Fate::FaultNow { .. })
                )),
                "the demo has {fate} devices"
            );
        }
    }

    #[test]
    fn a_grid_tied_pump_scheduled_at_night_draws_from_the_grid() {
        let now = noon_in_denver();
        let mut fleet = Fleet::generate(now, 7);
        let d = fleet
            .devices
            .iter_mut()
            .find(|d| d.fate == Fate::Healthy)
            .unwrap();
        d.grid_tied = true;
        d.schedule = &[(22, 5)];
        let readings = d.simulate(now, 1);
        assert_eq!(readings.len(), 24 * 60);
        let midnight = local_midnight(&d.tz, now);
        let at_night = readings
            .iter()
            .find(|r| r.time == midnight + Duration::hours(1))
            .expect("a reading at 01:00 local");
        assert!(at_night.motor_on);
        assert_eq!(at_night.solar_w, 0.0);
        assert!(at_night.grid_w > d.motor_w * 0.5);
        let at_noon = readings
            .iter()
            .find(|r| r.time == midnight + Duration::hours(12))
            .unwrap();
        assert!(!at_noon.motor_on);
        assert!(at_noon.load_w < 30.0);
    }

    #[test]
    fn a_silent_device_stops_reporting() {
        let now = noon_in_denver();
        let fleet = Fleet::generate(now, 7);
        let d = fleet
            .devices
            .iter()
            .find(|d| matches!(d.fate, Fate::SilentFor(_)))
            .unwrap();
        let Fate::SilentFor(m) = d.fate else {
            unreachable!()
        };
        let last = *d.readings_until(now, 1).last().unwrap();
        assert_eq!(last, now - Duration::minutes(m));
    }
}
