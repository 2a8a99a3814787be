//! The page frame: header with navigation, main content, footer.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/" aria-label="sunfleet home">
                <span class="brand-mark" aria-hidden="true">"☀"</span>
                "sunfleet"
            </a>
            <nav aria-label="Main">
                <ul>
                    <li>
                        <A href="/" exact=true>"Fleet"</A>
                    </li>
                </ul>
            </nav>
        </header>
        <main id="main">{children()}</main>
        <footer class="footer">"sunfleet — fleet cloud for solar motor and pump controllers"</footer>
    }
}
