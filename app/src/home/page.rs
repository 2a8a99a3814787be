//! The home page: one summary, shown the way each persona needs it.

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::home;
use super::model::{Counts, HomeSummary, OrgLine};
use crate::accounts::model::Persona;
use crate::devices::DeviceTable;
use crate::ui::format::kwh;
use crate::ui::{ErrorBox, Loading};

#[component]
pub fn HomePage() -> impl IntoView {
    let summary = Resource::new(|| (), |_| home());
    view! {
        <Title text="Home" />
        <section class="page">
            <Suspense fallback=|| view! { <Loading what="your fleet" /> }>
                {move || {
                    summary
                        .try_get()
                        .flatten()
                        .map(|result| match result {
                            Ok(summary) => view! { <Home summary /> }.into_any(),
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn Home(summary: HomeSummary) -> impl IntoView {
    let persona = summary.me.persona;
    let (title, orgs_title) = match persona {
        Persona::Admin => ("Fleet health across all organisations", "Organisations"),
        Persona::Partner => ("Your fleet", "Customers"),
        Persona::Dealer => ("Your customers' devices", "Your customers"),
        Persona::Customer => ("My devices", ""),
    };
    let attention_cut = summary.attention_total > summary.attention.len() as u64;
    view! {
        <header class="page-head">
            <h1>{title}</h1>
            <p class="count">{summary.me.org_name.clone()}</p>
        </header>
        <CountTiles counts=summary.counts.clone() />
        {(persona == Persona::Partner)
            .then(|| {
                view! {
                    <section class="panel" aria-labelledby="integrations">
                        <h2 id="integrations">"Integrations"</h2>
                        <p>
                            "Your systems read and steer these devices over HTTP with an API key ("
                            <code>"Authorization: Bearer sfk_…"</code> "). "
                            <a href="/keys">"Manage API keys"</a>
                            " · "
                            <a href="/api-docs">"API docs"</a>
                        </p>
                    </section>
                }
            })}
        <EnergyToday solar_wh=summary.solar_wh_today grid_wh=summary.grid_wh_today />
        <crate::charts::SavedCharts />
        {(persona == Persona::Customer)
            .then(|| {
                let rows = summary.devices.clone();
                view! {
                    <h2>"Devices"</h2>
                    {if rows.is_empty() {
                        view! { <p class="empty">"No devices yet."</p> }.into_any()
                    } else {
                        view! { <DeviceTable rows /> }.into_any()
                    }}
                }
            })}
        {(persona != Persona::Customer)
            .then(|| {
                view! {
                    <h2>"Devices needing attention"</h2>
                    {if summary.attention.is_empty() {
                        view! { <p class="empty">"Nothing needs attention: no faults, nothing offline."</p> }
                            .into_any()
                    } else {
                        view! {
                            <DeviceTable rows=summary.attention.clone() />
                            {attention_cut
                                .then(|| {
                                    view! {
                                        <p>
                                            {format!(
                                                "{} devices need attention in all; ",
                                                summary.attention_total,
                                            )}
                                            <a href="/fleet">"see the fleet"</a>
                                        </p>
                                    }
                                })}
                        }
                            .into_any()
                    }}
                    <h2>{orgs_title}</h2>
                    <OrgTable orgs=summary.orgs.clone() />
                }
            })}
    }
}

#[component]
fn CountTiles(counts: Counts) -> impl IntoView {
    view! {
        <ul class="tiles" aria-label="Device counts">
            <li>
                <strong>{counts.total}</strong>
                " devices"
            </li>
            <li class="online">
                <strong>{counts.online}</strong>
                " online"
            </li>
            <li class="offline">
                <strong>{counts.offline}</strong>
                " offline"
            </li>
            <li class="fault">
                <strong>{counts.faulted}</strong>
                " with a fault"
            </li>
            <li class="never">
                <strong>{counts.never_seen}</strong>
                " never seen"
            </li>
        </ul>
    }
}

#[component]
fn EnergyToday(solar_wh: f64, grid_wh: f64) -> impl IntoView {
    let total = solar_wh + grid_wh;
    let share = if total > 0.0 {
        format!("{:.0} % solar", 100.0 * solar_wh / total)
    } else {
        "no energy used yet today".to_string()
    };
    view! {
        <section class="energy" aria-labelledby="energy-title">
            <h2 id="energy-title">"Energy today"</h2>
            <p>
                <span class="solar">{format!("Solar {}", kwh(solar_wh))}</span>
                " · "
                <span class="grid">{format!("Grid {}", kwh(grid_wh))}</span>
                " · "
                <span>{share}</span>
            </p>
            <p class="hint">"Each device's own local day."</p>
        </section>
    }
}

#[component]
fn OrgTable(orgs: Vec<OrgLine>) -> impl IntoView {
    if orgs.is_empty() {
        return view! { <p class="empty">"No devices yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="orgs">
                <thead>
                    <tr>
                        <th scope="col">"Organisation"</th>
                        <th scope="col" class="num">"Devices"</th>
                        <th scope="col" class="num">"Online"</th>
                        <th scope="col" class="num">"Offline"</th>
                        <th scope="col" class="num">"Faults"</th>
                    </tr>
                </thead>
                <tbody>
                    {orgs
                        .into_iter()
                        .map(|o| {
                            view! {
                                <tr>
                                    <td data-label="Organisation">{o.name}</td>
                                    <td data-label="Devices" class="num">{o.counts.total}</td>
                                    <td data-label="Online" class="num">{o.counts.online}</td>
                                    <td data-label="Offline" class="num">{o.counts.offline}</td>
                                    <td data-label="Faults" class="num">{o.counts.faulted}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
