//! Organisations page: admins see and change the whole tree; dealers see their customers
//! and create new ones under themselves.

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::{list_orgs, CreateOrg, DeleteOrg, MoveOrg, RenameOrg};
use super::model::{OrgKind, OrgView};
use crate::accounts::model::Persona;
use crate::ui::{ActionError, ErrorBox, Loading};

#[component]
pub fn OrgsPage() -> impl IntoView {
    let me = crate::ui::use_me();
    let create = ServerAction::<CreateOrg>::new();
    let rename = ServerAction::<RenameOrg>::new();
    let moved = ServerAction::<MoveOrg>::new();
    let delete = ServerAction::<DeleteOrg>::new();
    let orgs = Resource::new(
        move || {
            (
                create.version().get(),
                rename.version().get(),
                moved.version().get(),
                delete.version().get(),
            )
        },
        |_| list_orgs(),
    );
    view! {
        <Title text="Organisations" />
        <section class="page">
            <header class="page-head">
                <h1>"Organisations"</h1>
            </header>
            <Transition fallback=|| view! { <Loading what="organisations" /> }>
                {move || Suspend::new(async move {
                    let persona = me.await.map(|m| m.persona);
                    let (Some(persona), Ok(list)) = (persona, orgs.await) else {
                        return view! { <ErrorBox error=crate::error::AppError::Unauthorized /> }
                            .into_any();
                    };
                    let admin = persona == Persona::Admin;
                    let creates = admin || persona == Persona::Dealer;
                    view! {
                        {creates.then(|| view! { <CreateForm create list=list.clone() admin /> })}
                        <ActionError action=rename />
                        <ActionError action=moved />
                        <ActionError action=delete />
                        <OrgTable list admin rename moved delete />
                    }
                        .into_any()
                })}
            </Transition>
        </section>
    }
}

#[component]
fn CreateForm(create: ServerAction<CreateOrg>, list: Vec<OrgView>, admin: bool) -> impl IntoView {
    // Parents an org can be created under: for admins any org but customers; for dealers
    // their own org (the first in their list).
    let parents: Vec<OrgView> = list
        .iter()
        .filter(|o| o.kind != OrgKind::Customer)
        .take(if admin { usize::MAX } else { 1 })
        .cloned()
        .collect();
    let kinds: Vec<OrgKind> = if admin {
        vec![OrgKind::Customer, OrgKind::Dealer, OrgKind::Partner]
    } else {
        vec![OrgKind::Customer]
    };
    view! {
        <details class="panel" open=list.len() <= 1>
            <summary>{if admin { "New organisation" } else { "New customer" }}</summary>
            <ActionForm action=create attr:class="form inline">
                <label for="org-name">"Name"</label>
                <input id="org-name" name="name" required maxlength="100" />
                <label for="org-kind">"Kind"</label>
                <select id="org-kind" name="kind">
                    {kinds
                        .into_iter()
                        .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
                        .collect_view()}
                </select>
                <label for="org-parent">"Under"</label>
                <select id="org-parent" name="parent">
                    <OrgOptions orgs=parents />
                </select>
                <button type="submit">"Create"</button>
            </ActionForm>
            <ActionError action=create />
        </details>
        {move || {
            create
                .value()
                .get()
                .and_then(Result::ok)
                .map(|o| {
                    view! { <p class="notice" role="status">{format!("Created {}.", o.name)}</p> }
                })
        }}
    }
}

#[component]
fn OrgTable(
    list: Vec<OrgView>,
    admin: bool,
    rename: ServerAction<RenameOrg>,
    moved: ServerAction<MoveOrg>,
    delete: ServerAction<DeleteOrg>,
) -> impl IntoView {
    let parents: Vec<(String, String)> = list
        .iter()
        .filter(|o| o.kind != OrgKind::Customer)
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect();
    view! {
        <div class="table-wrap">
            <table class="orgs">
                <thead>
                    <tr>
                        <th scope="col">"Organisation"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col" class="num">"Devices"</th>
                        <th scope="col" class="num">"Users"</th>
                        {admin.then(|| view! { <th scope="col">"Change"</th> })}
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|o| {
                            let parents = parents.clone();
                            view! {
                                <tr data-org=o.id.clone()>
                                    <td data-label="Organisation">
                                        <span style=format!("padding-left: {}em", o.depth)>
                                            {o.name.clone()}
                                        </span>
                                        <span class="sub">{o.id.clone()}</span>
                                    </td>
                                    <td data-label="Kind">{o.kind.label()}</td>
                                    <td data-label="Devices" class="num">{o.devices}</td>
                                    <td data-label="Users" class="num">{o.users}</td>
                                    {(admin && o.kind != OrgKind::Operator)
                                        .then(|| view! { <OrgEdit org=o.clone() parents rename moved delete /> })}
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn OrgEdit(
    org: OrgView,
    parents: Vec<(String, String)>,
    rename: ServerAction<RenameOrg>,
    moved: ServerAction<MoveOrg>,
    delete: ServerAction<DeleteOrg>,
) -> impl IntoView {
    let label = format!("Change {}", org.name);
    let (id1, id2, id3) = (org.id.clone(), org.id.clone(), org.id.clone());
    let (name, current_parent, own) = (org.name.clone(), org.parent.clone(), org.id.clone());
    view! {
        <td data-label="Change">
            <details>
                <summary aria-label=label>"Edit"</summary>
                <ActionForm action=rename attr:class="form inline">
                    <input type="hidden" name="id" value=id1 />
                    <label>
                        "Name" <input name="name" value=name required maxlength="100" />
                    </label>
                    <button type="submit">"Rename"</button>
                </ActionForm>
                <ActionForm action=moved attr:class="form inline">
                    <input type="hidden" name="id" value=id2 />
                    <label>
                        "Move under"
                        <select name="parent">
                            {parents
                                .into_iter()
                                .filter(|(id, _)| *id != own)
                                .map(|(id, name)| {
                                    let selected = current_parent.as_deref() == Some(id.as_str());
                                    view! {
                                        <option value=id selected=selected>
                                            {name}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <button type="submit">"Move"</button>
                </ActionForm>
                <ActionForm action=delete attr:class="form inline">
                    <input type="hidden" name="id" value=id3 />
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </details>
        </td>
    }
}

/// `<option>`s for choosing an org: "Name (Kind)", its id as the value.
#[component]
pub fn OrgOptions(orgs: Vec<OrgView>) -> impl IntoView {
    orgs.into_iter()
        .map(|o| {
            view! { <option value=o.id.clone()>{format!("{} ({})", o.name, o.kind.label())}</option> }
        })
        .collect_view()
}
