//! The device page's "Recent events" card: the device's last events and a link to its full
//! history.

use leptos::prelude::*;

use super::api::history;
use super::model::HistoryPage;
use super::page::EventTable;
use crate::ui::format::query_escape;
use crate::ui::{awaiting, ErrorBox, Loading};

/// Events the card shows.
const SHOWN: u32 = 10;

/// The device's last events, fetched by the page (see `control::schedule_card::ScheduleData`).
pub type RecentData = Resource<Result<HistoryPage, crate::error::AppError>>;

/// The last events of the device `id` names.
pub fn recent_events(id: impl Fn() -> String + Send + Sync + 'static) -> RecentData {
    Resource::new(
        move || format!("device={}&range=1y", query_escape(&id())),
        |q| history(q, Some(SHOWN)),
    )
}

#[component]
pub fn RecentEvents(#[prop(into)] id: String, events: RecentData) -> impl IntoView {
    let full = format!("/history?device={}&range=1y", query_escape(&id));
    view! {
        <section class="card wide" aria-labelledby="events-h">
            <h2 id="events-h">"Recent events"</h2>
            <Transition fallback=|| view! { <Loading what="events" /> }>
                {awaiting(events, |result| match result {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(p) if p.entries.is_empty() => view! {
                        <p class="empty">"Nothing has happened to this device in the last year."</p>
                    }.into_any(),
                    Ok(p) => view! { <EventTable entries=p.entries show_device=false /> }.into_any(),
                })}
            </Transition>
            <p><a href=full>"Full history of this device →"</a></p>
        </section>
    }
}
