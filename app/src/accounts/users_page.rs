//! Users page: the users the caller manages, inviting new ones (a one-time link to hand
//! over), changing persona, org and access, and issuing password reset links.

use leptos::prelude::*;
use leptos_meta::Title;

use super::manage::{list_users, CreateUser, ResetLink, UpdateUser};
use super::model::{IssuedLink, Persona, UserView};
use crate::orgs::model::OrgView;
use crate::orgs::OrgOptions;
use crate::ui::{ActionError, ErrorBox, Loading};

#[component]
pub fn UsersPage() -> impl IntoView {
    let me = crate::ui::use_me();
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let reset = ServerAction::<ResetLink>::new();
    let users = Resource::new(
        move || (create.version().get(), update.version().get()),
        |_| list_users(),
    );
    let orgs = Resource::new(|| (), |_| crate::orgs::list_orgs());
    view! {
        <Title text="Users" />
        <section class="page">
            <header class="page-head">
                <h1>"Users"</h1>
            </header>
            <Transition fallback=|| view! { <Loading what="users" /> }>
                {move || Suspend::new(async move {
                    let me = me.await;
                    let (Some(me), Ok(users), Ok(orgs)) = (me, users.await, orgs.await) else {
                        return view! { <ErrorBox error=crate::error::AppError::Forbidden /> }
                            .into_any();
                    };
                    // Orgs the caller may place users in (the server checks again).
                    let orgs: Vec<OrgView> = match me.persona {
                        Persona::Admin => orgs,
                        Persona::Partner => {
                            orgs.into_iter().filter(|o| o.id == me.org_id).collect()
                        }
                        _ => orgs,
                    };
                    let personas: Vec<Persona> = Persona::ALL
                        .into_iter()
                        .filter(|p| orgs.iter().any(|o| o.kind == p.org_kind()))
                        .collect();
                    view! {
                        <InviteForm create orgs=orgs.clone() personas=personas.clone() />
                        <ActionError action=update />
                        <ActionError action=reset />
                        <LinkNotice link=Signal::derive(move || {
                            reset.value().get().and_then(Result::ok)
                        }) />
                        <UserTable users orgs personas update reset me_email=me.email />
                    }
                        .into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
fn InviteForm(
    create: ServerAction<CreateUser>,
    orgs: Vec<OrgView>,
    personas: Vec<Persona>,
) -> impl IntoView {
    view! {
        <details class="panel">
            <summary>"Invite a user"</summary>
            <ActionForm action=create attr:class="form inline">
                <label for="user-email">"Email"</label>
                <input id="user-email" type="email" name="email" required maxlength="254" />
                <label for="user-name">"Name"</label>
                <input id="user-name" name="name" required maxlength="100" />
                <label for="user-persona">"Persona"</label>
                <select id="user-persona" name="persona">
                    {personas
                        .into_iter()
                        .map(|p| view! { <option value=p.as_str()>{p.label()}</option> })
                        .collect_view()}
                </select>
                <label for="user-org">"Organisation"</label>
                <select id="user-org" name="org">
                    <OrgOptions orgs />
                </select>
                <p class="hint">"A customer user belongs to a customer, a dealer user to a dealer, and so on."</p>
                <button type="submit">"Invite"</button>
            </ActionForm>
            <ActionError action=create />
        </details>
        <LinkNotice link=Signal::derive(move || create.value().get().and_then(Result::ok)) />
    }
}

/// Shows a freshly issued link with the site's address, to copy and hand over.
#[component]
fn LinkNotice(#[prop(into)] link: Signal<Option<IssuedLink>>) -> impl IntoView {
    move || {
        link.get().map(|l| {
            let origin = window().location().origin().unwrap_or_default();
            let url = format!("{origin}{}", l.path);
            let what = if l.invite { "Invite link" } else { "Password reset link" };
            view! {
                <div class="notice" role="status">
                    <p>
                        {format!("{what} for {} (works once, until {}). Copy it now: it is not shown again.", l.email, l.expires)}
                    </p>
                    <input class="secret" readonly value=url aria-label=what />
                    {l.mailed.then(|| view! { <p>{format!("Also emailed to {}.", l.email)}</p> })}
                    {l.mail_error.clone().map(|e| view! { <p>{format!("Could not email it ({e}); hand it over yourself.")}</p> })}
                </div>
            }
        })
    }
}

#[component]
fn UserTable(
    users: Vec<UserView>,
    orgs: Vec<OrgView>,
    personas: Vec<Persona>,
    update: ServerAction<UpdateUser>,
    reset: ServerAction<ResetLink>,
    me_email: String,
) -> impl IntoView {
    if users.is_empty() {
        return view! { <p class="empty">"No users yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="users">
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Persona"</th>
                        <th scope="col">"Organisation"</th>
                        <th scope="col">"Last sign-in"</th>
                        <th scope="col">"Change"</th>
                    </tr>
                </thead>
                <tbody>
                    {users
                        .into_iter()
                        .map(|u| {
                            let me = u.email == me_email;
                            let state = if u.disabled {
                                Some("disabled")
                            } else if u.invited {
                                Some("invited")
                            } else {
                                None
                            };
                            let email = u.email.clone();
                            view! {
                                <tr data-user=email>
                                    <td data-label="User">
                                        {u.name.clone()}
                                        {state.map(|s| view! { <span class="badge offline">{s}</span> })}
                                        <span class="sub">{u.email.clone()}</span>
                                    </td>
                                    <td data-label="Persona">{u.persona.label()}</td>
                                    <td data-label="Organisation">{u.org_name.clone()}</td>
                                    <td data-label="Last sign-in">
                                        {u.last_login.clone().unwrap_or_else(|| "never".into())}
                                    </td>
                                    <td data-label="Change">
                                        <UserEdit
                                            user=u
                                            orgs=orgs.clone()
                                            personas=personas.clone()
                                            update
                                            reset
                                            me
                                        />
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

#[component]
fn UserEdit(
    user: UserView,
    orgs: Vec<OrgView>,
    personas: Vec<Persona>,
    update: ServerAction<UpdateUser>,
    reset: ServerAction<ResetLink>,
    me: bool,
) -> impl IntoView {
    let label = format!("Change {}", user.email);
    let (id, id2) = (user.id.clone(), user.id.clone());
    let (name, persona, org_id) = (user.name.clone(), user.persona, user.org_id.clone());
    let org_id2 = org_id.clone();
    let disabled = user.disabled;
    view! {
        <details>
            <summary aria-label=label>"Edit"</summary>
            <ActionForm action=update attr:class="form inline">
                <input type="hidden" name="id" value=id />
                <label>"Name" <input name="name" value=name required maxlength="100" /></label>
                <label>
                    "Persona"
                    <select name="persona" disabled=me>
                        {personas
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <option value=p.as_str() selected=p == persona>
                                        {p.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                {me.then(|| view! { <input type="hidden" name="persona" value=persona.as_str() /> })}
                <label>
                    "Organisation"
                    <select name="org" disabled=me>
                        {orgs
                            .into_iter()
                            .map(|o| {
                                let selected = o.id == org_id;
                                view! {
                                    <option value=o.id.clone() selected=selected>
                                        {o.name.clone()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                {me.then(|| view! { <input type="hidden" name="org" value=org_id2 /> })}
                <label class="check">
                    <input type="checkbox" name="disabled" checked=disabled disabled=me />
                    "Disabled"
                </label>
                <button type="submit">"Save"</button>
            </ActionForm>
            <ActionForm action=reset attr:class="form inline">
                <input type="hidden" name="id" value=id2 />
                <button type="submit">"Password reset link"</button>
            </ActionForm>
        </details>
    }
}
