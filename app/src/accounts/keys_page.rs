//! API keys page: partners create and revoke their org's keys, admins anyone's.

use leptos::prelude::*;
use leptos_meta::Title;

use super::keys_api::{list_keys, CreateKey, RevokeKey};
use super::model::{KeyView, Persona};
use crate::orgs::OrgOptions;
use crate::ui::{ActionError, ErrorBox, Loading};

#[component]
pub fn KeysPage() -> impl IntoView {
    let me = crate::ui::use_me();
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_keys(),
    );
    let orgs = Resource::new(|| (), |_| crate::orgs::list_orgs());
    view! {
        <Title text="API keys" />
        <section class="page">
            <header class="page-head">
                <h1>"API keys"</h1>
            </header>
            <p>
                "Keys let an integration read devices (scope read) and steer them (scope control) "
                "through sunfleet's HTTP API, with "
                <code>"Authorization: Bearer sfk_…"</code>
                ". A key acts for its organisation and everything under it."
            </p>
            <Transition fallback=|| view! { <Loading what="API keys" /> }>
                {move || Suspend::new(async move {
                    let (Some(me), Ok(keys), Ok(orgs)) = (me.await, keys.await, orgs.await) else {
                        return view! { <ErrorBox error=crate::error::AppError::Forbidden /> }
                            .into_any();
                    };
                    let orgs: Vec<_> = orgs
                        .into_iter()
                        .filter(|o| me.persona == Persona::Admin || o.id == me.org_id)
                        .collect();
                    view! {
                        <details class="panel" open=keys.is_empty()>
                            <summary>"New key"</summary>
                            <ActionForm action=create attr:class="form inline">
                                <label for="key-name">"Name"</label>
                                <input id="key-name" name="name" required maxlength="100" placeholder="ERP sync" />
                                <label for="key-org">"Organisation"</label>
                                <select id="key-org" name="org">
                                    <OrgOptions orgs />
                                </select>
                                <fieldset>
                                    <legend>"Scopes"</legend>
                                    <label class="check"><input type="checkbox" name="read" checked /> "read"</label>
                                    <label class="check"><input type="checkbox" name="control" /> "control"</label>
                                </fieldset>
                                <label for="key-days">"Expires after (days, empty: never)"</label>
                                <input id="key-days" name="expires_days" type="number" min="1" max="3650" />
                                <button type="submit">"Create key"</button>
                            </ActionForm>
                            <ActionError action=create />
                        </details>
                            {move || {
                                create.value().get().and_then(Result::ok).map(|k| {
                                    view! {
                                        <div class="notice" role="status">
                                            <p>{format!("Key {:?} created. Copy its secret now: it is not shown again.", k.name)}</p>
                                            <input class="secret" readonly value=k.secret aria-label="New key secret" />
                                        </div>
                                    }
                                })
                            }}
                        <ActionError action=revoke />
                        <KeyTable keys revoke />
                    }
                        .into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
fn KeyTable(keys: Vec<KeyView>, revoke: ServerAction<RevokeKey>) -> impl IntoView {
    if keys.is_empty() {
        return view! { <p class="empty">"No keys yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="keys">
                <thead>
                    <tr>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Organisation"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"State"</th>
                    </tr>
                </thead>
                <tbody>
                    {keys
                        .into_iter()
                        .map(|k| {
                            let label = format!("Revoke {}", k.name);
                            view! {
                                <tr data-key=k.prefix.clone()>
                                    <td data-label="Key">
                                        {k.name.clone()}
                                        <span class="sub">
                                            <code>{format!("{}…", k.prefix)}</code>
                                            {format!(" · created {} by {}", k.created, k.created_by)}
                                        </span>
                                    </td>
                                    <td data-label="Organisation">{k.org_name.clone()}</td>
                                    <td data-label="Scopes">{k.scopes.join(", ")}</td>
                                    <td data-label="Last used">{k.last_used.clone().unwrap_or_else(|| "never".into())}</td>
                                    <td data-label="Expires">{k.expires.clone().unwrap_or_else(|| "never".into())}</td>
                                    <td data-label="State">
                                        {match k.revoked.clone() {
                                            Some(at) => view! { <span>{format!("revoked {at}")}</span> }.into_any(),
                                            None => view! {
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="id" value=k.id.clone() />
                                                    <button type="submit" class="danger" aria-label=label>"Revoke"</button>
                                                </ActionForm>
                                            }
                                            .into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
