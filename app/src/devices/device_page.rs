//! The Device page: identity and latest status of one device.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::get_device;
use super::manage_view::{Actions, LocationCard, ManageCard};
use super::model::{fault_label, DeviceDetail, LatestStatus};
use crate::control::command_card::{CommandCard, CommandData};
use crate::control::schedule_card::{ScheduleCard, ScheduleData};
use crate::error::AppError;
use crate::ui::format::{celsius, rpm, volts, watts};
use crate::ui::{awaiting, ErrorBox, Loading, NotFound, StatusBadge};

#[component]
pub fn DevicePage() -> impl IntoView {
    let params = use_params_map();
    // `try_` accessors: see the Fleet page.
    let id = move || {
        params
            .try_with(|p| p.get("id"))
            .flatten()
            .unwrap_or_default()
    };
    let actions = Actions::new();
    let device = Resource::new(move || (id(), actions.version()), |(id, _)| get_device(id));
    // The cards' data is made here, once: the view below is built more than once per
    // server render, and each build would fetch it again.
    let cards = Cards {
        schedule: ScheduleData::new(id),
        commands: CommandData::new(id),
        events: crate::history::recent_events(id),
    };
    // A decommissioned device is gone from the live fleet: back to the list.
    Effect::new(move |_| {
        if actions
            .decommission
            .value()
            .get()
            .is_some_and(|r| r.is_ok())
        {
            leptos_router::hooks::use_navigate()("/fleet", Default::default());
        }
    });
    view! {
        <Suspense fallback=|| view! { <Loading what="device" /> }>
            {awaiting(device, move |device| match device {
                Ok(device) => view! { <DeviceView device actions cards /> }.into_any(),
                Err(AppError::NotFound { .. }) => view! { <NotFound what="device" /> }.into_any(),
                Err(error) => view! { <ErrorBox error /> }.into_any(),
            })}
        </Suspense>
    }
}

/// What the page's cards show, fetched by the page.
#[derive(Clone, Copy)]
struct Cards {
    schedule: ScheduleData,
    commands: CommandData,
    events: crate::history::RecentData,
}

#[component]
fn DeviceView(device: DeviceDetail, actions: Actions, cards: Cards) -> impl IntoView {
    let full = device.clone();
    let DeviceDetail {
        id,
        name,
        model,
        firmware,
        owner,
        dealer,
        timezone,
        location,
        installed_on,
        offline_timeout_min,
        connectivity,
        latest,
        editable,
        ..
    } = device;
    let fault = latest.as_ref().and_then(|l| l.fault_code);
    let location = location
        .map(|l| format!("{:.5}, {:.5}", l.lat, l.lon))
        .unwrap_or_else(|| "not set".into());
    let manage = editable.then(|| view! { <ManageCard device=full.clone() actions /> });
    view! {
        <Title text=name.clone() />
        <section class="page device">
            <nav class="crumbs" aria-label="Breadcrumb">
                <a href="/fleet">"Fleet"</a>
                " / "
                <span aria-current="page">{name.clone()}</span>
            </nav>
            <header class="page-head">
                <h1>{name}</h1>
                <p class="status-line">
                    <StatusBadge connectivity fault_code=fault />
                </p>
            </header>
            <div class="cards">
                <section class="card" aria-labelledby="latest-h">
                    <h2 id="latest-h">"Latest status"</h2>
                    {match latest {
                        Some(latest) => view! { <Latest latest /> }.into_any(),
                        None => {
                            view! { <p class="empty">"No reading has arrived from this device yet."</p> }
                                .into_any()
                        }
                    }}
                </section>
                <section class="card" aria-labelledby="identity-h">
                    <h2 id="identity-h">"Identity"</h2>
                    <dl class="facts">
                        <dt>"Device id"</dt>
                        <dd class="mono">{id.to_string()}</dd>
                        <dt>"Model"</dt>
                        <dd>{model}</dd>
                        <dt>"Firmware"</dt>
                        <dd>{firmware}</dd>
                        <dt>"Owner"</dt>
                        <dd>{owner}</dd>
                        <dt>"Installed by"</dt>
                        <dd>{dealer.unwrap_or_else(|| "—".into())}</dd>
                        <dt>"Installed on"</dt>
                        <dd>{installed_on.unwrap_or_else(|| "—".into())}</dd>
                        <dt>"Timezone"</dt>
                        <dd>{timezone}</dd>
                        <dt>"Location"</dt>
                        <dd>{location}</dd>
                        <dt>"Offline after"</dt>
                        <dd>{format!("{offline_timeout_min} min of silence")}</dd>
                    </dl>
                </section>
                <section class="card wide" aria-labelledby="chart-h">
                    <h2 id="chart-h">"Charts"</h2>
                    <crate::charts::ChartPanel path=format!("/devices/{}", full.id) device=Some(full.id.to_string()) />
                </section>
                <ScheduleCard data=cards.schedule />
                <CommandCard data=cards.commands />
                <crate::history::RecentEvents id=full.id.to_string() events=cards.events />
                <LocationCard device=full actions />
                {manage}
            </div>
        </section>
    }
}

#[component]
fn Latest(latest: LatestStatus) -> impl IntoView {
    let motor = if latest.motor_on {
        format!("running, {}", rpm(latest.motor_rpm))
    } else {
        "stopped".to_string()
    };
    let fault = match latest.fault_code {
        Some(code) => format!("E{code:02} {}", fault_label(code)),
        None => "none".into(),
    };
    view! {
        <p class="reading-time">
            {format!("Reading of {} ({})", latest.at_local, latest.ago)}
        </p>
        <dl class="metrics">
            <div class="metric solar">
                <dt>"Solar"</dt>
                <dd data-testid="solar-w">{watts(Some(latest.solar_w))}</dd>
            </div>
            <div class="metric grid">
                <dt>"Grid"</dt>
                <dd data-testid="grid-w">{watts(Some(latest.grid_w))}</dd>
            </div>
            <div class="metric">
                <dt>"Load"</dt>
                <dd>{watts(Some(latest.load_w))}</dd>
            </div>
            <div class="metric">
                <dt>"Motor"</dt>
                <dd>{motor}</dd>
            </div>
            <div class="metric">
                <dt>"DC bus"</dt>
                <dd>{volts(latest.dc_bus_v)}</dd>
            </div>
            <div class="metric">
                <dt>"Temperature"</dt>
                <dd>{celsius(latest.temperature_c)}</dd>
            </div>
            <div class="metric">
                <dt>"Fault"</dt>
                <dd>{fault}</dd>
            </div>
        </dl>
    }
}
