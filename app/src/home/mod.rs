//! Each persona's home: the slice of the fleet it looks after, summarised.

mod api;
pub mod model;
mod page;

pub use api::{home, Home as HomeFn};
pub use page::HomePage;
