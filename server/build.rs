//! Points rust-embed at the site cargo-leptos builds (`target/site` in the workspace) and
//! makes the server rebuild whenever that site changes, so the binary never embeds a stale
//! front end. The folder is created if missing so `cargo test` works before any front-end
//! build (the binary then serves no WASM, which only the browser tests would notice).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let site = manifest.join("..").join("target").join("site");
    std::fs::create_dir_all(&site).expect("create target/site");
    let site = site.canonicalize().expect("canonical site path");
    println!("cargo:rustc-env=SUNFLEET_SITE_DIR={}", site.display());
    println!("cargo:rerun-if-changed={}", site.display());
    println!("cargo:rerun-if-changed=build.rs");
}
