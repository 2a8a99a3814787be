//! The Fleet page: every device with its connectivity and current power, filterable by text.
//! The filter lives in the URL (`/fleet?q=…`) so a filtered view can be bookmarked and shared.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use super::api::list_fleet;
use super::model::{FleetList, FleetRow};
use crate::ui::format::{query_escape, watts};
use crate::ui::{ErrorBox, Loading, StatusBadge};

#[component]
pub fn FleetPage() -> impl IntoView {
    let query = use_query_map();
    // `try_` accessors: a server render the client abandoned may still be polled after its
    // owner is gone, and must then give up quietly rather than panic.
    let filter = move || query.try_with(|q| q.get("q")).flatten().unwrap_or_default();
    let fleet = Resource::new(filter, list_fleet);
    // True while a new filter's rows are on their way; the old rows stay visible meanwhile.
    let (pending, set_pending) = signal(false);
    let navigate = use_navigate();
    let on_input = move |ev| {
        let value = event_target_value(&ev);
        let url = if value.is_empty() {
            "/fleet".to_string()
        } else {
            format!("/fleet?q={}", query_escape(&value))
        };
        navigate(
            &url,
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };

    view! {
        <Title text="Fleet" />
        <section class="page">
            <header class="page-head">
                <h1>"Fleet"</h1>
                <Transition>
                    {move || {
                        fleet
                            .try_get()
                            .flatten()
                            .and_then(Result::ok)
                            .map(|list| {
                                view! {
                                    <p class="count" aria-live="polite">
                                        {count_label(&list)}
                                    </p>
                                }
                            })
                    }}
                </Transition>
            </header>
            <form class="filter" role="search" method="get" action="/fleet">
                <label for="fleet-filter">"Filter devices"</label>
                <input
                    id="fleet-filter"
                    type="search"
                    name="q"
                    placeholder="Name, id, owner, model or firmware"
                    autocomplete="off"
                    prop:value=filter
                    on:input=on_input
                />
            </form>
            <p class="updating" role="status" aria-live="polite">
                {move || if pending.try_get().unwrap_or(false) { "Updating…" } else { "" }}
            </p>
            <Transition fallback=|| view! { <Loading what="devices" /> } set_pending>
                {move || {
                    fleet
                        .try_get()
                        .flatten()
                        .map(|result| match result {
                            Ok(list) => view! { <FleetTable list /> }.into_any(),
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

fn count_label(list: &FleetList) -> String {
    if list.rows.len() as u64 == list.total {
        format!("{} devices", list.total)
    } else {
        format!("{} of {} devices", list.rows.len(), list.total)
    }
}

#[component]
fn FleetTable(list: FleetList) -> impl IntoView {
    if list.total == 0 {
        return view! {
            <div class="empty">
                <p>"No devices yet."</p>
                <p>"Devices appear here once they are registered."</p>
            </div>
        }
        .into_any();
    }
    if list.rows.is_empty() {
        return view! {
            <div class="empty">
                <p>"No device matches this filter."</p>
                <p>
                    <a href="/fleet">"Show all devices"</a>
                </p>
            </div>
        }
        .into_any();
    }
    view! { <DeviceTable rows=list.rows /> }.into_any()
}

/// Devices with owner, status, last contact and current power; cards on narrow screens.
#[component]
pub(crate) fn DeviceTable(rows: Vec<FleetRow>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="fleet">
                <thead>
                    <tr>
                        <th scope="col">"Device"</th>
                        <th scope="col">"Owner"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Last seen"</th>
                        <th scope="col" class="num">"Solar"</th>
                        <th scope="col" class="num">"Grid"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| view! { <FleetLine row /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn FleetLine(row: FleetRow) -> impl IntoView {
    let href = format!("/devices/{}", row.id);
    view! {
        <tr>
            <td data-label="Device">
                <a href=href class="device-link">
                    {row.name}
                </a>
                <span class="sub">{format!("{} · {}", row.model, row.id)}</span>
            </td>
            <td data-label="Owner">{row.owner}</td>
            <td data-label="Status">
                <StatusBadge connectivity=row.connectivity fault_code=row.fault_code />
            </td>
            <td data-label="Last seen">{row.last_seen_ago.unwrap_or_else(|| "never".into())}</td>
            <td data-label="Solar" class="num">
                {watts(row.solar_w)}
            </td>
            <td data-label="Grid" class="num">
                {watts(row.grid_w)}
            </td>
        </tr>
    }
}
