//! Shared UI pieces: layout, navigation, status badges, formatting.

pub mod format;
mod layout;
mod widgets;

pub use layout::Layout;
pub use widgets::{
    awaiting, use_me, ActionError, AfterLoad, ErrorBox, Loading, MeResource, NotFound, StatusBadge,
};
