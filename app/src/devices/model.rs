//! Device types shared by the server and the browser.

use serde::{Deserialize, Serialize};
use std::fmt;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetRow {
    pub id: DeviceId,
    pub name: String,
    pub owner: String,
    pub model: String,
    pub connectivity: Connectivity,
    pub fault_code: Option<i64>,
    /// "4 min ago", or `None` when never seen.
    pub last_seen_ago: Option<String>,
    pub solar_w: Option<f64>,
    pub grid_w: Option<f64>,
}

/// The answer of the Fleet query: rows plus how many devices the caller has in total, so the
/// page can tell "no device matches" from "no devices at all".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetList {
    pub rows: Vec<FleetRow>,
    pub total: u64,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// Everything the Device page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDetail {
    pub id: DeviceId,
    pub name: String,
    pub model: String,
    pub firmware: String,
    pub owner: String,
    pub dealer: Option<String>,
    pub timezone: String,
    pub location: Option<Location>,
    pub installed_on: Option<String>,
    pub offline_timeout_min: i64,
    pub connectivity: Connectivity,
    pub latest: Option<LatestStatus>,
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
