//! Charts: solar, grid and the other metrics of a device or a fleet over any range, daily
//! energy, saved chart configurations, the data behind a chart as CSV.

mod api;
pub mod model;
mod page;
#[cfg(feature = "ssr")]
pub mod store;
mod view;

pub use api::{
    delete_chart, list_charts, load_chart, save_chart, ChartData, ChartLine, DeleteChart,
    ListCharts, LoadChart, SaveChart,
};
pub use page::{ChartsPage, SavedCharts};
pub use view::{csv, local_to_utc, ChartPanel};
