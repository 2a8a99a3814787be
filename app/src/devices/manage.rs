//! Server functions that change devices: register, edit, transfer, locate, decommission,
//! issue a new ingest token, import from CSV. Admins anywhere, dealers in their own subtree
//! (DESIGN.md §5); every change writes an event naming the device and the actor.

// Registration takes one argument per form field; the server macro's generated client code
// cannot be annotated one function at a time.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::import::ImportReport;
use super::model::DeviceId;
use crate::error::AppError;

/// A registered device and its ingest token, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub id: DeviceId,
    pub name: String,
    pub token: String,
}

/// The orgs the caller may register devices for and move them to (admins, dealers):
/// (id, name), by name.
#[server(endpoint = "device_orgs")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn device_orgs() -> Result<Vec<(String, String)>, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::{caller, Right};
            let caller = caller()?;
            caller.require(Right::EditDevices)?;
            let db = crate::db::db()?;
            crate::orgs::store::names(&db, caller.scope.orgs()).await
        }
        .await,
    )
}

/// Registers a device under `owner` (an org id in the caller's scope). `lat`/`lon` are
/// optional (both or neither); the timezone is an IANA name.
#[server(endpoint = "device_register")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip(lat, lon)))]
pub async fn register_device(
    id: String,
    name: String,
    model: String,
    firmware: String,
    owner: String,
    timezone: String,
    #[server(default)] lat: String,
    #[server(default)] lon: String,
) -> Result<Registered, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::{caller, Right};
            use crate::audit::store::DeviceChange;
            let caller = caller()?;
            caller.require(Right::EditDevices)?;
            let id = DeviceId::parse(&id)?;
            let fields = ssr::Fields::parse(&name, &model, &firmware, &timezone, None)?;
            let location = ssr::optional_coordinates(&lat, &lon)?;
            let db = crate::db::db()?;
            let owner = ssr::owner_in_scope(&db, &caller, &owner).await?;
            let token = crate::accounts::secret::token("sfd_");
            let now = chrono::Utc::now();
            let device = super::store::NewDevice {
                id: super::store::device_record(&id),
                name: fields.name.clone(),
                model: fields.model,
                firmware: fields.firmware,
                dealer: super::store::dealer_of(&db, &owner).await?,
                owner: owner.clone(),
                location: location.map(|c| ssr::location(c, None, "typed", &caller.actor, now)),
                timezone: fields.timezone,
                installed_at: Some(now),
                offline_timeout_s: fields.offline_timeout_s,
                token_hash: Some(crate::accounts::secret::token_hash(&token)),
            };
            if !super::store::register(&db, device).await? {
                return Err(AppError::Conflict {
                    message: format!("device {id} is already registered"),
                });
            }
            super::snapshot::forget_fleet();
            crate::audit::store::record_devices(
                &db,
                &caller,
                vec![DeviceChange {
                    device: id.to_string(),
                    org: owner,
                    kind: "device_registered",
                    message: format!(
                        "registered {id} {:?}{}",
                        fields.name,
                        ssr::located_at(location.as_ref())
                    ),
                }],
            )
            .await?;
            Ok(Registered {
                id,
                name: fields.name,
                token,
            })
        }
        .await,
    )
}

/// Changes a device's name, model, firmware, timezone and offline timeout.
#[server(endpoint = "device_update")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn update_device(
    id: String,
    name: String,
    model: String,
    firmware: String,
    timezone: String,
    offline_timeout_min: String,
) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, caller, mut state) = ssr::editable(&id).await?;
            let fields = ssr::Fields::parse(
                &name,
                &model,
                &firmware,
                &timezone,
                Some(&offline_timeout_min),
            )?;
            let before = state.clone();
            state.name = fields.name;
            state.model = fields.model;
            state.firmware = fields.firmware;
            state.timezone = fields.timezone;
            state.offline_timeout_s = fields.offline_timeout_s;
            let changes = ssr::describe(&before, &state);
            if changes.is_empty() {
                return Ok(());
            }
            let moved = before.timezone != state.timezone;
            ssr::save(&db, &caller, state.clone(), "device_updated", changes).await?;
            if moved {
                crate::control::api::ssr::timezone_changed(&db, &caller, &state).await?;
            }
            Ok(())
        }
        .await,
    )
}

/// Moves a device to another org of the caller's scope. Its history moves with it.
#[server(endpoint = "device_transfer")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn transfer_device(id: String, owner: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, caller, mut state) = ssr::editable(&id).await?;
            let owner = ssr::owner_in_scope(&db, &caller, &owner).await?;
            if owner == state.owner {
                return Ok(());
            }
            let from = crate::db::key_string(&state.owner);
            state.owner = owner;
            let message = format!(
                "transferred from {from} to {}",
                crate::db::key_string(&state.owner)
            );
            ssr::save(&db, &caller, state, "device_transferred", message).await
        }
        .await,
    )
}

/// Sets where a device stands. `source` says how the position was found: `map` (clicked),
/// `typed` or `geolocation` (the browser's, with its accuracy in metres).
#[server(endpoint = "device_locate")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn locate_device(
    id: String,
    lat: String,
    lon: String,
    source: String,
    #[server(default)] accuracy_m: String,
) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let source = match source.as_str() {
                "map" | "typed" | "geolocation" => source,
                _ => return Err(AppError::validation("source is map, typed or geolocation")),
            };
            let at = super::filter::Coordinates::parse(&lat, &lon)?;
            let accuracy = match accuracy_m.trim() {
                "" => None,
                a => Some(
                    a.parse::<f64>()
                        .ok()
                        .filter(|a| a.is_finite() && (0.0..=100_000.0).contains(a))
                        .ok_or_else(|| {
                            AppError::validation("accuracy is metres from 0 to 100000")
                        })?,
                ),
            };
            let (db, caller, mut state) = ssr::editable(&id).await?;
            let now = chrono::Utc::now();
            state.location = Some(ssr::location(at, accuracy, &source, &caller.actor, now));
            let accuracy = accuracy.map(|a| format!(" ±{a:.0} m")).unwrap_or_default();
            let message = format!(
                "located at {:.5}, {:.5}{accuracy} ({source})",
                at.lat, at.lon
            );
            ssr::save(&db, &caller, state, "device_located", message).await
        }
        .await,
    )
}

/// Takes a device out of service: gone from the live fleet, map and exports, its token void;
/// its telemetry and events stay. `confirm` must repeat the device id.
#[server(endpoint = "device_decommission")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn decommission_device(id: String, confirm: String) -> Result<(), AppError> {
    crate::error::respond(
        async {
            let (db, caller, state) = ssr::editable(&id).await?;
            if DeviceId::parse(&confirm)
                .ok()
                .as_ref()
                .map(DeviceId::as_str)
                != Some(&state.id)
            {
                return Err(AppError::validation(format!(
                    "type the device id {} to confirm",
                    state.id
                )));
            }
            let device = DeviceId::parse(&state.id)?;
            super::store::decommission(&db, &device, chrono::Utc::now()).await?;
            super::snapshot::forget_fleet();
            crate::audit::store::record_devices(
                &db,
                &caller,
                vec![crate::audit::store::DeviceChange {
                    device: state.id.clone(),
                    org: state.owner,
                    kind: "device_decommissioned",
                    message: format!("decommissioned {}", state.id),
                }],
            )
            .await
        }
        .await,
    )
}

/// Issues a new ingest token for a device (the old one stops working within seconds) and
/// returns it, this once.
#[server(endpoint = "device_token")]
#[cfg_attr(feature = "ssr", tracing::instrument(level = "debug"))]
pub async fn rotate_device_token(id: String) -> Result<String, AppError> {
    crate::error::respond(
        async {
            let (db, caller, state) = ssr::editable(&id).await?;
            let device = DeviceId::parse(&state.id)?;
            let token = crate::accounts::secret::token("sfd_");
            super::store::set_token_hash(
                &db,
                &device,
                &crate::accounts::secret::token_hash(&token),
            )
            .await?;
            // The snapshot tells which devices have a token.
            super::snapshot::forget_fleet();
            crate::audit::store::record_devices(
                &db,
                &caller,
                vec![crate::audit::store::DeviceChange {
                    device: state.id,
                    org: state.owner,
                    kind: "device_token_issued",
                    message: "issued a new ingest token".into(),
                }],
            )
            .await?;
            Ok(token)
        }
        .await,
    )
}

/// Imports devices from CSV text. With `commit` false nothing is written: the report says
/// what would happen to each row. With `commit` true the good rows are written (new devices
/// registered, existing ones updated) and the bad ones reported; importing the same file
/// again reports every row unchanged.
#[server(endpoint = "device_import")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip(csv)))]
pub async fn import_devices(csv: String, commit: String) -> Result<ImportReport, AppError> {
    crate::error::respond(
        async {
            use crate::accounts::caller::{caller, Right};
            let caller = caller()?;
            caller.require(Right::EditDevices)?;
            let commit = matches!(commit.as_str(), "true" | "on" | "1");
            let drafts = super::import::parse(&csv)?;
            let db = crate::db::db()?;
            ssr::import(&db, &caller, drafts, commit).await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::{DateTime, Utc};
    use surrealdb::types::RecordId;

    use super::super::filter::Coordinates;
    use super::super::import::{Draft, ImportReport, RowAction, RowReport};
    use super::super::model::DeviceId;
    use super::super::store::{self, DeviceState, NewDevice, NewLocation};
    use crate::accounts::caller::{caller, Caller, Right};
    use crate::audit::store::DeviceChange;
    use crate::db::{key_string, Db};
    use crate::error::AppError;

    /// The editable fields of a device, checked.
    pub struct Fields {
        pub name: String,
        pub model: String,
        pub firmware: String,
        pub timezone: String,
        pub offline_timeout_s: i64,
    }

    impl Fields {
        pub fn parse(
            name: &str,
            model: &str,
            firmware: &str,
            timezone: &str,
            offline_timeout_min: Option<&str>,
        ) -> Result<Self, AppError> {
            let offline_timeout_s = match offline_timeout_min.map(str::trim) {
                None | Some("") => 600,
                Some(m) => {
                    m.parse::<i64>()
                        .ok()
                        .filter(|m| (1..=10_080).contains(m))
                        .ok_or_else(|| {
                            AppError::validation(
                                "the offline timeout is whole minutes from 1 to 10080",
                            )
                        })?
                        * 60
                }
            };
            Ok(Self {
                name: crate::accounts::model::display_name(name)?,
                model: short("model", model, true)?,
                firmware: short("firmware", firmware, false)?,
                timezone: timezone_name(timezone)?,
                offline_timeout_s,
            })
        }
    }

    fn short(what: &str, raw: &str, required: bool) -> Result<String, AppError> {
        let s = raw.trim();
        if (required && s.is_empty()) || s.chars().count() > 64 || s.chars().any(char::is_control) {
            return Err(AppError::validation(format!(
                "the {what} has {} to 64 characters on one line",
                if required { 1 } else { 0 }
            )));
        }
        Ok(s.to_string())
    }

    /// An IANA timezone name, as the tz database spells it.
    pub fn timezone_name(raw: &str) -> Result<String, AppError> {
        let s = raw.trim();
        s.parse::<chrono_tz::Tz>()
            .map(|tz| tz.name().to_string())
            .map_err(|_| {
                AppError::validation(format!(
                    "unknown timezone {s:?}; use an IANA name such as America/Denver"
                ))
            })
    }

    pub fn optional_coordinates(lat: &str, lon: &str) -> Result<Option<Coordinates>, AppError> {
        match (lat.trim(), lon.trim()) {
            ("", "") => Ok(None),
            ("", _) | (_, "") => Err(AppError::validation(
                "give both latitude and longitude, or neither",
            )),
            (lat, lon) => Coordinates::parse(lat, lon).map(Some),
        }
    }

    /// ", at LAT, LON" for an audit message, or nothing.
    pub fn located_at(at: Option<&Coordinates>) -> String {
        at.map(|c| format!(", at {:.5}, {:.5}", c.lat, c.lon))
            .unwrap_or_default()
    }

    pub fn location(
        at: Coordinates,
        accuracy_m: Option<f64>,
        source: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> NewLocation {
        NewLocation {
            lat: at.lat,
            lon: at.lon,
            accuracy_m,
            source: Some(source.into()),
            set_by: Some(actor.into()),
            set_at: Some(now),
        }
    }

    /// An org of the caller's scope, named by id or (exactly, any case) by name; 404 otherwise.
    pub async fn owner_in_scope(db: &Db, caller: &Caller, raw: &str) -> Result<RecordId, AppError> {
        let orgs = crate::orgs::store::names(db, caller.scope.orgs()).await?;
        find_org(&orgs, raw).ok_or(AppError::not_found("org"))
    }

    fn find_org(orgs: &[(String, String)], raw: &str) -> Option<RecordId> {
        let raw = raw.trim();
        orgs.iter()
            .find(|(id, _)| id == raw)
            .or_else(|| orgs.iter().find(|(_, name)| name.eq_ignore_ascii_case(raw)))
            .map(|(id, _)| crate::orgs::store::org_record(id))
    }

    /// The caller (who may edit devices) and the live device `id` of their scope; 404 for
    /// devices that do not exist, are decommissioned or are outside the scope.
    pub async fn editable(id: &str) -> Result<(Db, Caller, DeviceState), AppError> {
        in_scope(id, Right::EditDevices).await
    }

    /// The caller (who must have `right`) and the live device `id` of their scope; 404 for
    /// devices that do not exist, are decommissioned or are outside the scope alike.
    pub async fn in_scope(id: &str, right: Right) -> Result<(Db, Caller, DeviceState), AppError> {
        let caller = caller()?;
        caller.require(right)?;
        let id = DeviceId::parse(id).map_err(|_| AppError::not_found("device"))?;
        let db = crate::db::db()?;
        let ids = std::slice::from_ref(&id);
        // Reading goes by the fleet snapshot, as the device page does; a change asks the
        // database.
        let states = if right == Right::Read {
            crate::devices::snapshot::states(&db, ids).await?
        } else {
            store::states(&db, ids).await?
        };
        let state = states
            .into_iter()
            .next()
            .filter(|s| !s.decommissioned && caller.scope.contains(&s.owner))
            .ok_or(AppError::not_found("device"))?;
        Ok((db, caller, state))
    }

    /// Writes a device's new state and the event saying what changed.
    pub async fn save(
        db: &Db,
        caller: &Caller,
        state: DeviceState,
        kind: &'static str,
        message: String,
    ) -> Result<(), AppError> {
        let change = DeviceChange {
            device: state.id.clone(),
            org: state.owner.clone(),
            kind,
            message,
        };
        store::update_states(db, vec![state]).await?;
        super::super::snapshot::forget_fleet();
        crate::audit::store::record_devices(db, caller, vec![change]).await
    }

    /// "name: A → B; model: X → Y" for the fields that differ.
    pub fn describe(before: &DeviceState, after: &DeviceState) -> String {
        let mut out = Vec::new();
        let mut diff = |what: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{what}: {a} → {b}"));
            }
        };
        diff("name", before.name.clone(), after.name.clone());
        diff("model", before.model.clone(), after.model.clone());
        diff("firmware", before.firmware.clone(), after.firmware.clone());
        diff("owner", key_string(&before.owner), key_string(&after.owner));
        diff("timezone", before.timezone.clone(), after.timezone.clone());
        let at = |s: &DeviceState| {
            s.location
                .as_ref()
                .map(|l| format!("{:.5}, {:.5}", l.lat, l.lon))
                .unwrap_or_else(|| "none".into())
        };
        diff("location", at(before), at(after));
        diff(
            "offline timeout",
            format!("{} min", before.offline_timeout_s / 60),
            format!("{} min", after.offline_timeout_s / 60),
        );
        out.join("; ")
    }

    /// Plans every row against the database and, when `commit`, writes the good ones.
    pub async fn import(
        db: &Db,
        caller: &Caller,
        drafts: Vec<Result<Draft, RowReport>>,
        commit: bool,
    ) -> Result<ImportReport, AppError> {
        let ids: Vec<DeviceId> = drafts
            .iter()
            .filter_map(|d| d.as_ref().ok().map(|d| d.id.clone()))
            .collect();
        let existing: std::collections::HashMap<String, DeviceState> = store::states(db, &ids)
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let orgs = crate::orgs::store::names(db, caller.scope.orgs()).await?;
        let default_owner = caller.org.clone();
        let now = Utc::now();
        let mut report = ImportReport {
            committed: commit,
            ..Default::default()
        };
        let mut creates: Vec<NewDevice> = Vec::new();
        let mut updates: Vec<DeviceState> = Vec::new();
        let mut changes: Vec<DeviceChange> = Vec::new();
        let mut dealers: std::collections::HashMap<String, Option<RecordId>> = Default::default();
        for draft in drafts {
            let draft = match draft {
                Ok(d) => d,
                Err(row) => {
                    report.push(row);
                    continue;
                }
            };
            let fail = |detail: String| RowReport {
                line: draft.line,
                id: draft.id.to_string(),
                action: RowAction::Error,
                detail,
            };
            let owner = match &draft.owner {
                None => None,
                Some(o) => match find_org(&orgs, o) {
                    Some(r) => Some(r),
                    None => {
                        report.push(fail(format!("no organisation {o:?} that you manage")));
                        continue;
                    }
                },
            };
            let timezone = match draft.timezone.as_deref().map(timezone_name).transpose() {
                Ok(tz) => tz,
                Err(e) => {
                    report.push(fail(e.to_string()));
                    continue;
                }
            };
            let location = |before: Option<&NewLocation>| match draft.location {
                None => before.cloned(),
                Some(c) if before.is_some_and(|b| b.lat == c.lat && b.lon == c.lon) => {
                    before.cloned()
                }
                Some(c) => Some(location(c, None, "import", &caller.actor, now)),
            };
            match existing.get(draft.id.as_str()) {
                Some(s) if s.decommissioned || !caller.scope.contains(&s.owner) => {
                    report.push(fail(if caller.scope.contains(&s.owner) {
                        format!(
                            "device {} is decommissioned; its id cannot be reused",
                            draft.id
                        )
                    } else {
                        format!("device {} is registered to another organisation", draft.id)
                    }));
                }
                Some(before) => {
                    let after = DeviceState {
                        name: draft.name.clone().unwrap_or_else(|| before.name.clone()),
                        model: draft.model.clone().unwrap_or_else(|| before.model.clone()),
                        firmware: draft
                            .firmware
                            .clone()
                            .unwrap_or_else(|| before.firmware.clone()),
                        owner: owner.clone().unwrap_or_else(|| before.owner.clone()),
                        timezone: timezone.clone().unwrap_or_else(|| before.timezone.clone()),
                        location: location(before.location.as_ref()),
                        offline_timeout_s: draft
                            .offline_timeout_min
                            .map_or(before.offline_timeout_s, |m| m * 60),
                        ..before.clone()
                    };
                    let detail = describe(before, &after);
                    if detail.is_empty() {
                        report.push(RowReport {
                            line: draft.line,
                            id: draft.id.to_string(),
                            action: RowAction::Unchanged,
                            detail: String::new(),
                        });
                        continue;
                    }
                    changes.push(DeviceChange {
                        device: draft.id.to_string(),
                        org: after.owner.clone(),
                        kind: "device_updated",
                        message: format!("import: {detail}"),
                    });
                    updates.push(after);
                    report.push(RowReport {
                        line: draft.line,
                        id: draft.id.to_string(),
                        action: RowAction::Update,
                        detail,
                    });
                }
                None => {
                    let Some(name) = draft.name.clone() else {
                        report.push(fail("a new device needs a name".into()));
                        continue;
                    };
                    let owner = owner.clone().unwrap_or_else(|| default_owner.clone());
                    let key = key_string(&owner);
                    let dealer = match dealers.get(&key) {
                        Some(d) => d.clone(),
                        None => {
                            let d = store::dealer_of(db, &owner).await?;
                            dealers.insert(key.clone(), d.clone());
                            d
                        }
                    };
                    let timezone = timezone.clone().unwrap_or_else(|| "UTC".into());
                    let detail = format!("{name:?} for {key}, {timezone}");
                    changes.push(DeviceChange {
                        device: draft.id.to_string(),
                        org: owner.clone(),
                        kind: "device_registered",
                        message: format!(
                            "import: registered {} {name:?}{}",
                            draft.id,
                            located_at(draft.location.as_ref())
                        ),
                    });
                    creates.push(NewDevice {
                        id: store::device_record(&draft.id),
                        name,
                        model: draft.model.clone().unwrap_or_else(|| "unknown".into()),
                        firmware: draft.firmware.clone().unwrap_or_default(),
                        owner,
                        dealer,
                        location: location(None),
                        timezone,
                        installed_at: Some(now),
                        offline_timeout_s: draft.offline_timeout_min.map_or(600, |m| m * 60),
                        token_hash: None,
                    });
                    report.push(RowReport {
                        line: draft.line,
                        id: draft.id.to_string(),
                        action: RowAction::Create,
                        detail,
                    });
                }
            }
        }
        if commit && (!creates.is_empty() || !updates.is_empty()) {
            // INSERT IGNORE: a device registered meanwhile by someone else is left alone.
            store::insert_devices(db, creates).await?;
            store::update_states(db, updates).await?;
            super::super::snapshot::forget_fleet();
            crate::audit::store::record_devices(db, caller, changes).await?;
        }
        report.rows.sort_by_key(|r| r.line);
        Ok(report)
    }
}
