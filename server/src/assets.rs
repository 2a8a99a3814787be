//! The site built by cargo-leptos (WASM, JS, CSS, `public/`), embedded in the binary so that
//! the binary alone is the whole app.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

#[derive(rust_embed::Embed)]
#[folder = "$SUNFLEET_SITE_DIR"]
struct Site;

/// The embedded file at `path`, if any, honouring `If-None-Match` and serving the variant
/// cargo-leptos precompressed (`.br`, `.gz`) when the client accepts it.
pub fn response(path: &str, headers: &HeaderMap) -> Option<Response> {
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        return None;
    }
    let original = Site::get(path)?;
    let accepts = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (file, encoding) = [("br", ".br"), ("gzip", ".gz")]
        .iter()
        .filter(|(name, _)| accepts.split(',').any(|a| a.trim().starts_with(name)))
        .find_map(|(name, ext)| Site::get(&format!("{path}{ext}")).map(|f| (f, Some(*name))))
        .unwrap_or((original.clone(), None));
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let etag = HeaderValue::from_str(&etag).expect("BUG: hex etag is a valid header");
    // File names carry no hash, so browsers must revalidate; the ETag makes that a 304.
    let mut builder = Response::builder()
        .header(header::ETAG, etag.clone())
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::VARY, "accept-encoding");
    if let Some(encoding) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, encoding);
    }
    if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
        return Some(
            builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .expect("BUG: static response"),
        );
    }
    Some(
        builder
            .header(header::CONTENT_TYPE, original.metadata.mimetype())
            .body(Body::from(file.data.into_owned()))
            .expect("BUG: static response"),
    )
}

/// Whether the front end was built into this binary (the browser tests need it).
pub fn has_front_end() -> bool {
    Site::get("pkg/sunfleet.js").is_some() && Site::get("pkg/sunfleet.wasm").is_some()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
