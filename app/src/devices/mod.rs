//! Devices: the fleet list and the device page.

mod api;
mod device_page;
mod fleet_page;
pub mod model;
#[cfg(feature = "ssr")]
pub mod store;

pub use api::{get_device, list_fleet, GetDevice, ListFleet};
pub use device_page::DevicePage;
pub(crate) use fleet_page::DeviceTable;
pub use fleet_page::FleetPage;
