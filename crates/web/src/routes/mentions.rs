//! `GET /mentions?q=`: the composer's @mention autocomplete. Authenticated by the session
//! cookie like every page (the browser never holds an API token), it calls the service's
//! account search and answers a small JSON list the page's script shows as a listbox.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use starling_service::Starling;

use crate::error::WebResult;
use crate::session::SignedIn;
use crate::view::Person;

/// Suggestions per query.
const SUGGESTIONS: i64 = 8;

/// `?q=`: the start of a username, with or without `@`.
#[derive(Debug, Deserialize)]
pub(crate) struct MentionQuery {
    #[serde(default)]
    q: String,
}

/// One suggestion.
#[derive(Debug, Serialize)]
struct Suggestion {
    username: String,
    name: String,
}

/// `GET /mentions?q=ab`: up to eight accounts whose username starts with `ab`.
pub(crate) async fn mentions(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<MentionQuery>,
) -> WebResult<Response> {
    let found = app
        .search_accounts(&session.account, &q.q, SUGGESTIONS)
        .await?;
    let list: Vec<Suggestion> = found
        .iter()
        .map(|a| {
            let p = Person::of(a);
            Suggestion {
                username: p.username,
                name: p.name,
            }
        })
        .collect();
    Ok(Json(list).into_response())
}
