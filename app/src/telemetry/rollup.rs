//! Hourly and daily summaries of readings: pure arithmetic, no database, so the write path,
//! the demo seed and the tests all compute them the same way.
//!
//! Buckets are the device's *local* hours and days, named by the UTC instant they start at.
//! Local hours (not UTC hours) so that a day is always a whole number of hour buckets, even
//! in zones offset by 30 or 45 minutes; a DST day then has 23 or 25 of them.
//!
//! Energy is the trapezoid rule over the actual spacing of samples; a gap longer than
//! [`MAX_GAP`] is not bridged (the device was off or silent). A segment that crosses a bucket
//! boundary is split there, by the same straight line.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::model::Status;

/// The metrics summarised with min / max / avg, in storage order.
pub const METRICS: [&str; 6] = [
    "solar_w",
    "grid_w",
    "load_w",
    "motor_rpm",
    "dc_bus_v",
    "temperature_c",
];

/// Longest spacing between two samples that energy is integrated over.
pub const MAX_GAP: Duration = Duration::minutes(5);

/// What a rollup needs of one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub time: DateTime<Utc>,
    /// In [`METRICS`] order.
    pub values: [f64; 6],
}

impl From<&Status> for Sample {
    fn from(s: &Status) -> Self {
        Sample {
            time: s.time,
            values: [
                s.solar_w,
                s.grid_w,
                s.load_w,
                s.motor_rpm as f64,
                s.dc_bus_v,
                s.temperature_c,
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub min: f64,
    pub max: f64,
    pub sum: f64,
}

impl Stat {
    const EMPTY: Stat = Stat {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        sum: 0.0,
    };
}

/// One bucket's summary. `count` readings; energies in Wh for solar, grid and load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rollup {
    pub count: i64,
    pub stats: [Stat; 6],
    pub energy_wh: [f64; 3],
}

impl Default for Rollup {
    fn default() -> Self {
        Rollup {
            count: 0,
            stats: [Stat::EMPTY; 6],
            energy_wh: [0.0; 3],
        }
    }
}

impl Rollup {
    pub fn add_sample(&mut self, s: &Sample) {
        self.count += 1;
        for (stat, v) in self.stats.iter_mut().zip(s.values) {
            stat.min = stat.min.min(v);
            stat.max = stat.max.max(v);
            stat.sum += v;
        }
    }

    pub fn add_energy(&mut self, wh: [f64; 3]) {
        for (e, add) in self.energy_wh.iter_mut().zip(wh) {
            *e += add;
        }
    }

    /// Both buckets' readings together.
    pub fn merge(&mut self, other: &Rollup) {
        self.count += other.count;
        for (a, b) in self.stats.iter_mut().zip(other.stats) {
            a.min = a.min.min(b.min);
            a.max = a.max.max(b.max);
            a.sum += b.sum;
        }
        self.add_energy(other.energy_wh);
    }

    /// Applies the change of one of this bucket's parts from `old` to `new`. Exact because
    /// a part only ever gains readings: its min and max only widen, sums and energy move by
    /// the difference.
    pub fn replace_part(&mut self, old: Option<&Rollup>, new: &Rollup) {
        let old = old.copied().unwrap_or_default();
        self.count += new.count - old.count;
        for ((a, n), o) in self.stats.iter_mut().zip(new.stats).zip(old.stats) {
            a.min = a.min.min(n.min);
            a.max = a.max.max(n.max);
            a.sum += n.sum - o.sum;
        }
        for ((e, n), o) in self
            .energy_wh
            .iter_mut()
            .zip(new.energy_wh)
            .zip(old.energy_wh)
        {
            *e += n - o;
        }
    }

    pub fn avg(&self, metric: usize) -> Option<f64> {
        (self.count > 0).then(|| self.stats[metric].sum / self.count as f64)
    }
}

/// Start of the local hour containing `t`.
pub fn hour_start(t: DateTime<Utc>, tz: &Tz) -> DateTime<Utc> {
    let local = t.with_timezone(tz);
    let into_hour = i64::from(local.minute()) * 60 + i64::from(local.second());
    t - Duration::seconds(into_hour) - Duration::nanoseconds(i64::from(local.nanosecond()))
}

/// The local date of `t` and the instant that date starts at (its first existing local
/// hour: a zone that springs forward at midnight starts the day at 01:00).
pub fn local_day(t: DateTime<Utc>, tz: &Tz) -> (NaiveDate, DateTime<Utc>) {
    let date = t.with_timezone(tz).date_naive();
    (date, day_start(date, tz))
}

pub fn day_start(date: NaiveDate, tz: &Tz) -> DateTime<Utc> {
    (0..24)
        .find_map(|h| {
            tz.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| date.and_hms_opt(0, 0, 0).expect("BUG: midnight").and_utc())
}

/// How many hours the local day `date` has (23, 24 or 25).
pub fn day_hours(date: NaiveDate, tz: &Tz) -> i64 {
    let next = date.succ_opt().unwrap_or(date);
    (day_start(next, tz) - day_start(date, tz)).num_hours()
}

/// Energy (Wh for solar, grid, load) of the segment from `a` to `b` that lies within
/// `[from, to)`; nothing if the samples are too far apart.
pub fn segment_energy(a: &Sample, b: &Sample, from: DateTime<Utc>, to: DateTime<Utc>) -> [f64; 3] {
    let span = b.time - a.time;
    if span <= Duration::zero() || span > MAX_GAP {
        return [0.0; 3];
    }
    let start = a.time.max(from);
    let end = b.time.min(to);
    if end <= start {
        return [0.0; 3];
    }
    let span_s = span.num_milliseconds() as f64 / 1000.0;
    let at = |t: DateTime<Utc>, i: usize| {
        let f = (t - a.time).num_milliseconds() as f64 / 1000.0 / span_s;
        a.values[i] + (b.values[i] - a.values[i]) * f
    };
    let hours = (end - start).num_milliseconds() as f64 / 3_600_000.0;
    [0, 1, 2].map(|i| (at(start, i) + at(end, i)) / 2.0 * hours)
}

/// Adds the segment `a → b` to the hour buckets it crosses.
fn add_segment(hours: &mut BTreeMap<DateTime<Utc>, Rollup>, a: &Sample, b: &Sample, tz: &Tz) {
    if b.time - a.time > MAX_GAP {
        return;
    }
    let (first, last) = (hour_start(a.time, tz), hour_start(b.time, tz));
    for start in [first, last] {
        let end = start + Duration::hours(1);
        let wh = segment_energy(a, b, start, end);
        if wh != [0.0; 3] || start == last {
            hours.entry(start).or_default().add_energy(wh);
        }
        if first == last {
            break;
        }
    }
}

/// What `new` readings (sorted, all later than `previous`) add to the hour buckets, given
/// the device's previous latest reading. The in-order fast path of the write path.
pub fn increments(
    previous: Option<&Sample>,
    new: &[Sample],
    tz: &Tz,
) -> BTreeMap<DateTime<Utc>, Rollup> {
    let mut hours = BTreeMap::new();
    let mut last = previous.copied();
    for s in new {
        hours
            .entry(hour_start(s.time, tz))
            .or_insert_with(Rollup::default)
            .add_sample(s);
        if let Some(p) = last {
            add_segment(&mut hours, &p, s, tz);
        }
        last = Some(*s);
    }
    hours
}

/// Complete rollups of the hour buckets starting at `wanted`, from all samples of the
/// device that fall in them plus their neighbours up to [`MAX_GAP`] outside (sorted, no
/// repeats). The exact path, used when readings arrive out of order.
pub fn recompute(
    samples: &[Sample],
    wanted: &[DateTime<Utc>],
    tz: &Tz,
) -> BTreeMap<DateTime<Utc>, Rollup> {
    let mut all = increments(None, samples, tz);
    all.retain(|start, _| wanted.contains(start));
    all
}

/// Rolls whole hour buckets up into local days, keyed by the day's start.
pub fn days_of(
    hours: &BTreeMap<DateTime<Utc>, Rollup>,
    tz: &Tz,
) -> BTreeMap<DateTime<Utc>, (NaiveDate, Rollup)> {
    let mut days: BTreeMap<DateTime<Utc>, (NaiveDate, Rollup)> = BTreeMap::new();
    for (start, rollup) in hours {
        let (date, day) = local_day(*start, tz);
        days.entry(day)
            .or_insert_with(|| (date, Rollup::default()))
            .1
            .merge(rollup);
    }
    days
}

/// A year-month-day string of the local date (how day buckets are labelled).
pub fn date_label(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denver() -> Tz {
        "America/Denver".parse().unwrap()
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0).unwrap()
    }

    fn sample(t: DateTime<Utc>, solar: f64) -> Sample {
        Sample {
            time: t,
            values: [solar, 100.0, solar + 100.0, 0.0, 350.0, 20.0],
        }
    }

    #[test]
    fn constant_power_for_an_hour_is_that_many_watt_hours() {
        let tz = denver();
        let samples: Vec<_> = (0..=60)
            .map(|m| sample(at(10, 0) + Duration::minutes(m), 600.0))
            .collect();
        let hours = increments(None, &samples, &tz);
        let h10 = hours[&at(10, 0)];
        assert_eq!(h10.count, 60);
        assert!(
            (h10.energy_wh[0] - 600.0).abs() < 1e-9,
            "{:?}",
            h10.energy_wh
        );
        assert!((h10.energy_wh[1] - 100.0).abs() < 1e-9);
        assert_eq!(hours[&at(11, 0)].count, 1);
        assert_eq!(hours[&at(11, 0)].energy_wh, [0.0; 3]);
    }

    #[test]
    fn a_ramp_is_integrated_by_the_trapezoid_rule() {
        let tz = denver();
        let a = sample(at(10, 0), 0.0);
        let b = sample(at(10, 2), 120.0);
        // Average 60 W for 2 minutes = 2 Wh.
        let wh = segment_energy(&a, &b, at(0, 0), at(23, 0));
        assert!((wh[0] - 2.0).abs() < 1e-9);
        let hours = increments(None, &[a, b], &tz);
        assert!((hours[&at(10, 0)].energy_wh[0] - 2.0).abs() < 1e-9);
    }

    #[test]
    fn gaps_longer_than_five_minutes_are_not_bridged() {
        let a = sample(at(10, 0), 600.0);
        let b = sample(at(10, 6), 600.0);
        assert_eq!(segment_energy(&a, &b, at(0, 0), at(23, 0)), [0.0; 3]);
        let c = sample(at(10, 5), 600.0);
        assert!(segment_energy(&a, &c, at(0, 0), at(23, 0))[0] > 0.0);
    }

    #[test]
    fn a_segment_across_the_hour_is_split_at_the_boundary() {
        let tz = denver();
        let a = sample(at(10, 58), 600.0);
        let b = sample(at(11, 2), 600.0);
        let hours = increments(None, &[a, b], &tz);
        assert!((hours[&at(10, 0)].energy_wh[0] - 20.0).abs() < 1e-9);
        assert!((hours[&at(11, 0)].energy_wh[0] - 20.0).abs() < 1e-9);
    }

    #[test]
    fn increments_on_top_of_a_stored_bucket_equal_a_recompute() {
        let tz = denver();
        let samples: Vec<_> = (0..120)
            .map(|m| sample(at(9, 30) + Duration::minutes(m), (m * 7 % 500) as f64))
            .collect();
        let (old, new) = samples.split_at(50);
        let mut stored = increments(None, old, &tz);
        for (start, inc) in increments(old.last(), new, &tz) {
            stored.entry(start).or_default().merge(&inc);
        }
        let wanted: Vec<_> = stored.keys().copied().collect();
        let full = recompute(&samples, &wanted, &tz);
        for (start, r) in &full {
            let s = stored[start];
            assert_eq!(s.count, r.count);
            for i in 0..3 {
                assert!((s.energy_wh[i] - r.energy_wh[i]).abs() < 1e-6);
            }
            assert_eq!(s.stats[0].max, r.stats[0].max);
        }
    }

    #[test]
    fn replacing_a_part_of_a_day_is_exact() {
        let tz = denver();
        let samples: Vec<_> = (0..180)
            .map(|m| sample(at(14, 0) + Duration::minutes(m), m as f64))
            .collect();
        let hours = increments(None, &samples, &tz);
        let mut day = days_of(&hours, &tz).into_values().next().unwrap().1;
        // A late reading fills in hour 15: recompute that hour, fold the change into the day.
        let mut more = samples.clone();
        more.push(sample(at(15, 30) + Duration::seconds(30), 1000.0));
        more.sort_by_key(|s| s.time);
        let h15 = recompute(&more, &[at(15, 0)], &tz)[&at(15, 0)];
        day.replace_part(hours.get(&at(15, 0)), &h15);
        let expected = days_of(&increments(None, &more, &tz), &tz)
            .into_values()
            .next()
            .unwrap()
            .1;
        assert_eq!(day.count, expected.count);
        assert_eq!(day.stats[0].max, 1000.0);
        assert!((day.energy_wh[0] - expected.energy_wh[0]).abs() < 1e-6);
    }

    #[test]
    fn dst_days_have_23_and_25_hour_buckets() {
        let tz = denver();
        let spring = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let autumn = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(day_hours(spring, &tz), 23);
        assert_eq!(day_hours(autumn, &tz), 25);
        assert_eq!(
            day_hours(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), &tz),
            24
        );
        // One reading a minute through the autumn day: 25 distinct hour buckets, one day.
        let start = day_start(autumn, &tz);
        let samples: Vec<_> = (0..25 * 60)
            .map(|m| sample(start + Duration::minutes(m), 60.0))
            .collect();
        let hours = increments(None, &samples, &tz);
        assert_eq!(hours.len(), 25);
        let days = days_of(&hours, &tz);
        assert_eq!(days.len(), 1);
        let (date, day) = days[&start];
        assert_eq!(date, autumn);
        assert_eq!(day.count, 25 * 60);
        // 60 W for 25 h less the last minute (no sample after it in the day).
        assert!((day.energy_wh[0] - 60.0 * (25.0 - 1.0 / 60.0)).abs() < 1e-6);
    }

    #[test]
    fn half_hour_zones_bucket_by_local_hours() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 10, 10, 0).unwrap(); // 15:40 local
        assert_eq!(
            hour_start(t, &kolkata),
            Utc.with_ymd_and_hms(2026, 6, 1, 9, 30, 0).unwrap()
        );
        let (date, start) = local_day(t, &kolkata);
        assert_eq!(date_label(date), "2026-06-01");
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 5, 31, 18, 30, 0).unwrap());
    }
}
