//! The web console at `/console/`: static files from `console/`, embedded in the binary at
//! build time (no build step, nothing fetched at run time), served with a strict
//! Content-Security-Policy. The console itself is a client of the JSON API, signed in with a
//! session (`super::session`).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::error::ApiError;
use super::extract::ApiPath;
use crate::state::AppState;

/// The console's policy: its own scripts, styles and API only; no inline script or style, no
/// eval, no framing, no plugin, no other origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// An embedded file: its path under `/console/`, media type and bytes.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

/// Embeds `console/<path>` with its media type.
macro_rules! assets {
    ($($path:literal => $media:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            media_type: $media,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console. A new file under `console/` is served once it is listed here.
static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "src/main.js" => JS,
    "src/api.js" => JS,
    "src/ui.js" => JS,
    "src/format.js" => JS,
    "src/callbacks.js" => JS,
    "src/customer/dashboard.js" => JS,
    "src/customer/send.js" => JS,
    "src/customer/history.js" => JS,
    "src/customer/detail.js" => JS,
    "src/customer/account.js" => JS,
    "src/customer/callbacks.js" => JS,
    "src/admin/customers.js" => JS,
    "src/admin/operators.js" => JS,
    "src/admin/dead_letters.js" => JS,
    "src/admin/callbacks.js" => JS,
    "vendor/preact.mjs" => JS,
    "vendor/hooks.mjs" => JS,
    "vendor/htm.mjs" => JS,
];

/// The routes of `/console/`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(|| async { serve("index.html") }))
        .route("/console/{*path}", get(asset))
        .layer(middleware::from_fn(security_headers))
}

async fn asset(ApiPath(path): ApiPath<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return ApiError::NotFound(format!("the console has no file {path:?}")).into_response();
    };
    let mut resp = (StatusCode::OK, asset.bytes).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    // Files change with the binary; a revalidation is cheap and never serves an old console
    // against a new API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Adds the console's security headers to every answer under `/console`.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_console_file_is_listed_and_every_listed_file_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    on_disk.push(rel);
                }
            }
        }
        // Licences and notes are in the repository, not served.
        on_disk.retain(|p| !p.starts_with("vendor/LICENSE") && !p.ends_with("README.md"));
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "console/ and ASSETS differ");
    }
}
