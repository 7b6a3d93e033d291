//! Request extractors: bearer-token authentication, bodies in JSON or form encoding
//! (Mastodon clients send both), query strings with `key[]` lists, and the lenient
//! booleans and ids clients send (`1`/`0`, `true`/`false`, numbers or strings).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use starling_service::Starling;
use starling_service::auth::Principal;
use std::fmt;

fn bearer(parts: &Parts) -> Option<String> {
    bearer_token(&parts.headers, &parts.uri)
}

/// The token of `Authorization: Bearer …`, else of the `access_token` query parameter
/// (which EventSource clients, unable to set headers, use).
pub(crate) fn bearer_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(h) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let mut it = h.splitn(2, ' ');
        if let (Some(kind), Some(token)) = (it.next(), it.next())
            && kind.eq_ignore_ascii_case("bearer")
        {
            return Some(token.trim().to_owned());
        }
    }
    uri.query().and_then(|q| {
        serde_html_form::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    })
}

/// A request that must carry a valid token.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<Starling> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Starling) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "The access token is invalid")
        })?;
        Ok(Self(app.authenticate(&token).await?))
    }
}

/// A request that may carry a token; a token that is present must be valid.
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<Starling> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Starling) -> Result<Self, ApiError> {
        match bearer(parts) {
            Some(token) => Ok(Self(Some(app.authenticate(&token).await?))),
            None => Ok(Self(None)),
        }
    }
}

/// A body in JSON or `application/x-www-form-urlencoded` (also accepted when the
/// content type is missing), decoded into `T`.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large")
            } else {
                ApiError::bad_request(format!("could not read the request body: {e}"))
            }
        })?;
        if content_type.starts_with("application/json") {
            let body = if bytes.iter().all(u8::is_ascii_whitespace) {
                &b"{}"[..]
            } else {
                &bytes[..]
            };
            serde_json::from_slice(body)
                .map(Self)
                .map_err(|e| match e.classify() {
                    serde_json::error::Category::Data => {
                        ApiError::unprocessable(format!("invalid parameter: {e}"))
                    }
                    _ => ApiError::bad_request(format!("malformed JSON body: {e}")),
                })
        } else if content_type.is_empty()
            || content_type.starts_with("application/x-www-form-urlencoded")
        {
            serde_html_form::from_bytes(&bytes)
                .map(Self)
                .map_err(|e| ApiError::unprocessable(format!("invalid parameter: {e}")))
        } else {
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content type {content_type:?}: send JSON or a form"),
            ))
        }
    }
}

/// A query string decoded into `T`, with repeated `key[]` parameters as lists.
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        serde_html_form::from_str(parts.uri.query().unwrap_or(""))
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("invalid query parameter: {e}")))
    }
}

struct FlexBool;

impl<'de> Visitor<'de> for FlexBool {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean (true/false or 1/0)")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v != 0))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v != 0))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "on" | "yes" => Ok(Some(true)),
            "0" | "false" | "off" | "no" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(FlexBool)
    }
}

/// Deserializes an optional boolean sent as `true`/`false`, `1`/`0` or a JSON bool.
pub fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(FlexBool)
}

struct FlexId;

impl<'de> Visitor<'de> for FlexId {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a numeric id")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.is_empty() {
            return Ok(None);
        }
        starling_domain::id::parse_id(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(FlexId)
    }
}

/// Deserializes an optional id sent as a string or a number.
pub fn flex_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(FlexId)
}

/// Parses an id from a path segment; anything else is 404, as an unknown id would be.
pub fn path_id(s: &str) -> Result<i64, ApiError> {
    starling_domain::id::parse_id(s).ok_or_else(ApiError::not_found)
}

/// An id sent as a string or a number (JSON), or as a form value.
#[derive(Debug, Deserialize)]
pub(crate) struct AnyId(#[serde(deserialize_with = "flex_id")] Option<i64>);

/// `account_ids[]=…` (forms; one id may come as `account_ids=…`) or
/// `{"account_ids": […]}` (JSON, ids as strings or numbers).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AccountIds {
    #[serde(rename = "account_ids[]", default)]
    bracketed: Vec<AnyId>,
    #[serde(default)]
    account_ids: Vec<AnyId>,
}

impl AccountIds {
    /// The ids of the body and of the query string together: Mastodon (Rails) reads
    /// both, and some clients put a DELETE's parameters in the query.
    pub(crate) fn ids(self, query: Self) -> Vec<i64> {
        [
            self.bracketed,
            self.account_ids,
            query.bracketed,
            query.account_ids,
        ]
        .into_iter()
        .flatten()
        .filter_map(|AnyId(id)| id)
        .collect()
    }
}
