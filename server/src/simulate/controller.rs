//! What a simulated controller keeps between posts, as real firmware would: the schedule it
//! runs (fetched when an ingest answer says a newer version waits), what commands told it
//! (a manual start or stop for a while, a speed), and the acknowledgements it owes.
//!
//! It speaks the device side of the protocol (README "Device protocol"): run each command
//! id once, in id order, and acknowledge it in the next status; acknowledge again a command
//! handed out again (the answer carrying the ack may have been lost); work out local time
//! from the `utc_offsets` of the fetched schedule, with no timezone database.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde::Deserialize;
use serde_json::Value;

use sunfleet_app::control::command::{Command, CommandOrder};
use sunfleet_app::control::schedule::{Action, Schedule, WindowSpec};

use crate::demo::Control;

/// How long a manual start or stop holds before the schedule takes over again.
pub const MANUAL_FOR: Duration = Duration::minutes(60);
/// Command ids remembered as run (a device keeps a short list).
const REMEMBERED: usize = 64;

/// A schedule as `GET /ingest/v1/devices/{id}/schedule` gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct Fetched {
    pub version: u64,
    /// Reported back as `schedule_hash` (16 hex digits).
    #[serde(default)]
    pub hash: Option<String>,
    pub windows: Vec<WindowSpec>,
    pub utc_offsets: Vec<Offset>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Offset {
    pub from: DateTime<Utc>,
    pub offset_min: i32,
}

#[derive(Debug, Clone)]
struct Installed {
    version: u64,
    hash: Option<u64>,
    schedule: Schedule,
    offsets: Vec<Offset>,
}

impl Installed {
    /// The local minute of the week at `at`, by the offsets (the first one also covers
    /// earlier instants).
    fn minute_of_week(&self, at: DateTime<Utc>) -> u32 {
        let offset = self
            .offsets
            .iter()
            .rev()
            .find(|o| o.from <= at)
            .or(self.offsets.first())
            .map_or(0, |o| o.offset_min);
        let local = at + Duration::minutes(offset as i64);
        local.weekday().num_days_from_monday() * 24 * 60 + local.hour() * 60 + local.minute()
    }

    /// What the schedule does at `at`. A local time that occurs twice (clocks going back)
    /// means its first occurrence, as the server's `DST_RULE` says: no window starts or
    /// ends in the second one, so what runs then is what ran at the end of the first — a
    /// window that goes on past the repeated hour.
    fn action_at(&self, at: DateTime<Utc>) -> Option<Action> {
        match self.repeat_end(at) {
            Some(end) => self.schedule.action_at((end + WEEK - 1) % WEEK),
            None => self.schedule.action_at(self.minute_of_week(at)),
        }
    }

    /// In the second occurrence of local times repeated by clocks going back, the local
    /// minute of the week at which the repetition ends.
    fn repeat_end(&self, at: DateTime<Utc>) -> Option<u32> {
        self.offsets.windows(2).find_map(|pair| {
            let back = Duration::minutes((pair[0].offset_min - pair[1].offset_min) as i64);
            let repeated = pair[1].from..pair[1].from + back;
            (back > Duration::zero() && repeated.contains(&at))
                .then(|| self.minute_of_week(repeated.end))
        })
    }
}

/// Minutes in a week.
const WEEK: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, Default)]
pub struct Controller {
    installed: Option<Installed>,
    /// The version reported when nothing was fetched (the seeded schedule, 1).
    built_in_version: u64,
    manual: Option<(bool, DateTime<Utc>)>,
    speed: Option<u8>,
    owed: Vec<u64>,
    done: VecDeque<u64>,
    /// A fetch was asked for (a newer version, or a sync_schedule command).
    want_fetch: bool,
    pub commands_run: u64,
    pub schedules_fetched: u64,
}

impl Controller {
    pub fn new(built_in_version: u64) -> Self {
        Self {
            built_in_version,
            ..Self::default()
        }
    }

    pub fn version(&self) -> u64 {
        self.installed
            .as_ref()
            .map_or(self.built_in_version, |i| i.version)
    }

    /// The hash of the installed schedule, as its fetch gave it.
    pub fn hash(&self) -> Option<u64> {
        self.installed.as_ref().and_then(|i| i.hash)
    }

    /// How the reading at `at` is steered.
    pub fn control(&self, at: DateTime<Utc>) -> Control {
        let scheduled = self.installed.as_ref().map(|i| i.action_at(at));
        let mut control = Control {
            run: scheduled.map(|a| a.is_some()),
            speed_pct: match scheduled {
                Some(Some(Action::Setpoint { setpoint })) => Some(setpoint),
                _ => None,
            },
            schedule_version: Some(self.version() as i64),
            schedule_hash: self.hash(),
        };
        if let Some((on, _)) = self.manual.filter(|(_, until)| at < *until) {
            control.run = Some(on);
        }
        if let Some(speed) = self.speed {
            control.speed_pct = Some(speed);
        }
        control
    }

    /// The acknowledgements to put in the next status (taken: a lost post makes the server
    /// hand the command out again, and it is acknowledged again then).
    pub fn take_acks(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.owed)
    }

    /// Reads an ingest answer: runs new commands (in id order), owes their acks, and says
    /// whether to fetch the schedule.
    pub fn on_answer(&mut self, answer: &Value, at: DateTime<Utc>) -> bool {
        let mut orders: Vec<CommandOrder> = answer
            .get("commands")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        orders.sort_by_key(|o| o.id);
        for order in orders {
            if !self.done.contains(&order.id) {
                self.run(order.command, at);
                self.done.push_back(order.id);
                if self.done.len() > REMEMBERED {
                    self.done.pop_front();
                }
                self.commands_run += 1;
            }
            if !self.owed.contains(&order.id) {
                self.owed.push(order.id);
            }
        }
        // A notice means fetch, even of the version it runs: its UTC offsets are running out.
        if answer.get("schedule").is_some_and(Value::is_object) {
            self.want_fetch = true;
        }
        std::mem::take(&mut self.want_fetch)
    }

    fn run(&mut self, command: Command, at: DateTime<Utc>) {
        match command {
            Command::Start => self.manual = Some((true, at + MANUAL_FOR)),
            Command::Stop => self.manual = Some((false, at + MANUAL_FOR)),
            Command::SetSpeed { percent } => self.speed = Some(percent),
            // A restart forgets what commands said.
            Command::Reboot => {
                self.manual = None;
                self.speed = None;
            }
            Command::SyncSchedule => self.want_fetch = true,
        }
    }

    /// Installs a fetched schedule (one that does not parse is ignored: the device keeps
    /// what it runs, and its reported version shows that).
    pub fn install(&mut self, fetched: Fetched) -> bool {
        match Schedule::parse(&fetched.windows) {
            Ok(schedule) => {
                self.installed = Some(Installed {
                    version: fetched.version,
                    hash: fetched
                        .hash
                        .as_deref()
                        .and_then(|h| u64::from_str_radix(h, 16).ok()),
                    schedule,
                    offsets: fetched.utc_offsets,
                });
                self.schedules_fetched += 1;
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn denver_fetched() -> Fetched {
        serde_json::from_value(json!({
            "version": 2,
            "windows": [{"days": ["wed"], "start": "06:00", "end": "12:00", "action": "run"},
                        {"days": ["wed"], "start": "13:00", "end": "15:30", "action": "setpoint", "setpoint": 70}],
            "utc_offsets": [{"from": "2026-11-23T00:00:00Z", "offset_min": -420},
                            {"from": "2027-03-14T09:00:00Z", "offset_min": -360}]
        }))
        .unwrap()
    }

    #[test]
    fn a_fetched_schedule_runs_by_local_time_from_the_offsets() {
        let mut c = Controller::new(1);
        assert!(c.install(denver_fetched()));
        assert_eq!(c.version(), 2);
        // Wednesday 25 Nov 2026, 07:00 MST = 14:00 UTC: in the first window.
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap();
        assert_eq!(c.control(at).run, Some(true));
        // 14:00 MST = 21:00 UTC: the 70 % window.
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 21, 0, 0).unwrap();
        assert_eq!(
            (c.control(at).run, c.control(at).speed_pct),
            (Some(true), Some(70))
        );
        // After spring forward 07:00 MDT = 13:00 UTC.
        let at = Utc.with_ymd_and_hms(2027, 3, 17, 13, 0, 0).unwrap();
        assert_eq!(c.control(at).run, Some(true));
        let at = Utc.with_ymd_and_hms(2027, 3, 17, 11, 30, 0).unwrap(); // 05:30 MDT
        assert_eq!(c.control(at).run, Some(false));
    }

    #[test]
    fn a_repeated_autumn_hour_runs_its_windows_once_as_the_server_schedules_them() {
        // Denver, Sunday 1 Nov 2026: 02:00 MDT (08:00 UTC) becomes 01:00 MST.
        let fetched = serde_json::from_value(json!({
            "version": 2,
            "windows": [{"days": ["sun"], "start": "01:15", "end": "01:45", "action": "run"},
                        {"days": ["sun"], "start": "05:30", "end": "06:00", "action": "run"}],
            "utc_offsets": [{"from": "2026-10-01T00:00:00Z", "offset_min": -360},
                            {"from": "2026-11-01T08:00:00Z", "offset_min": -420}]
        }))
        .unwrap();
        let mut c = Controller::new(1);
        assert!(c.install(fetched));
        let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 1, h, m, 0).unwrap();
        assert_eq!(c.control(utc(7, 30)).run, Some(true), "01:30 MDT, first");
        assert_eq!(c.control(utc(8, 30)).run, Some(false), "01:30 MST, again");
        assert_eq!(c.control(utc(12, 45)).run, Some(true), "05:45 MST");

        // A window starting in the repeated hour and ending after it runs on through it.
        let fetched = serde_json::from_value(json!({
            "version": 3,
            "windows": [{"days": ["sun"], "start": "01:30", "end": "03:00", "action": "setpoint", "setpoint": 40}],
            "utc_offsets": [{"from": "2026-10-01T00:00:00Z", "offset_min": -360},
                            {"from": "2026-11-01T08:00:00Z", "offset_min": -420}]
        }))
        .unwrap();
        assert!(c.install(fetched));
        assert_eq!(c.control(utc(7, 10)).run, Some(false), "01:10 MDT: not yet");
        assert_eq!(c.control(utc(7, 40)).run, Some(true), "01:40 MDT: started");
        let again = c.control(utc(8, 10));
        assert_eq!(
            (again.run, again.speed_pct),
            (Some(true), Some(40)),
            "01:10 MST"
        );
        assert_eq!(c.control(utc(10, 0)).run, Some(false), "03:00 MST: ended");
    }

    #[test]
    fn commands_run_once_in_id_order_and_are_acknowledged_each_time_they_come() {
        let mut c = Controller::new(1);
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let answer = json!({"commands": [{"id": 8, "kind": "set_speed", "percent": 40},
                                         {"id": 7, "kind": "start"}]});
        assert!(!c.on_answer(&answer, at));
        assert_eq!(c.take_acks(), vec![7, 8]);
        assert_eq!(c.commands_run, 2);
        let control = c.control(at);
        assert_eq!((control.run, control.speed_pct), (Some(true), Some(40)));
        assert_eq!(
            c.control(at + MANUAL_FOR).run,
            None,
            "the start holds an hour"
        );
        // Handed out again: not run again, acknowledged again.
        c.on_answer(&answer, at);
        assert_eq!(c.commands_run, 2);
        assert_eq!(c.take_acks(), vec![7, 8]);
        assert!(c.take_acks().is_empty());
    }

    #[test]
    fn a_schedule_notice_or_a_sync_command_asks_for_a_fetch() {
        let mut c = Controller::new(1);
        let at = Utc::now();
        assert!(c.on_answer(&json!({"schedule": {"version": 2, "url": "/x"}}), at));
        // The same version again: its offsets run out, fetch it again.
        assert!(c.on_answer(&json!({"schedule": {"version": 1, "url": "/x"}}), at));
        assert!(c.on_answer(
            &json!({"commands": [{"id": 3, "kind": "sync_schedule"}]}),
            at
        ));
        assert!(!c.on_answer(&json!({"accepted": 1}), at));
    }
}
