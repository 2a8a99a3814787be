//! Server functions that read devices: resolve the caller, authorize, answer from the fleet
//! snapshot or the store within the caller's scope.

use leptos::prelude::*;

use super::model::{DeviceDetail, FleetList, FleetMap};
use crate::error::AppError;

/// One page of the Fleet. `filter` is the page's URL query string (`status=offline&page=2`,
/// see [`super::filter::FleetFilter`]); the answer carries the filter as understood.
#[server(endpoint = "fleet")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn list_fleet(#[server(default)] filter: String) -> Result<FleetList, AppError> {
    crate::error::respond(
        async {
            let (scope, filter, snapshot) = ssr::reader(&filter).await?;
            Ok(snapshot.list(scope.as_deref(), &filter, chrono::Utc::now()))
        }
        .await,
    )
}

/// Every device matching `filter` (paging aside) that has a location, for the map.
#[server(endpoint = "fleet_map")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn map_fleet(#[server(default)] filter: String) -> Result<FleetMap, AppError> {
    crate::error::respond(
        async {
            let (scope, filter, snapshot) = ssr::reader(&filter).await?;
            let (points, unplaced) = snapshot.map(scope.as_deref(), &filter, chrono::Utc::now());
            Ok(FleetMap {
                points,
                unplaced,
                tiles: use_context::<super::model::Tiles>()
                    .unwrap_or_else(super::model::Tiles::openstreetmap),
            })
        }
        .await,
    )
}

/// One device with its latest status. Unknown ids are a 404.
#[server(endpoint = "device")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn get_device(id: String) -> Result<DeviceDetail, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::Right;
            let caller = crate::accounts::caller::caller()?;
            caller.require(Right::Read)?;
            // An id that cannot exist is reported like a missing one: the page says "not found".
            let id =
                super::model::DeviceId::parse(&id).map_err(|_| AppError::not_found("device"))?;
            let snapshot = super::snapshot::snapshot(&crate::db::db()?).await?;
            let scope = caller.scope.orgs();
            let mut device = snapshot
                .device(scope.as_deref(), &id, chrono::Utc::now())
                .ok_or(AppError::not_found("device"))?;
            if let Some(tiles) = use_context::<super::model::Tiles>() {
                device.tiles = tiles;
            }
            if caller.may(Right::EditDevices) {
                device.editable = true;
                device.transfer_to = snapshot.org_names(scope.as_deref());
            }
            Ok(device)
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use std::sync::Arc;

    use surrealdb::types::RecordId;

    use super::super::filter::FleetFilter;
    use super::super::snapshot::Snapshot;
    use crate::accounts::caller::{caller, Right};
    use crate::error::AppError;

    /// For a caller who may read devices: their scope (`None`: all orgs), the filter they
    /// asked for, and the fleet snapshot to answer from.
    pub async fn reader(
        filter: &str,
    ) -> Result<(Option<Vec<RecordId>>, FleetFilter, Arc<Snapshot>), AppError> {
        let caller = caller()?;
        caller.require(Right::Read)?;
        let filter = FleetFilter::parse_query(filter)?;
        let snapshot = super::super::snapshot::snapshot(&crate::db::db()?).await?;
        Ok((caller.scope.orgs(), filter, snapshot))
    }
}
