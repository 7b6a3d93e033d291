//! Search: `GET /api/v1/accounts/search` (mention autocomplete, finding people) and
//! `GET /api/v2/search` (accounts, hashtags, and a post by its URL).

use crate::entities::{Account, Status, TagInfo};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params, flex_bool};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use starling_service::Starling;
use starling_service::search::{SEARCH_LIMIT_DEFAULT, SearchKind, SearchQuery};

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/accounts/search", get(accounts))
        .route("/api/v2/search", get(search))
}

/// The query string of both searches; parameters Starling has no use for (`resolve`,
/// `exclude_unreviewed`, `account_id`, `min_id`, `max_id`) are accepted and ignored.
#[derive(Debug, Deserialize)]
struct SearchParams {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    following: Option<bool>,
}

/// A number parameter: absent or empty is `default`; anything but an integer is a 422
/// naming the field (the range is the service's rule).
fn number(name: &str, v: Option<&str>, default: i64) -> ApiResult<i64> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::unprocessable(format!("{name} must be a number, not {s:?}"))),
    }
}

impl SearchParams {
    fn query(self) -> ApiResult<SearchQuery> {
        Ok(SearchQuery {
            limit: number("limit", self.limit.as_deref(), SEARCH_LIMIT_DEFAULT)?,
            offset: number("offset", self.offset.as_deref(), 0)?,
            kind: match self
                .kind
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                Some(k) => Some(SearchKind::parse(k)?),
                None => None,
            },
            following: self.following.unwrap_or(false),
            // A missing `q` reads as an empty one (the form decoder cannot tell them
            // apart), which finds nothing.
            q: self.q.unwrap_or_default(),
        })
    }
}

/// `GET /api/v1/accounts/search?q=`: accounts by username prefix.
async fn accounts(
    State(app): State<Starling>,
    Auth(p): Auth,
    Params(params): Params<SearchParams>,
) -> ApiResult<Json<Vec<Account>>> {
    p.require("read:accounts")?;
    let s = params.query()?;
    let found = app
        .find_accounts(p.account()?, &s.q, s.following, s.limit, s.offset)
        .await?;
    Ok(Json(
        found
            .iter()
            .map(|a| Account::from_record(a, app.settings()))
            .collect(),
    ))
}

/// Mastodon's Search entity.
#[derive(Debug, Serialize)]
struct SearchResult {
    accounts: Vec<Account>,
    statuses: Vec<Status>,
    hashtags: Vec<TagInfo>,
}

/// `GET /api/v2/search?q=`: accounts, hashtags, and the local post `q` links to.
async fn search(
    State(app): State<Starling>,
    Auth(p): Auth,
    Params(params): Params<SearchParams>,
) -> ApiResult<Json<SearchResult>> {
    p.require("read:search")?;
    let found = app.search(p.account()?, &params.query()?).await?;
    let s = app.settings();
    Ok(Json(SearchResult {
        accounts: found
            .accounts
            .iter()
            .map(|a| Account::from_record(a, s))
            .collect(),
        statuses: found
            .statuses
            .iter()
            .map(|v| Status::from_view(v, s))
            .collect(),
        hashtags: found
            .hashtags
            .iter()
            .map(|t| TagInfo::from_view(t, s))
            .collect(),
    }))
}
