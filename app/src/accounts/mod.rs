//! Accounts: who is calling (sessions and API keys resolved on one path), signing in and
//! out, and what each persona may do.

mod api;
mod login_page;
pub mod model;

#[cfg(feature = "ssr")]
pub mod caller;
#[cfg(feature = "ssr")]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod users;

#[cfg(feature = "ssr")]
pub use api::ClientAddr;
pub use api::{login, logout, whoami, Login, Logout, Whoami};
pub use login_page::{LoginPage, SignOut};
