//! Static assets (CSS, JavaScript) embedded in the binary and served under names that carry
//! a hash of their content, with a year-long immutable cache: a new release changes the
//! name, so browsers never run stale code and never re-ask for unchanged files.
//!
//! The hash is computed once at start-up from the embedded bytes rather than by a build
//! script or a Node build step, so editing an asset and rebuilding is all it takes.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

use crate::error::WebError;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The public path, e.g. `/assets/app.3f2a…91.css`.
    pub path: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The assets every page links to.
#[derive(Debug)]
pub struct Assets {
    /// The style sheet.
    pub css: Asset,
    /// The script that enhances pages (counter, live updates, shortcuts).
    pub js: Asset,
}

fn asset(stem: &str, ext: &str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    let digest = Sha256::digest(bytes);
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Asset {
        path: format!("/assets/{stem}.{hash}.{ext}"),
        content_type,
        bytes,
    }
}

/// The embedded assets and their hashed names, computed on first use. A static because
/// the files are part of the binary: they are the same for every app instance.
pub static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    css: asset(
        "app",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    js: asset(
        "app",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
});

/// `GET /assets/{file}`: an embedded asset by its hashed name; any other name is 404, so
/// an old page asking for last release's file fails loudly instead of getting new code.
pub async fn serve(Path(file): Path<String>) -> Result<Response, WebError> {
    let assets = &*ASSETS;
    let found = [&assets.css, &assets.js]
        .into_iter()
        .find(|a| a.path.strip_prefix("/assets/") == Some(file.as_str()))
        .ok_or(WebError::NotFound)?;
    Ok((
        [
            (CONTENT_TYPE, found.content_type),
            (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        found.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_content_hash() {
        let a = asset("x", "css", "text/css", b"body{}");
        let b = asset("x", "css", "text/css", b"body{ }");
        assert!(a.path.starts_with("/assets/x.") && a.path.ends_with(".css"));
        assert_ne!(a.path, b.path);
        assert_eq!(a.path.len(), "/assets/x..css".len() + 16);
    }
}
