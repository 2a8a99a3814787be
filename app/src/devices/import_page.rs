//! Importing devices from CSV: choose or paste a file, preview what each row will do (with
//! the reason for every bad row), then import the good rows.

use leptos::prelude::*;
use leptos_meta::Title;

use super::import::{ImportReport, RowAction, COLUMNS};
use super::manage::ImportDevices;
use crate::ui::ActionError;

#[component]
pub fn ImportPage() -> impl IntoView {
    let text = RwSignal::new(String::new());
    // Also the permission check: only those who may edit devices get this page.
    let orgs = Resource::new(|| (), |_| super::manage::device_orgs());
    let preview = ServerAction::<ImportDevices>::new();
    let commit = ServerAction::<ImportDevices>::new();
    let (file_problem, set_file_problem) = signal(None::<String>);
    let pick_file = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            set_file_problem.set(None);
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(t) => text.set(t.as_string().unwrap_or_default()),
                    Err(_) => set_file_problem.set(Some("The file could not be read.".into())),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, set_file_problem);
    };
    let run_preview = move |_| {
        commit.clear();
        preview.dispatch(ImportDevices {
            csv: text.get_untracked(),
            commit: "false".into(),
        });
    };
    let run_commit = move |_| {
        commit.dispatch(ImportDevices {
            csv: text.get_untracked(),
            commit: "true".into(),
        });
    };
    view! {
        <Title text="Import devices" />
        <section class="page">
            <nav class="crumbs" aria-label="Breadcrumb">
                <a href="/fleet">"Fleet"</a>
                " / "
                <span aria-current="page">"Import devices"</span>
            </nav>
            <header class="page-head">
                <h1>"Import devices from CSV"</h1>
            </header>
            <p>
                "The first line names the columns: " <code>{COLUMNS.join(",")}</code>
                ". Only " <code>"id"</code>
                " is required (and " <code>"name"</code>
                " for new devices). Known ids are updated, new ids registered; the owner is an organisation id or name. A file exported from the Fleet page imports back unchanged."
            </p>
            <Suspense>
                {move || Suspend::new(async move {
                    match orgs.await {
                        Ok(orgs) => {
                            let list = orgs
                                .into_iter()
                                .map(|(id, name)| format!("{id} ({name})"))
                                .collect::<Vec<_>>()
                                .join(", ");
                            view! { <p class="hint">"Organisations you can import into: " {list}</p> }
                                .into_any()
                        }
                        Err(error) => view! { <crate::ui::ErrorBox error /> }.into_any(),
                    }
                })}
            </Suspense>
            <div class="form stacked">
                <label for="import-file">"CSV file"</label>
                <input id="import-file" type="file" accept=".csv,text/csv" on:change=pick_file />
                <label for="import-text">"…or paste it here"</label>
                <textarea
                    id="import-text"
                    rows="8"
                    spellcheck="false"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
                <div class="buttons">
                    <button
                        type="button"
                        on:click=run_preview
                        disabled=move || text.get().trim().is_empty() || preview.pending().get()
                    >
                        {move || if preview.pending().get() { "Checking…" } else { "Preview" }}
                    </button>
                </div>
            </div>
            {move || file_problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
            <ActionError action=preview />
            <ActionError action=commit />
            {move || {
                commit
                    .value()
                    .get()
                    .and_then(Result::ok)
                    .map(|r| {
                        view! {
                            <p class="notice" role="status" data-testid="import-done">
                                {format!(
                                    "Imported: {} new, {} updated, {} unchanged, {} rows with errors (not imported).",
                                    r.created,
                                    r.updated,
                                    r.unchanged,
                                    r.errors,
                                )}
                                " " <a href="/fleet">"Back to the fleet"</a>
                            </p>
                            <ReportTable report=r />
                        }
                    })
            }}
            {move || {
                if commit.value().get().is_some_and(|r| r.is_ok()) {
                    return None;
                }
                preview
                    .value()
                    .get()
                    .and_then(Result::ok)
                    .map(|r| {
                        let good = r.created + r.updated;
                        view! {
                            <div class="panel" data-testid="import-preview">
                                <p>
                                    {format!(
                                        "Preview: {} new, {} to update, {} unchanged, {} with errors. Rows with errors are skipped; the others can be imported now.",
                                        r.created,
                                        r.updated,
                                        r.unchanged,
                                        r.errors,
                                    )}
                                </p>
                                <button
                                    type="button"
                                    on:click=run_commit
                                    disabled=move || good == 0 || commit.pending().get()
                                >
                                    {move || {
                                        if commit.pending().get() {
                                            "Importing…".to_string()
                                        } else {
                                            format!("Import {good} rows")
                                        }
                                    }}
                                </button>
                            </div>
                            <ReportTable report=r />
                        }
                    })
            }}
        </section>
    }
}

#[component]
fn ReportTable(report: ImportReport) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="fleet import">
                <thead>
                    <tr>
                        <th scope="col" class="num">"Line"</th>
                        <th scope="col">"Device"</th>
                        <th scope="col">"Result"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {report
                        .rows
                        .into_iter()
                        .map(|row| {
                            let class = format!("badge {}", match row.action {
                                RowAction::Create => "online",
                                RowAction::Update => "never",
                                RowAction::Unchanged => "offline",
                                RowAction::Error => "fault",
                            });
                            view! {
                                <tr data-action=row.action.label()>
                                    <td data-label="Line" class="num">{row.line}</td>
                                    <td data-label="Device" class="mono">{row.id}</td>
                                    <td data-label="Result"><span class=class>{row.action.label()}</span></td>
                                    <td data-label="Details">{row.detail}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
