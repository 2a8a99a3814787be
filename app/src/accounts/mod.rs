//! Accounts: who is calling (sessions and API keys resolved on one path), signing in and
//! out, and what each persona may do.

mod account_page;
mod api;
mod docs_page;
mod keys_api;
mod keys_page;
mod login_page;
mod manage;
pub mod model;
mod users_page;

#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod caller;
#[cfg(feature = "ssr")]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod links;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod users;

pub use account_page::{AccountPage, WelcomePage};
#[cfg(feature = "ssr")]
pub use api::ClientAddr;
pub use api::{login, logout, whoami, Login, Logout, Whoami};
pub use docs_page::ApiDocsPage;
pub use keys_api::{create_key, list_keys, revoke_key};
pub use keys_page::KeysPage;
pub use login_page::{LoginPage, SignOut};
pub use manage::{accept_link, change_password, create_user, list_users, reset_link, update_user};
pub use users_page::UsersPage;
