//! Infinite scroll: with `?fragment=1`, a paginated timeline answers with only its posts
//! (the same `_post.html` the page prints) and the link to the next older page, which the
//! page's script appends below the posts already shown. Without the parameter, the same
//! URL is the full page the "Older posts" link leads to without JavaScript.

use askama::Template;
use axum::response::Response;
use serde::Deserialize;

use super::render;
use crate::error::WebResult;
use crate::session::Session;
use crate::view::{PostCard, Viewer};

/// `?fragment=1`: only the posts and the next link.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FragmentQuery {
    #[serde(default)]
    fragment: Option<String>,
}

impl FragmentQuery {
    /// Whether the script asked for a fragment.
    pub(crate) fn wanted(&self) -> bool {
        self.fragment
            .as_deref()
            .is_some_and(|f| !f.is_empty() && f != "0")
    }
}

#[derive(Template)]
#[template(path = "feed_fragment.html")]
struct FeedFragment {
    layout: Viewer,
    posts: Vec<PostCard>,
    older: Option<String>,
}

/// The posts of one page and the link to the next, for `session`'s viewer.
pub(crate) fn fragment(
    session: Option<&Session>,
    posts: Vec<PostCard>,
    older: Option<String>,
) -> WebResult<Response> {
    render(&FeedFragment {
        layout: Viewer::of(session),
        posts,
        older,
    })
}
