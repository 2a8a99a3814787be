//! The page frame: header with the navigation of the signed-in persona, main content, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::accounts::model::{Me, Persona};
use crate::accounts::{whoami, SignOut};

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Once per page load: a sign-in or sign-out reloads the page.
    let me = OnceResource::new(async { whoami().await.ok().flatten() });
    provide_context::<super::MeResource>(me);
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
                    view! { <Nav me /> }
                })}
            </Suspense>
        </header>
        <main id="main">{children()}</main>
        <footer class="footer">"sunfleet — fleet cloud for solar motor and pump controllers"</footer>
    }
}

/// Links for what the persona may use, and who is signed in.
#[component]
fn Nav(me: Option<Me>) -> impl IntoView {
    let Some(me) = me else {
        return view! {
            <nav aria-label="Main">
                <ul>
                    <li>
                        <A href="/login">"Sign in"</A>
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
                                <A href=href exact=true>
                                    {label}
                                </A>
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
