//! Event history types shared by both sides: what a filter means, how it travels in a URL,
//! the cursor that pages through it, and the rows the page and the CSV show.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::charts::model::{Range, PRESETS};
use crate::devices::filter::query_pairs;
use crate::error::AppError;
use crate::ui::format::query_escape;

/// What an event is about. Kinds are grouped so a filter reads like the question people ask
/// ("what went wrong?", "what did we send?") rather than like our table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Category {
    Faults,
    Connectivity,
    Commands,
    Schedules,
    Devices,
    People,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Self::Faults,
        Self::Connectivity,
        Self::Commands,
        Self::Schedules,
        Self::Devices,
        Self::People,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Faults => "faults",
            Self::Connectivity => "connectivity",
            Self::Commands => "commands",
            Self::Schedules => "schedules",
            Self::Devices => "devices",
            Self::People => "people",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Faults => "Faults",
            Self::Connectivity => "Online / offline",
            Self::Commands => "Commands",
            Self::Schedules => "Schedules",
            Self::Devices => "Registration, location, settings",
            Self::People => "Users, keys and organisations",
        }
    }

    /// The category of a stored kind, by its name: `fault*`, `online`/`offline`,
    /// `command_*`, `schedule_*`, `device_*`, and people's changes (users, keys, orgs) for
    /// the rest. The database computes the same (`fn::event_category`, schema step 8) for
    /// its history keys; a store test checks the two agree.
    pub fn of(kind: &str) -> Self {
        match kind {
            "fault" | "fault_cleared" => Self::Faults,
            "online" | "offline" => Self::Connectivity,
            k if k.starts_with("command_") => Self::Commands,
            k if k.starts_with("schedule_") => Self::Schedules,
            k if k.starts_with("device_") => Self::Devices,
            _ => Self::People,
        }
    }

    fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| {
                AppError::validation(
                    "kind is faults, connectivity, commands, schedules, devices or people, or one \
                     kind of event (fault, offline, command_acked, schedule_drifted, …)",
                )
            })
    }
}

/// How bad an event is; the filter shows events at least this severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Self::Info, Self::Warning, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// As a filter choice.
    pub fn filter_label(self) -> &'static str {
        match self {
            Self::Info => "All",
            Self::Warning => "Warnings and critical",
            Self::Critical => "Critical only",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The stored severities at least as bad as this one.
    pub fn and_worse(self) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| *s >= self)
            .map(Self::as_str)
            .collect()
    }
}

/// Where a page starts: after this event. Events are ordered newest first, and events of
/// the same instant (an offline sweep writes hundreds at once) by id, so the cursor is both
/// and no event is shown twice or skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub time: DateTime<Utc>,
    pub id: String,
}

impl Cursor {
    /// `1763862000123456789~k3j2…`: nanoseconds since 1970, then the event's id.
    pub fn encode(&self) -> String {
        format!(
            "{}~{}",
            self.time.timestamp_nanos_opt().unwrap_or(0),
            self.id
        )
    }

    pub fn decode(raw: &str) -> Result<Self, AppError> {
        let bad = || AppError::validation("`before` is not a cursor from this page");
        let (ms, id) = raw.split_once('~').ok_or_else(bad)?;
        let time = ms
            .parse::<i64>()
            .ok()
            .filter(|ns| *ns >= 0)
            .map(DateTime::from_timestamp_nanos)
            .ok_or_else(bad)?;
        // Record ids are generated: letters and digits.
        if id.is_empty() || id.len() > 40 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        Ok(Self {
            time,
            id: id.to_string(),
        })
    }
}

/// Every kind the application writes, and where the history files it (the history filters
/// by one of them too).
pub const KINDS: &[(&str, Category)] = &[
    ("fault", Category::Faults),
    ("fault_cleared", Category::Faults),
    ("online", Category::Connectivity),
    ("offline", Category::Connectivity),
    ("command_queued", Category::Commands),
    ("command_delivered", Category::Commands),
    ("command_acked", Category::Commands),
    ("command_failed", Category::Commands),
    ("command_expired", Category::Commands),
    ("schedule_changed", Category::Schedules),
    ("schedule_synced", Category::Schedules),
    ("schedule_drifted", Category::Schedules),
    ("device_registered", Category::Devices),
    ("device_updated", Category::Devices),
    ("device_located", Category::Devices),
    ("device_transferred", Category::Devices),
    ("device_decommissioned", Category::Devices),
    ("device_token_issued", Category::Devices),
    ("user_created", Category::People),
    ("user_updated", Category::People),
    ("password_changed", Category::People),
    ("password_set", Category::People),
    ("password_reset_issued", Category::People),
    ("api_key_created", Category::People),
    ("api_key_revoked", Category::People),
    ("org_created", Category::People),
    ("org_renamed", Category::People),
    ("org_moved", Category::People),
    ("org_deleted", Category::People),
];

/// One view of the history, as the URL carries it: `/history?kind=faults&device=…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryFilter {
    pub category: Option<Category>,
    /// One kind of event (`kind=schedule_drifted`), within `category`.
    #[serde(default)]
    pub kind: Option<String>,
    /// At least this severe (`None` = everything).
    pub severity: Option<Severity>,
    pub device: Option<String>,
    pub org: Option<String>,
    pub range: Range,
    /// Older than this (the next page); `None` = the newest.
    pub before: Option<Cursor>,
}

impl Default for HistoryFilter {
    fn default() -> Self {
        Self {
            category: None,
            kind: None,
            severity: None,
            device: None,
            org: None,
            range: Range::Preset("7d".into()),
            before: None,
        }
    }
}

impl HistoryFilter {
    /// Reads a URL query string; unknown keys are ignored, bad values are a 422 naming them.
    pub fn parse_query(query: &str) -> Result<Self, AppError> {
        let mut f = Self::default();
        let (mut from, mut to) = (None, None);
        for (key, value) in query_pairs(query.trim_start_matches('?')) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "kind" => match KINDS.iter().find(|(k, _)| *k == value) {
                    Some((kind, category)) => {
                        f.category = Some(*category);
                        f.kind = Some(kind.to_string());
                    }
                    None => f.category = Some(Category::parse(value)?),
                },
                "severity" => {
                    f.severity = Some(Severity::parse(value).ok_or_else(|| {
                        AppError::validation("severity is info, warning or critical")
                    })?)
                }
                "device" => {
                    let id = crate::devices::model::DeviceId::parse(value)?;
                    f.device = Some(id.as_str().to_string());
                }
                "org" => {
                    let org = crate::orgs::model::OrgId::parse(value)?;
                    f.org = Some(org.as_str().to_string());
                }
                "range" => {
                    if !PRESETS.iter().any(|(k, _, _)| *k == value) {
                        return Err(AppError::validation(format!(
                            "unknown range {value:?}; use 1h, 6h, 24h, 7d, 30d, 90d, 1y, 2y or from/to"
                        )));
                    }
                    f.range = Range::Preset(value.to_string());
                }
                "from" => from = Some(time(value, "from")?),
                "to" => to = Some(time(value, "to")?),
                "before" => f.before = Some(Cursor::decode(value)?),
                _ => {}
            }
        }
        match (from, to) {
            (None, None) => {}
            (Some(from), Some(to)) if to > from => f.range = Range::Custom { from, to },
            (Some(_), Some(_)) => {
                return Err(AppError::validation(
                    "the range ends before it starts; pick an end after the start",
                ))
            }
            _ => {
                return Err(AppError::validation(
                    "a custom range needs both from and to",
                ))
            }
        }
        Ok(f)
    }

    /// The query string of this view (without the leading `?`).
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        match (&self.kind, self.category) {
            (Some(k), _) => parts.push(format!("kind={k}")),
            (None, Some(c)) => parts.push(format!("kind={}", c.as_str())),
            (None, None) => {}
        }
        if let Some(s) = self.severity {
            parts.push(format!("severity={}", s.as_str()));
        }
        if let Some(d) = &self.device {
            parts.push(format!("device={}", query_escape(d)));
        }
        if let Some(o) = &self.org {
            parts.push(format!("org={}", query_escape(o)));
        }
        match &self.range {
            Range::Preset(p) if p == "7d" => {}
            Range::Preset(p) => parts.push(format!("range={p}")),
            Range::Custom { from, to } => {
                parts.push(format!("from={}", query_escape(&from.to_rfc3339())));
                parts.push(format!("to={}", query_escape(&to.to_rfc3339())));
            }
        }
        if let Some(b) = &self.before {
            parts.push(format!("before={}", query_escape(&b.encode())));
        }
        parts.join("&")
    }

    /// This view from its newest event again.
    pub fn first_page(&self) -> Self {
        Self {
            before: None,
            ..self.clone()
        }
    }
}

fn time(raw: &str, what: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AppError::validation(format!("{what} is not a date and time")))
}

/// One event as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    pub time: DateTime<Utc>,
    /// In the device's timezone ("2026-11-23 06:12 MST"), or UTC for events without one.
    pub local_time: String,
    pub device: Option<String>,
    pub device_name: Option<String>,
    pub org_name: Option<String>,
    pub kind: String,
    pub severity: String,
    pub message: String,
    /// Who did it, for user and key actions.
    pub actor: Option<String>,
}

impl HistoryEntry {
    /// "Faults", "Commands", …
    pub fn category_label(&self) -> &str {
        Category::of(&self.kind).label()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// The `before` of the next (older) page, when there is one.
    pub next: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Events per page.
pub const PAGE: usize = 50;
/// Events in one CSV export at most; the page says to narrow the range for more.
pub const CSV_LIMIT: usize = 100_000;

pub const CSV_HEADER: [&str; 9] = [
    "time",
    "device",
    "device_name",
    "organisation",
    "category",
    "kind",
    "severity",
    "message",
    "actor",
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_filter_survives_the_round_trip_through_the_url() {
        let f = HistoryFilter {
            category: Some(Category::Commands),
            kind: None,
            severity: Some(Severity::Warning),
            device: Some("SF-0001".into()),
            org: Some("acme".into()),
            range: Range::Custom {
                from: "2026-11-01T00:00:00Z".parse().unwrap(),
                to: "2026-11-02T00:00:00Z".parse().unwrap(),
            },
            before: Some(Cursor {
                time: "2026-11-01T12:00:00.250000123Z".parse().unwrap(),
                id: "abc123".into(),
            }),
        };
        assert_eq!(HistoryFilter::parse_query(&f.to_query()).unwrap(), f);
        assert_eq!(
            HistoryFilter::parse_query("").unwrap(),
            HistoryFilter::default()
        );
        assert_eq!(HistoryFilter::default().to_query(), "");
    }

    #[test]
    fn one_kind_of_event_is_a_filter_within_its_category() {
        let f = HistoryFilter::parse_query("kind=schedule_drifted&severity=warning").unwrap();
        assert_eq!(f.category, Some(Category::Schedules));
        assert_eq!(f.kind.as_deref(), Some("schedule_drifted"));
        assert_eq!(f.to_query(), "kind=schedule_drifted&severity=warning");
        assert_eq!(HistoryFilter::parse_query(&f.to_query()).unwrap(), f);
        let category = HistoryFilter::parse_query("kind=schedules").unwrap();
        assert_eq!(
            (category.category, category.kind),
            (Some(Category::Schedules), None)
        );
    }

    #[test]
    fn bad_filters_are_named() {
        for (query, needle) in [
            ("kind=weather", "kind is"),
            ("severity=loud", "severity is"),
            ("range=3w", "unknown range"),
            (
                "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
                "ends before",
            ),
            ("from=2026-11-02T00:00:00Z", "both from and to"),
            ("from=yesterday&to=2026-11-01T00:00:00Z", "from is not"),
            ("before=12", "cursor"),
            ("before=12~a'b", "cursor"),
            ("before=-5~abc", "cursor"),
            ("device=%20%3Cscript%3E", "device"),
        ] {
            let e = HistoryFilter::parse_query(query).unwrap_err().to_string();
            assert!(e.contains(needle), "{query}: {e}");
        }
    }

    #[test]
    fn severity_filters_include_the_worse_ones() {
        assert_eq!(Severity::Info.and_worse(), ["info", "warning", "critical"]);
        assert_eq!(Severity::Warning.and_worse(), ["warning", "critical"]);
        assert_eq!(Severity::Critical.and_worse(), ["critical"]);
    }

    #[test]
    fn kinds_fall_into_categories_by_name() {
        for (kind, category) in KINDS {
            assert_eq!(Category::of(kind), *category, "{kind}");
        }
    }
}
