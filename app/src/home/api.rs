//! The home summary server function.

use leptos::prelude::*;

use super::model::HomeSummary;
use crate::error::AppError;

/// What the signed-in persona's home shows, over the caller's scope.
#[server(endpoint = "home")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn home() -> Result<HomeSummary, AppError> {
    crate::error::respond(
        async {
            use super::model::{Counts, OrgLine, ATTENTION_MAX};
            use crate::accounts::caller::{caller, Right};
            use crate::accounts::model::Persona;
            use crate::devices::model::Connectivity;

            let caller = caller()?;
            caller.require(Right::Read)?;
            let db = crate::db::db()?;
            let now = chrono::Utc::now();
            let scope = caller.scope.orgs();
            let fleet = crate::devices::snapshot::snapshot(&db).await?.rows(
                scope.as_deref(),
                &Default::default(),
                now,
            );
            let (solar_wh_today, grid_wh_today) =
                crate::telemetry::store::energy_today(&db, caller.scope.orgs(), now).await?;
            let mut counts = Counts::default();
            let mut by_org = std::collections::BTreeMap::<String, Counts>::new();
            for row in &fleet {
                counts.add(row);
                by_org.entry(row.owner.clone()).or_default().add(row);
            }
            let mut attention: Vec<_> = fleet
                .iter()
                .filter(|r| r.fault_code.is_some() || r.connectivity == Connectivity::Offline)
                .cloned()
                .collect();
            attention.sort_by_key(|r| (r.fault_code.is_none(), r.name.clone()));
            let attention_total = attention.len() as u64;
            attention.truncate(ATTENTION_MAX);
            Ok(HomeSummary {
                me: caller.me(),
                counts,
                attention,
                attention_total,
                orgs: by_org
                    .into_iter()
                    .map(|(name, counts)| OrgLine { name, counts })
                    .collect(),
                devices: if caller.persona == Persona::Customer {
                    fleet
                } else {
                    Vec::new()
                },
                solar_wh_today,
                grid_wh_today,
            })
        }
        .await,
    )
}
