//! "Copy this schedule to other devices", under the schedule editor: choose devices by
//! organisation, search text or a list of ids, preview what changes, then copy.

use leptos::prelude::*;

use super::copy::{CopySchedule, PreviewCopy};
use crate::ui::format::query_escape;
use crate::ui::ActionError;

#[component]
pub fn CopyCard(id: String) -> impl IntoView {
    // Loaded when the section is first opened: most visits never open it.
    let orgs = RwSignal::new(None::<Vec<(String, String)>>);
    let load_orgs = move |_| {
        if orgs.get_untracked().is_none() {
            orgs.set(Some(Vec::new()));
            leptos::task::spawn_local(async move {
                orgs.set(Some(crate::orgs::org_names().await.unwrap_or_default()));
            });
        }
    };
    let preview = ServerAction::<PreviewCopy>::new();
    let copy = ServerAction::<CopySchedule>::new();
    let org = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let ids = RwSignal::new(String::new());
    let filter = move || {
        let mut parts = Vec::new();
        if !org.get_untracked().is_empty() {
            parts.push(format!("org={}", query_escape(&org.get_untracked())));
        }
        if !search.get_untracked().trim().is_empty() {
            parts.push(format!("q={}", query_escape(search.get_untracked().trim())));
        }
        parts.join("&")
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
        org.track();
        search.track();
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
        <details class="copy-schedule" on:toggle=load_orgs>
            <summary>"Copy this schedule to other devices"</summary>
            <p class="hint">
                "Each device gets these windows in its own local time, as a new version, at its next post."
            </p>
            <form class="form inline" on:submit=on_preview aria-label="Devices to copy to">
                <label for="copy-org">"Organisation"</label>
                <select id="copy-org" on:change=move |ev| org.set(event_target_value(&ev))>
                    <option value="">"—"</option>
                    {move || orgs.get().unwrap_or_default().into_iter().map(|(id, name)| {
                        view! { <option value=id>{name}</option> }
                    }).collect_view()}
                </select>
                <label for="copy-q">"Search"</label>
                <input id="copy-q" placeholder="name, id, model…" maxlength="200"
                    on:input=move |ev| search.set(event_target_value(&ev)) />
                <label for="copy-ids">"Or these device ids"</label>
                <textarea id="copy-ids" rows="2" placeholder="one per line or comma-separated"
                    on:input=move |ev| ids.set(event_target_value(&ev))></textarea>
                <button type="submit" class="secondary" disabled=move || preview.pending().get()>
                    {move || if preview.pending().get() { "Looking…" } else { "Preview" }}
                </button>
            </form>
            <ActionError action=preview />
            {move || preview.value().get().and_then(Result::ok).map(|p| {
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
