//! The page frame: header with the navigation of the signed-in persona, main content, footer.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::accounts::model::{Me, Persona};
use crate::accounts::{whoami, SignOut};

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Once per page load: a sign-in or sign-out reloads the page.
    let me = OnceResource::new(async { whoami().await.ok().flatten() });
    provide_context::<super::MeResource>(me);
    // Read here, not by the links: the server may build the header after the request has
    // ended (a boundary re-checks its children from an effect), when the router's context
    // is gone and `<A>` panics ("called use_resolved_path outside a <Router>", seen once
    // under load). The router follows plain links in the browser all the same.
    let path = use_location().pathname;
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/" aria-label="sunfleet home">
                <span class="brand-mark" aria-hidden="true">"☀"</span>
                "sunfleet"
            </a>
            <Suspense>
                {move || Suspend::new(async move {
                    let me = me.await;
                    view! { <Nav me path /> }
                })}
            </Suspense>
        </header>
        <main id="main">{children()}</main>
        <footer class="footer">"sunfleet — fleet cloud for solar motor and pump controllers"</footer>
    }
}

/// Links for what the persona may use, and who is signed in.
#[component]
fn Nav(me: Option<Me>, path: Memo<String>) -> impl IntoView {
    let Some(me) = me else {
        return view! {
            <nav aria-label="Main">
                <ul>
                    <li>
                        <NavLink href="/login" label="Sign in" path />
                    </li>
                </ul>
            </nav>
        }
        .into_any();
    };
    let links: Vec<(&str, &str)> = nav_links(me.persona);
    view! {
        <nav aria-label="Main">
            <ul>
                {links
                    .into_iter()
                    .map(|(href, label)| {
                        view! {
                            <li>
                                <NavLink href label path />
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
        <div class="whoami">
            <a class="who" href="/account" title=me.email.clone()>
                {me.name.clone()}
                <small>{format!("{} · {}", me.persona.label(), me.org_name)}</small>
            </a>
            <SignOut />
        </div>
    }
    .into_any()
}

/// A link of the bar, marked as the current page where the path is its own.
#[component]
fn NavLink(href: &'static str, label: &'static str, path: Memo<String>) -> impl IntoView {
    let current = move || path.with(|p| p.trim_end_matches('/') == href.trim_end_matches('/'));
    view! {
        <a href=href aria-current=move || current().then_some("page")>
            {label}
        </a>
    }
}

fn nav_links(persona: Persona) -> Vec<(&'static str, &'static str)> {
    let mut links = vec![
        ("/", "Home"),
        ("/fleet", "Fleet"),
        ("/charts", "Charts"),
        ("/history", "History"),
    ];
    match persona {
        Persona::Admin => links.extend([
            ("/orgs", "Organisations"),
            ("/users", "Users"),
            ("/keys", "API keys"),
            ("/audit", "Audit"),
            ("/api-docs", "API docs"),
        ]),
        Persona::Partner => links.extend([
            ("/users", "Users"),
            ("/keys", "API keys"),
            ("/api-docs", "API docs"),
        ]),
        Persona::Dealer => links.extend([("/orgs", "Customers"), ("/users", "Users")]),
        Persona::Customer => {}
    }
    links
}
