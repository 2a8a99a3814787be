//! Server functions for telemetry: series for charts, for one device in the caller's scope
//! or for the caller's whole scope.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::model::{Resolution, Series};
#[cfg(feature = "ssr")]
use super::store::SeriesOf;
use crate::error::AppError;

/// Readings of one device (`device` set) or the whole fleet (`device` empty) over
/// `[from, to)`, at `resolution` or, when it is not given, the finest one that keeps the
/// answer within 2,000 points. Hour and day buckets are the device's local ones.
#[server(endpoint = "series")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn telemetry_series(
    device: Option<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    resolution: Option<Resolution>,
) -> Result<Series, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            if from >= to {
                return Err(AppError::validation("`from` must be before `to`"));
            }
            let device = match device.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => Some(
                    crate::devices::model::DeviceId::parse(d)
                        .map_err(|_| AppError::not_found("device"))?,
                ),
                None => None,
            };
            if resolution == Some(Resolution::Raw) && device.is_none() {
                return Err(AppError::validation(
                    "fleet series are hourly or daily; raw readings are per device",
                ));
            }
            let db = crate::db::db()?;
            let scope = caller.scope.orgs();
            let of = match device {
                Some(id) => {
                    if !crate::devices::store::in_scope(&db, scope.as_deref(), &id).await? {
                        return Err(AppError::not_found("device"));
                    }
                    SeriesOf::Device(id)
                }
                None => SeriesOf::Fleet(scope),
            };
            super::store::series(&db, &of, from, to, resolution)
                .await?
                .ok_or(AppError::not_found("device"))
        }
        .await,
    )
}
