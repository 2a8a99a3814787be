//! The schedule card of the Device page: sync state, a week grid where windows are drawn,
//! moved and resized with mouse or finger, and a form that does the same by keyboard.
//! Both edit one draft; it is checked as it changes (the same parser the server uses) and
//! saved as the next version.

use leptos::prelude::*;

use super::api::{get_schedule, SaveSchedule, ScheduleView};
use super::schedule::{
    templates, ActionSpec, LocalTime, Schedule, SyncState, WindowSpec, DAY_NAMES, MINUTES_PER_DAY,
};
use crate::ui::{awaiting, ActionError, AfterLoad, ErrorBox, Loading};

const DAY_LABELS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// Drawing and dragging snap to a quarter hour.
const SNAP: u16 = 15;

/// The card's data, made by the page itself rather than the card: in server rendering the
/// page's view is built several times per request (3× under `bench/pages.sh`), and a
/// resource made inside it was fetched each time.
#[derive(Clone, Copy)]
pub struct ScheduleData {
    save: ServerAction<SaveSchedule>,
    schedule: Resource<Result<ScheduleView, crate::error::AppError>>,
}

impl ScheduleData {
    /// The schedule of the device `id` names.
    pub fn new(id: impl Fn() -> String + Send + Sync + 'static) -> Self {
        let save = ServerAction::<SaveSchedule>::new();
        // Reload after a successful save only: a refused one keeps the draft next to the error.
        let saved = RwSignal::new(0usize);
        Effect::new(move |_| {
            if save.value().get().is_some_and(|r| r.is_ok()) {
                saved.update(|n| *n += 1);
            }
        });
        let schedule = Resource::new(move || (id(), saved.get()), |(id, _)| get_schedule(id));
        ScheduleData { save, schedule }
    }
}

#[component]
pub fn ScheduleCard(data: ScheduleData) -> impl IntoView {
    let ScheduleData { save, schedule } = data;
    view! {
        <section class="card schedule-card" aria-labelledby="schedule-h">
            <h2 id="schedule-h">"Run schedule"</h2>
            <Transition fallback=|| view! { <Loading what="the schedule" /> }>
                {awaiting(schedule, move |result| match result {
                    Ok(view) => view! { <Editor view save /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// One window of the draft. The key keeps a row's inputs (and focus) while others change.
#[derive(Clone, Copy)]
struct Row {
    key: u32,
    spec: RwSignal<WindowSpec>,
}

#[derive(Clone, Copy)]
struct Draft {
    rows: RwSignal<Vec<Row>>,
    next_key: StoredValue<u32>,
}

impl Draft {
    fn new(windows: &[WindowSpec]) -> Self {
        let draft = Draft {
            rows: RwSignal::new(Vec::new()),
            next_key: StoredValue::new(0),
        };
        draft.replace(windows);
        draft
    }

    fn row(&self, spec: WindowSpec) -> Row {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        Row {
            key,
            spec: RwSignal::new(spec),
        }
    }

    fn replace(&self, windows: &[WindowSpec]) {
        let rows = windows.iter().map(|w| self.row(w.clone())).collect();
        self.rows.set(rows);
    }

    fn push(&self, spec: WindowSpec) -> u32 {
        let row = self.row(spec);
        self.rows.update(|rows| rows.push(row));
        row.key
    }

    fn remove(&self, key: u32) {
        self.rows.update(|rows| rows.retain(|r| r.key != key));
    }

    fn specs(&self) -> Vec<WindowSpec> {
        self.rows
            .with(|rows| rows.iter().map(|r| r.spec.get()).collect())
    }

    fn find(&self, key: u32) -> Option<RwSignal<WindowSpec>> {
        self.rows
            .with_untracked(|rows| rows.iter().find(|r| r.key == key).map(|r| r.spec))
    }
}

fn sync_text(view: &ScheduleView) -> (&'static str, String) {
    match &view.sync {
        SyncState::NoSchedule => ("none", "No schedule yet: the device runs only by command.".into()),
        SyncState::InSync => (
            "in-sync",
            format!("In sync: the device runs version {}.", view.version),
        ),
        SyncState::Pending { since } => (
            "pending",
            format!(
                "Pending since {}: the device gets version {} at its next post{}.",
                since.clone().unwrap_or_else(|| "—".into()),
                view.version,
                view.reported
                    .map(|r| format!(" (it runs version {r})"))
                    .unwrap_or_default()
            ),
        ),
        SyncState::Drifted {
            reported,
            hash: None,
        } => (
            "drifted",
            format!(
                "Drifted: the device reports version {reported}, which was never set; it is sent version {} again.",
                view.version
            ),
        ),
        SyncState::Drifted {
            reported,
            hash: Some(hash),
        } => (
            "drifted",
            format!(
                "Drifted: the device reports version {reported} with hash {hash}, which is not what version {reported} holds (its windows were changed on the device); it is sent version {} again.",
                view.version
            ),
        ),
    }
}

#[component]
fn Editor(view: ScheduleView, save: ServerAction<SaveSchedule>) -> impl IntoView {
    let draft = Draft::new(&view.windows);
    let saved_windows = view.windows.clone();
    let (sync_class, sync_line) = sync_text(&view);
    let editable = view.editable;
    let device = view.device.clone();
    let base = view.version;
    let hash = |h: &Option<String>| {
        h.as_ref()
            .map(|h| format!(", hash {h}"))
            .unwrap_or_default()
    };
    let reported = match (view.reported, view.reported_at.clone()) {
        (Some(v), Some(at)) => format!("version {v}{} (reported {at})", hash(&view.reported_hash)),
        (Some(v), None) => format!("version {v}{}", hash(&view.reported_hash)),
        _ => "nothing yet".into(),
    };
    let updated = match (view.updated.clone(), view.updated_by.clone()) {
        (Some(at), Some(by)) => format!(
            "version {}{} saved {at} by {by}",
            view.version,
            hash(&view.hash)
        ),
        (Some(at), None) => format!("version {}{} saved {at}", view.version, hash(&view.hash)),
        _ => "never saved".into(),
    };
    let next_runs = view.next_runs.clone();
    view! {
        <p class=format!("sync sync-{sync_class}") role="status">
            {sync_line}
        </p>
        <dl class="facts">
            <dt>"Timezone"</dt>
            <dd>{view.timezone.clone()} " (windows are local times; change it under Manage)"</dd>
            <dt>"Desired"</dt>
            <dd>{updated}</dd>
            <dt>"Device runs"</dt>
            <dd>{reported}</dd>
        </dl>
        <WeekGrid draft editable />
        {(!next_runs.is_empty())
            .then(|| {
                view! {
                    <h3>"Next runs"</h3>
                    <ul class="next-runs">
                        {next_runs.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
                    </ul>
                }
            })}
        // The form's inputs take their values in the browser (`prop:`): rendered by the
        // server they were empty boxes until the app loaded, and ~150 elements built three
        // times per device page. It is built in the browser, right after hydration.
        {editable
            .then(|| {
                let (device, saved) = (StoredValue::new(device), StoredValue::new(saved_windows));
                view! {
                    <AfterLoad>
                        <ScheduleForm
                            draft
                            save
                            device=device.get_value()
                            base
                            saved_windows=saved.get_value()
                        />
                    </AfterLoad>
                }
            })}
        {(editable && base > 0).then(|| view! { <super::copy_card::CopyCard id=view.device.clone() /> })}
    }
}

/// The form for the draft (the keyboard's way to edit the schedule), with templates, the
/// check's message and the save.
#[component]
fn ScheduleForm(
    draft: Draft,
    save: ServerAction<SaveSchedule>,
    device: String,
    base: u64,
    saved_windows: Vec<WindowSpec>,
) -> impl IntoView {
    let check = Memo::new(move |_| Schedule::parse(&draft.specs()).map(|_| ()));
    let changed = {
        let saved_windows = saved_windows.clone();
        Memo::new(move |_| draft.specs() != saved_windows)
    };
    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if check.get_untracked().is_ok() {
            save.dispatch(SaveSchedule {
                id: device.clone(),
                windows: draft.specs(),
                base: Some(base),
                timezone: None,
            });
        }
    };
    let template = RwSignal::new(String::new());
    view! {
        <form class="schedule-form" on:submit=on_save aria-label="Schedule windows">
            <fieldset class="template-pick">
                <legend>"Start from a template"</legend>
                <label>
                    "Template "
                    <select
                        prop:value=move || template.get()
                        on:change=move |ev| template.set(event_target_value(&ev))
                    >
                        <option value="">"— choose —"</option>
                        {templates()
                            .into_iter()
                            .map(|(name, what, _)| {
                                view! { <option value=name>{format!("{name}: {what}")}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button
                    type="button"
                    class="secondary"
                    disabled=move || template.get().is_empty()
                    on:click=move |_| {
                        let name = template.get_untracked();
                        if let Some((_, _, windows)) = templates()
                            .into_iter()
                            .find(|(n, _, _)| *n == name)
                        {
                            draft.replace(&windows);
                        }
                    }
                >
                    "Use template"
                </button>
            </fieldset>
            <ol class="window-rows">
                <For
                    each=move || draft.rows.get()
                    key=|row| row.key
                    children=move |row| view! { <WindowRow row draft /> }
                />
            </ol>
            {move || {
                draft
                    .rows
                    .with(Vec::is_empty)
                    .then(|| {
                        view! {
                            <p class="empty">
                                "No windows: the device will not run by schedule."
                            </p>
                        }
                    })
            }}
            <p class="form-error" role="alert">
                {move || {
                    check
                        .get()
                        .err()
                        .map(|e| format!("Window {}: {}", e.window, e.message))
                }}
            </p>
            <ActionError action=save />
            <div class="form-actions">
                <button
                    type="button"
                    class="secondary"
                    on:click=move |_| {
                        draft
                            .push(WindowSpec {
                                days: DAY_NAMES[..5].iter().map(|d| d.to_string()).collect(),
                                start: "06:00".into(),
                                end: "10:00".into(),
                                action: ActionSpec {
                                    action: "run".into(),
                                    setpoint: None,
                                },
                            });
                    }
                >
                    "Add window"
                </button>
                <button
                    type="button"
                    class="secondary"
                    disabled=move || !changed.get()
                    on:click={
                        let saved_windows = saved_windows.clone();
                        move |_| draft.replace(&saved_windows)
                    }
                >
                    "Discard changes"
                </button>
                <button
                    type="submit"
                    disabled=move || {
                        check.get().is_err() || !changed.get() || save.pending().get()
                    }
                >
                    {move || {
                        if save.pending().get() { "Saving…" } else { "Save schedule" }
                    }}
                </button>
            </div>
        </form>
    }
}

#[component]
fn WindowRow(row: Row, draft: Draft) -> impl IntoView {
    let spec = row.spec;
    let n = move || {
        draft
            .rows
            .with(|rows| rows.iter().position(|r| r.key == row.key))
            .map_or(0, |i| i + 1)
    };
    let days = DAY_NAMES
        .iter()
        .zip(DAY_LABELS)
        .map(|(day, label)| {
            let on = move || spec.with(|s| s.days.iter().any(|d| d == day));
            view! {
                <label class="day-check">
                    <input
                        type="checkbox"
                        prop:checked=on
                        on:change=move |ev| {
                            let checked = event_target_checked(&ev);
                            spec.update(|s| {
                                s.days.retain(|d| d != day);
                                if checked {
                                    s.days.push(day.to_string());
                                    s.days
                                        .sort_by_key(|d| DAY_NAMES.iter().position(|n| n == d));
                                }
                            });
                        }
                    />
                    {label}
                </label>
            }
        })
        .collect_view();
    let is_setpoint = move || spec.with(|s| s.action.action == "setpoint");
    view! {
        <li class="window-row" data-key=row.key>
            <fieldset>
                <legend>{move || format!("Window {}", n())}</legend>
                <div class="days" role="group" aria-label="Days">
                    {days}
                </div>
                <TimeField label="Start " spec pick=|s| &mut s.start />
                <TimeField label="End " spec pick=|s| &mut s.end />
                <label>
                    "Action "
                    <select
                        prop:value=move || spec.with(|s| s.action.action.clone())
                        on:change=move |ev| {
                            let action = event_target_value(&ev);
                            spec.update(|s| {
                                s.action.setpoint = (action == "setpoint")
                                    .then(|| s.action.setpoint.unwrap_or(100));
                                s.action.action = action;
                            })
                        }
                    >
                        <option value="run">"Run (full speed)"</option>
                        <option value="setpoint">"Run at a setpoint"</option>
                    </select>
                </label>
                <Show when=is_setpoint>
                    <label>
                        "Setpoint (%) "
                        <input
                            type="number"
                            min="0"
                            max="100"
                            step="1"
                            inputmode="numeric"
                            prop:value=move || {
                                spec.with(|s| s.action.setpoint.map(|p| p.to_string()).unwrap_or_default())
                            }
                            on:change=move |ev| {
                                let value = event_target_value(&ev);
                                spec.update(|s| s.action.setpoint = value.trim().parse().ok())
                            }
                        />
                    </label>
                </Show>
                <button
                    type="button"
                    class="danger"
                    on:click=move |_| draft.remove(row.key)
                >
                    {move || format!("Remove window {}", n())}
                </button>
            </fieldset>
        </li>
    }
}

/// A local time of a window (its start or end, as `pick` chooses), as a time input.
#[component]
fn TimeField(
    label: &'static str,
    spec: RwSignal<WindowSpec>,
    pick: fn(&mut WindowSpec) -> &mut String,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input
                type="time"
                step="60"
                required
                prop:value=move || spec.with(|s| pick(&mut s.clone()).clone())
                on:change=move |ev| spec.update(|s| *pick(s) = event_target_value(&ev))
            />
        </label>
    }
}

/// A window's parts on the week: (day 0 = Monday, from, to) in minutes of that day. A window
/// that crosses midnight continues the next day (Sunday into Monday).
fn segments(spec: &WindowSpec) -> Vec<(usize, u16, u16)> {
    let (Ok(start), Ok(end)) = (LocalTime::parse(&spec.start), LocalTime::parse(&spec.end)) else {
        return Vec::new();
    };
    let (start, end) = (start.minutes(), end.minutes());
    let mut out = Vec::new();
    for (d, _) in DAY_NAMES
        .iter()
        .enumerate()
        .filter(|(_, n)| spec.days.iter().any(|d| d == *n))
    {
        if start < end {
            out.push((d, start, end));
        } else if start > end {
            out.push((d, start, MINUTES_PER_DAY));
            if end > 0 {
                out.push(((d + 1) % 7, 0, end));
            }
        }
    }
    out
}

fn hhmm(minutes: u16) -> String {
    let m = minutes.min(MINUTES_PER_DAY - 1);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The window's days moved by `by` days (Sunday wraps to Monday), in week order.
fn shift_days(days: &[String], by: i32) -> Vec<String> {
    let mut out: Vec<String> = DAY_NAMES
        .iter()
        .enumerate()
        .filter(|(_, n)| days.iter().any(|d| d == *n))
        .map(|(d, _)| DAY_NAMES[(d as i32 + by).rem_euclid(7) as usize].to_string())
        .collect();
    out.sort_by_key(|d| DAY_NAMES.iter().position(|n| n == d));
    out
}

/// Which part of a window the pointer went down on (found in the browser only).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Body,
    Start,
    End,
}

/// What a drag on the grid is doing.
#[derive(Clone, Copy, Debug)]
enum Drag {
    /// Drawing a new window (the row it became).
    Draw { key: u32, from: u16 },
    /// Moving a window: where it was grabbed (minute and day) and where it was.
    Move {
        key: u32,
        grab: u16,
        day: usize,
        start: u16,
        end: u16,
    },
    /// Dragging a window's start or end edge.
    Resize { key: u32, start: bool },
}

/// Where a pointer is along a day track, in minutes, snapped.
fn minute_at(ev: &leptos::ev::PointerEvent) -> Option<u16> {
    let fraction = track_fraction(ev)?;
    let minute = (fraction.clamp(0.0, 1.0) * MINUTES_PER_DAY as f64) as u16;
    Some(((minute + SNAP / 2) / SNAP * SNAP).min(MINUTES_PER_DAY))
}

/// The day track under the event. Found from the target, not `currentTarget`: Leptos
/// delegates events to the document, where `currentTarget` is not the track.
#[cfg(feature = "hydrate")]
fn track_of(ev: &leptos::ev::PointerEvent) -> Option<web_sys::Element> {
    use wasm_bindgen::JsCast;
    let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest(".week-track").ok().flatten()
}

#[cfg(feature = "hydrate")]
fn track_fraction(ev: &leptos::ev::PointerEvent) -> Option<f64> {
    let track = track_of(ev)?;
    let rect = track.get_bounding_client_rect();
    (rect.width() > 0.0).then(|| (ev.client_x() as f64 - rect.left()) / rect.width())
}

#[cfg(not(feature = "hydrate"))]
fn track_fraction(_: &leptos::ev::PointerEvent) -> Option<f64> {
    None
}

/// The `data-key` (and which part, by its grip) of what the pointer went down on.
#[cfg(feature = "hydrate")]
fn grabbed(ev: &leptos::ev::PointerEvent) -> Option<(u32, Part)> {
    use wasm_bindgen::JsCast;
    let el = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
    let key = el.get_attribute("data-key")?.parse().ok()?;
    let part = match el.get_attribute("data-grip").as_deref() {
        Some("start") => Part::Start,
        Some("end") => Part::End,
        _ => Part::Body,
    };
    Some((key, part))
}

#[cfg(not(feature = "hydrate"))]
fn grabbed(_: &leptos::ev::PointerEvent) -> Option<(u32, Part)> {
    None
}

/// The day whose track is level with the pointer (the track that captured it may not be,
/// when a window is dragged up or down the week).
#[cfg(feature = "hydrate")]
fn day_at(ev: &leptos::ev::PointerEvent) -> Option<usize> {
    // Across the middle of the tracks, so a day's label or the page margin does not count.
    let rect = track_of(ev)?.get_bounding_client_rect();
    let x = (rect.left() + rect.right()) / 2.0;
    let under = document().element_from_point(x as f32, ev.client_y() as f32)?;
    let day = under
        .closest(".week-track")
        .ok()??
        .get_attribute("data-day")?;
    DAY_NAMES.iter().position(|d| *d == day)
}

#[cfg(not(feature = "hydrate"))]
fn day_at(_: &leptos::ev::PointerEvent) -> Option<usize> {
    None
}

#[cfg(feature = "hydrate")]
fn capture(ev: &leptos::ev::PointerEvent) {
    if let Some(track) = track_of(ev) {
        let _ = track.set_pointer_capture(ev.pointer_id());
    }
}

#[cfg(not(feature = "hydrate"))]
fn capture(_: &leptos::ev::PointerEvent) {}

#[component]
fn WeekGrid(draft: Draft, editable: bool) -> impl IntoView {
    let drag = StoredValue::new(None::<Drag>);
    // The days of the window being moved, as they were when it was grabbed.
    let grabbed_days = StoredValue::new(Vec::<String>::new());
    let set_times = move |key: u32, start: u16, end: u16| {
        if let Some(spec) = draft.find(key) {
            spec.update(|s| {
                s.start = hhmm(start % MINUTES_PER_DAY);
                s.end = hhmm(end % MINUTES_PER_DAY);
            });
        }
    };
    let tracks = (0..7)
        .map(|day| {
            let bars = move || {
                draft
                    .rows
                    .get()
                    .into_iter()
                    .flat_map(|row| {
                        let spec = row.spec.get();
                        segments(&spec)
                            .into_iter()
                            .filter(|(d, _, _)| *d == day)
                            .map(move |(_, from, to)| (row.key, from, to, spec.clone()))
                            .collect::<Vec<_>>()
                    })
                    .map(|(key, from, to, spec)| {
                        let left = from as f64 * 100.0 / MINUTES_PER_DAY as f64;
                        let width = (to - from) as f64 * 100.0 / MINUTES_PER_DAY as f64;
                        let label = match spec.action.setpoint {
                            Some(p) => format!("{}–{} {p} %", spec.start, spec.end),
                            None => format!("{}–{}", spec.start, spec.end),
                        };
                        let title = label.clone();
                        // A window across midnight has two parts: its start's grip is on the
                        // first, its end's on the second.
                        let minutes = |t: &str| LocalTime::parse(t).map(LocalTime::minutes).ok();
                        let starts_here = editable && minutes(&spec.start) == Some(from);
                        let ends_here = editable
                            && minutes(&spec.end).map(|e| if e == 0 { MINUTES_PER_DAY } else { e })
                                == Some(to);
                        view! {
                            <div
                                class="win"
                                class:setpoint=spec.action.setpoint.is_some()
                                data-key=key
                                title=title
                                style=format!("left:{left:.3}%;width:{width:.3}%")
                            >
                                <span class="win-label" data-key=key>{label}</span>
                                {starts_here
                                    .then(|| {
                                        view! { <span class="grip grip-start" data-key=key data-grip="start"></span> }
                                    })}
                                {ends_here
                                    .then(|| {
                                        view! { <span class="grip grip-end" data-key=key data-grip="end"></span> }
                                    })}
                            </div>
                        }
                    })
                    .collect_view()
            };
            let down = move |ev: leptos::ev::PointerEvent| {
                if !editable {
                    return;
                }
                let Some(at) = minute_at(&ev) else { return };
                ev.prevent_default();
                capture(&ev);
                let next = match grabbed(&ev) {
                    Some((key, Part::Start)) => Drag::Resize { key, start: true },
                    Some((key, Part::End)) => Drag::Resize { key, start: false },
                    Some((key, Part::Body)) => {
                        let Some(spec) = draft.find(key) else { return };
                        let spec = spec.get_untracked();
                        grabbed_days.set_value(spec.days.clone());
                        let (Ok(s), Ok(e)) =
                            (LocalTime::parse(&spec.start), LocalTime::parse(&spec.end))
                        else {
                            return;
                        };
                        Drag::Move { key, grab: at, day, start: s.minutes(), end: e.minutes() }
                    }
                    None => {
                        let from = at.min(MINUTES_PER_DAY - SNAP);
                        let key = draft.push(WindowSpec {
                            days: vec![DAY_NAMES[day].to_string()],
                            start: hhmm(from),
                            end: hhmm(from + SNAP),
                            action: ActionSpec {
                                action: "run".into(),
                                setpoint: None,
                            },
                        });
                        Drag::Draw { key, from }
                    }
                };
                drag.set_value(Some(next));
            };
            let moved = move |ev: leptos::ev::PointerEvent| {
                let (Some(current), Some(at)) = (drag.get_value(), minute_at(&ev)) else {
                    return;
                };
                match current {
                    Drag::Draw { key, from } => {
                        let (a, b) = if at >= from { (from, at.max(from + SNAP)) } else { (at, from) };
                        set_times(key, a, b.min(MINUTES_PER_DAY));
                    }
                    Drag::Resize { key, start: edge } => {
                        if let Some(spec) = draft.find(key) {
                            let minutes = |t: &str| LocalTime::parse(t).map(LocalTime::minutes).unwrap_or(0);
                            let (start, end) = spec.with_untracked(|s| (minutes(&s.start), minutes(&s.end)));
                            // The other edge stays; an edge dropped on it would make it empty.
                            match edge {
                                true if at % MINUTES_PER_DAY != end => set_times(key, at, end),
                                false if at != start => set_times(key, start, at),
                                _ => {}
                            }
                        }
                    }
                    Drag::Move { key, grab, day: from_day, start, end } => {
                        let delta = at as i32 - grab as i32;
                        let shift = |m: u16| {
                            (m as i32 + delta).rem_euclid(MINUTES_PER_DAY as i32) as u16
                        };
                        set_times(key, shift(start), shift(end));
                        // Up or down the week: the window's days move with it. Each step is
                        // from where the drag began, so moving back undoes it.
                        let by = day_at(&ev).map_or(0, |d| d as i32 - from_day as i32);
                        let days = shift_days(&grabbed_days.get_value(), by);
                        if let Some(spec) = draft.find(key) {
                            if spec.with_untracked(|s| s.days != days) {
                                spec.update(|s| s.days = days);
                            }
                        }
                    }
                }
            };
            let up = move |_: leptos::ev::PointerEvent| drag.set_value(None);
            view! {
                <div class="week-day">
                    <span class="week-day-label">{DAY_LABELS[day]}</span>
                    <div
                        class="week-track"
                        class:editable=editable
                        data-day=DAY_NAMES[day]
                        on:pointerdown=down
                        on:pointermove=moved
                        on:pointerup=up
                        on:pointercancel=move |_| drag.set_value(None)
                    >
                        {bars}
                    </div>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="week-grid" role="group" aria-label="Week grid of the schedule">
            <div class="week-hours" aria-hidden="true">
                <span>"00"</span>
                <span>"06"</span>
                <span>"12"</span>
                <span>"18"</span>
                <span>"24"</span>
            </div>
            {tracks}
        </div>
        {editable
            .then(|| {
                view! {
                    <p class="hint">
                        "Drag along a day to draw a window; drag a window to move it (up or down to other days), its edges to change its start or end. The form below does the same by keyboard."
                    </p>
                }
            })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(days: &[&str], start: &str, end: &str) -> WindowSpec {
        super::super::schedule::test_window(days, start, end)
    }

    #[test]
    fn a_window_moved_down_the_week_keeps_its_days_apart_and_wraps_past_sunday() {
        let days = |d: &[&str]| d.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        assert_eq!(shift_days(&days(&["mon", "wed"]), 1), days(&["tue", "thu"]));
        assert_eq!(shift_days(&days(&["sat", "sun"]), 2), days(&["mon", "tue"]));
        assert_eq!(shift_days(&days(&["mon"]), -1), days(&["sun"]));
        assert_eq!(shift_days(&days(&["tue", "fri"]), 0), days(&["tue", "fri"]));
    }

    #[test]
    fn a_window_across_midnight_continues_the_next_day_and_sunday_wraps_to_monday() {
        assert_eq!(
            segments(&spec(&["sun"], "22:00", "02:00")),
            [(6, 1320, 1440), (0, 0, 120)]
        );
        assert_eq!(
            segments(&spec(&["tue", "thu"], "06:00", "10:00")),
            [(1, 360, 600), (3, 360, 600)]
        );
        assert_eq!(
            segments(&spec(&["mon"], "22:00", "00:00")),
            [(0, 1320, 1440)]
        );
        assert!(
            segments(&spec(&["mon"], "25:00", "02:00")).is_empty(),
            "bad times draw nothing"
        );
    }
}
