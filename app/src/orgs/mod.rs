//! Organisations: operator → partners and dealers → customers. (Management UI and scoping
//! arrive with the accounts issue.)

pub mod model;
#[cfg(feature = "ssr")]
pub mod store;
