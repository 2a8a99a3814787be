//! sunfleet's Leptos application: shared types, pages and server functions.
//!
//! Built twice: with `ssr` into the server binary, with `hydrate` into the WASM front end.

#![recursion_limit = "256"]

pub mod accounts;
pub mod audit;
pub mod charts;
pub mod control;
pub mod devices;
pub mod error;
pub mod history;
pub mod home;
pub mod map;
pub mod orgs;
pub mod telemetry;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod db;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use accounts::{AccountPage, ApiDocsPage, KeysPage, LoginPage, UsersPage, WelcomePage};
use audit::AuditPage;
use charts::ChartsPage;
use devices::{DevicePage, FleetPage, ImportPage, RegisterPage};
use history::HistoryPage;
use home::HomePage;
use orgs::OrgsPage;
use ui::{Layout, NotFound};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    mark_hydrated();
    view! {
        <Stylesheet id="leptos" href="/pkg/sunfleet.css" />
        <Meta name="color-scheme" content="light dark" />
        <Meta name="description" content="sunfleet: see and steer your solar pump controllers" />
        <Title formatter=|page: String| format!("{page} · sunfleet") />
        <Router>
            <Layout>
                // Async SSR: the status code (a 404 for an unknown device) is only known once
                // the data is loaded, and it must be sent before the body.
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("fleet") view=FleetPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("charts") view=ChartsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("welcome") view=WelcomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("orgs") view=OrgsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("users") view=UsersPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("keys") view=KeysPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("history") view=HistoryPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("api-docs") view=ApiDocsPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("devices"), StaticSegment("new"))
                        view=RegisterPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("devices"), StaticSegment("import"))
                        view=ImportPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("devices"), ParamSegment("id"))
                        view=DevicePage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </Layout>
        </Router>
    }
}

/// Marks `<body data-hydrated>` once the browser has taken over, so tests (and people
/// debugging) can tell a live page from server HTML. Effects never run on the server.
fn mark_hydrated() {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
