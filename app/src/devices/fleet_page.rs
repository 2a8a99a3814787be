//! The Fleet page: every device of the caller's scope with its connectivity and current
//! power; filter by text, status, org, model and firmware, sort by any column, page through
//! 50 at a time, export what matches as CSV, see it on a map. All of it lives in the URL
//! (`/fleet?status=offline&sort=last_seen&page=2`) so a view can be bookmarked and shared.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use super::api::list_fleet;
use super::filter::{FleetFilter, SortKey, StatusFilter};
use super::model::{fault_label, Connectivity, FleetFacets, FleetList, FleetRow};
use crate::accounts::model::Persona;
use crate::ui::format::watts;
use crate::ui::{awaiting, ErrorBox, Loading};

#[component]
pub fn FleetPage() -> impl IntoView {
    let location = use_location();
    // `try_` accessors: a server render the client abandoned may still be polled after its
    // owner is gone, and must then give up quietly rather than panic.
    let search = move || location.search.try_get().unwrap_or_default();
    let fleet = Resource::new(search, list_fleet);
    // The filter as the URL states it, for the controls (the server re-checks it).
    let current = Memo::new(move |_| {
        FleetFilter::parse_query(&search()).unwrap_or_else(|_| FleetFilter {
            page: 1,
            ..Default::default()
        })
    });
    let (pending, set_pending) = signal(false);
    let me = crate::ui::use_me();
    let show_map = RwSignal::new(false);

    view! {
        <Title text="Fleet" />
        <section class="page">
            <header class="page-head">
                <h1>"Fleet"</h1>
                <Transition>
                    {move || {
                        // `try_with`, not `try_get`: reading a part need not copy the list.
                        fleet
                            .try_with(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map(count_label))
                            .flatten()
                            .map(|count| {
                                view! {
                                    <p class="count" aria-live="polite" data-testid="fleet-count">
                                        {count}
                                    </p>
                                }
                            })
                    }}
                </Transition>
                <div class="actions">
                    <Suspense>
                        {move || Suspend::new(async move {
                            let edits = me
                                .await
                                .is_some_and(|m| matches!(m.persona, Persona::Admin | Persona::Dealer));
                            edits
                                .then(|| {
                                    view! {
                                        <a class="button" href="/devices/new">
                                            "Register device"
                                        </a>
                                        <a class="button secondary" href="/devices/import">
                                            "Import CSV"
                                        </a>
                                    }
                                })
                        })}
                    </Suspense>
                    <a
                        class="button secondary"
                        href=move || {
                            let f = current.get().at_page(1).to_query();
                            if f.is_empty() { "/fleet.csv".to_string() } else { format!("/fleet.csv?{f}") }
                        }
                        download
                        rel="external"
                    >
                        "Export CSV"
                    </a>
                    <crate::map::NearMeButton search=Signal::derive(search) />
                    <button
                        type="button"
                        class="secondary"
                        aria-pressed=move || show_map.get().to_string()
                        on:click=move |_| show_map.update(|m| *m = !*m)
                    >
                        {move || if show_map.get() { "Hide map" } else { "Show map" }}
                    </button>
                </div>
            </header>
            <Filters current fleet />
            {move || show_map.get().then(|| view! { <crate::map::FleetMapView search=Signal::derive(search) /> })}
            <p class="updating" role="status" aria-live="polite">
                {move || if pending.try_get().unwrap_or(false) { "Updating…" } else { "" }}
            </p>
            <Transition fallback=|| view! { <Loading what="devices" /> } set_pending>
                {awaiting(fleet, |result| match result {
                    Ok(list) => view! { <FleetResult list /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn count_label(list: &FleetList) -> String {
    if list.matched == list.total {
        format!("{} devices", list.total)
    } else {
        format!("{} of {} devices", list.matched, list.total)
    }
}

/// Navigates to `filter` without a new history entry per keystroke (the map uses it too).
pub(crate) fn go(filter: &FleetFilter) {
    let navigate = use_navigate();
    navigate(
        &filter.href(),
        NavigateOptions {
            replace: true,
            scroll: false,
            ..Default::default()
        },
    );
}

/// The filter form. Without JavaScript it is a plain GET form; hydrated, every change
/// navigates at once (back to page 1).
#[component]
fn Filters(
    current: Memo<FleetFilter>,
    fleet: Resource<Result<FleetList, crate::error::AppError>>,
) -> impl IntoView {
    let change = move |edit: fn(&mut FleetFilter, String)| {
        move |ev: leptos::ev::Event| {
            let mut f = current.get_untracked();
            edit(&mut f, event_target_value(&ev));
            f.page = 1;
            go(&f);
        }
    };
    let facets = move || {
        fleet
            .try_with(|r| {
                r.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map(|l| l.facets.clone())
            })
            .flatten()
            .unwrap_or_default()
    };
    let option = |value: String, label: String, selected: bool| {
        view! {
            <option value=value selected=selected>
                {label}
            </option>
        }
    };
    view! {
        <form class="filters" role="search" method="get" action="/fleet">
            <div class="field grow">
                <label for="fleet-filter">"Search"</label>
                <input
                    id="fleet-filter"
                    type="search"
                    name="q"
                    placeholder="Name, id, owner, model or firmware"
                    autocomplete="off"
                    prop:value=move || current.get().q
                    on:input=change(|f, v| f.q = v)
                />
            </div>
            <div class="field">
                <label for="fleet-status">"Status"</label>
                <select id="fleet-status" name="status" on:change=change(|f, v| f.status = StatusFilter::from_value(&v))>
                    <option value="">"Any status"</option>
                    {move || {
                        let now = current.get().status;
                        StatusFilter::ALL
                            .into_iter()
                            .map(|s| option(s.as_str().into(), s.label().into(), now == Some(s)))
                            .collect_view()
                    }}
                </select>
            </div>
            <Transition>
                {move || {
                    let FleetFacets { orgs, models, firmwares } = facets();
                    let f = current.get();
                    view! {
                        {(orgs.len() > 1 || f.org.is_some())
                            .then(|| {
                                view! {
                                    <div class="field">
                                        <label for="fleet-org">"Organisation"</label>
                                        <select id="fleet-org" name="org" on:change=change(|f, v| f.org = Some(v).filter(|v| !v.is_empty()))>
                                            <option value="">"All organisations"</option>
                                            {orgs
                                                .into_iter()
                                                .map(|(id, name)| {
                                                    let selected = f.org.as_deref() == Some(id.as_str());
                                                    option(id, name, selected)
                                                })
                                                .collect_view()}
                                        </select>
                                    </div>
                                }
                            })}
                        <div class="field">
                            <label for="fleet-model">"Model"</label>
                            <select id="fleet-model" name="model" on:change=change(|f, v| f.model = Some(v).filter(|v| !v.is_empty()))>
                                <option value="">"All models"</option>
                                {models
                                    .into_iter()
                                    .map(|m| {
                                        let selected = f.model.as_deref() == Some(m.as_str());
                                        option(m.clone(), m, selected)
                                    })
                                    .collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="fleet-firmware">"Firmware"</label>
                            <select id="fleet-firmware" name="firmware" on:change=change(|f, v| f.firmware = Some(v).filter(|v| !v.is_empty()))>
                                <option value="">"All firmware"</option>
                                {firmwares
                                    .into_iter()
                                    .map(|m| {
                                        let selected = f.firmware.as_deref() == Some(m.as_str());
                                        option(m.clone(), m, selected)
                                    })
                                    .collect_view()}
                            </select>
                        </div>
                    }
                }}
            </Transition>
            <noscript>
                <button type="submit">"Apply"</button>
            </noscript>
            {move || {
                let f = current.get();
                (f.narrows() || f.near.is_some())
                    .then(|| {
                        view! {
                            <a class="clear" href="/fleet">
                                "Clear filters"
                            </a>
                        }
                    })
            }}
        </form>
    }
}

#[component]
fn FleetResult(list: FleetList) -> impl IntoView {
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
    let filter = list.filter.clone();
    let distance = filter.near.is_some();
    view! {
        <div class="table-wrap">
            <table class="fleet">
                <thead>
                    <tr>
                        <SortHeader filter=filter.clone() key=SortKey::Name label="Device" />
                        <SortHeader filter=filter.clone() key=SortKey::Owner label="Owner" />
                        <SortHeader filter=filter.clone() key=SortKey::Status label="Status" />
                        <SortHeader filter=filter.clone() key=SortKey::LastSeen label="Last seen" />
                        <SortHeader filter=filter.clone() key=SortKey::Solar label="Solar" num=true />
                        <SortHeader filter=filter.clone() key=SortKey::Grid label="Grid" num=true />
                        {distance
                            .then(|| {
                                view! {
                                    <SortHeader
                                        filter=filter.clone()
                                        key=SortKey::Distance
                                        label="Distance"
                                        num=true
                                    />
                                }
                            })}
                    </tr>
                </thead>
                <tbody inner_html=rows_html(&list.rows, distance)></tbody>
            </table>
        </div>
        <Pager filter pages=list.pages />
    }
    .into_any()
}

/// A column header that sorts by its column; `aria-sort` tells screen readers the order.
#[component]
fn SortHeader(
    filter: FleetFilter,
    key: SortKey,
    label: &'static str,
    #[prop(optional)] num: bool,
) -> impl IntoView {
    let active = filter.sort == key;
    let sort = match (active, filter.desc) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    let arrow = match sort {
        "ascending" => " ▲",
        "descending" => " ▼",
        _ => "",
    };
    view! {
        <th scope="col" class:num=num aria-sort=sort>
            <a href=filter.sorted_by(key).href() class="sort">
                {label}
                <span aria-hidden="true">{arrow}</span>
            </a>
        </th>
    }
}

#[component]
fn Pager(filter: FleetFilter, pages: usize) -> impl IntoView {
    let page = filter.page;
    (pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                {(page > 1)
                    .then(|| {
                        view! {
                            <a href=filter.at_page(page - 1).href() rel="prev">
                                "← Previous"
                            </a>
                        }
                    })}
                <span aria-current="page">{format!("Page {page} of {pages}")}</span>
                {(page < pages)
                    .then(|| {
                        view! {
                            <a href=filter.at_page(page + 1).href() rel="next">
                                "Next →"
                            </a>
                        }
                    })}
            </nav>
        }
    })
}

/// Devices with owner, status, last contact and current power; cards on narrow screens.
/// The home pages use it without sorting.
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
                <tbody inner_html=rows_html(&rows, false)></tbody>
            </table>
        </div>
    }
}

/// The table's rows as one HTML string. They carry no event handlers (links are followed by
/// the router), and rendering 50 rows as views was most of a Fleet page's server time
/// (~16 µs a row); as a string it is a few hundred nanoseconds each. Every value is escaped.
fn rows_html(rows: &[FleetRow], distance: bool) -> String {
    use crate::ui::format::escape_html as esc;
    use std::fmt::Write;
    let mut html = String::with_capacity(rows.len() * 700);
    for row in rows {
        let id = esc(row.id.as_str());
        let _ = write!(
            html,
            "<tr data-device=\"{id}\"><td data-label=\"Device\"><a href=\"/devices/{id}\" class=\"device-link\">{}</a><span class=\"sub\">{} · {id}</span></td><td data-label=\"Owner\">{}</td><td data-label=\"Status\">",
            esc(&row.name),
            esc(&row.model),
            esc(&row.owner),
        );
        let (class, label) = match row.connectivity {
            Connectivity::Online => ("badge online", "online"),
            Connectivity::Offline => ("badge offline", "offline"),
            Connectivity::NeverSeen => ("badge never", "never seen"),
        };
        let _ = write!(html, "<span class=\"{class}\">{label}</span>");
        if let Some(code) = row.fault_code {
            let _ = write!(
                html,
                "<span class=\"badge fault\" title=\"{}\">fault E{code:02}</span>",
                esc(fault_label(code))
            );
        }
        let _ = write!(
            html,
            "</td><td data-label=\"Last seen\">{}</td><td data-label=\"Solar\" class=\"num\">{}</td><td data-label=\"Grid\" class=\"num\">{}</td>",
            esc(row.last_seen_ago.as_deref().unwrap_or("never")),
            watts(row.solar_w),
            watts(row.grid_w),
        );
        if distance {
            let d = row
                .distance_km
                .map(|d| {
                    if d < 10.0 {
                        format!("{d:.1} km")
                    } else {
                        format!("{d:.0} km")
                    }
                })
                .unwrap_or_else(|| "no location".into());
            let _ = write!(html, "<td data-label=\"Distance\" class=\"num\">{d}</td>");
        }
        html.push_str("</tr>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::model::DeviceId;

    fn row(name: &str, fault_code: Option<i64>) -> FleetRow {
        FleetRow {
            id: DeviceId::parse("SF-1-1").unwrap(),
            name: name.into(),
            owner: "Farm & Sons".into(),
            owner_id: "farm".into(),
            model: "P2".into(),
            firmware: String::new(),
            connectivity: Connectivity::Offline,
            fault_code,
            last_seen_ago: None,
            solar_w: Some(1250.0),
            grid_w: None,
            location: None,
            distance_km: Some(3.25),
        }
    }

    #[test]
    fn fleet_rows_escape_what_users_typed() {
        let html = rows_html(&[row("<script>alert(1)</script>", None)], false);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Farm &amp; Sons"));
    }

    #[test]
    fn fleet_rows_show_status_fault_power_and_distance() {
        let html = rows_html(&[row("Well 4", Some(5))], true);
        assert!(html.starts_with("<tr data-device=\"SF-1-1\">"), "{html}");
        assert!(html.contains("<a href=\"/devices/SF-1-1\" class=\"device-link\">Well 4</a>"));
        assert!(html.contains("<span class=\"badge offline\">offline</span>"));
        assert!(html.contains("title=\"Dry run (no water)\">fault E05</span>"));
        assert!(html.contains(">never</td>"));
        assert!(html.contains(">1.25 kW</td>"));
        assert!(html.contains(">—</td>"));
        assert!(html.contains(">3.2 km</td>") || html.contains(">3.3 km</td>"));
        assert_eq!(html.matches("<tr").count(), html.matches("</tr>").count());
    }
}
