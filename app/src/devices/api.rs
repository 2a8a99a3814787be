//! Server functions for devices: resolve the caller, authorize, call the store with the
//! caller's scope.

use leptos::prelude::*;

use super::model::{DeviceDetail, FleetList};
use crate::error::AppError;

/// The Fleet list, filtered by free text over name, id, owner, model and firmware.
#[server(endpoint = "fleet")]
#[cfg_attr(feature = "ssr", tracing::instrument)]
pub async fn list_fleet(query: String) -> Result<FleetList, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            let db = crate::db::db()?;
            let query = query.trim();
            if query.chars().count() > 200 {
                return Err(AppError::validation(
                    "the filter is longer than 200 characters",
                ));
            }
            super::store::fleet(&db, caller.scope.orgs(), query, chrono::Utc::now()).await
        }
        .await,
    )
}

/// One device with its latest status. Unknown ids are a 404.
#[server(endpoint = "device")]
#[cfg_attr(feature = "ssr", tracing::instrument)]
pub async fn get_device(id: String) -> Result<DeviceDetail, AppError> {
    crate::error::respond(
        async {
            let caller = crate::accounts::caller::caller()?;
            caller.require(crate::accounts::caller::Right::Read)?;
            // An id that cannot exist is reported like a missing one: the page says "not found".
            let id =
                super::model::DeviceId::parse(&id).map_err(|_| AppError::not_found("device"))?;
            let db = crate::db::db()?;
            super::store::device(&db, caller.scope.orgs().as_deref(), &id, chrono::Utc::now())
                .await?
                .ok_or(AppError::not_found("device"))
        }
        .await,
    )
}
