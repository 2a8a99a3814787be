//! The signed-in user's account page (change password) and the page an invite or reset
//! link opens (set a password).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::manage::{AcceptLink, ChangePassword};
use crate::ui::ActionError;

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = crate::ui::use_me();
    let change = ServerAction::<ChangePassword>::new();
    view! {
        <Title text="Account" />
        <section class="page narrow">
            <h1>"Account"</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    me.await.map(|m| view! {
                        <p>{format!("{} · {}", m.name, m.email)}<br />
                           {format!("{} at {}", m.persona.label(), m.org_name)}</p>
                    })
                })}
            </Suspense>
            <h2>"Change password"</h2>
            <ActionForm action=change attr:class="form">
                <label for="current">"Current password"</label>
                <input id="current" type="password" name="current" autocomplete="current-password" required maxlength="256" />
                <label for="new">"New password (at least 10 characters)"</label>
                <input id="new" type="password" name="new" autocomplete="new-password" required minlength="10" maxlength="256" />
                <button type="submit">"Change password"</button>
            </ActionForm>
            <ActionError action=change />
            {move || {
                change.value().get().and_then(Result::ok).map(|_| view! {
                    <p class="notice" role="status">"Password changed. Your other sessions were signed out."</p>
                })
            }}
        </section>
    }
}

#[component]
pub fn WelcomePage() -> impl IntoView {
    let query = use_query_map();
    let token = move || {
        query
            .try_with(|q| q.get("token"))
            .flatten()
            .unwrap_or_default()
    };
    let accept = ServerAction::<AcceptLink>::new();
    view! {
        <Title text="Set your password" />
        <section class="page narrow">
            <h1>"Set your password"</h1>
            {move || match accept.value().get() {
                Some(Ok(email)) => view! {
                    <p class="notice" role="status">
                        {format!("Password set for {email}. ")}
                        <a href="/login">"Sign in"</a>
                    </p>
                }
                .into_any(),
                _ => view! {
                    <ActionForm action=accept attr:class="form">
                        <input type="hidden" name="token" prop:value=token />
                        <label for="password">"New password (at least 10 characters)"</label>
                        <input id="password" type="password" name="password" autocomplete="new-password" required minlength="10" maxlength="256" />
                        <button type="submit">"Set password"</button>
                    </ActionForm>
                    <ActionError action=accept />
                }
                .into_any(),
            }}
        </section>
    }
}
