//! A chart's configuration as it travels in the URL (`/charts?m=solar,grid&range=7d&agg=max&
//! type=area&device=…`) and is saved by name: what to draw, over which range, how.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::devices::filter::query_pairs;
use crate::error::AppError;
use crate::ui::format::query_escape;

/// The metrics a chart can show, in the order of the telemetry series' metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Solar,
    Grid,
    Load,
    Rpm,
    DcBus,
    Temperature,
}

impl Metric {
    pub const ALL: [Self; 6] = [
        Self::Solar,
        Self::Grid,
        Self::Load,
        Self::Rpm,
        Self::DcBus,
        Self::Temperature,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Solar => "solar",
            Self::Grid => "grid",
            Self::Load => "load",
            Self::Rpm => "rpm",
            Self::DcBus => "dc_bus",
            Self::Temperature => "temperature",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Solar => "Solar",
            Self::Grid => "Grid",
            Self::Load => "Load",
            Self::Rpm => "Motor speed",
            Self::DcBus => "DC bus",
            Self::Temperature => "Temperature",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::Solar | Self::Grid | Self::Load => "W",
            Self::Rpm => "rpm",
            Self::DcBus => "V",
            Self::Temperature => "°C",
        }
    }

    /// Position in [`crate::telemetry::model::METRIC_NAMES`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|m| *m == self).unwrap_or(0)
    }

    /// Power metrics can be charted for a whole fleet (from energy per bucket).
    pub fn is_power(self) -> bool {
        matches!(self, Self::Solar | Self::Grid | Self::Load)
    }

    fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == raw)
            .ok_or_else(|| AppError::validation(format!("unknown metric {raw:?}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    #[default]
    Avg,
    Min,
    Max,
}

impl Agg {
    pub const ALL: [Self; 3] = [Self::Avg, Self::Min, Self::Max];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Avg => "avg",
            Self::Min => "min",
            Self::Max => "max",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Avg => "Average",
            Self::Min => "Minimum",
            Self::Max => "Maximum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    #[default]
    Line,
    Area,
    /// Solar and grid stacked: what the load drew from each.
    Stacked,
    /// kWh per local day from solar and from the grid, with the solar share.
    DailyEnergy,
}

impl ChartKind {
    pub const ALL: [Self; 4] = [Self::Line, Self::Area, Self::Stacked, Self::DailyEnergy];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Area => "area",
            Self::Stacked => "stacked",
            Self::DailyEnergy => "daily_energy",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Line => "Lines",
            Self::Area => "Areas",
            Self::Stacked => "Solar vs grid (stacked)",
            Self::DailyEnergy => "Daily energy (bars)",
        }
    }
}

/// Quick ranges, ending now.
pub const PRESETS: [(&str, &str, i64); 8] = [
    ("1h", "1 hour", 1),
    ("6h", "6 hours", 6),
    ("24h", "24 hours", 24),
    ("7d", "7 days", 24 * 7),
    ("30d", "30 days", 24 * 30),
    ("90d", "90 days", 24 * 90),
    ("1y", "1 year", 24 * 365),
    ("2y", "2 years", 24 * 730),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Range {
    /// One of [`PRESETS`], ending now.
    Preset(String),
    Custom {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

impl Default for Range {
    fn default() -> Self {
        Self::Preset("24h".into())
    }
}

impl Range {
    /// The UTC interval this range means at `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Self::Preset(p) => {
                let hours = PRESETS
                    .iter()
                    .find(|(k, _, _)| k == p)
                    .map_or(24, |(_, _, h)| *h);
                (now - Duration::hours(hours), now)
            }
            Self::Custom { from, to } => (*from, *to),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartConfig {
    pub metrics: Vec<Metric>,
    pub range: Range,
    pub agg: Agg,
    pub kind: ChartKind,
    /// One device, or (when `None`) the caller's fleet…
    pub device: Option<String>,
    /// …or the part of it under this org.
    pub org: Option<String>,
}

impl Default for ChartConfig {
    fn default() -> Self {
        Self {
            metrics: vec![Metric::Solar, Metric::Grid],
            range: Range::default(),
            agg: Agg::Avg,
            kind: ChartKind::Line,
            device: None,
            org: None,
        }
    }
}

impl ChartConfig {
    /// Reads a URL query string; unknown keys are ignored, bad values are a 422.
    pub fn parse_query(query: &str) -> Result<Self, AppError> {
        let mut c = Self::default();
        let (mut from, mut to) = (None, None);
        for (key, value) in query_pairs(query.trim_start_matches('?')) {
            let value = value.trim();
            match key.as_str() {
                "m" => {
                    let mut metrics = Vec::new();
                    for m in value.split(',').filter(|m| !m.is_empty()) {
                        let m = Metric::parse(m)?;
                        if !metrics.contains(&m) {
                            metrics.push(m);
                        }
                    }
                    c.metrics = metrics;
                }
                "range" if !value.is_empty() => {
                    if !PRESETS.iter().any(|(k, _, _)| *k == value) {
                        return Err(AppError::validation(format!(
                            "unknown range {value:?}; use 1h, 6h, 24h, 7d, 30d, 90d, 1y, 2y or from/to"
                        )));
                    }
                    c.range = Range::Preset(value.to_string());
                }
                "from" if !value.is_empty() => from = Some(time(value, "from")?),
                "to" if !value.is_empty() => to = Some(time(value, "to")?),
                "agg" if !value.is_empty() => {
                    c.agg = Agg::ALL
                        .into_iter()
                        .find(|a| a.as_str() == value)
                        .ok_or_else(|| AppError::validation("agg is avg, min or max"))?
                }
                "type" if !value.is_empty() => {
                    c.kind = ChartKind::ALL
                        .into_iter()
                        .find(|k| k.as_str() == value)
                        .ok_or_else(|| {
                            AppError::validation("type is line, area, stacked or daily_energy")
                        })?
                }
                "device" if !value.is_empty() => c.device = Some(value.to_string()),
                "org" if !value.is_empty() => c.org = Some(value.to_string()),
                _ => {}
            }
        }
        match (from, to) {
            (None, None) => {}
            (Some(from), Some(to)) => {
                if to <= from {
                    return Err(AppError::validation(
                        "the range ends before it starts; pick an end after the start",
                    ));
                }
                c.range = Range::Custom { from, to };
            }
            _ => {
                return Err(AppError::validation(
                    "a custom range needs both from and to",
                ))
            }
        }
        if c.metrics.is_empty() {
            return Err(AppError::validation("choose at least one metric"));
        }
        Ok(c)
    }

    pub fn to_query(&self) -> String {
        let mut parts = vec![format!(
            "m={}",
            self.metrics
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )];
        match &self.range {
            Range::Preset(p) => parts.push(format!("range={p}")),
            Range::Custom { from, to } => {
                parts.push(format!("from={}", query_escape(&from.to_rfc3339())));
                parts.push(format!("to={}", query_escape(&to.to_rfc3339())));
            }
        }
        if self.agg != Agg::Avg {
            parts.push(format!("agg={}", self.agg.as_str()));
        }
        if self.kind != ChartKind::Line {
            parts.push(format!("type={}", self.kind.as_str()));
        }
        if let Some(d) = &self.device {
            parts.push(format!("device={}", query_escape(d)));
        }
        if let Some(o) = &self.org {
            parts.push(format!("org={}", query_escape(o)));
        }
        parts.join("&")
    }
}

fn time(raw: &str, what: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            // `<input type="datetime-local">` gives "2026-11-01T06:30" (taken as UTC here; the
            // page converts local input before it builds the URL).
            chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").map(|t| t.and_utc())
        })
        .map_err(|_| AppError::validation(format!("{what} is not a date and time")))
}

/// A chart saved by its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedChart {
    pub id: String,
    pub name: String,
    /// The chart's URL query ([`ChartConfig::to_query`]).
    pub config: String,
}

impl SavedChart {
    pub fn href(&self) -> String {
        format!("/charts?{}", self.config)
    }
}

/// Energy of one local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayEnergy {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    pub solar_wh: f64,
    pub grid_wh: f64,
}

impl DayEnergy {
    /// Share of the energy drawn that came from the sun, 0–100 %; `None` with no energy.
    pub fn solar_share(&self) -> Option<f64> {
        let total = self.solar_wh + self.grid_wh;
        (total > 0.0).then(|| 100.0 * self.solar_wh / total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_survives_the_round_trip_through_the_url() {
        let raw = "m=grid,solar&from=2026-03-01T00:00:00Z&to=2026-03-15T00:00:00Z&agg=max&type=area&device=SF-1";
        let c = ChartConfig::parse_query(raw).unwrap();
        assert_eq!(c.metrics, vec![Metric::Grid, Metric::Solar]);
        assert_eq!(c.agg, Agg::Max);
        assert_eq!(ChartConfig::parse_query(&c.to_query()).unwrap(), c);
        let d = ChartConfig::parse_query("").unwrap();
        assert_eq!(d, ChartConfig::default());
    }

    #[test]
    fn a_custom_range_must_end_after_it_starts() {
        let e = ChartConfig::parse_query("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z")
            .unwrap_err();
        assert!(e.to_string().contains("ends before it starts"), "{e}");
        assert!(ChartConfig::parse_query("from=2026-03-02T00:00:00Z").is_err());
        assert!(ChartConfig::parse_query("from=yesterday&to=today").is_err());
    }

    #[test]
    fn bad_values_are_named() {
        for (raw, needle) in [
            ("m=wind", "wind"),
            ("m=", "metric"),
            ("range=3w", "3w"),
            ("agg=median", "agg"),
            ("type=pie", "type"),
        ] {
            let e = ChartConfig::parse_query(raw).unwrap_err();
            assert!(e.to_string().contains(needle), "{raw}: {e}");
        }
    }

    #[test]
    fn presets_end_now() {
        let now = Utc::now();
        let (from, to) = Range::Preset("7d".into()).resolve(now);
        assert_eq!(to, now);
        assert_eq!(to - from, Duration::days(7));
    }

    #[test]
    fn the_solar_share_is_of_the_energy_drawn() {
        let d = DayEnergy {
            date: "2026-03-08".into(),
            solar_wh: 3000.0,
            grid_wh: 1000.0,
        };
        assert_eq!(d.solar_share(), Some(75.0));
        let none = DayEnergy {
            solar_wh: 0.0,
            grid_wh: 0.0,
            ..d
        };
        assert_eq!(none.solar_share(), None);
    }
}
