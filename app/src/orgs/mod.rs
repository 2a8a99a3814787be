//! Organisations: operator → partners and dealers → customers, and their management.

mod api;
pub mod model;
mod page;
#[cfg(feature = "ssr")]
pub mod store;

pub use api::{create_org, delete_org, list_orgs, move_org, org_names, rename_org};
pub use api::{CreateOrg, DeleteOrg, ListOrgs, MoveOrg, RenameOrg};
pub use page::{OrgOptions, OrgsPage};
