//! The Fleet view's filter, sort and page, as they travel in the URL (`/fleet?status=offline&
//! sort=last_seen&page=2`). One parser on the server reads the query string the browser sent,
//! so a bookmarked view, the CSV export and the map all mean the same devices.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::ui::format::query_escape;

/// Rows per page of the Fleet table.
pub const PAGE_SIZE: usize = 50;
/// Longest free-text filter accepted.
const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    Online,
    Offline,
    Never,
    Fault,
}

impl StatusFilter {
    pub const ALL: [Self; 4] = [Self::Online, Self::Offline, Self::Never, Self::Fault];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Never => "never",
            Self::Fault => "fault",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Online => "Online",
            Self::Offline => "Offline",
            Self::Never => "Never seen",
            Self::Fault => "With a fault",
        }
    }

    /// The status a form value names; `None` for "any" or anything unknown.
    pub fn from_value(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    fn parse(raw: &str) -> Result<Self, AppError> {
        Self::from_value(raw).ok_or_else(|| {
            AppError::validation(format!(
                "unknown status {raw:?}; use online, offline, never or fault"
            ))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Name,
    Id,
    Owner,
    Status,
    LastSeen,
    Solar,
    Grid,
    /// Distance from `near` (the browser's position), nearest first.
    Distance,
}

impl SortKey {
    const ALL: [Self; 8] = [
        Self::Name,
        Self::Id,
        Self::Owner,
        Self::Status,
        Self::LastSeen,
        Self::Solar,
        Self::Grid,
        Self::Distance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Id => "id",
            Self::Owner => "owner",
            Self::Status => "status",
            Self::LastSeen => "last_seen",
            Self::Solar => "solar",
            Self::Grid => "grid",
            Self::Distance => "distance",
        }
    }

    fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| AppError::validation(format!("cannot sort by {raw:?}")))
    }
}

/// A map rectangle: south, west, north, east in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl BBox {
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let in_lon = if self.west <= self.east {
            lon >= self.west && lon <= self.east
        } else {
            // The box crosses the antimeridian.
            lon >= self.west || lon <= self.east
        };
        lat >= self.south && lat <= self.north && in_lon
    }

    fn parse(raw: &str) -> Result<Self, AppError> {
        let bad = || AppError::validation("bbox is south,west,north,east in degrees");
        let v: Vec<f64> = raw
            .split(',')
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let [south, west, north, east] = v[..] else {
            return Err(bad());
        };
        let lat_ok = |x: f64| (-90.0..=90.0).contains(&x);
        let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
        if !(lat_ok(south) && lat_ok(north) && lon_ok(west) && lon_ok(east)) || south > north {
            return Err(bad());
        }
        Ok(Self {
            south,
            west,
            north,
            east,
        })
    }
}

/// A position on Earth, checked once: latitude −90…90, longitude −180…180, both finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl Coordinates {
    pub fn new(lat: f64, lon: f64) -> Result<Self, AppError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(AppError::validation(
                "latitude must be between -90 and 90 degrees",
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(AppError::validation(
                "longitude must be between -180 and 180 degrees",
            ));
        }
        Ok(Self { lat, lon })
    }

    /// Parses "lat,lon" or two separate texts.
    pub fn parse(lat: &str, lon: &str) -> Result<Self, AppError> {
        let number = |s: &str, what: &str| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| AppError::validation(format!("{what} must be a number of degrees")))
        };
        Self::new(number(lat, "latitude")?, number(lon, "longitude")?)
    }

    /// Great-circle distance in kilometres (haversine, mean Earth radius).
    pub fn km_to(self, other: Coordinates) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().min(1.0).asin()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FleetFilter {
    /// Free text over name, id, owner, model and firmware (case-insensitive).
    pub q: String,
    pub status: Option<StatusFilter>,
    /// Owning org id (slug).
    pub org: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub sort: SortKey,
    pub desc: bool,
    /// 1-based.
    pub page: usize,
    pub bbox: Option<BBox>,
    pub near: Option<Coordinates>,
}

impl FleetFilter {
    /// Reads a URL query string (`a=b&c=d`, percent-encoded). Unknown keys are ignored so
    /// that links can carry other state; bad values are a 422 naming the value.
    pub fn parse_query(query: &str) -> Result<Self, AppError> {
        let mut f = Self {
            page: 1,
            ..Self::default()
        };
        for (key, value) in query_pairs(query.trim_start_matches('?')) {
            let value = value.trim();
            let text = || -> Result<Option<String>, AppError> {
                if value.chars().count() > MAX_TEXT {
                    return Err(AppError::validation(format!(
                        "the {key} filter is longer than {MAX_TEXT} characters"
                    )));
                }
                Ok((!value.is_empty()).then(|| value.to_string()))
            };
            match key.as_str() {
                "q" => f.q = text()?.unwrap_or_default(),
                "status" if !value.is_empty() => f.status = Some(StatusFilter::parse(value)?),
                "org" => f.org = text()?,
                "model" => f.model = text()?,
                "firmware" => f.firmware = text()?,
                "sort" if !value.is_empty() => f.sort = SortKey::parse(value)?,
                "dir" => f.desc = value == "desc",
                "page" if !value.is_empty() => {
                    f.page = value
                        .parse::<usize>()
                        .ok()
                        .filter(|p| (1..=1_000_000).contains(p))
                        .ok_or_else(|| AppError::validation("page must be a positive number"))?
                }
                "bbox" if !value.is_empty() => f.bbox = Some(BBox::parse(value)?),
                "near" if !value.is_empty() => {
                    let (lat, lon) = value.split_once(',').ok_or_else(|| {
                        AppError::validation("near is latitude,longitude in degrees")
                    })?;
                    f.near = Some(Coordinates::parse(lat, lon)?);
                }
                _ => {}
            }
        }
        if f.sort == SortKey::Distance && f.near.is_none() {
            return Err(AppError::validation(
                "sorting by distance needs a position (near=lat,lon)",
            ));
        }
        Ok(f)
    }

    /// The query string for this filter (without `?`), defaults left out.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut put = |k: &str, v: &str| parts.push(format!("{k}={}", query_escape(v)));
        if !self.q.is_empty() {
            put("q", &self.q);
        }
        if let Some(s) = self.status {
            put("status", s.as_str());
        }
        for (k, v) in [
            ("org", &self.org),
            ("model", &self.model),
            ("firmware", &self.firmware),
        ] {
            if let Some(v) = v {
                put(k, v);
            }
        }
        if self.sort != SortKey::Name {
            put("sort", self.sort.as_str());
        }
        if self.desc {
            put("dir", "desc");
        }
        if let Some(b) = self.bbox {
            put(
                "bbox",
                &format!("{:.5},{:.5},{:.5},{:.5}", b.south, b.west, b.north, b.east),
            );
        }
        if let Some(n) = self.near {
            put("near", &format!("{:.5},{:.5}", n.lat, n.lon));
        }
        if self.page > 1 {
            put("page", &self.page.to_string());
        }
        parts.join("&")
    }

    /// `/fleet?…` for this filter.
    pub fn href(&self) -> String {
        let q = self.to_query();
        if q.is_empty() {
            "/fleet".into()
        } else {
            format!("/fleet?{q}")
        }
    }

    /// The same devices on page `page`.
    pub fn at_page(&self, page: usize) -> Self {
        Self {
            page,
            ..self.clone()
        }
    }

    /// Sorted by `key`; asking for the current key again flips the direction. Back to page 1.
    pub fn sorted_by(&self, key: SortKey) -> Self {
        Self {
            desc: self.sort == key && !self.desc,
            sort: key,
            page: 1,
            ..self.clone()
        }
    }

    /// Whether anything narrows the fleet (sorting and paging do not).
    pub fn narrows(&self) -> bool {
        !self.q.is_empty()
            || self.status.is_some()
            || self.org.is_some()
            || self.model.is_some()
            || self.firmware.is_some()
            || self.bbox.is_some()
    }
}

/// `a=b&c=d` → pairs, percent-decoded, `+` as space. Invalid escapes are kept as written.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_is_the_whole_fleet_by_name() {
        let f = FleetFilter::parse_query("").unwrap();
        assert_eq!(f.sort, SortKey::Name);
        assert_eq!(f.page, 1);
        assert!(!f.narrows());
        assert_eq!(f.href(), "/fleet");
    }

    #[test]
    fn a_filter_survives_the_round_trip_through_the_url() {
        let raw = "q=north+well&status=offline&org=agri&model=SP-3&firmware=2.1.0&sort=last_seen&dir=desc&page=3&bbox=40,-106,42,-104&near=40.5,-105.1";
        let f = FleetFilter::parse_query(raw).unwrap();
        assert_eq!(f.q, "north well");
        assert_eq!(f.status, Some(StatusFilter::Offline));
        assert_eq!(f.page, 3);
        assert!(f.desc);
        assert_eq!(FleetFilter::parse_query(&f.to_query()).unwrap(), f);
    }

    #[test]
    fn bad_values_are_named() {
        for (raw, needle) in [
            ("status=sleeping", "sleeping"),
            ("sort=colour", "colour"),
            ("page=0", "page"),
            ("page=x", "page"),
            ("bbox=1,2,3", "bbox"),
            ("bbox=50,0,40,10", "bbox"),
            ("near=91,0", "latitude"),
            ("sort=distance", "position"),
        ] {
            let e = FleetFilter::parse_query(raw).unwrap_err();
            assert!(e.to_string().contains(needle), "{raw}: {e}");
        }
        assert!(FleetFilter::parse_query(&format!("q={}", "x".repeat(201))).is_err());
    }

    #[test]
    fn sorting_by_the_same_column_again_flips_the_direction() {
        let f = FleetFilter::parse_query("page=4").unwrap();
        let by_seen = f.sorted_by(SortKey::LastSeen);
        assert!(!by_seen.desc);
        assert_eq!(by_seen.page, 1);
        assert!(by_seen.sorted_by(SortKey::LastSeen).desc);
    }

    #[test]
    fn percent_escapes_decode_and_broken_ones_stay() {
        assert_eq!(
            query_pairs("q=%C3%BC%20x&b=100%&c=%zz"),
            vec![
                ("q".into(), "ü x".into()),
                ("b".into(), "100%".into()),
                ("c".into(), "%zz".into())
            ]
        );
    }

    #[test]
    fn coordinates_are_checked_and_distances_are_great_circle() {
        assert!(Coordinates::new(91.0, 0.0).is_err());
        assert!(Coordinates::new(0.0, -180.5).is_err());
        assert!(Coordinates::new(f64::NAN, 0.0).is_err());
        assert!(Coordinates::parse("abc", "1").is_err());
        let denver = Coordinates::new(39.7392, -104.9903).unwrap();
        let boulder = Coordinates::new(40.0150, -105.2705).unwrap();
        let km = denver.km_to(boulder);
        assert!((km - 38.9).abs() < 1.0, "{km}");
    }

    #[test]
    fn a_box_across_the_antimeridian_contains_both_sides() {
        let b = BBox::parse("-10,170,10,-170").unwrap();
        assert!(b.contains(0.0, 175.0));
        assert!(b.contains(0.0, -175.0));
        assert!(!b.contains(0.0, 0.0));
    }
}
