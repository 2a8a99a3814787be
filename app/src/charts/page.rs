//! The Charts page (a fleet, one org of it, or one device, over any range) and the list of
//! saved charts on the home page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use super::api::{list_charts, DeleteChart};
use super::model::ChartConfig;
use super::view::ChartPanel;
use crate::ui::{ActionError, ErrorBox};

#[component]
pub fn ChartsPage() -> impl IntoView {
    let location = use_location();
    let config = Memo::new(move |_| {
        ChartConfig::parse_query(&location.search.try_get().unwrap_or_default()).unwrap_or_default()
    });
    let orgs = Resource::new(|| (), |_| crate::orgs::org_names());
    let pick = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let mut c = config.get_untracked();
        c.device = None;
        c.org = Some(value).filter(|v| !v.is_empty());
        use_navigate()(
            &format!("/charts?{}", c.to_query()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    view! {
        <Title text="Charts" />
        <section class="page">
            <header class="page-head">
                <h1>"Charts"</h1>
                {move || {
                    config
                        .get()
                        .device
                        .map(|d| {
                            let href = format!("/devices/{d}");
                            view! {
                                <p class="count">
                                    "One device: " <a href=href>{d.clone()}</a> " · "
                                    <a href="/charts">"whole fleet"</a>
                                </p>
                            }
                        })
                }}
            </header>
            <Show when=move || config.get().device.is_none()>
                <div class="filters">
                    <div class="field">
                        <label for="chart-org">"Organisation"</label>
                        <select id="chart-org" on:change=pick>
                            <option value="">"Everything you see"</option>
                            <Transition>
                                {move || {
                                    orgs.get()
                                        .and_then(Result::ok)
                                        .map(|list| {
                                            list.into_iter()
                                                .map(|(id, name)| {
                                                    let selected = config.get().org.as_deref() == Some(id.as_str());
                                                    view! { <option value=id selected=selected>{name}</option> }
                                                })
                                                .collect_view()
                                        })
                                }}
                            </Transition>
                        </select>
                    </div>
                </div>
            </Show>
            {move || {
                let device = config.get().device;
                view! { <ChartPanel path="/charts" device /> }
            }}
        </section>
    }
}

/// The signed-in user's saved charts, with links to open them.
#[component]
pub fn SavedCharts() -> impl IntoView {
    let delete = ServerAction::<DeleteChart>::new();
    let charts = Resource::new(move || delete.version().get(), |_| list_charts());
    view! {
        <section class="panel" aria-labelledby="saved-charts">
            <h2 id="saved-charts">"Saved charts"</h2>
            <Transition>
                {move || {
                    charts
                        .get()
                        .map(|r| match r {
                            Ok(list) if list.is_empty() => {
                                view! {
                                    <p class="empty">
                                        "None yet. Open " <a href="/charts">"Charts"</a>
                                        " or a device, set up a chart and save it by name."
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(list) => {
                                view! {
                                    <ul class="saved-charts">
                                        {list
                                            .into_iter()
                                            .map(|c| {
                                                let href = c.href();
                                                view! {
                                                    <li>
                                                        <a href=href>{c.name.clone()}</a>
                                                        <ActionForm action=delete attr:class="inline-action">
                                                            <input type="hidden" name="id" value=c.id.clone() />
                                                            <button type="submit" class="link-button" aria-label=format!("Delete chart {}", c.name)>
                                                                "Delete"
                                                            </button>
                                                        </ActionForm>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                        })
                }}
            </Transition>
            <ActionError action=delete />
        </section>
    }
}
