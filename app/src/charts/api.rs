//! Server functions for charts: the data behind a chart configuration (one device, the
//! caller's fleet, or one org's part of it), and each user's saved charts.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Agg, ChartConfig, DayEnergy, Metric, SavedChart};
use crate::error::AppError;
use crate::telemetry::model::Resolution;

/// One line of a chart: a metric's values, `None` where a bucket has no reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartLine {
    pub metric: Metric,
    pub values: Vec<Option<f64>>,
}

/// What a chart draws, ready to plot: times as UTC and as labels in `timezone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartData {
    /// The configuration as understood (normalised).
    pub config: ChartConfig,
    pub title: String,
    /// The IANA timezone the labels are in (the device's, or the viewer's for fleets).
    pub timezone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `None` for daily energy (always per local day).
    pub resolution: Option<Resolution>,
    pub times: Vec<DateTime<Utc>>,
    pub labels: Vec<String>,
    pub lines: Vec<ChartLine>,
    pub days: Vec<DayEnergy>,
}

impl ChartData {
    pub fn is_empty(&self) -> bool {
        self.times.is_empty() && self.days.is_empty()
    }

    /// A line's name in the legend and tooltip: what a fleet line adds up says so (power
    /// averaged per bucket is the fleet's total; a min or max is one device's reading; rpm,
    /// volts and degrees are over all the fleet's readings).
    pub fn line_name(&self, metric: Metric) -> String {
        let (label, unit) = (metric.label(), metric.unit());
        let agg = self.config.agg;
        match (self.config.device.is_some(), metric.is_power(), agg) {
            (true, _, Agg::Avg) => format!("{label} ({unit})"),
            (true, _, _) => format!("{label} ({unit}, {})", agg.as_str()),
            (false, true, Agg::Avg) => format!("{label} ({unit}, fleet total)"),
            (false, true, _) => format!("{label} ({unit}, {} of one device)", agg.as_str()),
            (false, false, _) => format!("{label} ({unit}, fleet {})", agg.as_str()),
        }
    }
}

/// The data of the chart `config` (a chart URL query, see [`ChartConfig`]). Fleet charts are
/// labelled in `viewer_tz` (the browser's timezone; UTC when empty or unknown), device charts
/// in the device's own.
#[server(endpoint = "chart")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn load_chart(
    config: String,
    #[server(default)] viewer_tz: String,
) -> Result<ChartData, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            let config = ChartConfig::parse_query(&config)?;
            let db = crate::db::db()?;
            ssr::data(&db, &caller, config, &viewer_tz, Utc::now()).await
        }
        .await,
    )
}

/// The signed-in user's saved charts, by name (none for an API key: keys save nothing).
#[server(endpoint = "charts")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn list_charts() -> Result<Vec<SavedChart>, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            match &caller.user {
                Some(user) => super::store::list(&crate::db::db()?, user).await,
                None => Ok(Vec::new()),
            }
        }
        .await,
    )
}

/// Saves the chart `config` as `name` for the signed-in user (replacing one of that name).
#[server(endpoint = "chart_save")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn save_chart(name: String, config: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let name = crate::accounts::model::display_name(&name)?;
            let config = ChartConfig::parse_query(&config)?.to_query();
            let (db, user) = ssr::user().await?;
            super::store::save(&db, &user, &name, &config).await
        }
        .await,
    )
}

/// Deletes one of the signed-in user's saved charts.
#[server(endpoint = "chart_delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn delete_chart(id: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, user) = ssr::user().await?;
            let ok =
                !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok || !super::store::delete(&db, &user, &id).await? {
                return Err(AppError::not_found("chart"));
            }
            Ok(())
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
mod ssr {
    use chrono::{DateTime, Utc};
    use surrealdb::types::RecordId;

    use super::super::model::{Agg, ChartConfig, ChartKind, Metric};
    use super::{ChartData, ChartLine};
    use crate::accounts::caller::{caller, Caller, Right};
    use crate::db::Db;
    use crate::devices::model::DeviceId;
    use crate::error::AppError;
    use crate::telemetry::model::{Resolution, Series};
    use crate::telemetry::store::SeriesOf;

    /// The signed-in user (charts belong to people, not API keys).
    pub async fn user() -> Result<(Db, RecordId), AppError> {
        let caller = caller()?;
        caller.require(Right::Read)?;
        let user = caller.user.clone().ok_or_else(|| AppError::Refused {
            code: "user_required",
            message: "charts are saved by signed-in users, not API keys".into(),
        })?;
        Ok((crate::db::db()?, user))
    }

    pub async fn data(
        db: &Db,
        caller: &Caller,
        config: ChartConfig,
        viewer_tz: &str,
        now: DateTime<Utc>,
    ) -> Result<ChartData, AppError> {
        let (from, to) = config.range.resolve(now);
        // A live device's name and timezone come from the fleet snapshot; a decommissioned
        // one (its history stays readable) is checked in the store and named by its id.
        let mut live = None;
        let device = match config.device.as_deref() {
            Some(d) => {
                let id = DeviceId::parse(d).map_err(|_| AppError::not_found("device"))?;
                let scope = caller.scope.orgs();
                live = crate::devices::snapshot::snapshot(db).await?.device(
                    scope.as_deref(),
                    &id,
                    now,
                );
                if live.is_none()
                    && !crate::devices::store::in_scope(db, scope.as_deref(), &id).await?
                {
                    return Err(AppError::not_found("device"));
                }
                Some(id)
            }
            None => None,
        };
        let orgs = match (&device, config.org.as_deref()) {
            (Some(_), _) => None,
            (None, Some(org)) => Some(caller.org_subtree(db, org).await?),
            (None, None) => caller.scope.orgs(),
        };
        let name = match &device {
            Some(id) => live
                .as_ref()
                .map_or_else(|| id.to_string(), |d| d.name.clone()),
            None => match &config.org {
                Some(org) => format!("Fleet of {org}"),
                None => "Your fleet".to_string(),
            },
        };
        if config.kind == ChartKind::DailyEnergy {
            let devices = match (&device, &orgs) {
                (Some(id), _) => Some(vec![id.to_string()]),
                (None, Some(orgs)) => Some(crate::devices::store::ids_in(db, orgs).await?),
                (None, None) => None,
            };
            let days = super::super::store::daily_energy(db, devices, from, to).await?;
            let timezone = match (&device, &live) {
                (Some(_), Some(d)) => d.timezone.clone(),
                (Some(id), None) => device_zone(db, id).await?,
                (None, _) => "each device's own".to_string(),
            };
            return Ok(ChartData {
                title: format!("{name}: energy per day"),
                timezone,
                from,
                to,
                resolution: None,
                times: Vec::new(),
                labels: Vec::new(),
                lines: Vec::new(),
                days,
                config,
            });
        }
        let of = match &device {
            Some(id) => SeriesOf::Device(id.clone()),
            None if config.metrics.iter().all(|&m| fleet_total(m, config.agg)) => {
                SeriesOf::Fleet(orgs)
            }
            None => SeriesOf::FleetStats(orgs),
        };
        let series: Series = crate::telemetry::store::series(db, &of, from, to, None)
            .await?
            .ok_or(AppError::not_found("device"))?;
        let zone_name = match &series.timezone {
            Some(tz) => tz.clone(),
            None => viewer_tz
                .parse::<chrono_tz::Tz>()
                .map(|tz| tz.name().to_string())
                .unwrap_or_else(|_| "UTC".into()),
        };
        let tz: chrono_tz::Tz = zone_name.parse().unwrap_or(chrono_tz::UTC);
        let format = match series.resolution {
            Resolution::Day => "%Y-%m-%d",
            // The zone abbreviation tells the two 02:00s of an autumn night apart and names
            // the timezone in the tooltip, which shows this label.
            _ => "%b %d %H:%M %Z",
        };
        let bucket_hours = match series.resolution {
            Resolution::Raw => None,
            Resolution::Hour => Some(1.0),
            Resolution::Day => Some(24.0),
        };
        let lines = config
            .metrics
            .iter()
            .map(|&metric| ChartLine {
                metric,
                values: series
                    .points
                    .iter()
                    .map(|p| {
                        // The fleet's power: its total, from the energy of the bucket.
                        if device.is_none() && fleet_total(metric, config.agg) {
                            let i = match metric {
                                Metric::Solar => 0,
                                Metric::Grid => 1,
                                _ => 2,
                            };
                            return p.energy_wh.zip(bucket_hours).map(|(wh, h)| wh[i] / h);
                        }
                        p.metrics.get(metric.index()).map(|stat| match config.agg {
                            Agg::Avg => stat.avg,
                            Agg::Min => stat.min,
                            Agg::Max => stat.max,
                        })
                    })
                    .collect(),
            })
            .collect();
        Ok(ChartData {
            title: name,
            timezone: zone_name,
            from,
            to,
            resolution: Some(series.resolution),
            times: series.points.iter().map(|p| p.t).collect(),
            labels: series
                .points
                .iter()
                .map(|p| match &p.day {
                    Some(day) => day.clone(),
                    None => p.t.with_timezone(&tz).format(format).to_string(),
                })
                .collect(),
            lines,
            days: Vec::new(),
            config,
        })
    }

    /// Whether a fleet chart draws `metric` as the fleet's total (average power summed over
    /// its devices) rather than as a min, mean or max over the fleet's readings.
    fn fleet_total(metric: Metric, agg: Agg) -> bool {
        metric.is_power() && agg == Agg::Avg
    }

    /// The timezone of a device that left the live fleet.
    async fn device_zone(db: &Db, id: &DeviceId) -> Result<String, AppError> {
        Ok(crate::devices::store::states(db, std::slice::from_ref(id))
            .await?
            .into_iter()
            .next()
            .map_or_else(|| "UTC".into(), |d| d.timezone))
    }
}
