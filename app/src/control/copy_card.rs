//! "Copy this schedule to other devices", under the schedule editor: choose devices as the
//! Fleet filters them (organisation, status, model, firmware, search text) or by a list of
//! ids, preview what changes, then copy.

use leptos::prelude::*;

use super::copy::{CopySchedule, PreviewCopy};
use crate::devices::filter::{FleetFilter, StatusFilter};
use crate::devices::model::FleetFacets;
use crate::ui::{ActionError, AfterLoad};

#[component]
pub fn CopyCard(id: String) -> impl IntoView {
    // The choices (the caller's orgs, models and firmware) are loaded when the section is
    // first opened: most visits never open it.
    let facets = RwSignal::new(None::<FleetFacets>);
    let load_facets = move |_| {
        if facets.get_untracked().is_none() {
            facets.set(Some(FleetFacets::default()));
            leptos::task::spawn_local(async move {
                let got = crate::devices::list_fleet(String::new()).await;
                facets.set(Some(got.map(|l| l.facets).unwrap_or_default()));
            });
        }
    };
    let preview = ServerAction::<PreviewCopy>::new();
    let copy = ServerAction::<CopySchedule>::new();
    let chosen = RwSignal::new(FleetFilter::default());
    let ids = RwSignal::new(String::new());
    let filter = move || chosen.get_untracked().to_query();
    // A select's value as a filter choice ("" is any).
    let pick = move |set: fn(&mut FleetFilter, Option<String>)| {
        move |ev: leptos::ev::Event| {
            let value = Some(event_target_value(&ev)).filter(|v| !v.is_empty());
            chosen.update(|f| set(f, value));
        }
    };
    let options = |values: Vec<(String, String)>| {
        values
            .into_iter()
            .map(|(value, label)| view! { <option value=value>{label}</option> })
            .collect_view()
    };
    let facet = move |of: fn(FleetFacets) -> Vec<(String, String)>| {
        move || options(facets.get().map(of).unwrap_or_default())
    };
    let source = id.clone();
    let on_preview = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        copy.value().set(None);
        preview.dispatch(PreviewCopy {
            id: source.clone(),
            filter: filter(),
            ids: ids.get_untracked(),
        });
    };
    // A changed choice needs a new preview before copying.
    Effect::new(move |_| {
        chosen.track();
        ids.track();
        preview.value().set(None);
    });
    let on_copy = move |expect: usize| {
        copy.dispatch(CopySchedule {
            id: id.clone(),
            filter: filter(),
            ids: ids.get_untracked(),
            expect,
        });
    };
    view! {
        <details class="copy-schedule" on:toggle=load_facets>
            <summary>"Copy this schedule to other devices"</summary>
            <AfterLoad>
            <p class="hint">
                "Each device gets these windows in its own local time, as a new version, at its next post."
            </p>
            <form class="form inline" on:submit=on_preview.clone() aria-label="Devices to copy to">
                <label for="copy-org">"Organisation"</label>
                <select id="copy-org" on:change=pick(|f, v| f.org = v)>
                    <option value="">"Any"</option>
                    {facet(|f| f.orgs)}
                </select>
                <label for="copy-status">"Status"</label>
                <select id="copy-status" on:change=pick(|f, v| {
                    f.status = v.as_deref().and_then(StatusFilter::from_value)
                })>
                    <option value="">"Any"</option>
                    {options(
                        StatusFilter::ALL
                            .into_iter()
                            .map(|s| (s.as_str().to_string(), s.label().to_string()))
                            .collect(),
                    )}
                </select>
                <label for="copy-model">"Model"</label>
                <select id="copy-model" on:change=pick(|f, v| f.model = v)>
                    <option value="">"Any"</option>
                    {facet(|f| pairs(f.models))}
                </select>
                <label for="copy-firmware">"Firmware"</label>
                <select id="copy-firmware" on:change=pick(|f, v| f.firmware = v)>
                    <option value="">"Any"</option>
                    {facet(|f| pairs(f.firmwares))}
                </select>
                <label for="copy-q">"Search"</label>
                <input id="copy-q" placeholder="name, id, model…" maxlength="200"
                    on:input=move |ev| {
                        let q = event_target_value(&ev).trim().to_string();
                        chosen.update(|f| f.q = q);
                    } />
                <label for="copy-ids">"Or these device ids"</label>
                <textarea id="copy-ids" rows="2" placeholder="one per line or comma-separated"
                    on:input=move |ev| ids.set(event_target_value(&ev))></textarea>
                <button type="submit" class="secondary" disabled=move || preview.pending().get()>
                    {move || if preview.pending().get() { "Looking…" } else { "Preview" }}
                </button>
            </form>
            <ActionError action=preview />
            {let on_copy = on_copy.clone();
            move || preview.value().get().and_then(Result::ok).map(|p| {
                let changes = p.changes;
                let same = p.targets.len() - changes;
                view! {
                    <p role="status" class="copy-summary">
                        {format!(
                            "{changes} of {} change to: {}{}",
                            devices(p.targets.len()),
                            p.windows,
                            if same > 0 { format!(" ({same} already run it)") } else { String::new() }
                        )}
                    </p>
                    <div class="table-wrap">
                        <table class="audit copy-targets">
                            <thead>
                                <tr>
                                    <th scope="col">"Device"</th>
                                    <th scope="col">"Now"</th>
                                    <th scope="col">"After"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {p.targets.into_iter().map(|t| view! {
                                    <tr class=if t.unchanged { "unchanged" } else { "changes" }>
                                        <td data-label="Device">
                                            <a href=format!("/devices/{}", t.id)>{t.id.clone()}</a>
                                            <span class="sub">{format!("{} · {} · {}", t.name, t.owner, t.timezone)}</span>
                                        </td>
                                        <td data-label="Now">{format!("v{}: {}", t.version, t.before)}</td>
                                        <td data-label="After">
                                            {if t.unchanged { "unchanged".to_string() } else { format!("v{}", t.version + 1) }}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <button
                        type="button"
                        disabled=move || changes == 0 || copy.pending().get()
                        on:click={
                            let on_copy = on_copy.clone();
                            move |_| on_copy(changes)
                        }
                    >
                        {move || if copy.pending().get() {
                            "Copying…".to_string()
                        } else {
                            format!("Copy to {}", devices(changes))
                        }}
                    </button>
                }
            })}
            <ActionError action=copy />
            {move || copy.value().get().and_then(Result::ok).map(|n| view! {
                <p class="notice" role="status">
                    {format!("Copied to {}: each gets it at its next post.", devices(n))}
                </p>
            })}
            </AfterLoad>
        </details>
    }
}

/// "1 device", "3 devices".
fn devices(n: usize) -> String {
    if n == 1 {
        "1 device".into()
    } else {
        format!("{n} devices")
    }
}

/// Values that are their own labels.
fn pairs(values: Vec<String>) -> Vec<(String, String)> {
    values.into_iter().map(|v| (v.clone(), v)).collect()
}
