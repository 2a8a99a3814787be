//! A device's weekly run schedule (issue 6): windows of days, a local start and end, and what
//! to do meanwhile. Parsed once at the edge ([`Schedule::parse`]): a schedule that exists is
//! valid — no zero-length windows, no overlaps, setpoints 0–100 %. A window whose end is
//! earlier than its start crosses midnight and ends the next day.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const MINUTES_PER_DAY: u16 = 24 * 60;
const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY as u32;
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A wall-clock time of day, to the minute ("06:30").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalTime(u16);

impl LocalTime {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("“{text}” is not a time of day like 06:30");
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl TryFrom<String> for LocalTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<LocalTime> for String {
    fn from(t: LocalTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// What a device does during a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run at full speed.
    Run,
    /// Run at a speed setpoint, 0–100 %.
    Setpoint { setpoint: u8 },
}

/// One window as people and partners write it (JSON), before it is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// "mon" … "sun".
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    #[serde(flatten)]
    pub action: ActionSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setpoint: Option<i64>,
}

/// A checked window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Bit 0 = Monday … bit 6 = Sunday.
    pub days: u8,
    pub start: LocalTime,
    pub end: LocalTime,
    pub action: Action,
}

impl Window {
    /// Whether it runs past midnight into the next day.
    pub fn crosses_midnight(&self) -> bool {
        self.end < self.start
    }

    pub fn length_minutes(&self) -> u16 {
        if self.crosses_midnight() {
            MINUTES_PER_DAY - self.start.0 + self.end.0
        } else {
            self.end.0 - self.start.0
        }
    }

    /// Its spans as minutes of the week from Monday 00:00, one per day; a span past Sunday
    /// midnight wraps to Monday.
    fn week_spans(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..7u32).filter(|d| self.days & (1 << d) != 0).map(|d| {
            let start = d * MINUTES_PER_DAY as u32 + self.start.0 as u32;
            (start, start + self.length_minutes() as u32)
        })
    }

    /// The window as it is stored and sent: what [`Schedule::parse`] reads back.
    pub fn spec(&self) -> WindowSpec {
        let (action, setpoint) = match self.action {
            Action::Run => ("run", None),
            Action::Setpoint { setpoint } => ("setpoint", Some(setpoint as i64)),
        };
        WindowSpec {
            days: (0..7)
                .filter(|d| self.days & (1 << d) != 0)
                .map(|d| DAY_NAMES[d].to_string())
                .collect(),
            start: self.start.to_string(),
            end: self.end.to_string(),
            action: ActionSpec {
                action: action.into(),
                setpoint,
            },
        }
    }

    fn days_text(&self) -> String {
        (0..7)
            .filter(|d| self.days & (1 << d) != 0)
            .map(|d| DAY_NAMES[d])
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}–{}", self.days_text(), self.start, self.end)
    }
}

/// A valid weekly schedule: windows that neither overlap nor are empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Schedule {
    pub windows: Vec<Window>,
}

/// Why a schedule was refused: the window (1-based, as people count) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub window: usize,
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "window {}: {}", self.window, self.message)
    }
}

fn parse_window(spec: &WindowSpec) -> Result<Window, String> {
    let mut days = 0u8;
    for day in &spec.days {
        let d = DAY_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(day.trim()))
            .ok_or_else(|| format!("“{day}” is not a day (mon … sun)"))?;
        days |= 1 << d;
    }
    if days == 0 {
        return Err("choose at least one day".into());
    }
    let start = LocalTime::parse(&spec.start)?;
    let end = LocalTime::parse(&spec.end)?;
    if start == end {
        return Err(format!(
            "starts and ends at {start}: a window needs a length"
        ));
    }
    let action = match (spec.action.action.as_str(), spec.action.setpoint) {
        ("run", None) => Action::Run,
        ("run", Some(_)) => return Err("“run” takes no setpoint; use “setpoint”".into()),
        ("setpoint", Some(p)) if (0..=100).contains(&p) => Action::Setpoint { setpoint: p as u8 },
        ("setpoint", Some(p)) => return Err(format!("setpoint {p} % is outside 0–100 %")),
        ("setpoint", None) => return Err("“setpoint” needs a setpoint in %".into()),
        (other, _) => return Err(format!("“{other}” is not an action (run, setpoint)")),
    };
    Ok(Window {
        days,
        start,
        end,
        action,
    })
}

impl Schedule {
    /// Checks every window, then that no two overlap (touching is fine: 06:00–10:00 and
    /// 10:00–12:00).
    pub fn parse(specs: &[WindowSpec]) -> Result<Self, ScheduleError> {
        let windows = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                parse_window(spec).map_err(|message| ScheduleError {
                    window: i + 1,
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Every day's span of every window on one week-long line; a span past the end of
        // the week also occupies the start of it.
        let mut spans: Vec<(u32, u32, usize)> = Vec::new();
        for (i, w) in windows.iter().enumerate() {
            for (start, end) in w.week_spans() {
                if end > MINUTES_PER_WEEK {
                    spans.push((start, MINUTES_PER_WEEK, i));
                    spans.push((0, end - MINUTES_PER_WEEK, i));
                } else {
                    spans.push((start, end, i));
                }
            }
        }
        spans.sort();
        for pair in spans.windows(2) {
            let ((_, end_a, a), (start_b, _, b)) = (pair[0], pair[1]);
            if start_b < end_a {
                let (first, second) = (a.min(b), a.max(b));
                let day = DAY_NAMES[(start_b / MINUTES_PER_DAY as u32) as usize];
                return Err(ScheduleError {
                    window: second + 1,
                    message: format!(
                        "{} overlaps window {} ({}) on {day}",
                        windows[second],
                        first + 1,
                        windows[first]
                    ),
                });
            }
        }
        Ok(Self { windows })
    }
}

impl Schedule {
    pub fn specs(&self) -> Vec<WindowSpec> {
        self.windows.iter().map(Window::spec).collect()
    }

    /// What the schedule does at a local minute of the week (0 = Monday 00:00): a device's
    /// view, needing no timezone database once it knows its UTC offset.
    pub fn action_at(&self, minute_of_week: u32) -> Option<Action> {
        let m = minute_of_week % MINUTES_PER_WEEK;
        self.windows.iter().find_map(|w| {
            w.week_spans()
                .any(|(start, end)| {
                    (start..end).contains(&m) || (start..end).contains(&(m + MINUTES_PER_WEEK))
                })
                .then_some(w.action)
        })
    }
}

/// Starting points for the editor: (name, what it does, windows).
pub fn templates() -> Vec<(&'static str, &'static str, Vec<WindowSpec>)> {
    let every_day: Vec<String> = DAY_NAMES.iter().map(|d| d.to_string()).collect();
    let window = |days: &[String], start: &str, end: &str, setpoint: Option<i64>| WindowSpec {
        days: days.to_vec(),
        start: start.into(),
        end: end.into(),
        action: ActionSpec {
            action: if setpoint.is_some() {
                "setpoint"
            } else {
                "run"
            }
            .into(),
            setpoint,
        },
    };
    vec![
        (
            "Dawn to dusk",
            "every day 07:00–18:00, on solar",
            vec![window(&every_day, "07:00", "18:00", None)],
        ),
        (
            "Off-peak only",
            "every night 22:00–06:00, when grid power is cheap",
            vec![window(&every_day, "22:00", "06:00", None)],
        ),
        (
            "Weekday irrigation",
            "Monday to Friday 05:30–09:00 at 80 % and 17:00–20:00 at 60 %",
            vec![
                window(&every_day[..5], "05:30", "09:00", Some(80)),
                window(&every_day[..5], "17:00", "20:00", Some(60)),
            ],
        ),
    ]
}

/// Whether a device runs the schedule it should.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// No schedule was ever set, and the device reports none.
    NoSchedule,
    InSync,
    /// A newer version waits for the device's next post; `since` is when it was saved.
    Pending {
        since: Option<String>,
    },
    /// The device reports a version that was never desired (set by hand on the device, or
    /// a firmware bug), or the desired version with a `hash` other than that version's (its
    /// windows were changed on the device): it is told the desired version again at its
    /// next post.
    Drifted {
        reported: u64,
        /// The hash the device reports, when that is what differs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hash: Option<String>,
    },
}

impl SyncState {
    /// `desired` 0 means never set; `reported` is what the device last said it runs.
    pub fn of(desired: u64, reported: Option<u64>, saved_at: Option<String>) -> Self {
        Self::checked(desired, reported, saved_at, None, None)
    }

    /// As [`SyncState::of`], with the desired version's hash and the hash the device
    /// reports with its version (either may be unknown: then versions alone decide).
    pub fn checked(
        desired: u64,
        reported: Option<u64>,
        saved_at: Option<String>,
        desired_hash: Option<&str>,
        reported_hash: Option<&str>,
    ) -> Self {
        match reported {
            Some(r) if r == desired && desired > 0 => {
                match foreign_hash(desired_hash, reported_hash) {
                    Some(hash) => SyncState::Drifted {
                        reported: r,
                        hash: Some(hash.to_string()),
                    },
                    None => SyncState::InSync,
                }
            }
            Some(r) if r > desired => SyncState::Drifted {
                reported: r,
                hash: None,
            },
            _ if desired == 0 => SyncState::NoSchedule,
            _ => SyncState::Pending { since: saved_at },
        }
    }
}

/// The reported hash, when both are known and differ.
pub fn foreign_hash<'a>(desired: Option<&str>, reported: Option<&'a str>) -> Option<&'a str> {
    match (desired, reported) {
        (Some(d), Some(r)) if !d.eq_ignore_ascii_case(r) => Some(r),
        _ => None,
    }
}

/// A "run" window as a partner would send it, for tests here and in `runs`.
#[cfg(test)]
pub(crate) fn test_window(days: &[&str], start: &str, end: &str) -> WindowSpec {
    WindowSpec {
        days: days.iter().map(|d| d.to_string()).collect(),
        start: start.into(),
        end: end.into(),
        action: ActionSpec {
            action: "run".into(),
            setpoint: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_window as spec;

    #[test]
    fn a_checked_schedule_reads_back_from_what_it_stores() {
        let mut setpoint = spec(&["sun", "mon"], "22:00", "02:00");
        setpoint.action = ActionSpec {
            action: "setpoint".into(),
            setpoint: Some(40),
        };
        let schedule = Schedule::parse(&[spec(&["wed"], "06:00", "10:00"), setpoint]).unwrap();
        let specs = schedule.specs();
        assert_eq!(specs[1].days, ["mon", "sun"], "days in week order");
        assert_eq!(Schedule::parse(&specs).unwrap(), schedule);
    }

    #[test]
    fn every_template_is_a_valid_schedule() {
        for (name, _, windows) in templates() {
            assert!(Schedule::parse(&windows).is_ok(), "{name}");
        }
    }

    #[test]
    fn sync_state_compares_the_desired_and_reported_versions() {
        let at = Some("2026-11-23 10:00".to_string());
        assert_eq!(SyncState::of(0, None, None), SyncState::NoSchedule);
        assert_eq!(SyncState::of(0, Some(0), None), SyncState::NoSchedule);
        assert_eq!(SyncState::of(3, Some(3), at.clone()), SyncState::InSync);
        let pending = SyncState::Pending { since: at.clone() };
        assert_eq!(SyncState::of(3, Some(2), at.clone()), pending);
        assert_eq!(SyncState::of(3, None, at.clone()), pending);
        assert_eq!(
            SyncState::of(3, Some(7), at.clone()),
            SyncState::Drifted {
                reported: 7,
                hash: None
            }
        );
        assert_eq!(
            SyncState::of(0, Some(1), None),
            SyncState::Drifted {
                reported: 1,
                hash: None
            },
            "a device running a schedule nobody set"
        );
    }

    #[test]
    fn the_desired_version_with_another_hash_is_drifted() {
        let at = Some("2026-11-23 10:00".to_string());
        let desired = Some("9f2c44d01ba7e3c5");
        let state = |reported, hash| SyncState::checked(3, reported, at.clone(), desired, hash);
        assert_eq!(state(Some(3), desired), SyncState::InSync);
        assert_eq!(
            state(Some(3), None),
            SyncState::InSync,
            "no hash: versions decide"
        );
        assert_eq!(
            state(Some(3), Some("0000000000000000")),
            SyncState::Drifted {
                reported: 3,
                hash: Some("0000000000000000".into())
            }
        );
        assert_eq!(
            state(Some(2), Some("0000000000000000")),
            SyncState::Pending { since: at.clone() },
            "an older version has another hash anyway"
        );
        assert_eq!(
            SyncState::checked(3, Some(3), None, None, Some("0000000000000000")),
            SyncState::InSync,
            "a desired hash not known: versions decide"
        );
    }

    #[test]
    fn times_of_day_parse_and_print_to_the_minute() {
        assert_eq!(LocalTime::parse("6:05").unwrap().to_string(), "06:05");
        assert_eq!(LocalTime::parse("23:59").unwrap().minutes(), 1439);
        for bad in [
            "24:00", "12:60", "12", "12:5", "-1:00", "ab:cd", "", "123:00",
        ] {
            assert!(LocalTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn touching_windows_are_fine_overlapping_ones_are_refused() {
        assert!(Schedule::parse(&[
            spec(&["mon"], "06:00", "10:00"),
            spec(&["mon"], "10:00", "12:00")
        ])
        .is_ok());
        let e = Schedule::parse(&[
            spec(&["mon", "tue"], "06:00", "10:00"),
            spec(&["tue"], "09:00", "12:00"),
        ])
        .unwrap_err();
        assert_eq!(e.window, 2);
        assert!(e.message.contains("overlaps window 1"), "{e}");
        assert!(e.message.contains("tue"), "{e}");
    }

    #[test]
    fn a_window_crossing_midnight_ends_the_next_day() {
        let s = Schedule::parse(&[
            spec(&["fri"], "22:00", "02:00"),
            spec(&["sat"], "02:00", "05:00"),
        ])
        .unwrap();
        assert!(s.windows[0].crosses_midnight());
        assert_eq!(s.windows[0].length_minutes(), 240);
        // Friday night runs into Saturday 01:00.
        let e = Schedule::parse(&[
            spec(&["fri"], "22:00", "02:00"),
            spec(&["sat"], "01:00", "03:00"),
        ])
        .unwrap_err();
        assert!(e.message.contains("sat"), "{e}");
    }

    #[test]
    fn a_device_finds_what_to_do_at_any_minute_of_the_week() {
        let schedule = Schedule::parse(&[
            test_window(&["mon"], "06:00", "10:00"),
            WindowSpec {
                action: ActionSpec {
                    action: "setpoint".into(),
                    setpoint: Some(60),
                },
                ..test_window(&["sun"], "22:00", "02:00")
            },
        ])
        .unwrap();
        assert_eq!(schedule.action_at(6 * 60), Some(Action::Run));
        assert_eq!(schedule.action_at(10 * 60), None, "the end is exclusive");
        let sunday_23h = 6 * 1440 + 23 * 60;
        assert_eq!(
            schedule.action_at(sunday_23h),
            Some(Action::Setpoint { setpoint: 60 })
        );
        // Monday 01:00 is still Sunday night's window, wrapped.
        assert_eq!(
            schedule.action_at(60),
            Some(Action::Setpoint { setpoint: 60 })
        );
        assert_eq!(schedule.action_at(3 * 60), None);
    }

    #[test]
    fn sunday_night_wraps_into_monday_morning() {
        let e = Schedule::parse(&[
            spec(&["sun"], "23:00", "01:00"),
            spec(&["mon"], "00:30", "02:00"),
        ])
        .unwrap_err();
        assert!(e.message.contains("mon"), "{e}");
        assert!(Schedule::parse(&[
            spec(&["sun"], "23:00", "01:00"),
            spec(&["mon"], "01:00", "02:00")
        ])
        .is_ok());
    }

    #[test]
    fn empty_windows_unknown_days_and_bad_setpoints_are_refused() {
        let zero = Schedule::parse(&[spec(&["mon"], "06:00", "06:00")]).unwrap_err();
        assert!(zero.message.contains("length"), "{zero}");
        assert!(Schedule::parse(&[spec(&[], "06:00", "07:00")]).is_err());
        assert!(Schedule::parse(&[spec(&["funday"], "06:00", "07:00")]).is_err());
        let mut w = spec(&["mon"], "06:00", "07:00");
        w.action = ActionSpec {
            action: "setpoint".into(),
            setpoint: Some(101),
        };
        assert!(Schedule::parse(&[w.clone()])
            .unwrap_err()
            .message
            .contains("0–100"));
        w.action.setpoint = Some(60);
        assert_eq!(
            Schedule::parse(&[w.clone()]).unwrap().windows[0].action,
            Action::Setpoint { setpoint: 60 }
        );
        w.action.action = "boil".into();
        assert!(Schedule::parse(&[w]).is_err());
    }

    #[test]
    fn windows_are_read_from_json_as_partners_send_them() {
        let specs: Vec<WindowSpec> = serde_json::from_str(
            r#"[{"days":["mon","wed"],"start":"05:30","end":"09:00","action":"setpoint","setpoint":75},
                {"days":["sat"],"start":"20:00","end":"04:00","action":"run"}]"#,
        )
        .unwrap();
        let s = Schedule::parse(&specs).unwrap();
        assert_eq!(s.windows[0].to_string(), "mon,wed 05:30–09:00");
        assert_eq!(s.windows[1].action, Action::Run);
    }
}
