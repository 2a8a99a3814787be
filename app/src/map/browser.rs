//! The browser side of maps: loading the vendored Leaflet and markercluster files on first
//! use (no other page pays for them), the few Leaflet calls leaflet-rs does not bind
//! (`L.divIcon`, `L.markerClusterGroup`, `addLayers`), and the browser's geolocation.
//! Hydrate-only.

use std::cell::Cell;

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// `L.divIcon(options)`: a marker drawn by CSS (leaflet-rs' `DivIcon` constructs an
    /// `L.Icon`, which needs an image).
    #[wasm_bindgen(js_namespace = L, js_name = divIcon)]
    pub fn div_icon(options: &JsValue) -> leaflet::Icon;

    /// leaflet.markercluster's group: markers near each other on screen become one cluster.
    #[wasm_bindgen(extends = leaflet::FeatureGroup, extends = leaflet::LayerGroup, extends = leaflet::Layer)]
    #[derive(Debug, Clone)]
    pub type ClusterGroup;

    #[wasm_bindgen(js_namespace = L, js_name = markerClusterGroup)]
    pub fn marker_cluster_group(options: &JsValue) -> ClusterGroup;

    /// Adds many markers at once; far faster than one `addLayer` each for thousands.
    #[wasm_bindgen(method, js_name = addLayers)]
    pub fn add_layers(this: &ClusterGroup, layers: &Array);
}

thread_local! {
    static LEAFLET_READY: Cell<bool> = const { Cell::new(false) };
    static ECHARTS_READY: Cell<bool> = const { Cell::new(false) };
}

#[wasm_bindgen]
extern "C" {
    /// `echarts.dispose(element)`: drops the chart drawn in `element`, so the next one starts
    /// clean (charming's update merges options, which would keep removed series).
    #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
    pub fn echarts_dispose(element: &web_sys::Element);
}

/// Loads ECharts (the "common" build: line and bar charts, tooltips, legends, zoom) once.
pub async fn ensure_echarts() -> Result<(), String> {
    if ECHARTS_READY.with(Cell::get) {
        return Ok(());
    }
    load_script("/vendor/echarts/echarts.common.min.js").await?;
    ECHARTS_READY.with(|r| r.set(true));
    Ok(())
}

/// Whether the browser prefers a dark colour scheme.
pub fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// The browser's IANA timezone, e.g. "America/Denver".
pub fn browser_timezone() -> String {
    let options =
        js_sys::Intl::DateTimeFormat::new(&Array::new(), &Object::new()).resolved_options();
    Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// Loads Leaflet and markercluster (scripts and styles) once per page life.
pub async fn ensure_leaflet() -> Result<(), String> {
    if LEAFLET_READY.with(Cell::get) {
        return Ok(());
    }
    for href in [
        "/vendor/leaflet/leaflet.css",
        "/vendor/markercluster/MarkerCluster.css",
        "/vendor/markercluster/MarkerCluster.Default.css",
    ] {
        add_style(href)?;
    }
    // markercluster extends `L`, so Leaflet must have run first.
    load_script("/vendor/leaflet/leaflet.js").await?;
    load_script("/vendor/markercluster/leaflet.markercluster.js").await?;
    LEAFLET_READY.with(|r| r.set(true));
    Ok(())
}

fn document() -> Result<web_sys::Document, String> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| "no document".to_string())
}

fn add_style(href: &str) -> Result<(), String> {
    let doc = document()?;
    if doc
        .query_selector(&format!("link[href='{href}']"))
        .ok()
        .flatten()
        .is_some()
    {
        return Ok(());
    }
    let link: web_sys::HtmlLinkElement = doc
        .create_element("link")
        .map_err(|_| "cannot create a link element")?
        .unchecked_into();
    link.set_rel("stylesheet");
    link.set_href(href);
    doc.head()
        .ok_or("no head")?
        .append_child(&link)
        .map_err(|_| "cannot add a stylesheet")?;
    Ok(())
}

async fn load_script(src: &str) -> Result<(), String> {
    let doc = document()?;
    let script: web_sys::HtmlScriptElement = doc
        .create_element("script")
        .map_err(|_| "cannot create a script element")?
        .unchecked_into();
    let done = Promise::new(&mut |resolve, reject| {
        script.set_onload(Some(&resolve));
        script.set_onerror(Some(&reject));
    });
    script.set_src(src);
    doc.head()
        .ok_or("no head")?
        .append_child(&script)
        .map_err(|_| "cannot add a script")?;
    JsFuture::from(done)
        .await
        .map(|_| ())
        .map_err(|_| format!("could not load {src}"))
}

/// A plain JS object from (key, value) pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// A position from the browser: latitude, longitude, accuracy in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

/// Asks the browser where it is (high accuracy, 20 s at most). Errors are sentences for
/// people, saying what to do instead.
pub async fn current_position() -> Result<Fix, String> {
    let geo = web_sys::window()
        .and_then(|w| w.navigator().geolocation().ok())
        .ok_or_else(|| {
            "This browser cannot tell its location; enter the coordinates instead.".to_string()
        })?;
    let options = web_sys::PositionOptions::new();
    options.set_enable_high_accuracy(true);
    options.set_timeout(20_000);
    options.set_maximum_age(0);
    let found = Promise::new(&mut |resolve, reject| {
        if geo
            .get_current_position_with_error_callback_and_options(&resolve, Some(&reject), &options)
            .is_err()
        {
            let _ = reject.call1(&JsValue::NULL, &JsValue::NULL);
        }
    });
    match JsFuture::from(found).await {
        Ok(position) => {
            let position: web_sys::Position = position.unchecked_into();
            let c = position.coords();
            Ok(Fix {
                lat: c.latitude(),
                lon: c.longitude(),
                accuracy_m: c.accuracy(),
            })
        }
        Err(error) => {
            // Read as a plain property: today's browsers throw a GeolocationPositionError,
            // which web-sys' `PositionError` (the old name) does not match as a class.
            let code = Reflect::get(&error, &JsValue::from_str("code"))
                .ok()
                .and_then(|c| c.as_f64())
                .unwrap_or(0.0) as u16;
            Err(match code {
                1 => "Location permission was denied. Allow it in the browser, or enter the coordinates instead.",
                3 => "The browser took too long to find its location; try again outside, or enter the coordinates.",
                _ => "The browser could not find its location; enter the coordinates instead.",
            }
            .to_string())
        }
    }
}
