//! Query parameters of paginated lists and the `Link` header clients follow.

use crate::entities::{Account, Status};
use crate::error::ApiError;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_service::timelines::Paged;
use starling_service::views::StatusView;
use starling_service::{AccountRecord, Page, Starling};

/// Default page size.
const DEFAULT_LIMIT: i64 = 20;
/// Largest page size; bigger requests are capped, as Mastodon does.
const MAX_LIMIT: i64 = 40;

/// `max_id`, `since_id`, `min_id` and `limit` as sent by clients.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageParams {
    max_id: Option<String>,
    since_id: Option<String>,
    min_id: Option<String>,
    limit: Option<String>,
}

fn cursor(name: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{name} must be a numeric id, not {s:?}"))),
    }
}

impl PageParams {
    /// The page asked for; `limit` must be a positive number and is capped at 40.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match self
            .limit
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => n.min(MAX_LIMIT),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "limit must be a number from 1 to {MAX_LIMIT}, not {s:?}"
                    )));
                }
            },
        };
        Ok(Page {
            max_id: cursor("max_id", &self.max_id)?,
            since_id: cursor("since_id", &self.since_id)?,
            min_id: cursor("min_id", &self.min_id)?,
            limit,
        })
    }
}

/// Builds the `Link` header for a page: `<…max_id=N>; rel="next", <…min_id=M>; rel="prev"`,
/// keeping the request's other query parameters, with absolute URLs on `base_url`.
pub fn link_header<T>(base_url: &str, uri: &Uri, paged: &Paged<T>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // A page that filtering left empty still links onwards when more may follow.
    if paged.items.is_empty() && paged.next_max_id.is_none() {
        return headers;
    }
    let kept: Vec<(String, String)> = uri
        .query()
        .and_then(|q| serde_html_form::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "max_id" | "since_id" | "min_id" | "access_token"
            )
        })
        .collect();
    let url = |key: &str, id: i64| {
        let mut params = kept.clone();
        params.push((key.to_owned(), id.to_string()));
        let query = serde_html_form::to_string(&params).unwrap_or_default();
        format!("{base_url}{}?{query}", uri.path())
    };
    let mut parts = Vec::new();
    if let Some(id) = paged.next_max_id {
        parts.push(format!("<{}>; rel=\"next\"", url("max_id", id)));
    }
    if let Some(id) = paged.prev_min_id {
        parts.push(format!("<{}>; rel=\"prev\"", url("min_id", id)));
    }
    if let Ok(v) = HeaderValue::from_str(&parts.join(", ")) {
        headers.insert("link", v);
    }
    headers
}

/// A page of posts as a response: the Status entities and their `Link` header.
pub fn statuses_page(
    app: &Starling,
    uri: &Uri,
    paged: Paged<StatusView>,
) -> (HeaderMap, StatusList) {
    let headers = link_header(&app.settings().base_url(), uri, &paged);
    (
        headers,
        StatusList(Status::from_views(paged.items, app.settings())),
    )
}

/// About how many bytes a Status entity takes in JSON (with its account: ~1.5 kB).
const STATUS_JSON_BYTES: usize = 1_600;

/// Status entities as a JSON response, written into a buffer sized for them: a home page
/// is ~30 kB, and grown from axum's 128 bytes its buffer was reallocated and copied eight
/// times per response (each large reallocation also made glibc consolidate its free lists).
pub struct StatusList(pub Vec<Status>);

impl IntoResponse for StatusList {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(2 + STATUS_JSON_BYTES * self.0.len());
        body.push(b'[');
        let written = self.0.iter().enumerate().try_for_each(|(i, status)| {
            if i > 0 {
                body.push(b',');
            }
            status.write_json(&mut body)
        });
        body.push(b']');
        match written {
            Ok(()) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            // Like axum's `Json`: entities always serialise, but never panic on a server.
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }
}

/// A page of accounts as a response: the Account entities and their `Link` header.
pub fn accounts_page(
    app: &Starling,
    uri: &Uri,
    paged: &Paged<AccountRecord>,
) -> (HeaderMap, Json<Vec<Account>>) {
    let headers = link_header(&app.settings().base_url(), uri, paged);
    let accounts = paged
        .items
        .iter()
        .map(|a| Account::from_record(a, app.settings()))
        .collect();
    (headers, Json(accounts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let p = |l: &str| {
            PageParams {
                limit: Some(l.into()),
                ..Default::default()
            }
            .page()
        };
        assert_eq!(p("5").unwrap().limit, 5);
        assert_eq!(p("1000").unwrap().limit, 40);
        assert!(p("0").is_err());
        assert!(p("-3").is_err());
        assert!(p("many").is_err());
        assert_eq!(PageParams::default().page().unwrap().limit, 20);
    }

    #[test]
    fn link_starts_with_next() {
        let paged = Paged {
            items: vec![1, 2],
            next_max_id: Some(5),
            prev_min_id: Some(9),
        };
        let uri: Uri = "/api/v1/timelines/home?limit=2&max_id=10".parse().unwrap();
        let h = link_header("http://x", &uri, &paged);
        let link = h.get("link").unwrap().to_str().unwrap();
        assert_eq!(
            link,
            "<http://x/api/v1/timelines/home?limit=2&max_id=5>; rel=\"next\", <http://x/api/v1/timelines/home?limit=2&min_id=9>; rel=\"prev\""
        );
    }
}
