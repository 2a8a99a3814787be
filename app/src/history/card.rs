//! The device page's "Recent events" card: the device's last events and a link to its full
//! history.

use leptos::prelude::*;

use super::api::history;
use super::page::EventTable;
use crate::ui::format::query_escape;
use crate::ui::{ErrorBox, Loading};

/// Events the card shows.
const SHOWN: u32 = 10;

#[component]
pub fn RecentEvents(#[prop(into)] id: String) -> impl IntoView {
    let query = format!("device={}&range=1y", query_escape(&id));
    let full = format!("/history?device={}&range=1y", query_escape(&id));
    let events = Resource::new(move || query.clone(), |q| history(q, Some(SHOWN)));
    view! {
        <section class="card wide" aria-labelledby="events-h">
            <h2 id="events-h">"Recent events"</h2>
            <Transition fallback=|| view! { <Loading what="events" /> }>
                {move || events.try_get().flatten().map(|r| match r {
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
