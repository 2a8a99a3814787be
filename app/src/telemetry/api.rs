//! Server functions for telemetry: series for charts, for one device in the caller's scope
//! or for the caller's whole scope.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::model::{Resolution, Series};
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
            let resolution = match resolution {
                Some(Resolution::Raw) if device.is_none() => {
                    return Err(AppError::validation(
                        "fleet series are hourly or daily; raw readings are per device",
                    ))
                }
                Some(r) if !r.fits(from, to) => {
                    return Err(AppError::validation(format!(
                        "{r:?} points over that range would be more than 2000; \
                         choose a coarser resolution or a shorter range"
                    )))
                }
                Some(r) => r,
                None => Resolution::auto(from, to, device.is_none())
                    .ok_or_else(|| AppError::validation("the range is longer than 2000 days"))?,
            };
            let db = crate::db::db()?;
            let scope = caller.scope.orgs();
            match device {
                Some(id) => {
                    if !crate::devices::store::in_scope(&db, scope.as_deref(), &id).await? {
                        return Err(AppError::not_found("device"));
                    }
                    super::store::device_series(&db, &id, from, to, resolution)
                        .await?
                        .ok_or(AppError::not_found("device"))
                }
                None => super::store::fleet_series(&db, scope, from, to, resolution).await,
            }
        }
        .await,
    )
}
