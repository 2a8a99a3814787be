//! The commands card of the Device page: send start, stop, set speed, reboot or sync
//! schedule, and watch each one go queued → delivered → acked (or failed, or expired). The
//! list refreshes every few seconds while a command is still open.

use leptos::prelude::*;

use super::command::{CommandView, DEFAULT_TTL_S, TTL_CHOICES};
use super::commands_api::{device_commands, CommandList, SendCommand};
use crate::ui::{awaiting, ActionError, ErrorBox, Loading};

/// How often an open command's state is looked at again.
const REFRESH_MS: u64 = 3_000;

/// The card's data, made by the page (see `ScheduleData`: a resource made inside the page's
/// view was fetched once per server-side build of it).
#[derive(Clone, Copy)]
pub struct CommandData {
    send: ServerAction<SendCommand>,
    tick: RwSignal<u32>,
    list: Resource<Result<CommandList, crate::error::AppError>>,
}

impl CommandData {
    /// The commands of the device `id` names.
    pub fn new(id: impl Fn() -> String + Send + Sync + 'static) -> Self {
        let send = ServerAction::<SendCommand>::new();
        let tick = RwSignal::new(0u32);
        let list = Resource::new(
            move || (id(), tick.get(), send.version().get()),
            |(id, _, _)| device_commands(id),
        );
        CommandData { send, tick, list }
    }
}

#[component]
pub fn CommandCard(data: CommandData) -> impl IntoView {
    let CommandData { send, tick, list } = data;
    // Live while something is open: poll (browser only; effects do not run on the server).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                let open = list.with_untracked(|l| {
                    l.as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .is_some_and(|l| l.commands.iter().any(|c| c.state.is_open()))
                });
                if open {
                    tick.update(|t| *t = t.wrapping_add(1));
                }
            },
            std::time::Duration::from_millis(REFRESH_MS),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <section class="card command-card" aria-labelledby="commands-h">
            <h2 id="commands-h">"Commands"</h2>
            <Transition fallback=|| view! { <Loading what="commands" /> }>
                {awaiting(list, move |result| match result {
                    Ok(list) => view! { <Commands list send /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Commands(list: CommandList, send: ServerAction<SendCommand>) -> impl IntoView {
    let device = list.device.clone();
    let timezone = list.timezone.clone();
    let form = list.may_send.then(|| view! { <SendForm device send /> });
    let rows = list.commands;
    view! {
        {form}
        {if rows.is_empty() {
            view! { <p class="empty">"No commands sent to this device yet."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="commands">
                        <caption>
                            {format!("Newest first; times in the device's timezone, {timezone}.")}
                        </caption>
                        <thead>
                            <tr>
                                <th scope="col">"#"</th>
                                <th scope="col">"Command"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Sent"</th>
                                <th scope="col">"Delivered"</th>
                                <th scope="col">"Finished"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows.into_iter().map(|c| view! { <CommandRow c /> }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
    }
}

#[component]
fn CommandRow(c: CommandView) -> impl IntoView {
    let state = c.state.as_str();
    let pending = if c.state.is_open() {
        format!("until {}", c.expires)
    } else {
        String::new()
    };
    view! {
        <tr class="command-row" data-state=state data-id=c.id>
            <td data-label="#" class="num">{c.id}</td>
            <td data-label="Command">
                {c.what}
                {c.note.map(|n| view! { <span class="sub">{n}</span> })}
            </td>
            <td data-label="State">
                <span class=format!("badge cmd-{state}")>{state}</span>
                <span class="sub">{pending}</span>
            </td>
            <td data-label="Sent">{c.created} <span class="sub">{c.created_by}</span></td>
            <td data-label="Delivered">{c.delivered.unwrap_or_else(|| "—".into())}</td>
            <td data-label="Finished">{c.finished.unwrap_or_else(|| "—".into())}</td>
        </tr>
    }
}

#[component]
fn SendForm(device: String, send: ServerAction<SendCommand>) -> impl IntoView {
    let speed = RwSignal::new("50".to_string());
    let ttl = RwSignal::new(DEFAULT_TTL_S.to_string());
    let dispatch = move |kind: &'static str, percent: Option<i64>| {
        send.dispatch(SendCommand {
            id: device.clone(),
            kind: kind.into(),
            percent,
            ttl_s: ttl.get_untracked().parse().ok(),
        });
    };
    let speed_value = move || {
        speed
            .get()
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|p| (0..=100).contains(p))
    };
    let button = {
        let dispatch = dispatch.clone();
        move |kind: &'static str, text: &'static str| {
            let dispatch = dispatch.clone();
            view! {
                <button
                    type="button"
                    class="secondary"
                    disabled=move || send.pending().get()
                    on:click=move |_| dispatch(kind, None)
                >
                    {text}
                </button>
            }
        }
    };
    view! {
        <form class="command-form" aria-label="Send a command" on:submit=|ev| ev.prevent_default()>
            <div class="form-actions">
                {button("start", "Start")}
                {button("stop", "Stop")}
                {button("reboot", "Reboot")}
                {button("sync_schedule", "Sync schedule")}
            </div>
            <div class="form-actions">
                <label>
                    "Speed (%) "
                    <input
                        type="number"
                        min="0"
                        max="100"
                        step="1"
                        inputmode="numeric"
                        prop:value=move || speed.get()
                        on:input=move |ev| speed.set(event_target_value(&ev))
                    />
                </label>
                <button
                    type="button"
                    disabled=move || send.pending().get() || speed_value().is_none()
                    on:click=move |_| {
                        if let Some(p) = speed_value() {
                            dispatch("set_speed", Some(p));
                        }
                    }
                >
                    "Set speed"
                </button>
                <label>
                    "Expires after "
                    <select
                        prop:value=move || ttl.get()
                        on:change=move |ev| ttl.set(event_target_value(&ev))
                    >
                        {TTL_CHOICES
                            .iter()
                            .map(|(s, text)| view! { <option value=s.to_string()>{*text}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <p class="hint">
                "The device gets a command with the answer to its next status post (about a minute) and acknowledges it; one it has not acknowledged when it expires is marked expired."
            </p>
            <ActionError action=send />
        </form>
    }
}
