//! The home summary, shared by both sides.

use serde::{Deserialize, Serialize};

use crate::accounts::model::Me;
use crate::devices::model::{Connectivity, FleetRow};

/// Device counts by state. A faulted device is also counted as online or offline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub online: u64,
    pub offline: u64,
    pub never_seen: u64,
    pub faulted: u64,
}

impl Counts {
    pub fn add(&mut self, row: &FleetRow) {
        self.total += 1;
        match row.connectivity {
            Connectivity::Online => self.online += 1,
            Connectivity::Offline => self.offline += 1,
            Connectivity::NeverSeen => self.never_seen += 1,
        }
        if row.fault_code.is_some() {
            self.faulted += 1;
        }
    }
}

/// One owning organisation's devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgLine {
    pub name: String,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeSummary {
    pub me: Me,
    pub counts: Counts,
    /// Offline or faulted devices, faults first; at most [`ATTENTION_MAX`].
    pub attention: Vec<FleetRow>,
    /// How many devices need attention in all (the list may be cut).
    pub attention_total: u64,
    /// Devices per owning org, by name.
    pub orgs: Vec<OrgLine>,
    /// Every device, for customers (they have few); empty for the other personas.
    pub devices: Vec<FleetRow>,
    /// Energy of each device's local today, in Wh.
    pub solar_wh_today: f64,
    pub grid_wh_today: f64,
}

pub const ATTENTION_MAX: usize = 12;
