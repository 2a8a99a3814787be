//! The management part of the Device page (admins, dealers): edit, transfer, locate, issue a
//! new ingest token, decommission.

use leptos::prelude::*;

use super::manage::{
    DecommissionDevice, LocateDevice, RotateDeviceToken, TransferDevice, UpdateDevice,
};
use super::model::DeviceDetail;
use super::register_page::COMMON_TIMEZONES;
use crate::map::LocationPicker;
use crate::ui::{ActionError, AfterLoad};

/// The actions the page reloads the device after.
#[derive(Clone, Copy)]
pub struct Actions {
    pub update: ServerAction<UpdateDevice>,
    pub transfer: ServerAction<TransferDevice>,
    pub locate: ServerAction<LocateDevice>,
    pub token: ServerAction<RotateDeviceToken>,
    pub decommission: ServerAction<DecommissionDevice>,
    /// Counts successful changes. A failed one does not reload the page, so the form keeps
    /// what the person typed next to the error.
    saved: RwSignal<usize>,
}

impl Actions {
    pub fn new() -> Self {
        let actions = Self {
            update: ServerAction::new(),
            transfer: ServerAction::new(),
            locate: ServerAction::new(),
            token: ServerAction::new(),
            decommission: ServerAction::new(),
            saved: RwSignal::new(0),
        };
        let saved = actions.saved;
        let count = move |ok: bool| {
            if ok {
                saved.update(|n| *n += 1)
            }
        };
        let (update, transfer, locate) = (actions.update, actions.transfer, actions.locate);
        Effect::new(move |_| count(update.value().get().is_some_and(|r| r.is_ok())));
        Effect::new(move |_| count(transfer.value().get().is_some_and(|r| r.is_ok())));
        Effect::new(move |_| count(locate.value().get().is_some_and(|r| r.is_ok())));
        actions
    }

    /// Changes whenever a change was saved.
    pub fn version(&self) -> usize {
        self.saved.get()
    }
}

#[component]
pub fn LocationCard(device: DeviceDetail, actions: Actions) -> impl IntoView {
    let where_ = match &device.location {
        Some(l) => {
            let accuracy = l
                .accuracy_m
                .map(|a| format!(" ±{a:.0} m"))
                .unwrap_or_default();
            let how = match (&l.source, &l.set_by, &l.set_at) {
                (Some(s), Some(by), Some(at)) => format!(" · {s}, by {by}, {at}"),
                (Some(s), _, _) => format!(" · {s}"),
                _ => String::new(),
            };
            format!("{:.5}, {:.5}{accuracy}{how}", l.lat, l.lon)
        }
        None => "Not set yet.".into(),
    };
    view! {
        <section class="card wide" aria-labelledby="location-h">
            <h2 id="location-h">"Location"</h2>
            <p data-testid="location-text">{where_}</p>
            {device
                .editable
                .then(|| {
                    view! {
                        <LocationPicker
                            id=device.id.to_string()
                            current=device.location.clone()
                            tiles=device.tiles.clone()
                            locate=actions.locate
                        />
                    }
                })}
        </section>
    }
}

#[component]
pub fn ManageCard(device: DeviceDetail, actions: Actions) -> impl IntoView {
    let id = device.id.to_string();
    let Actions {
        update,
        transfer,
        token,
        decommission,
        ..
    } = actions;
    let confirm_label = format!("Type {id} to confirm");
    // The panels' bodies are built in the browser, as often as they are shown, from these.
    let id = StoredValue::new(id);
    let confirm_label = StoredValue::new(confirm_label);
    let (edit, has_token) = (StoredValue::new(device.clone()), device.has_token);
    let decommissioned = move || decommission.value().get().is_some_and(|r| r.is_ok());
    view! {
        <section class="card wide" aria-labelledby="manage-h">
            <h2 id="manage-h">"Manage"</h2>
            <details class="panel">
                <summary>"Edit details"</summary>
                <AfterLoad>
                <ActionForm action=update attr:class="form stacked">
                    <input type="hidden" name="id" value=id.get_value() />
                    <label for="ed-name">"Name"</label>
                    <input id="ed-name" name="name" required maxlength="100" value=edit.with_value(|d| d.name.clone()) />
                    <label for="ed-model">"Model"</label>
                    <input id="ed-model" name="model" required maxlength="64" value=edit.with_value(|d| d.model.clone()) />
                    <label for="ed-fw">"Firmware"</label>
                    <input id="ed-fw" name="firmware" maxlength="64" value=edit.with_value(|d| d.firmware.clone()) />
                    <label for="ed-tz">"Timezone"</label>
                    <input id="ed-tz" name="timezone" required list="ed-timezones" value=edit.with_value(|d| d.timezone.clone()) />
                    <datalist id="ed-timezones">
                        {COMMON_TIMEZONES.map(|tz| view! { <option value=tz></option> }).collect_view()}
                    </datalist>
                    <label for="ed-timeout">"Offline after (minutes of silence)"</label>
                    <input
                        id="ed-timeout"
                        name="offline_timeout_min"
                        type="number"
                        min="1"
                        max="10080"
                        required
                        value=edit.with_value(|d| d.offline_timeout_min.to_string())
                    />
                    <button type="submit">"Save changes"</button>
                </ActionForm>
                <ActionError action=update />
                {move || {
                    update.value().get().and_then(Result::ok).map(|_| view! { <p class="notice" role="status">"Saved."</p> })
                }}
                </AfterLoad>
            </details>
            <details class="panel">
                <summary>"Transfer to another organisation"</summary>
                <AfterLoad>
                <ActionForm action=transfer attr:class="form inline">
                    <input type="hidden" name="id" value=id.get_value() />
                    <label for="tr-owner">"New owner"</label>
                    <select id="tr-owner" name="owner">
                        {edit.with_value(|d| {
                            d.transfer_to
                                .iter()
                                .map(|(org, name)| {
                                    view! { <option value=org.clone() selected=*org == d.owner_id>{name.clone()}</option> }
                                })
                                .collect_view()
                        })}
                    </select>
                    <button type="submit">"Transfer"</button>
                </ActionForm>
                <ActionError action=transfer />
                </AfterLoad>
            </details>
            <details class="panel">
                <summary>"Ingest token"</summary>
                <AfterLoad>
                <p>
                    {if has_token {
                        "A token has been issued. A new one replaces it: the old one stops working within 10 seconds."
                    } else {
                        "No token yet. Devices posting directly (not through Particle) need one."
                    }}
                </p>
                <ActionForm action=token attr:class="form inline">
                    <input type="hidden" name="id" value=id.get_value() />
                    <button type="submit">"Issue a new token"</button>
                </ActionForm>
                <ActionError action=token />
                {move || {
                    token
                        .value()
                        .get()
                        .and_then(Result::ok)
                        .map(|t| {
                            view! {
                                <div class="notice" role="status">
                                    <p>"Copy the token now: it is not shown again."</p>
                                    <input class="secret" readonly value=t aria-label="New ingest token" />
                                </div>
                            }
                        })
                }}
                </AfterLoad>
            </details>
            <details class="panel danger">
                <summary>"Decommission"</summary>
                <AfterLoad>
                <p>
                    "The device leaves the live fleet, the map and exports, and its token stops working. Its readings and history are kept. This cannot be undone; its id cannot be registered again."
                </p>
                <ActionForm action=decommission attr:class="form inline">
                    <input type="hidden" name="id" value=id.get_value() />
                    <label for="dc-confirm">{confirm_label.get_value()}</label>
                    <input id="dc-confirm" name="confirm" required autocomplete="off" />
                    <button type="submit" class="danger">"Decommission"</button>
                </ActionForm>
                <ActionError action=decommission />
                {move || decommissioned().then(|| view! { <p class="notice" role="status">"Decommissioned."</p> })}
                </AfterLoad>
            </details>
        </section>
    }
}
