//! Devices: the fleet list, map and export, the device page, registration, editing and CSV
//! import.

mod api;
pub mod csv;
mod device_page;
#[cfg(feature = "ssr")]
pub mod export;
pub mod filter;
mod fleet_page;
pub mod import;
mod import_page;
pub(crate) mod manage;
mod manage_view;
pub mod model;
mod register_page;
#[cfg(feature = "ssr")]
pub mod snapshot;
#[cfg(feature = "ssr")]
pub mod store;

pub use api::{get_device, list_fleet, map_fleet, GetDevice, ListFleet, MapFleet};
pub use device_page::DevicePage;
pub use fleet_page::FleetPage;
pub(crate) use fleet_page::{go, DeviceTable};
pub use import_page::ImportPage;
pub use manage::{
    import_devices, register_device, DecommissionDevice, ImportDevices, LocateDevice,
    RegisterDevice, RotateDeviceToken, TransferDevice, UpdateDevice,
};
pub use register_page::RegisterPage;
