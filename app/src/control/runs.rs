//! A schedule's runs as instants: the server resolves daylight-saving changes so a device
//! gets unambiguous UTC start and end times for the coming months and needs no timezone
//! database of its own. Wall-clock rules (what a farmer means by "06:00"):
//! - a local time that happens twice (the repeated hour in autumn) means its first
//!   occurrence;
//! - a local time that never happens (the skipped hour in spring) means the moment the clocks
//!   jump to — "02:30" on that day starts at 03:00.
//!
//! Server-only (the timezone database stays out of the browser bundle).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::schedule::{Action, Schedule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub action: Action,
}

/// The instant of local `minutes` after midnight on `date` in `tz`, by the rules above.
pub fn instant(tz: Tz, date: NaiveDate, minutes: u16) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("BUG: midnight exists");
    let mut local = midnight + Duration::minutes(minutes as i64);
    // Gaps are at most a few hours; step to the first minute that exists.
    for _ in 0..(24 * 60) {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    // Unreachable for real zones; fall back to reading the local time as UTC.
    Utc.from_utc_datetime(&local)
}

/// The UTC offset (minutes east) in force at `from`, then every change of it before
/// `until`: (instant, new offset). A device that keeps its windows in local time applies
/// these; a year has at most a few.
pub fn offset_changes(
    tz: Tz,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, i32)> {
    use chrono::Offset;
    let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix().local_minus_utc() / 60;
    let mut out = vec![(from, offset(from))];
    // Offsets change at most once a day in real zones: find the day, then the minute.
    let mut day = from;
    while day < until {
        let next = (day + Duration::days(1)).min(until);
        if offset(next) != offset(day) {
            // To the second: `hi` is the first second of the new offset.
            let at = |s: i64| DateTime::from_timestamp(s, 0).expect("BUG: in range");
            let (mut lo, mut hi) = (day.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(at(mid)) == offset(at(lo)) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((at(hi), offset(at(hi))));
        }
        day = next;
    }
    out
}

/// Every run of `schedule` in `tz` that starts in `[from, until)`, by start time.
pub fn runs(schedule: &Schedule, tz: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Run> {
    let mut out = Vec::new();
    // A day earlier than `from` in local terms: its runs may cross midnight into range.
    let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
    let last = until.with_timezone(&tz).date_naive();
    let mut date = first;
    while date <= last {
        let weekday = date.weekday().num_days_from_monday();
        for w in &schedule.windows {
            if w.days & (1 << weekday) == 0 {
                continue;
            }
            let start = instant(tz, date, w.start.minutes());
            let end = if w.crosses_midnight() {
                instant(tz, date + Duration::days(1), w.end.minutes())
            } else {
                instant(tz, date, w.end.minutes())
            };
            if start >= from && start < until && end > start {
                out.push(Run {
                    start,
                    end,
                    action: w.action,
                });
            }
        }
        date += Duration::days(1);
    }
    out.sort_by_key(|r| r.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::schedule::test_window;

    fn schedule(days: &[&str], start: &str, end: &str) -> Schedule {
        Schedule::parse(&[test_window(days, start, end)]).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const DENVER: Tz = chrono_tz::America::Denver;

    #[test]
    fn a_start_in_the_skipped_spring_hour_begins_when_the_clocks_jump() {
        // 2027-03-14: Denver's clocks go from 02:00 MST to 03:00 MDT; 02:30 does not exist.
        let s = schedule(&["sun"], "02:30", "04:00");
        let runs = runs(
            &s,
            DENVER,
            utc("2027-03-13T00:00:00Z"),
            utc("2027-03-16T00:00:00Z"),
        );
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].start, utc("2027-03-14T09:00:00Z")); // 03:00 MDT
        assert_eq!(runs[0].end, utc("2027-03-14T10:00:00Z")); // 04:00 MDT
    }

    #[test]
    fn a_start_in_the_repeated_autumn_hour_means_its_first_occurrence() {
        // 2027-11-07: 02:00 MDT becomes 01:00 MST; 01:30 happens twice.
        let s = schedule(&["sun"], "01:30", "03:00");
        let runs = runs(
            &s,
            DENVER,
            utc("2027-11-06T00:00:00Z"),
            utc("2027-11-09T00:00:00Z"),
        );
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].start, utc("2027-11-07T07:30:00Z")); // 01:30 MDT
        assert_eq!(runs[0].end, utc("2027-11-07T10:00:00Z")); // 03:00 MST: 2 h 30 min
    }

    #[test]
    fn ordinary_days_keep_their_wall_clock_across_the_change() {
        let s = schedule(&["sat", "mon"], "06:00", "08:00");
        let runs = runs(
            &s,
            DENVER,
            utc("2027-03-13T00:00:00Z"),
            utc("2027-03-16T00:00:00Z"),
        );
        let starts: Vec<_> = runs.iter().map(|r| r.start).collect();
        // 06:00 MST on Saturday, 06:00 MDT on Monday.
        assert_eq!(
            starts,
            [utc("2027-03-13T13:00:00Z"), utc("2027-03-15T12:00:00Z")]
        );
    }

    #[test]
    fn a_run_crossing_midnight_ends_the_next_local_day() {
        let s = schedule(&["fri"], "22:00", "02:00");
        let runs = runs(
            &s,
            DENVER,
            utc("2027-06-01T00:00:00Z"),
            utc("2027-06-08T00:00:00Z"),
        );
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].start, utc("2027-06-05T04:00:00Z")); // Fri 22:00 MDT
        assert_eq!(runs[0].end, utc("2027-06-05T08:00:00Z")); // Sat 02:00 MDT
    }

    #[test]
    fn a_year_of_runs_is_every_matching_day() {
        let s = schedule(
            &["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "06:00",
            "07:00",
        );
        let from = utc("2027-01-01T00:00:00Z");
        let runs = runs(&s, DENVER, from, from + Duration::days(365));
        assert_eq!(runs.len(), 365);
        assert!(runs.windows(2).all(|p| p[0].start < p[1].start));
    }

    #[test]
    fn a_year_in_denver_has_two_offset_changes_at_two_in_the_morning_local() {
        let from = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let changes = offset_changes(DENVER, from, from + Duration::days(365));
        assert_eq!(
            changes,
            [
                (from, -420),
                (Utc.with_ymd_and_hms(2027, 3, 14, 9, 0, 0).unwrap(), -360),
                (Utc.with_ymd_and_hms(2027, 11, 7, 8, 0, 0).unwrap(), -420),
            ]
        );
        let utc = offset_changes(chrono_tz::UTC, from, from + Duration::days(365));
        assert_eq!(utc, [(from, 0)], "no changes in UTC");
    }
}
