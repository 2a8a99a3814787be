//! Device types shared by the server and the browser.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::filter::{Coordinates, FleetFilter};
use crate::error::AppError;

/// A device id: the Particle device id (24 hex digits, stored lower-case) or a serial number
/// (letters, digits and `-`, up to 64 characters, stored upper-case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let s = raw.trim();
        let is_particle = s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if is_particle {
            return Ok(Self(s.to_ascii_lowercase()));
        }
        // Hex digits, letters and digits both, about 24 long: a Particle id with a digit
        // dropped or doubled, not a serial (ours have letters past `f` or dashes).
        let looks_particle = (20..=28).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_hexdigit())
            && s.bytes().any(|b| b.is_ascii_digit())
            && s.bytes().any(|b| b.is_ascii_alphabetic());
        if looks_particle {
            return Err(AppError::validation(format!(
                "{s:?} looks like a Particle id but has {} characters; a Particle id has 24",
                s.len()
            )));
        }
        let is_serial = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && s.bytes().any(|b| b.is_ascii_alphanumeric());
        if is_serial {
            return Ok(Self(s.to_ascii_uppercase()));
        }
        Err(AppError::validation(
            "a device id is a 24-character Particle id or a serial of letters, digits and '-' (at most 64)",
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for DeviceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DeviceId {
    type Error = AppError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> Self {
        id.0
    }
}

/// Connectivity as a user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    Online,
    Offline,
    /// Registered but no reading has ever arrived.
    NeverSeen,
}

impl Connectivity {
    pub fn label(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::NeverSeen => "never seen",
        }
    }
}

/// One line of the Fleet list. Times are preformatted by the server so that the server
/// render and the hydrated page agree to the character.
///
/// A page of rows goes to the browser twice, as the table's markup and as the data it
/// hydrates from (escaped JSON in the page), and that was ~13 % of a Fleet page's server
/// time: what the list does not show (`owner_id`, `firmware`, `location`: the CSV export's)
/// stays on the server, and absent values are left out rather than sent as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetRow {
    pub id: DeviceId,
    pub name: String,
    pub owner: String,
    /// The owning org's id (slug). Server-side only.
    #[serde(skip)]
    pub owner_id: String,
    pub model: String,
    /// Server-side only.
    #[serde(skip)]
    pub firmware: String,
    pub connectivity: Connectivity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<i64>,
    /// "4 min ago", or `None` when never seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ago: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solar_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_w: Option<f64>,
    /// Server-side only.
    #[serde(skip)]
    pub location: Option<Coordinates>,
    /// From the `near` position of the filter, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

/// The choices the filter's drop-downs offer: what exists in the caller's scope.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FleetFacets {
    /// (org id, org name), by name.
    pub orgs: Vec<(String, String)>,
    pub models: Vec<String>,
    pub firmwares: Vec<String>,
}

/// One page of the Fleet: the rows, how many devices match, how many the caller has in total
/// (so the page can tell "no device matches" from "no devices at all").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetList {
    /// The filter as the server understood it (normalised), for the form and the links.
    pub filter: FleetFilter,
    pub rows: Vec<FleetRow>,
    pub matched: u64,
    pub total: u64,
    pub pages: usize,
    pub facets: FleetFacets,
}

/// How a device shows on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Marker {
    Online,
    Offline,
    Fault,
    Never,
}

impl Marker {
    pub fn of(connectivity: Connectivity, fault_code: Option<i64>) -> Self {
        match (connectivity, fault_code) {
            (_, Some(_)) => Self::Fault,
            (Connectivity::Online, None) => Self::Online,
            (Connectivity::Offline, None) => Self::Offline,
            (Connectivity::NeverSeen, None) => Self::Never,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Fault => "fault",
            Self::Never => "never",
        }
    }
}

/// One device on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    pub id: DeviceId,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub marker: Marker,
    pub solar_w: Option<f64>,
    pub grid_w: Option<f64>,
}

/// Every matching device that has a location, plus how many match but have none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetMap {
    pub points: Vec<MapPoint>,
    pub unplaced: u64,
    /// Tile URL template (`{z}/{x}/{y}`) and its attribution, from `SUNFLEET_TILE_URL`.
    pub tiles: Tiles,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tiles {
    pub url: String,
    pub attribution: String,
}

impl Tiles {
    /// OpenStreetMap's standard tiles, with the attribution their licence asks for.
    pub fn openstreetmap() -> Self {
        Self {
            url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            attribution: "© OpenStreetMap contributors".into(),
        }
    }
}

/// The latest reading of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestStatus {
    /// Device-local time of the reading, with the timezone abbreviation.
    pub at_local: String,
    pub ago: String,
    pub solar_w: f64,
    pub grid_w: f64,
    pub load_w: f64,
    pub motor_on: bool,
    pub motor_rpm: i64,
    pub dc_bus_v: f64,
    pub temperature_c: f64,
    pub fault_code: Option<i64>,
}

/// Where a device stands and how that was learnt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    /// "map", "typed", "geolocation" or "import".
    pub source: Option<String>,
    pub set_by: Option<String>,
    /// UTC, preformatted.
    pub set_at: Option<String>,
}

/// Everything the Device page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDetail {
    pub id: DeviceId,
    pub name: String,
    pub model: String,
    pub firmware: String,
    pub owner: String,
    pub owner_id: String,
    pub dealer: Option<String>,
    pub timezone: String,
    pub location: Option<Location>,
    pub installed_on: Option<String>,
    pub offline_timeout_min: i64,
    pub connectivity: Connectivity,
    pub latest: Option<LatestStatus>,
    /// Whether the caller may edit, transfer, locate and decommission it.
    pub editable: bool,
    /// Whether an ingest token has been issued (the token itself is never shown again).
    pub has_token: bool,
    /// (org id, name) the caller may transfer it to; empty unless `editable`.
    pub transfer_to: Vec<(String, String)>,
    /// Map tiles for the location picker.
    pub tiles: Tiles,
}

/// The event a change of fault code means — (kind, severity, message) — or `None` when the
/// code did not change. The write path and the demo's seeded history both use it.
pub fn fault_change(
    before: Option<i64>,
    after: Option<i64>,
) -> Option<(&'static str, &'static str, String)> {
    match (before, after) {
        (b, a) if b == a => None,
        (_, Some(code)) => Some((
            "fault",
            "critical",
            format!("fault {code}: {}", fault_label(code)),
        )),
        (Some(code), None) => Some((
            "fault_cleared",
            "info",
            format!("fault {code} cleared: {}", fault_label(code)),
        )),
        (None, None) => None,
    }
}

/// What a fault code means, for people. Codes come from the controller firmware.
pub fn fault_label(code: i64) -> &'static str {
    match code {
        1 => "DC over-voltage",
        2 => "DC under-voltage",
        3 => "Motor over-current",
        4 => "Drive over-temperature",
        5 => "Dry run (no water)",
        6 => "Motor stalled",
        7 => "Grid supply lost",
        _ => "Unknown fault",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_particle_id_is_accepted_and_lower_cased() {
        let id = DeviceId::parse("E00FCE68AB12CD34EF56AB78").unwrap();
        assert_eq!(id.as_str(), "e00fce68ab12cd34ef56ab78");
    }

    #[test]
    fn a_serial_is_accepted_and_upper_cased() {
        assert_eq!(
            DeviceId::parse(" sf-7-0042 ").unwrap().as_str(),
            "SF-7-0042"
        );
    }

    #[test]
    fn a_fault_colours_the_marker_whatever_the_connection() {
        use Connectivity::*;
        assert_eq!(Marker::of(Online, None), Marker::Online);
        assert_eq!(Marker::of(Offline, None), Marker::Offline);
        assert_eq!(Marker::of(NeverSeen, None), Marker::Never);
        for c in [Online, Offline, NeverSeen] {
            assert_eq!(Marker::of(c, Some(17)), Marker::Fault);
        }
    }

    #[test]
    fn a_particle_id_one_digit_short_or_long_is_not_taken_for_a_serial() {
        for typo in ["e00fce68ab12cd34ef56ab7", "e00fce68ab12cd34ef56ab788"] {
            let message = DeviceId::parse(typo).unwrap_err().to_string();
            assert!(message.contains("has 24"), "{typo}: {message}");
        }
        // Serials that are all hex digits but not Particle-like stay serials.
        for serial in ["1234", "ABCDEF", "00000000000000000000000000000001"] {
            assert!(DeviceId::parse(serial).is_ok(), "{serial}");
        }
    }

    #[test]
    fn ids_with_other_characters_are_rejected() {
        for bad in [
            "",
            "   ",
            "a b",
            "x/../y",
            "dev;DROP",
            "---",
            &"A".repeat(65),
            "ünïcode",
        ] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<DeviceId>(r#""ok-1""#).is_ok());
        assert!(serde_json::from_str::<DeviceId>(r#""not ok""#).is_err());
    }
}
