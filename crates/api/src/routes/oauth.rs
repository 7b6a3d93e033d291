//! OAuth2 as Mastodon clients use it: the sign-in and consent page, the token endpoint
//! (authorization_code with optional PKCE, password, client_credentials, refresh_token)
//! and revocation.

use crate::entities::Token;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use starling_service::auth::OOB_REDIRECT;
use starling_service::{ServiceError, Starling};

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

/// Parameters of an authorization request (query of the GET, hidden fields of the POST).
#[derive(Debug, Clone, Default, Deserialize)]
struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

fn esc(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn page(title: &str, body: &str, status: StatusCode) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         label{{display:block;margin-top:1rem}}input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}\
         button{{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}}.error{{color:#b00020}}code{{font-size:1.2rem;word-break:break-all}}</style>\
         </head><body><main>{body}</main></body></html>",
        title = esc(title)
    );
    (status, [(CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn form(app_name: &str, p: &AuthorizeParams, error: Option<&str>) -> String {
    let hidden = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|v| {
                format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    esc(v)
                )
            })
            .unwrap_or_default()
    };
    format!(
        "<h1>Sign in to authorize {app}</h1>\
         <p>{app} asks for: <strong>{scope}</strong></p>{error}\
         <form method=\"post\" action=\"/oauth/authorize\">{h1}{h2}{h3}{h4}{h5}{h6}\
         <label for=\"login\">Username or e-mail</label><input id=\"login\" name=\"login\" autocomplete=\"username\" required value=\"{login}\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Authorize</button></form>",
        app = esc(app_name),
        scope = esc(p.scope.as_deref().unwrap_or("read")),
        error = error
            .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
            .unwrap_or_default(),
        h1 = hidden("client_id", &p.client_id),
        h2 = hidden("redirect_uri", &p.redirect_uri),
        h3 = hidden("scope", &p.scope),
        h4 = hidden("state", &p.state),
        h5 = hidden("code_challenge", &p.code_challenge),
        h6 = hidden("code_challenge_method", &p.code_challenge_method),
        login = esc(&p.login),
    )
}

/// Checks the client and redirect URI before showing anything; errors are shown as a page,
/// never redirected (the redirect target is not trusted yet).
async fn check_client(app: &Starling, p: &AuthorizeParams) -> Result<String, Response> {
    let fail = |msg: String| {
        page(
            "Authorization failed",
            &format!(
                "<h1>Authorization failed</h1><p class=\"error\">{}</p>",
                esc(&msg)
            ),
            StatusCode::BAD_REQUEST,
        )
    };
    let client_id = p
        .client_id
        .as_deref()
        .ok_or_else(|| fail("client_id is missing".into()))?;
    let record = app
        .app_by_client_id(client_id)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let redirect = p.redirect_uri.as_deref().unwrap_or(OOB_REDIRECT);
    app.check_redirect(&record, redirect)
        .map_err(|e| fail(e.to_string()))?;
    Ok(record.name)
}

/// `GET /oauth/authorize`: the sign-in and consent page.
async fn authorize_page(
    State(app): State<Starling>,
    crate::extract::Params(p): crate::extract::Params<AuthorizeParams>,
) -> Response {
    match check_client(&app, &p).await {
        Ok(name) => page("Authorize", &form(&name, &p, None), StatusCode::OK),
        Err(r) => r,
    }
}

/// `POST /oauth/authorize`: signs in, then shows the code (out-of-band) or redirects with it.
async fn authorize_submit(State(app): State<Starling>, Body(p): Body<AuthorizeParams>) -> Response {
    let name = match check_client(&app, &p).await {
        Ok(name) => name,
        Err(r) => return r,
    };
    let redirect = p
        .redirect_uri
        .clone()
        .unwrap_or_else(|| OOB_REDIRECT.to_owned());
    let result = app
        .authorize(
            p.client_id.as_deref().unwrap_or_default(),
            &redirect,
            p.scope.as_deref(),
            &p.login,
            &p.password,
            p.code_challenge.as_deref().filter(|c| !c.is_empty()),
            p.code_challenge_method.as_deref().filter(|c| !c.is_empty()),
        )
        .await;
    match result {
        Ok(code) if redirect == OOB_REDIRECT => page(
            "Authorization code",
            &format!(
                "<h1>Authorization code</h1><p>Copy this code and paste it into {}:</p><p><code id=\"code\">{}</code></p>",
                esc(&name),
                esc(&code)
            ),
            StatusCode::OK,
        ),
        Ok(code) => {
            let mut target = match url::Url::parse(&redirect) {
                Ok(u) => u,
                Err(_) => {
                    return ApiError::bad_request("redirect_uri is not a valid URI")
                        .into_response();
                }
            };
            target.query_pairs_mut().append_pair("code", &code);
            if let Some(state) = p.state.as_deref() {
                target.query_pairs_mut().append_pair("state", state);
            }
            (StatusCode::FOUND, [(LOCATION, target.to_string())]).into_response()
        }
        Err(ServiceError::BadRequest(msg)) | Err(ServiceError::Forbidden(msg)) => page(
            "Authorize",
            &form(&name, &p, Some(&msg)),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
    refresh_token: Option<String>,
}

/// Client credentials from HTTP Basic authentication, which RFC 6749 prefers.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn required<'a>(v: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("{name} is required")))
}

/// `POST /oauth/token`.
async fn token(
    State(app): State<Starling>,
    headers: HeaderMap,
    Body(mut r): Body<TokenRequest>,
) -> ApiResult<Json<Token>> {
    if let Some((id, secret)) = basic_credentials(&headers) {
        r.client_id.get_or_insert(id);
        r.client_secret.get_or_insert(secret);
    }
    let client_id = required(&r.client_id, "client_id")?;
    let issued = match required(&r.grant_type, "grant_type")? {
        "password" => {
            app.password_grant(
                client_id,
                required(&r.client_secret, "client_secret")?,
                required(&r.username, "username")?,
                required(&r.password, "password")?,
                r.scope.as_deref(),
            )
            .await?
        }
        "client_credentials" => {
            app.client_credentials_grant(
                client_id,
                required(&r.client_secret, "client_secret")?,
                r.scope.as_deref(),
            )
            .await?
        }
        "authorization_code" => {
            app.authorization_code_grant(
                client_id,
                r.client_secret.as_deref(),
                required(&r.code, "code")?,
                r.redirect_uri.as_deref(),
                r.code_verifier.as_deref(),
            )
            .await?
        }
        "refresh_token" => {
            app.refresh_grant(
                client_id,
                required(&r.client_secret, "client_secret")?,
                required(&r.refresh_token, "refresh_token")?,
            )
            .await?
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unsupported_grant_type: {other:?}; use authorization_code, password, client_credentials or refresh_token"
            )));
        }
    };
    Ok(Json(issued.into()))
}

#[derive(Debug, Default, Deserialize)]
struct RevokeRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

/// `POST /oauth/revoke`: always `{}` for a known client, as RFC 7009 asks.
async fn revoke(
    State(app): State<Starling>,
    headers: HeaderMap,
    Body(mut r): Body<RevokeRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    if let Some((id, secret)) = basic_credentials(&headers) {
        r.client_id.get_or_insert(id);
        r.client_secret.get_or_insert(secret);
    }
    app.revoke(
        required(&r.client_id, "client_id")?,
        required(&r.client_secret, "client_secret")?,
        required(&r.token, "token")?,
    )
    .await?;
    Ok(Json(json!({})))
}
