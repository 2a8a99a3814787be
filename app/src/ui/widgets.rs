//! Small components used on many pages.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::devices::model::Connectivity;
use crate::error::AppError;

/// Online / offline / never seen, plus the active fault if any. Colour is never the only cue:
/// the badge always carries its word.
#[component]
pub fn StatusBadge(connectivity: Connectivity, fault_code: Option<i64>) -> impl IntoView {
    let class = match connectivity {
        Connectivity::Online => "badge online",
        Connectivity::Offline => "badge offline",
        Connectivity::NeverSeen => "badge never",
    };
    view! {
        <span class=class>{connectivity.label()}</span>
        {fault_code.map(|code| {
            let label = crate::devices::model::fault_label(code);
            view! {
                <span class="badge fault" title=label>
                    {format!("fault E{code:02}")}
                </span>
            }
        })}
    }
}

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </p>
    }
}

#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    view! {
        <div class="error-box" role="alert">
            <strong>"Something went wrong. "</strong>
            {error.to_string()}
            <span class="code">{format!(" ({})", error.code())}</span>
        </div>
    }
}

/// The 404 page. On the server it also sets the response status, so that crawlers and
/// scripts see a real 404.
#[component]
pub fn NotFound(#[prop(optional, into)] what: Option<String>) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    let message = match &what {
        Some(w) => format!("There is no {w} here. It may have been removed, or the link is wrong."),
        None => "There is no page at this address.".to_string(),
    };
    view! {
        <Title text="Not found" />
        <section class="page not-found">
            <h1>"Not found"</h1>
            <p>{message}</p>
            <p>
                <a href="/fleet">"Back to the fleet"</a>
            </p>
        </section>
    }
}

/// The signed-in user, loaded once per page load by the layout.
pub type MeResource = OnceResource<Option<crate::accounts::model::Me>>;

/// The signed-in user as the layout loaded it; pages await it for persona-specific parts.
pub fn use_me() -> MeResource {
    expect_context::<MeResource>()
}

/// The error of an action's last run, announced to screen readers.
#[component]
pub fn ActionError<S>(action: ServerAction<S>) -> impl IntoView
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    view! {
        <p class="form-error" role="alert">
            {move || action.value().get().and_then(Result::err).map(|e| e.to_string())}
        </p>
    }
}

/// The child of a `Suspense` or `Transition` that shows `view` of what `resource` loads:
/// built once per server render, and again in the browser whenever the resource changes.
///
/// In a server render a boundary calls a child closure in each of its passes (two to find
/// what it waits for, one to render it), and the `Suspend` each call made built its whole
/// view again: three builds of every card of the Device page, 30 % of its CPU (perf). On the
/// server the child is therefore one `Suspend`, which the first pass that finds the data
/// builds and the later passes keep; in the browser it is a closure, re-run as the resource
/// changes. The two write the same HTML, so the browser hydrates one from the other.
pub fn awaiting<T>(
    resource: Resource<T>,
    view: impl Fn(T) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    #[cfg(feature = "ssr")]
    {
        Suspend::new(async move { view(resource.await) })
    }
    #[cfg(not(feature = "ssr"))]
    {
        move || {
            let view = view.clone();
            Suspend::new(async move { view(resource.await) })
        }
    }
}

/// What the server leaves out of a page: the body of a closed `<details>` panel, seen only
/// after a click and useful only with the app loaded. The server and the hydrating browser
/// both render nothing here, so they agree; the browser builds `children` right after
/// hydration (effects never run on the server). The Device page's closed panels (edit,
/// transfer, token, decommission, copy schedule, save chart) were a quarter of its markup,
/// each element costing server time on every request.
#[component]
pub fn AfterLoad(children: ChildrenFn) -> impl IntoView {
    let loaded = RwSignal::new(false);
    Effect::new(move |_| loaded.set(true));
    move || loaded.get().then(|| children())
}
