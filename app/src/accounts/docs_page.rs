//! The API reference for integrators: how to authenticate and what to call. Static: the
//! endpoints are the server functions the pages use, answered in JSON.

use leptos::prelude::*;
use leptos_meta::Title;

/// (method and path, parameters, answer) of each endpoint a key may call.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "POST /api/fleet",
        "filter: the Fleet page's URL query, e.g. q=well&status=offline&org=…&model=…&firmware=…&sort=last_seen&dir=desc&page=2 (empty: everything, by name)",
        "{rows: [{id, name, owner, owner_id, model, firmware, connectivity, fault_code, last_seen_ago, solar_w, grid_w, location}], matched, total, pages, filter, facets}: 50 rows a page",
    ),
    (
        "GET /fleet.csv",
        "the same query string as filter above",
        "every matching device as CSV (id, name, owner, owner_name, model, firmware, status, fault_code, last_seen, solar_w, grid_w, lat, lon, timezone)",
    ),
    (
        "POST /api/fleet_map",
        "filter: as for /api/fleet",
        "{points: [{id, name, lat, lon, marker, solar_w, grid_w}], unplaced, tiles}",
    ),
    (
        "POST /api/device",
        "id: the device id",
        "the device with its latest status; 404 device_not_found outside your organisation",
    ),
    (
        "POST /api/series",
        "device (empty: your whole fleet), from and to (RFC 3339), resolution (raw, hour or day; optional)",
        "{points: [{t, count, metrics, energy_wh}], resolution, timezone}: at most 2,000 points; metrics per metric (solar_w, grid_w, load_w, motor_rpm, dc_bus_v, temperature_c) as {min, avg, max}, or one number where the three are equal (always for raw readings); energy_wh [solar, grid, load] for hour and day points",
    ),
    (
        "POST /api/home",
        "none",
        "device counts by state, devices needing attention, today's solar and grid energy",
    ),
    (
        "POST /api/orgs",
        "none",
        "your organisation and the ones under it",
    ),
];

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    view! {
        <Title text="API" />
        <section class="page">
            <h1>"HTTP API"</h1>
            <p>
                "Every call needs an API key of your organisation, created on the "
                <a href="/keys">"API keys"</a>
                " page, sent as "<code>"Authorization: Bearer sfk_…"</code>". A key with the "
                <code>"read"</code>" scope reads the devices of its organisation and everything under it; "
                <code>"control"</code>" also steers them."
            </p>
            <p>
                "Parameters go in a form-encoded POST body; answers are JSON. Errors are "
                <code>"{\"code\": \"…\", \"message\": \"…\"}"</code>
                " with 401 (no, unknown, revoked or expired key: api_key_invalid, api_key_revoked, "
                "api_key_expired), 403 (the key lacks the right), 404 (not in your organisation or "
                "does not exist), 422 (invalid parameters) or 429."
            </p>
            <pre class="example">
                "curl -H 'Authorization: Bearer sfk_…' -d 'filter=q%3Dwell' https://<this site>/api/fleet"
            </pre>
            <div class="table-wrap">
                <table class="audit">
                    <thead>
                        <tr>
                            <th scope="col">"Endpoint"</th>
                            <th scope="col">"Parameters"</th>
                            <th scope="col">"Answer"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {ENDPOINTS
                            .iter()
                            .map(|(endpoint, params, answer)| {
                                view! {
                                    <tr>
                                        <td data-label="Endpoint"><code>{*endpoint}</code></td>
                                        <td data-label="Parameters">{*params}</td>
                                        <td data-label="Answer">{*answer}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
