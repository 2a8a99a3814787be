//! The chart panel: controls (metrics, range, aggregation, type), the chart itself (ECharts
//! through charming, drawn in the browser), the data as CSV, and "save this chart". Its
//! configuration lives in the page's URL, so a chart can be bookmarked and shared.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use super::api::{load_chart, ChartData, SaveChart};
use super::model::{Agg, ChartConfig, ChartKind, Metric, Range, PRESETS};
use crate::ui::format::query_escape;
use crate::ui::{ActionError, AfterLoad, ErrorBox, Loading};

/// A chart of `device` (or, when `None`, of the fleet the URL names) whose settings are the
/// query string of the current page, `path`.
#[component]
pub fn ChartPanel(#[prop(into)] path: String, device: Option<String>) -> impl IntoView {
    let location = use_location();
    // A bookmarked or hand-edited link whose settings do not parse (a range that ends before
    // it starts, say) still shows a chart, the default one, and says why.
    let url_problem = Memo::new(move |_| {
        ChartConfig::parse_query(&location.search.try_get().unwrap_or_default())
            .err()
            .map(|e| e.to_string())
    });
    let device_fixed = device.clone();
    let config = Memo::new(move |_| {
        let mut c = ChartConfig::parse_query(&location.search.try_get().unwrap_or_default())
            .unwrap_or_default();
        if device_fixed.is_some() {
            c.device = device_fixed.clone();
            c.org = None;
        }
        c
    });
    // Charts are drawn in the browser, so their data is fetched there too (and labelled in
    // the browser's timezone for fleets), by an effect: effects never run on the server, so
    // the server neither waits for chart data nor renders anything the browser would not.
    let data = RwSignal::new(None::<Result<ChartData, crate::error::AppError>>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let query = config.get().to_query();
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        leptos::task::spawn_local(async move {
            let answer = load_chart(query, viewer_timezone()).await;
            // Only the latest request's answer is shown.
            if asked.try_get_value() == Some(mine) {
                data.set(Some(answer));
            }
        });
    });
    let path = StoredValue::new(path);
    let go = move |c: ChartConfig| {
        let mut c = c;
        if c.device.is_some() && path.get_value().starts_with("/devices/") {
            // The device is in the path already.
            c.device = None;
        }
        use_navigate()(
            &format!("{}?{}", path.get_value(), c.to_query()),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let save = ServerAction::<SaveChart>::new();
    view! {
        <section class="chart-panel" aria-label="Chart">
            // The controls take their state in the browser (`prop:`) and only act there, like
            // the chart itself: built there, right after hydration, they cost the server ~100
            // elements per page render.
            <AfterLoad>
                <Controls config go />
            </AfterLoad>
            {move || {
                url_problem
                    .get()
                    .map(|problem| {
                        view! {
                            <p class="error-box" role="alert">
                                {format!("This link's chart settings were not understood ({problem}); showing the default chart instead.")}
                            </p>
                        }
                    })
            }}
            // No Suspense: the server and the hydrating browser both start with "loading"
            // (the data is only ever fetched in the browser), so they agree.
            {move || match data.get() {
                None => view! { <Loading what="the chart" /> }.into_any(),
                Some(Ok(d)) => view! { <Plot data=d /> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error /> }.into_any(),
            }}
            <details class="panel">
                <summary>"Save this chart"</summary>
                <AfterLoad>
                <ActionForm action=save attr:class="form inline">
                    <input type="hidden" name="config" prop:value=move || config.get().to_query() />
                    <label for="chart-name">"Name"</label>
                    <input id="chart-name" name="name" required maxlength="100" placeholder="Solar this month" />
                    <button type="submit">"Save chart"</button>
                </ActionForm>
                <ActionError action=save />
                {move || {
                    save.value()
                        .get()
                        .and_then(Result::ok)
                        .map(|_| view! { <p class="notice" role="status">"Saved. It is on your home page."</p> })
                }}
                </AfterLoad>
            </details>
        </section>
    }
}

fn viewer_timezone() -> String {
    #[cfg(feature = "hydrate")]
    {
        crate::map::browser::browser_timezone()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// A change a control makes to the configuration, from the control's value.
type Edit = Box<dyn Fn(&mut ChartConfig, String) + Send + Sync>;

#[component]
fn Controls(
    config: Memo<ChartConfig>,
    go: impl Fn(ChartConfig) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let with = move |edit: Edit| {
        move |ev: leptos::ev::Event| {
            let mut c = config.get_untracked();
            edit(&mut c, event_target_value(&ev));
            go(c);
        }
    };
    let toggle = move |m: Metric| {
        move |_| {
            let mut c = config.get_untracked();
            if c.metrics.contains(&m) {
                if c.metrics.len() > 1 {
                    c.metrics.retain(|x| *x != m);
                }
            } else {
                c.metrics.push(m);
            }
            go(c);
        }
    };
    let custom = move || matches!(config.get().range, Range::Custom { .. });
    let (range_problem, set_range_problem) = signal(None::<String>);
    let (from_text, set_from_text) = signal(String::new());
    let (to_text, set_to_text) = signal(String::new());
    let apply_custom = move |_| {
        let (from, to) = (from_text.get_untracked(), to_text.get_untracked());
        let query = format!(
            "{}&from={}&to={}",
            config.get_untracked().to_query(),
            query_escape(&local_to_utc(&from)),
            query_escape(&local_to_utc(&to))
        );
        match ChartConfig::parse_query(&query) {
            Ok(c) => {
                set_range_problem.set(None);
                go(c);
            }
            Err(e) => set_range_problem.set(Some(e.to_string())),
        }
    };
    view! {
        <form class="chart-controls" on:submit=|ev| ev.prevent_default()>
            <fieldset class="metrics">
                <legend>"Metrics"</legend>
                {Metric::ALL
                    .into_iter()
                    .map(|m| {
                        view! {
                            <label class="check">
                                <input
                                    type="checkbox"
                                    prop:checked=move || config.get().metrics.contains(&m)
                                    on:change=toggle(m)
                                />
                                {format!("{} ({})", m.label(), m.unit())}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <div class="field">
                <label for="chart-range">"Range"</label>
                <select
                    id="chart-range"
                    on:change=with(Box::new(|c, v| {
                        if v != "custom" {
                            c.range = Range::Preset(v);
                        }
                    }))
                >
                    {PRESETS
                        .iter()
                        .map(|(key, label, _)| {
                            let key = *key;
                            view! {
                                <option
                                    value=key
                                    selected=move || config.get().range == Range::Preset(key.into())
                                >
                                    {format!("Last {label}")}
                                </option>
                            }
                        })
                        .collect_view()}
                    <option value="custom" selected=custom>
                        "Custom…"
                    </option>
                </select>
            </div>
            <div class="field">
                <label for="chart-from">"From"</label>
                <input id="chart-from" type="datetime-local" on:input=move |ev| set_from_text.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="chart-to">"To"</label>
                <input id="chart-to" type="datetime-local" on:input=move |ev| set_to_text.set(event_target_value(&ev)) />
            </div>
            <button type="button" class="secondary" on:click=apply_custom>
                "Show this range"
            </button>
            <div class="field">
                <label for="chart-agg">"Aggregation"</label>
                <select id="chart-agg" on:change=with(Box::new(|c, v| {
                    c.agg = Agg::ALL.into_iter().find(|a| a.as_str() == v).unwrap_or_default();
                }))>
                    {Agg::ALL
                        .into_iter()
                        .map(|a| {
                            view! {
                                <option value=a.as_str() selected=move || config.get().agg == a>
                                    {a.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="chart-type">"Chart"</label>
                <select id="chart-type" on:change=with(Box::new(|c, v| {
                    c.kind = ChartKind::ALL.into_iter().find(|k| k.as_str() == v).unwrap_or_default();
                }))>
                    {ChartKind::ALL
                        .into_iter()
                        .map(|k| {
                            view! {
                                <option value=k.as_str() selected=move || config.get().kind == k>
                                    {k.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </div>
        </form>
        {move || range_problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
    }
}

/// A `datetime-local` value (browser-local wall time) as RFC 3339 UTC; unparsable text is
/// passed on for the server to name.
pub fn local_to_utc(value: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        let ms = js_sys::Date::parse(value);
        if ms.is_finite() {
            return js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms))
                .to_iso_string()
                .as_string()
                .unwrap_or_default();
        }
    }
    value.to_string()
}

/// The chart, or a sentence when there is nothing to draw.
#[component]
fn Plot(data: ChartData) -> impl IntoView {
    if data.is_empty() {
        return view! {
            <p class="empty" data-testid="chart-empty">
                "No readings in this range. Pick a longer range, or check that the device has reported."
            </p>
        }
        .into_any();
    }
    let csv_href = format!("data:text/csv;charset=utf-8,{}", query_escape(&csv(&data)));
    let points = if data.days.is_empty() {
        data.times.len()
    } else {
        data.days.len()
    };
    let names = series_names(&data).join(",");
    let caption = format!(
        "{} · {} points · times in {}",
        data.title, points, data.timezone
    );
    let el = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        // Redrawn in the other palette when the system switches between light and dark.
        let dark = RwSignal::new(crate::map::browser::prefers_dark());
        let query = web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten());
        if let Some(query) = query {
            let listener = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
                dark.try_set(crate::map::browser::prefers_dark());
            });
            query.set_onchange(Some(listener.as_ref().unchecked_ref()));
            let kept = StoredValue::new_local(Some((query, listener)));
            on_cleanup(move || {
                kept.try_update_value(|kept| {
                    if let Some((query, _listener)) = kept.take() {
                        query.set_onchange(None);
                    }
                });
            });
        }
        let data = data.clone();
        Effect::new(move |_| {
            let Some(div) = el.get() else { return };
            let scheme = if dark.get() { "dark" } else { "light" };
            let data = data.clone();
            leptos::task::spawn_local(async move {
                if crate::map::browser::ensure_echarts().await.is_err() {
                    return;
                }
                draw(&div, &data);
                let _ = div.set_attribute("data-scheme", scheme);
            });
        });
    }
    view! {
        <figure class="chart">
            <div
                class="chart-canvas"
                node_ref=el
                id="chart-canvas"
                data-testid="chart"
                data-points=points.to_string()
                data-series=names
                role="img"
                aria-label=caption.clone()
            ></div>
            <figcaption>
                {caption}
                " · "
                <a href=csv_href download="sunfleet-chart.csv">
                    "Download CSV"
                </a>
            </figcaption>
        </figure>
    }
    .into_any()
}

fn series_names(data: &ChartData) -> Vec<String> {
    if data.days.is_empty() {
        data.lines
            .iter()
            .map(|l| data.line_name(l.metric))
            .collect()
    } else {
        vec![
            "Solar (kWh)".into(),
            "Grid (kWh)".into(),
            "Solar share (%)".into(),
        ]
    }
}

/// The data behind the chart, as CSV.
pub fn csv(data: &ChartData) -> String {
    use crate::devices::csv::line;
    if !data.days.is_empty() {
        let mut out = line(&["date", "solar_kwh", "grid_kwh", "solar_share_pct"]);
        for d in &data.days {
            out.push_str(&line(&[
                d.date.clone(),
                format!("{:.3}", d.solar_wh / 1000.0),
                format!("{:.3}", d.grid_wh / 1000.0),
                d.solar_share()
                    .map(|s| format!("{s:.1}"))
                    .unwrap_or_default(),
            ]));
        }
        return out;
    }
    let mut header = vec!["time_utc".to_string(), format!("time_{}", data.timezone)];
    header.extend(data.lines.iter().map(|l| {
        format!(
            "{}_{}",
            l.metric.as_str(),
            l.metric.unit().replace('°', "deg_")
        )
    }));
    let mut out = line(&header);
    for (i, t) in data.times.iter().enumerate() {
        let mut row = vec![
            t.to_rfc3339(),
            data.labels.get(i).cloned().unwrap_or_default(),
        ];
        row.extend(data.lines.iter().map(|l| {
            l.values
                .get(i)
                .copied()
                .flatten()
                .map(|v| format!("{v:.2}"))
                .unwrap_or_default()
        }));
        out.push_str(&line(&row));
    }
    out
}

/// Colours that read on light and dark backgrounds alike.
#[cfg(feature = "hydrate")]
fn colour(m: Metric) -> &'static str {
    match m {
        Metric::Solar => "#e0a100",
        Metric::Grid => "#3b82f6",
        Metric::Load => "#10b981",
        Metric::Rpm => "#a855f7",
        Metric::DcBus => "#0891b2",
        Metric::Temperature => "#ef4444",
    }
}

#[cfg(feature = "hydrate")]
fn draw(div: &web_sys::HtmlDivElement, data: &ChartData) {
    use charming::component::{Axis, Grid, Legend, Title};
    use charming::element::{
        AreaStyle, AxisLabel, AxisType, SplitLine, TextStyle, Tooltip, Trigger,
    };
    use charming::series::{Bar, Line};
    use charming::Chart;

    let dark = crate::map::browser::prefers_dark();
    let text = if dark { "#e6ebe8" } else { "#1d2421" };
    let label = || AxisLabel::new().color(text);
    let mut chart = Chart::new()
        .title(
            Title::new()
                .text(data.title.clone())
                .subtext(format!("times in {}", data.timezone))
                .text_style(TextStyle::new().color(text))
                .subtext_style(TextStyle::new().color(text)),
        )
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(
            Legend::new()
                .top(40)
                .text_style(TextStyle::new().color(text)),
        );
    if !data.days.is_empty() {
        let dates: Vec<String> = data.days.iter().map(|d| d.date.clone()).collect();
        chart = chart
            .grid(Grid::new().top(80).left(60).right(60).bottom(40))
            .x_axis(
                Axis::new()
                    .type_(AxisType::Category)
                    .data(dates)
                    .axis_label(label()),
            )
            .y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .name("kWh")
                    .axis_label(label()),
            )
            .y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .name("solar %")
                    .min(0)
                    .max(100)
                    .axis_label(label()),
            )
            .series(
                Bar::new()
                    .name("Solar (kWh)")
                    .stack("energy")
                    .item_style(charming::element::ItemStyle::new().color(colour(Metric::Solar)))
                    .data(
                        data.days
                            .iter()
                            .map(|d| d.solar_wh / 1000.0)
                            .collect::<Vec<_>>(),
                    ),
            )
            .series(
                Bar::new()
                    .name("Grid (kWh)")
                    .stack("energy")
                    .item_style(charming::element::ItemStyle::new().color(colour(Metric::Grid)))
                    .data(
                        data.days
                            .iter()
                            .map(|d| d.grid_wh / 1000.0)
                            .collect::<Vec<_>>(),
                    ),
            )
            .series(
                Line::new()
                    .name("Solar share (%)")
                    .y_axis_index(1)
                    .item_style(charming::element::ItemStyle::new().color(colour(Metric::Load)))
                    .data(
                        data.days
                            .iter()
                            .map(|d| d.solar_share())
                            .collect::<Vec<_>>(),
                    ),
            );
    } else {
        // One y axis per unit, in the order the metrics were chosen: the first on the
        // left, the second on the right, further ones stepped outwards on alternate sides.
        let mut units: Vec<&str> = Vec::new();
        for l in &data.lines {
            if !units.contains(&l.metric.unit()) {
                units.push(l.metric.unit());
            }
        }
        let step = 56;
        let left = 60 + step * (units.len().saturating_sub(1) / 2) as i64;
        let right = 60 + step * (units.len().saturating_sub(2).div_ceil(2)) as i64;
        chart = chart
            .grid(Grid::new().top(80).left(left).right(right).bottom(40))
            .x_axis(
                Axis::new()
                    .type_(AxisType::Category)
                    .data(data.labels.clone())
                    .axis_label(label()),
            );
        for (i, unit) in units.iter().enumerate() {
            let side = if i % 2 == 0 { "left" } else { "right" };
            // Grid lines from the first axis only: each axis' own would interleave.
            chart = chart.y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .name(*unit)
                    .position(side)
                    .offset((step * (i / 2) as i64) as f64)
                    .split_line(SplitLine::new().show(i == 0))
                    .axis_label(label()),
            );
        }
        for l in &data.lines {
            let axis = units
                .iter()
                .position(|u| *u == l.metric.unit())
                .unwrap_or(0);
            let mut line = Line::new()
                .name(data.line_name(l.metric))
                .show_symbol(false)
                .y_axis_index(axis as f64)
                .item_style(charming::element::ItemStyle::new().color(colour(l.metric)))
                .data(l.values.clone());
            match data.config.kind {
                ChartKind::Area => line = line.area_style(AreaStyle::new().opacity(0.25)),
                // Stacking adds solar and grid up to what was drawn in all; other metrics
                // (load already is that sum, rpm, volts, degrees) are drawn on their own.
                ChartKind::Stacked if matches!(l.metric, Metric::Solar | Metric::Grid) => {
                    line = line
                        .stack("power")
                        .area_style(AreaStyle::new().opacity(0.6))
                }
                _ => {}
            }
            chart = chart.series(line);
        }
    }
    let element: &web_sys::Element = div;
    crate::map::browser::echarts_dispose(element);
    let id = div.id();
    let _ = charming::WasmRenderer::new_opt(None, Some(380)).render(&id, &chart);
}

#[cfg(test)]
mod tests {
    use super::super::api::ChartLine;
    use super::*;
    use chrono::{TimeZone, Utc};

    fn fleet_chart(agg: Agg) -> ChartData {
        let t = |h| Utc.with_ymd_and_hms(2026, 10, 25, h, 0, 0).unwrap();
        ChartData {
            config: ChartConfig {
                metrics: vec![Metric::Solar, Metric::Temperature],
                agg,
                ..ChartConfig::default()
            },
            title: "Your fleet".into(),
            timezone: "Europe/Berlin".into(),
            from: t(0),
            to: t(2),
            resolution: Some(crate::telemetry::model::Resolution::Hour),
            times: vec![t(0), t(1)],
            // The autumn night's two 02:00s, told apart by their zones.
            labels: vec!["Oct 25 02:00 CEST".into(), "Oct 25 02:00 CET".into()],
            lines: vec![
                ChartLine {
                    metric: Metric::Solar,
                    values: vec![Some(1234.567), None],
                },
                ChartLine {
                    metric: Metric::Temperature,
                    values: vec![Some(21.5), Some(20.0)],
                },
            ],
            days: Vec::new(),
        }
    }

    #[test]
    fn a_time_series_downloads_with_utc_and_local_times_and_units() {
        let csv = csv(&fleet_chart(Agg::Avg));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "time_utc,time_Europe/Berlin,solar_W,temperature_deg_C",
                "2026-10-25T00:00:00+00:00,Oct 25 02:00 CEST,1234.57,21.50",
                // An empty bucket is an empty field, not a zero.
                "2026-10-25T01:00:00+00:00,Oct 25 02:00 CET,,20.00",
            ]
        );
    }

    #[test]
    fn fleet_lines_say_what_they_add_up() {
        let avg = fleet_chart(Agg::Avg);
        assert_eq!(avg.line_name(Metric::Solar), "Solar (W, fleet total)");
        assert_eq!(
            avg.line_name(Metric::Temperature),
            "Temperature (°C, fleet avg)"
        );
        let max = fleet_chart(Agg::Max);
        assert_eq!(max.line_name(Metric::Solar), "Solar (W, max of one device)");
        let mut device = fleet_chart(Agg::Avg);
        device.config.device = Some("SF-1".into());
        assert_eq!(device.line_name(Metric::Solar), "Solar (W)");
    }
}
