//! The audit page (admins): who changed what, filtered by actor, org and time. Filters
//! live in the URL so a view can be bookmarked.

use chrono::{DateTime, NaiveDateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::audit_log;
use crate::ui::{ErrorBox, Loading};

/// `datetime-local` values are read as UTC (the page says so).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .ok()
        .map(|t| t.and_utc())
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.try_with(|q| q.get(k)).flatten().unwrap_or_default();
    let filters = move || (param("actor"), param("org"), param("from"), param("to"));
    let entries = Resource::new(filters, |(actor, org, from, to)| {
        audit_log(Some(actor), Some(org), parse_time(&from), parse_time(&to))
    });
    let orgs = Resource::new(|| (), |_| crate::orgs::org_names());
    view! {
        <Title text="Audit trail" />
        <section class="page">
            <header class="page-head">
                <h1>"Audit trail"</h1>
            </header>
            <form class="form inline filters" method="get" action="/audit" role="search">
                <label for="actor">"Actor"</label>
                <input id="actor" name="actor" placeholder="email or key prefix" prop:value=move || param("actor") maxlength="200" />
                <label for="org">"Organisation"</label>
                <select id="org" name="org">
                    <option value="">"All"</option>
                    <Suspense>
                        {move || Suspend::new(async move {
                            let selected = param("org");
                            orgs.await.unwrap_or_default().into_iter().map(|(id, name)| {
                                let is = id == selected;
                                view! { <option value=id selected=is>{name}</option> }
                            }).collect_view()
                        })}
                    </Suspense>
                </select>
                <label for="from">"From (UTC)"</label>
                <input id="from" name="from" type="datetime-local" prop:value=move || param("from") />
                <label for="to">"To (UTC)"</label>
                <input id="to" name="to" type="datetime-local" prop:value=move || param("to") />
                <button type="submit">"Filter"</button>
            </form>
            <p class="hint">"Times in UTC. Without a range: the last 30 days."</p>
            <Transition fallback=|| view! { <Loading what="the audit trail" /> }>
                {move || entries.try_get().flatten().map(|r| match r {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(list) if list.entries.is_empty() => view! {
                        <p class="empty">"No changes match."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table class="audit">
                                <thead>
                                    <tr>
                                        <th scope="col">"Time (UTC)"</th>
                                        <th scope="col">"Actor"</th>
                                        <th scope="col">"Change"</th>
                                        <th scope="col">"Organisation"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list.entries.into_iter().map(|e| view! {
                                        <tr>
                                            <td data-label="Time">{e.time}</td>
                                            <td data-label="Actor">{e.actor}</td>
                                            <td data-label="Change"><code>{e.kind}</code>" "{e.message}</td>
                                            <td data-label="Organisation">{e.org.unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        {list.more.then(|| view! {
                            <p>"Showing the latest 200; narrow the filter to see older ones."</p>
                        })}
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
