//! Maps: the fleet on a map (clustered markers coloured by status, popups linking to the
//! device page, "show only this area" filtering the list), the location picker of the device
//! page (click the map, type coordinates, or use the browser's position) and "near me".
//! The server renders the containers; Leaflet runs only in the browser.

#[cfg(feature = "hydrate")]
pub(crate) mod browser;

use leptos::prelude::*;

use crate::devices::filter::FleetFilter;
#[cfg(feature = "hydrate")]
use crate::devices::filter::{Coordinates, SortKey};
use crate::devices::model::{Location, MapPoint, Marker, Tiles};
use crate::devices::{map_fleet, LocateDevice};
use crate::ui::format::{escape_html as escape, watts};
use crate::ui::{ActionError, ErrorBox};

/// The popup of a device marker.
pub fn popup_html(p: &MapPoint) -> String {
    format!(
        "<div class=\"popup\"><strong>{}</strong><br><span class=\"sub\">{}</span><br>{} · solar {} · grid {}<br><a href=\"/devices/{}\">Open device</a></div>",
        escape(&p.name),
        escape(p.id.as_str()),
        marker_label(p.marker),
        watts(p.solar_w),
        watts(p.grid_w),
        escape(p.id.as_str())
    )
}

fn marker_label(m: Marker) -> &'static str {
    match m {
        Marker::Online => "online",
        Marker::Offline => "offline",
        Marker::Fault => "fault",
        Marker::Never => "never seen",
    }
}

/// The devices of the Fleet filter (`search`, the URL query) on a map.
#[component]
pub fn FleetMapView(search: Signal<String>) -> impl IntoView {
    let data = Resource::new(move || search.get(), map_fleet);
    let el = NodeRef::<leptos::html::Div>::new();
    let (problem, set_problem) = signal(None::<String>);
    let (drawn, set_drawn) = signal(None::<usize>);
    // The visible area, as the map last reported it (south, west, north, east).
    let view_box = RwSignal::new(None::<[f64; 4]>);

    #[cfg(feature = "hydrate")]
    {
        let handles = StoredValue::new_local(None::<(leaflet::Map, browser::ClusterGroup)>);
        Effect::new(move |_| {
            let Some(Ok(fleet)) = data.get() else { return };
            let Some(div) = el.get() else { return };
            leptos::task::spawn_local(async move {
                if let Err(e) = browser::ensure_leaflet().await {
                    set_problem.set(Some(e));
                    return;
                }
                match draw(&div, handles, &fleet.points, &fleet.tiles, view_box) {
                    Ok(n) => set_drawn.set(Some(n)),
                    Err(e) => set_problem.set(Some(e)),
                }
            });
        });
        on_cleanup(move || {
            if let Some(Some((map, _))) = handles.try_get_value() {
                map.remove();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (set_problem, set_drawn, view_box);

    let only_here = move |_| {
        let Some([south, west, north, east]) = view_box.get_untracked() else {
            return;
        };
        let mut f = FleetFilter::parse_query(&search.get_untracked()).unwrap_or_default();
        f.bbox = Some(crate::devices::filter::BBox {
            south: south.max(-90.0),
            west: west.clamp(-180.0, 180.0),
            north: north.min(90.0),
            east: east.clamp(-180.0, 180.0),
        });
        f.page = 1;
        crate::devices::go(&f);
    };
    view! {
        <section class="map-panel" aria-label="Map of the devices">
            <div
                class="map"
                node_ref=el
                data-testid="fleet-map"
                data-markers=move || drawn.get().map(|n| n.to_string())
                role="region"
                aria-label="Map: markers are devices, coloured by status"
            ></div>
            <div class="map-foot">
                <p class="legend" aria-hidden="true">
                    <span class="pin pin-online"></span>
                    " online "
                    <span class="pin pin-offline"></span>
                    " offline "
                    <span class="pin pin-fault"></span>
                    " fault "
                    <span class="pin pin-never"></span>
                    " never seen"
                </p>
                <Transition>
                    {move || {
                        data.get()
                            .map(|r| match r {
                                Ok(m) => {
                                    let text = match (m.points.len(), m.unplaced) {
                                        (n, 0) => format!("{n} devices on the map"),
                                        (n, u) => format!("{n} devices on the map; {u} have no location yet"),
                                    };
                                    view! { <p class="count" data-testid="map-count">{text}</p> }.into_any()
                                }
                                Err(error) => view! { <ErrorBox error /> }.into_any(),
                            })
                    }}
                </Transition>
                <button type="button" class="secondary" on:click=only_here disabled=move || view_box.get().is_none()>
                    "Show only devices in this area"
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        </section>
    }
}

#[cfg(feature = "hydrate")]
fn draw(
    div: &web_sys::HtmlDivElement,
    handles: StoredValue<Option<(leaflet::Map, browser::ClusterGroup)>, LocalStorage>,
    points: &[MapPoint],
    tiles: &Tiles,
    view_box: RwSignal<Option<[f64; 4]>>,
) -> Result<usize, String> {
    use wasm_bindgen::JsValue;
    let (map, cluster) = match handles.get_value() {
        Some(h) => h,
        None => {
            let map = new_map(div, tiles)?;
            let cluster = browser::marker_cluster_group(&browser::object(&[
                ("chunkedLoading", JsValue::TRUE),
                ("showCoverageOnHover", JsValue::FALSE),
            ]));
            cluster.add_to(&map);
            let m = map.clone();
            let report = move || {
                let b = m.get_bounds();
                let (sw, ne) = (b.get_south_west(), b.get_north_east());
                view_box.set(Some([sw.lat(), sw.lng(), ne.lat(), ne.lng()]));
            };
            let r = report.clone();
            map.on_move_end(Box::new(move |_| r()));
            handles.set_value(Some((map.clone(), cluster.clone())));
            (map, cluster)
        }
    };
    cluster.clear_layers();
    let icons: Vec<(Marker, leaflet::Icon)> = [
        Marker::Online,
        Marker::Offline,
        Marker::Fault,
        Marker::Never,
    ]
    .into_iter()
    .map(|m| {
        let icon = browser::div_icon(&browser::object(&[
            (
                "className",
                JsValue::from_str(&format!("pin pin-{}", m.as_str())),
            ),
            ("iconSize", leaflet::Point::new(16.0, 16.0).into()),
            ("html", JsValue::from_str("")),
        ]));
        (m, icon)
    })
    .collect();
    let layers = js_sys::Array::new();
    let corners = js_sys::Array::new();
    for p in points {
        let at = leaflet::LatLng::new(p.lat, p.lon);
        let options = leaflet::MarkerOptions::new();
        if let Some((_, icon)) = icons.iter().find(|(m, _)| *m == p.marker) {
            options.set_icon(icon.clone());
        }
        options.set_title(p.name.clone());
        options.set_alt(format!("{} ({})", p.name, marker_label(p.marker)));
        let marker = leaflet::Marker::new_with_options(&at, &options);
        marker.bind_popup_with_options(&JsValue::from_str(&popup_html(p)), &JsValue::UNDEFINED);
        layers.push(&marker);
        corners.push(&at);
    }
    cluster.add_layers(&layers);
    if points.is_empty() {
        map.set_view(&leaflet::LatLng::new(39.0, -98.0), 3.0);
    } else {
        let bounds = leaflet::LatLngBounds::new_from_list(&corners);
        map.fit_bounds_with_options(
            &bounds,
            &browser::object(&[
                ("padding", js_sys::Array::of2(&24.into(), &24.into()).into()),
                ("maxZoom", 14.into()),
            ]),
        );
    }
    Ok(points.len())
}

#[cfg(feature = "hydrate")]
fn new_map(div: &web_sys::HtmlDivElement, tiles: &Tiles) -> Result<leaflet::Map, String> {
    let options = leaflet::MapOptions::new();
    let map = leaflet::Map::new_with_element(div, &options)
        .map_err(|_| "the map could not start".to_string())?;
    let tile_options = leaflet::TileLayerOptions::new();
    tile_options.set_attribution(tiles.attribution.clone());
    tile_options.set_max_zoom(19.0);
    leaflet::TileLayer::new_options(&tiles.url, &tile_options).add_to(&map);
    Ok(map)
}

/// "Near me": sorts the Fleet by distance from the browser's position.
#[component]
pub fn NearMeButton(search: Signal<String>) -> impl IntoView {
    let (problem, set_problem) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            set_busy.set(true);
            set_problem.set(None);
            leptos::task::spawn_local(async move {
                let found = browser::current_position().await;
                set_busy.set(false);
                match found
                    .and_then(|fix| Coordinates::new(fix.lat, fix.lon).map_err(|e| e.to_string()))
                {
                    Ok(at) => {
                        let mut f =
                            FleetFilter::parse_query(&search.get_untracked()).unwrap_or_default();
                        f.near = Some(at);
                        f.sort = SortKey::Distance;
                        f.desc = false;
                        f.page = 1;
                        crate::devices::go(&f);
                    }
                    Err(e) => set_problem.set(Some(e)),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (search, set_problem, set_busy);
    };
    view! {
        <button type="button" class="secondary" on:click=click disabled=busy>
            {move || if busy.get() { "Finding you…" } else { "Near me" }}
        </button>
        {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
    }
}

/// Sets a device's location: click the map, type coordinates, or use the browser's position
/// (its accuracy shown; nothing is saved until "Save location" is pressed).
#[component]
pub fn LocationPicker(
    id: String,
    current: Option<Location>,
    tiles: Tiles,
    locate: ServerAction<LocateDevice>,
) -> impl IntoView {
    let lat = RwSignal::new(
        current
            .as_ref()
            .map(|l| format!("{:.6}", l.lat))
            .unwrap_or_default(),
    );
    let lon = RwSignal::new(
        current
            .as_ref()
            .map(|l| format!("{:.6}", l.lon))
            .unwrap_or_default(),
    );
    let source = RwSignal::new("typed".to_string());
    let accuracy = RwSignal::new(None::<f64>);
    let (note, set_note) = signal(None::<String>);
    let (problem, set_problem) = signal(None::<String>);
    let (busy, set_busy) = signal(false);
    let el = NodeRef::<leptos::html::Div>::new();

    #[cfg(feature = "hydrate")]
    {
        let handles = StoredValue::new_local(None::<(leaflet::Map, leaflet::Marker)>);
        let tiles = tiles.clone();
        Effect::new(move |_| {
            let Some(div) = el.get() else { return };
            let tiles = tiles.clone();
            leptos::task::spawn_local(async move {
                if let Err(e) = browser::ensure_leaflet().await {
                    set_problem.set(Some(e));
                    return;
                }
                let Ok(map) = new_map(&div, &tiles) else {
                    set_problem.set(Some("the map could not start".into()));
                    return;
                };
                let start = Coordinates::parse(&lat.get_untracked(), &lon.get_untracked()).ok();
                let at = start.map_or(leaflet::LatLng::new(39.0, -98.0), |c| {
                    leaflet::LatLng::new(c.lat, c.lon)
                });
                map.set_view(&at, if start.is_some() { 14.0 } else { 3.0 });
                let marker = leaflet::Marker::new(&at);
                if start.is_some() {
                    marker.add_to(&map);
                }
                map.on_mouse_click(Box::new(move |e: leaflet::MouseEvent| {
                    let p = e.lat_lng();
                    lat.set(format!("{:.6}", p.lat()));
                    lon.set(format!("{:.6}", p.lng()));
                    source.set("map".into());
                    accuracy.set(None);
                    set_note.set(Some(
                        "Position taken from the map. Press Save location to keep it.".into(),
                    ));
                }));
                handles.set_value(Some((map, marker)));
            });
        });
        // Keep the marker where the fields say.
        Effect::new(move |_| {
            let (la, lo) = (lat.get(), lon.get());
            if let (Some((map, marker)), Ok(c)) =
                (handles.get_value(), Coordinates::parse(&la, &lo))
            {
                let at = leaflet::LatLng::new(c.lat, c.lon);
                marker.set_lat_lng(&at);
                if !map.has_layer(&marker) {
                    marker.add_to(&map);
                }
                map.pan_to(&at);
            }
        });
        on_cleanup(move || {
            if let Some(Some((map, _))) = handles.try_get_value() {
                map.remove();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&tiles, set_busy, set_note, set_problem);

    let use_my_position = move |_| {
        #[cfg(feature = "hydrate")]
        {
            set_busy.set(true);
            set_problem.set(None);
            set_note.set(None);
            leptos::task::spawn_local(async move {
                let found = browser::current_position().await;
                set_busy.set(false);
                match found {
                    Ok(fix) => {
                        lat.set(format!("{:.6}", fix.lat));
                        lon.set(format!("{:.6}", fix.lon));
                        source.set("geolocation".into());
                        accuracy.set(Some(fix.accuracy_m));
                        set_note.set(Some(format!(
                            "Your position, accurate to about {:.0} m. Check the marker, then press Save location.",
                            fix.accuracy_m
                        )));
                    }
                    Err(e) => set_problem.set(Some(e)),
                }
            });
        }
    };
    let typed = move |field: RwSignal<String>| {
        move |ev| {
            field.set(event_target_value(&ev));
            source.set("typed".into());
            accuracy.set(None);
        }
    };
    let saved = move || locate.value().get().is_some_and(|r| r.is_ok());
    view! {
        <div class="map small" node_ref=el data-testid="location-map" aria-label="Click the map to place the device"></div>
        <ActionForm action=locate attr:class="form location-form">
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="source" prop:value=move || source.get() />
            <input
                type="hidden"
                name="accuracy_m"
                prop:value=move || accuracy.get().map(|a| format!("{a:.1}")).unwrap_or_default()
            />
            <label for="loc-lat">"Latitude"</label>
            <input id="loc-lat" name="lat" inputmode="decimal" required prop:value=move || lat.get() on:input=typed(lat) />
            <label for="loc-lon">"Longitude"</label>
            <input id="loc-lon" name="lon" inputmode="decimal" required prop:value=move || lon.get() on:input=typed(lon) />
            <div class="buttons">
                <button type="button" class="secondary" on:click=use_my_position disabled=busy>
                    {move || if busy.get() { "Finding your position…" } else { "Use my location" }}
                </button>
                <button type="submit">"Save location"</button>
            </div>
        </ActionForm>
        <p class="hint" role="status" aria-live="polite">{move || note.get()}</p>
        {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        <ActionError action=locate />
        {move || saved().then(|| view! { <p class="notice" role="status">"Location saved."</p> })}
    }
}
