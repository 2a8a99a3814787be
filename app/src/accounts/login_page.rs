//! The sign-in page and the sign-out button.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::{Login, Logout};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || {
        query
            .try_with(|q| q.get("next"))
            .flatten()
            .unwrap_or_default()
    };
    // Someone already signed in has nothing to do here: send them on (server render only).
    #[cfg(feature = "ssr")]
    if crate::accounts::caller::current().is_some() {
        leptos_axum::redirect(&super::model::local_path(Some(&next())));
    }
    let action = ServerAction::<Login>::new();
    // A full page load after signing in, so every part of the page sees the new user.
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            let _ = window().location().set_href(&path);
        }
    });
    let error = move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    let pending = action.pending();

    view! {
        <Title text="Sign in" />
        <section class="page narrow">
            <h1>"Sign in"</h1>
            <ActionForm action attr:class="form" attr:aria-describedby="login-error">
                <input type="hidden" name="next" prop:value=next />
                <label for="email">"Email"</label>
                <input
                    id="email"
                    type="email"
                    name="email"
                    autocomplete="username"
                    maxlength="254"
                    required
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    type="password"
                    name="password"
                    autocomplete="current-password"
                    maxlength="256"
                    required
                />
                <p id="login-error" class="form-error" role="alert">
                    {error}
                </p>
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// Ends the session, then loads the sign-in page.
#[component]
pub fn SignOut() -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            let _ = window().location().set_href("/login");
        }
    });
    view! {
        <ActionForm action attr:class="signout">
            <button type="submit" class="link-button">
                "Sign out"
            </button>
        </ActionForm>
    }
}
