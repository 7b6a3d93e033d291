//! The OAuth authorization endpoint, `GET/POST /oauth/authorize`, as a page of the web
//! UI: the web crate owns HTML, sessions and anti-forgery tokens, the API crate owns the
//! token and revocation endpoints (only this router claims the path).
//!
//! A visitor with a web session sees what the app asks for, in words, with Authorize and
//! Deny buttons (the session's anti-forgery token guards them). Without a session the
//! page is a sign-in form first (the anonymous anti-forgery token guards it against
//! login CSRF); signing in there opens a web session and comes back to the consent page.
//!
//! A client that posts the credentials itself, with no anti-forgery field at all (scripts
//! and older tools, and the API tests), keeps the original behaviour: the credentials
//! are the consent, and the code comes back at once. Such a post needs the password, so a
//! forged one could only sign someone into the forger's own account (login CSRF); a
//! browser names the page a form came from in `Origin`, so one posted from another site
//! is refused, and OAuth's `state` catches the rest on the client's side.
//!
//! Errors about the client or its redirect URI are shown as a page, never redirected (the
//! target is not trusted yet). A denial is redirected with `error=access_denied` (RFC 6749
//! §4.1.2.1), or shown for the out-of-band redirect.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_service::auth::{AuthorizationRequest, OOB_REDIRECT};
use starling_service::{ServiceError, Starling};

use super::pages::{layout, see_other};
use super::{CSP, render};
use crate::error::{WebError, WebResult};
use crate::session::{MaybeSession, Session, anon_csrf, check_anon_csrf, session_cookie};
use crate::view::{Layout, Nav, scopes_in_words};

/// The parameters of an authorization request (the GET's query, the POST's hidden
/// fields). Unknown ones (Mastodon.py sends `force_login` and `lang`) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl AuthorizeParams {
    fn redirect(&self) -> &str {
        self.redirect_uri
            .as_deref()
            .filter(|r| !r.is_empty())
            .unwrap_or(OOB_REDIRECT)
    }

    fn challenge(&self) -> Option<&str> {
        self.code_challenge.as_deref().filter(|c| !c.is_empty())
    }

    fn challenge_method(&self) -> Option<&str> {
        self.code_challenge_method
            .as_deref()
            .filter(|c| !c.is_empty())
    }

    /// The parameters given, as hidden fields (name, value) and as a query string.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }

    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            q.append_pair(k, &v);
        }
        q.finish()
    }

    /// Checks the whole request (client, redirect URI, scopes, PKCE).
    async fn check(&self, app: &Starling) -> WebResult<AuthorizationRequest> {
        let client_id = self
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ServiceError::BadRequest("client_id is missing".into()))?;
        Ok(app
            .authorization_request(
                client_id,
                self.redirect(),
                self.scope.as_deref(),
                self.challenge(),
                self.challenge_method(),
            )
            .await?)
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    layout: Layout,
    app_name: String,
    website: Option<String>,
    can: Vec<String>,
    hidden: Vec<(&'static str, String)>,
    /// Signed in: the consent buttons; else the sign-in form.
    signed_in: bool,
    login: String,
    error: String,
    oob: bool,
}

#[derive(Template)]
#[template(path = "consent_result.html")]
struct ResultPage {
    layout: Layout,
    app_name: String,
    code: Option<String>,
}

/// The page's policy, letting the consent form's redirect reach the app: browsers apply
/// `form-action` to the redirects that follow a form, so the app's origin (or custom
/// scheme) is allowed there, and only on this page.
fn csp_for(redirect: &str) -> Option<HeaderValue> {
    let target = url::Url::parse(redirect).ok()?;
    let source = match target.scheme() {
        "http" | "https" => target.origin().ascii_serialization(),
        "urn" => return None,
        scheme => format!("{scheme}:"),
    };
    HeaderValue::from_str(&CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {source}"),
    ))
    .ok()
}

fn with_csp(mut response: Response, redirect: &str) -> Response {
    if let Some(csp) = csp_for(redirect) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Whether the request's `Origin` (if it has one) is this site. Scripts and API clients
/// send none; browsers send it with every cross-site form post.
fn same_origin_or_none(headers: &HeaderMap, base_url: &str) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let ours = url::Url::parse(base_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    origin.to_str().is_ok_and(|o| o == ours)
}

/// The sign-in form or the consent buttons, for this visitor.
#[allow(clippy::too_many_arguments)]
async fn consent_page(
    app: &Starling,
    session: Option<&Session>,
    headers: &HeaderMap,
    p: &AuthorizeParams,
    req: &AuthorizationRequest,
    login: String,
    error: String,
    status: StatusCode,
) -> WebResult<Response> {
    let title = format!("Authorize {}", req.app.name);
    let (layout, set) = match session {
        Some(s) => (layout(app, Some(s), title, Nav::Other).await?, None),
        None => {
            let (csrf, set) = anon_csrf(headers, app.settings());
            (
                Layout::new(app, None, title, Nav::Other, 0, Some(csrf)),
                set,
            )
        }
    };
    let page = ConsentPage {
        layout,
        app_name: req.app.name.clone(),
        website: req
            .app
            .website
            .clone()
            .filter(|s| s.starts_with("https://") || s.starts_with("http://")),
        can: scopes_in_words(&req.scopes.to_string()),
        hidden: p.pairs(),
        signed_in: session.is_some(),
        login,
        error,
        oob: req.redirect_uri == OOB_REDIRECT,
    };
    let mut response = (status, render(&page)?).into_response();
    if let Some(set) = set
        && let Ok(v) = set.parse()
    {
        response.headers_mut().append(SET_COOKIE, v);
    }
    Ok(with_csp(response, &req.redirect_uri))
}

/// `GET /oauth/authorize`: the consent page (after signing in, if needed).
pub(crate) async fn authorize_page(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
    Query(p): Query<AuthorizeParams>,
) -> WebResult<Response> {
    let req = p.check(&app).await?;
    consent_page(
        &app,
        session.as_ref(),
        &headers,
        &p,
        &req,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The fields of the consent page's forms: the request's parameters plus the sign-in
/// form's or the consent buttons'.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthorizeForm {
    // The request's parameters, spelled out: `serde(flatten)` does not work with
    // urlencoded forms' optional fields.
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    csrf: Option<String>,
    decision: Option<String>,
    #[serde(default, alias = "username")]
    login: String,
    #[serde(default)]
    password: String,
}

/// The code handed over: shown for the out-of-band redirect, else redirected with it.
async fn deliver(
    app: &Starling,
    session: Option<&Session>,
    req: &AuthorizationRequest,
    state: Option<&str>,
    outcome: Result<String, &'static str>,
) -> WebResult<Response> {
    if req.redirect_uri == OOB_REDIRECT {
        let (title, status) = match outcome {
            Ok(_) => ("Authorization code", StatusCode::OK),
            Err(_) => ("Authorization denied", StatusCode::FORBIDDEN),
        };
        let layout = match session {
            Some(s) => layout(app, Some(s), title, Nav::Other).await?,
            None => Layout::new(app, None, title, Nav::Other, 0, None),
        };
        let page = ResultPage {
            layout,
            app_name: req.app.name.clone(),
            code: outcome.ok(),
        };
        return Ok((status, render(&page)?).into_response());
    }
    let mut target = url::Url::parse(&req.redirect_uri)
        .map_err(|_| ServiceError::BadRequest("redirect_uri is not a valid URI".into()))?;
    match outcome {
        Ok(code) => {
            target.query_pairs_mut().append_pair("code", &code);
        }
        Err(error) => {
            target
                .query_pairs_mut()
                .append_pair("error", error)
                .append_pair(
                    "error_description",
                    "The resource owner denied the request.",
                );
        }
    }
    if let Some(state) = state {
        target.query_pairs_mut().append_pair("state", state);
    }
    Ok((StatusCode::FOUND, [(LOCATION, target.to_string())]).into_response())
}

/// `POST /oauth/authorize`: the consent buttons, the sign-in form, or a client's own
/// credentials (see the module's documentation).
pub(crate) async fn authorize_submit(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
    Form(f): Form<AuthorizeForm>,
) -> WebResult<Response> {
    let p = &AuthorizeParams {
        client_id: f.client_id.clone(),
        redirect_uri: f.redirect_uri.clone(),
        scope: f.scope.clone(),
        state: f.state.clone(),
        code_challenge: f.code_challenge.clone(),
        code_challenge_method: f.code_challenge_method.clone(),
    };
    // The client and its redirect URI first: nothing is redirected to an unchecked URI.
    let client = app
        .app_by_client_id(p.client_id.as_deref().unwrap_or_default())
        .await?;
    app.check_redirect(&client, p.redirect())?;
    let state = p.state.as_deref();
    if let Some(decision) = f.decision.as_deref() {
        let req = p.check(&app).await?;
        let Some(session) = session else {
            // The session ended between the page and the button: sign in again.
            return consent_page(
                &app,
                None,
                &headers,
                p,
                &req,
                String::new(),
                "Your session has ended. Sign in to continue.".to_owned(),
                StatusCode::UNAUTHORIZED,
            )
            .await;
        };
        session.check_csrf(f.csrf.as_deref().unwrap_or_default())?;
        let outcome = match decision {
            "approve" => Ok(app.grant_authorization(&session.account, &req).await?),
            _ => Err("access_denied"),
        };
        return deliver(&app, Some(&session), &req, state, outcome).await;
    }
    if let Some(csrf) = f.csrf.as_deref() {
        // The page's sign-in form: open a web session, then back to the consent page.
        check_anon_csrf(&headers, csrf)?;
        let req = p.check(&app).await?;
        return match app.web_sign_in(&f.login, &f.password).await {
            Ok((_, token)) => {
                let mut response = see_other(&format!("/oauth/authorize?{}", p.query()));
                if let Ok(v) = session_cookie(app.settings(), &token.access_token).parse() {
                    response.headers_mut().append(SET_COOKIE, v);
                }
                Ok(response)
            }
            Err(e @ (ServiceError::BadRequest(_) | ServiceError::Forbidden(_))) => {
                consent_page(
                    &app,
                    None,
                    &headers,
                    p,
                    &req,
                    f.login.clone(),
                    e.to_string(),
                    StatusCode::UNAUTHORIZED,
                )
                .await
            }
            Err(e) => Err(e.into()),
        };
    }
    // A client posting the credentials itself: they are the consent. Browsers name the
    // page a form came from in `Origin`; one from another site is a forged sign-in
    // (login CSRF), refused as any form without its token is.
    if !same_origin_or_none(&headers, &app.settings().base_url()) {
        return Err(WebError::Csrf);
    }
    let result = app
        .authorize(
            p.client_id.as_deref().unwrap_or_default(),
            p.redirect(),
            p.scope.as_deref(),
            &f.login,
            &f.password,
            p.challenge(),
            p.challenge_method(),
        )
        .await;
    match result {
        Ok(code) => {
            let req = p.check(&app).await?;
            deliver(&app, None, &req, state, Ok(code)).await
        }
        Err(e @ (ServiceError::BadRequest(_) | ServiceError::Forbidden(_))) => {
            // Shown with the sign-in form when the request itself is sound; else alone.
            match p.check(&app).await {
                Ok(req) => {
                    consent_page(
                        &app,
                        None,
                        &headers,
                        p,
                        &req,
                        f.login.clone(),
                        e.to_string(),
                        StatusCode::UNAUTHORIZED,
                    )
                    .await
                }
                Err(_) => Err(WebError::Service(ServiceError::Unauthorized(e.to_string()))),
            }
        }
        Err(e) => Err(e.into()),
    }
}
