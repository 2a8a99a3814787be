//! Registering one device (admins, dealers): id, name, model, firmware, owner, timezone and
//! optionally where it stands. The ingest token is shown once on success.

use leptos::prelude::*;
use leptos_meta::Title;

use super::manage::RegisterDevice;
use crate::ui::{ActionError, ErrorBox, Loading};

/// Timezones offered first; any IANA name may be typed.
pub const COMMON_TIMEZONES: [&str; 9] = [
    "America/Denver",
    "America/Chicago",
    "America/Los_Angeles",
    "America/New_York",
    "America/Phoenix",
    "Europe/Berlin",
    "Africa/Nairobi",
    "Asia/Kolkata",
    "UTC",
];

#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = ServerAction::<RegisterDevice>::new();
    let orgs = Resource::new(|| (), |_| super::manage::device_orgs());
    view! {
        <Title text="Register a device" />
        <section class="page">
            <nav class="crumbs" aria-label="Breadcrumb">
                <a href="/fleet">"Fleet"</a>
                " / "
                <span aria-current="page">"Register a device"</span>
            </nav>
            <header class="page-head">
                <h1>"Register a device"</h1>
            </header>
            <Transition fallback=|| view! { <Loading what="organisations" /> }>
                {move || Suspend::new(async move {
                    let orgs = match orgs.await {
                        Ok(o) => o,
                        Err(error) => return view! { <ErrorBox error /> }.into_any(),
                    };
                    view! {
                        <ActionForm action=register attr:class="form stacked">
                            <label for="reg-id">"Device id"</label>
                            <input
                                id="reg-id"
                                name="id"
                                required
                                maxlength="64"
                                autocomplete="off"
                                aria-describedby="reg-id-hint"
                            />
                            <p class="hint" id="reg-id-hint">
                                "The Particle device id (24 hex characters) or the serial number on the controller."
                            </p>
                            <label for="reg-name">"Name"</label>
                            <input id="reg-name" name="name" required maxlength="100" placeholder="North well pump" />
                            <label for="reg-model">"Model"</label>
                            <input id="reg-model" name="model" required maxlength="64" placeholder="SP-3" />
                            <label for="reg-fw">"Firmware"</label>
                            <input id="reg-fw" name="firmware" maxlength="64" placeholder="2.1.0" />
                            <label for="reg-owner">"Owner"</label>
                            <select id="reg-owner" name="owner">
                                {orgs
                                    .into_iter()
                                    .map(|(id, name)| view! { <option value=id>{name}</option> })
                                    .collect_view()}
                            </select>
                            <label for="reg-tz">"Timezone"</label>
                            <input id="reg-tz" name="timezone" required list="timezones" value="America/Denver" />
                            <datalist id="timezones">
                                {COMMON_TIMEZONES.map(|tz| view! { <option value=tz></option> }).collect_view()}
                            </datalist>
                            <fieldset>
                                <legend>"Location (optional; you can also set it later from the map)"</legend>
                                <label for="reg-lat">"Latitude"</label>
                                <input id="reg-lat" name="lat" inputmode="decimal" />
                                <label for="reg-lon">"Longitude"</label>
                                <input id="reg-lon" name="lon" inputmode="decimal" />
                            </fieldset>
                            <button type="submit">"Register"</button>
                        </ActionForm>
                    }
                        .into_any()
                })}
            </Transition>
            <ActionError action=register />
            {move || {
                register
                    .value()
                    .get()
                    .and_then(Result::ok)
                    .map(|r| {
                        let href = format!("/devices/{}", r.id);
                        view! {
                            <div class="notice" role="status" data-testid="registered">
                                <p>
                                    {format!("{} ({}) is registered. ", r.name, r.id)}
                                    <a href=href>"Open its page"</a>
                                </p>
                                <p>
                                    "Its ingest token, for posting status directly (devices on Particle use the integration instead). Copy it now: it is not shown again."
                                </p>
                                <input class="secret" readonly value=r.token aria-label="Ingest token" />
                            </div>
                        }
                    })
            }}
        </section>
    }
}
