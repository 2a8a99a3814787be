//! The History page: what happened, newest first, for the caller's whole scope or one
//! device or org, filtered by kind, severity and time. Every filter lives in the URL, so a
//! view is a link; "Older events" follows a cursor; "Export CSV" downloads the same view.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_navigate};

use super::api::history;
use super::model::{Category, HistoryEntry, HistoryFilter, Severity, KINDS};
use crate::charts::model::{Range, PRESETS};
use crate::ui::format::query_escape;
use crate::ui::{ErrorBox, Loading};

#[component]
pub fn HistoryPage() -> impl IntoView {
    let location = use_location();
    let query = move || location.search.get();
    let page = Resource::new(query, |q| history(q, None));
    let filter = Memo::new(move |_| HistoryFilter::parse_query(&query()).unwrap_or_default());
    view! {
        <Title text="History" />
        <section class="page">
            <header class="page-head">
                <h1>"History"</h1>
                <a
                    class="button secondary"
                    href=move || format!("/history.csv?{}", filter.get().first_page().to_query())
                    download="sunfleet-history.csv"
                >
                    "Export CSV"
                </a>
            </header>
            <Filters filter />
            <Transition fallback=|| view! { <Loading what="the history" /> }>
                {move || page.try_get().flatten().map(|r| match r {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(p) if p.entries.is_empty() => view! {
                        <p class="empty">
                            {if filter.get_untracked().before.is_some() {
                                "No older events in this range."
                            } else {
                                "No events match. Widen the time range or clear a filter."
                            }}
                        </p>
                        <Pager filter next=None />
                    }.into_any(),
                    Ok(p) => view! {
                        <EventTable entries=p.entries show_device=filter.get_untracked().device.is_none() />
                        <Pager filter next=p.next />
                    }.into_any(),
                })}
            </Transition>
            <p class="hint">
                "Times are the device's local time (UTC for events without a device). "
                {format!(
                    "A CSV export holds up to {} events; narrow the range for more.",
                    super::model::CSV_LIMIT
                )}
            </p>
        </section>
    }
}

/// "Back to newest" and "Older events" for the shown view.
#[component]
fn Pager(filter: Memo<HistoryFilter>, next: Option<String>) -> impl IntoView {
    let f = filter.get_untracked();
    let newest = f
        .before
        .is_some()
        .then(|| format!("/history?{}", f.first_page().to_query()));
    let older = next.map(|cursor| {
        let mut q = f.first_page().to_query();
        if !q.is_empty() {
            q.push('&');
        }
        format!("/history?{q}before={}", query_escape(&cursor))
    });
    view! {
        <nav class="pager" aria-label="History pages">
            {newest.map(|href| view! { <a href=href>"← Back to newest"</a> })}
            {older.map(|href| view! { <a href=href rel="next">"Older events →"</a> })}
        </nav>
    }
}

/// The filter form. Applying it navigates to the view's URL (from its newest event).
#[component]
fn Filters(filter: Memo<HistoryFilter>) -> impl IntoView {
    let orgs = Resource::new(|| (), |_| crate::orgs::org_names());
    let (problem, set_problem) = signal(None::<String>);
    let category = NodeRef::<leptos::html::Select>::new();
    let severity = NodeRef::<leptos::html::Select>::new();
    let device = NodeRef::<leptos::html::Input>::new();
    let org = NodeRef::<leptos::html::Select>::new();
    let range = NodeRef::<leptos::html::Select>::new();
    let from = NodeRef::<leptos::html::Input>::new();
    let to = NodeRef::<leptos::html::Input>::new();
    let (custom, set_custom) = signal(false);
    let navigate = use_navigate();
    Effect::new(move |_| set_custom.set(matches!(filter.get().range, Range::Custom { .. })));
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let select =
            |r: NodeRef<leptos::html::Select>| r.get().map(|e| e.value()).unwrap_or_default();
        let input =
            |r: NodeRef<leptos::html::Input>| r.get().map(|e| e.value()).unwrap_or_default();
        let mut parts = vec![
            format!("kind={}", query_escape(&select(category))),
            format!("severity={}", query_escape(&select(severity))),
            format!("device={}", query_escape(&input(device))),
            format!("org={}", query_escape(&select(org))),
        ];
        match select(range).as_str() {
            "custom" => {
                let utc = crate::charts::local_to_utc;
                parts.push(format!("from={}", query_escape(&utc(&input(from)))));
                parts.push(format!("to={}", query_escape(&utc(&input(to)))));
            }
            preset => parts.push(format!("range={}", query_escape(preset))),
        }
        match HistoryFilter::parse_query(&parts.join("&")) {
            Ok(f) => {
                set_problem.set(None);
                navigate(&format!("/history?{}", f.to_query()), Default::default());
            }
            Err(e) => set_problem.set(Some(e.to_string())),
        }
    };
    let f = move || filter.get();
    view! {
        <form class="form inline filters history-filters" role="search" on:submit=apply>
            <label for="h-kind">"Kind"</label>
            <select id="h-kind" node_ref=category>
                <option value="" selected=move || f().category.is_none()>"All kinds"</option>
                {Category::ALL.into_iter().map(|c| view! {
                    <option value=c.as_str() selected=move || f().category == Some(c) && f().kind.is_none()>
                        {c.label()}
                    </option>
                }).collect_view()}
                {Category::ALL.into_iter().map(|c| view! {
                    <optgroup label=format!("{}: one kind", c.label())>
                        {KINDS.iter().filter(move |(_, of)| *of == c).map(|(k, _)| view! {
                            <option value=*k selected=move || f().kind.as_deref() == Some(*k)>
                                {k.replace('_', " ")}
                            </option>
                        }).collect_view()}
                    </optgroup>
                }).collect_view()}
            </select>
            <label for="h-severity">"Severity"</label>
            <select id="h-severity" node_ref=severity>
                {Severity::ALL.into_iter().map(|s| {
                    let value = if s == Severity::Info { "" } else { s.as_str() };
                    view! {
                        <option value=value selected=move || f().severity.unwrap_or(Severity::Info) == s>
                            {s.filter_label()}
                        </option>
                    }
                }).collect_view()}
            </select>
            <label for="h-device">"Device"</label>
            <input
                id="h-device"
                node_ref=device
                placeholder="device id"
                maxlength="64"
                prop:value=move || f().device.unwrap_or_default()
            />
            <label for="h-org">"Organisation"</label>
            <select id="h-org" node_ref=org>
                <option value="">"All I can see"</option>
                <Suspense>
                    {move || Suspend::new(async move {
                        let selected = f().org.unwrap_or_default();
                        orgs.await.unwrap_or_default().into_iter().map(|(id, name)| {
                            let is = id == selected;
                            view! { <option value=id selected=is>{name}</option> }
                        }).collect_view()
                    })}
                </Suspense>
            </select>
            <label for="h-range">"Time"</label>
            <select id="h-range" node_ref=range on:change=move |ev| set_custom.set(event_target_value(&ev) == "custom")>
                {PRESETS.iter().map(|(key, label, _)| {
                    let key = *key;
                    view! {
                        <option value=key selected=move || f().range == Range::Preset(key.into())>
                            {format!("Last {label}")}
                        </option>
                    }
                }).collect_view()}
                <option value="custom" selected=move || matches!(f().range, Range::Custom { .. })>"Custom…"</option>
            </select>
            <Show when=move || custom.get()>
                <label for="h-from">"From"</label>
                <input id="h-from" type="datetime-local" node_ref=from required />
                <label for="h-to">"To"</label>
                <input id="h-to" type="datetime-local" node_ref=to required />
            </Show>
            <button type="submit">"Show"</button>
        </form>
        {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
    }
}

/// Events as a table (cards on phones).
#[component]
pub fn EventTable(entries: Vec<HistoryEntry>, show_device: bool) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="audit history">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        {show_device.then(|| view! { <th scope="col">"Device"</th> })}
                        <th scope="col">"Event"</th>
                        <th scope="col">"By"</th>
                    </tr>
                </thead>
                <tbody>
                    {entries.into_iter().map(|e| {
                        let category = e.category_label().to_string();
                        let device = show_device.then(|| {
                            let cell = e.device.clone().map(|d| {
                                let name = e.device_name.clone().filter(|n| !n.is_empty() && *n != d);
                                view! {
                                    <a href=format!("/devices/{d}")>{d.clone()}</a>
                                    {name.map(|n| view! { <span class="sub">{n}</span> })}
                                }
                            });
                            view! {
                                <td data-label="Device">
                                    {cell}
                                    {e.org_name.clone().map(|o| view! { <span class="sub">{o}</span> })}
                                </td>
                            }
                        });
                        view! {
                            <tr class=format!("sev-{}", e.severity) data-kind=e.kind.clone()>
                                <td data-label="Time">
                                    <time datetime=e.time.to_rfc3339()>{e.local_time.clone()}</time>
                                </td>
                                {device}
                                <td data-label="Event">
                                    <span class=format!("badge sev-{}", e.severity)>{e.severity.clone()}</span>
                                    <span class="sub-inline">{category}</span>
                                    " "
                                    {e.message.clone()}
                                </td>
                                <td data-label="By">{e.actor.clone().unwrap_or_else(|| "device / system".into())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
