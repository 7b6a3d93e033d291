//! Post actions of a signed-in visitor: like, repost and bookmark, and undoing each. Every
//! action is a small form on the post card; without JavaScript it redirects (303) back to
//! the page it came from, at the post's anchor. The page's script sends the same form
//! with `fetch` and `Accept: application/json`, and gets the post's new state instead, to
//! correct its optimistic guess.

use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, HOST, REFERER};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use starling_domain::id::parse_id;
use starling_service::Starling;
use starling_service::views::StatusView;

use super::actions::TokenForm;
use super::pages::see_other;
use crate::error::{WebError, WebResult};
use crate::forms::local_path;
use crate::session::SignedIn;

/// The post's state after an action, as the script reads it.
#[derive(Debug, Serialize)]
struct MarkState {
    id: String,
    favourited: bool,
    reblogged: bool,
    bookmarked: bool,
    favourites_count: i64,
    reblogs_count: i64,
}

/// `POST /statuses/{id}/{action}`, where the action is `favourite`, `unfavourite`,
/// `reblog`, `unreblog`, `bookmark` or `unbookmark`. A post the visitor cannot see is
/// 404, as if it did not exist.
pub(crate) async fn act(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    let me = &session.account;
    let view = match action.as_str() {
        "favourite" => app.favourite(me, id).await?,
        "unfavourite" => app.unfavourite(me, id).await?,
        "reblog" => app.reblog(me, id, None).await?,
        "unreblog" => app.unreblog(me, id).await?,
        "bookmark" => app.bookmark(me, id).await?,
        "unbookmark" => app.unbookmark(me, id).await?,
        _ => return Err(WebError::NotFound),
    };
    // A repost comes back as its wrapper: the state shown is the original's.
    let post = view.reblog.as_deref().unwrap_or(&view);
    if wants_json(&headers) {
        return Ok(Json(state_of(post)).into_response());
    }
    let back = back_to(&headers).unwrap_or_else(|| format!("/statuses/{}", post.status.id));
    Ok(see_other(&format!("{back}#post-{}", post.status.id)))
}

fn state_of(v: &StatusView) -> MarkState {
    MarkState {
        id: v.status.id.to_string(),
        favourited: v.favourited,
        reblogged: v.reblogged,
        bookmarked: v.bookmarked,
        favourites_count: v.status.favourites_count,
        reblogs_count: v.status.reblogs_count,
    }
}

/// Whether the script (not a plain form) sent the request.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The page the form was on: the path of the `Referer` when it is this site (same host),
/// without its fragment. `None` when there is none (the caller picks a fallback).
pub(crate) fn back_to(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(REFERER)?.to_str().ok()?;
    let host = headers.get(HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let (authority, path) = rest.split_at(rest.find('/')?);
    if !authority.eq_ignore_ascii_case(host) {
        return None;
    }
    let path = path.split('#').next().unwrap_or(path);
    let kept = local_path(Some(path), "");
    (!kept.is_empty()).then(|| kept.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(referer: &str, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REFERER, HeaderValue::from_str(referer).unwrap());
        h.insert(HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    #[test]
    fn only_this_sites_pages_are_returned_to() {
        let h = headers("http://s.example/home?max_id=5#post-1", "s.example");
        assert_eq!(back_to(&h).as_deref(), Some("/home?max_id=5"));
        assert_eq!(
            back_to(&headers("http://evil.example/x", "s.example")),
            None
        );
        assert_eq!(
            back_to(&headers("http://s.example//evil", "s.example")),
            None
        );
        assert_eq!(back_to(&headers("javascript:alert(1)", "s.example")), None);
    }
}
