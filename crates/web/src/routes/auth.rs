//! Signing up, in and out. Sign-up and sign-in forms carry the anonymous anti-forgery
//! token (so another site cannot sign a visitor into an account of its choosing);
//! sign-out carries the session's.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_service::accounts::SignUp;
use starling_service::{ServiceError, Starling};

use super::pages::see_other;
use super::render;
use crate::error::WebResult;
use crate::forms::local_path;
use crate::session::{
    MaybeSession, SignedIn, anon_csrf, check_anon_csrf, clear_session_cookie, session_cookie,
};
use crate::view::{Layout, Nav};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    next: String,
    login: String,
    error: String,
}

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage {
    layout: Layout,
    username: String,
    email: String,
    error: String,
}

/// `?next=` after signing in.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// A page with the anonymous token's cookie set if it was new.
fn with_cookie(page: Response, set: Option<String>, status: StatusCode) -> Response {
    let mut response = (status, page).into_response();
    if let Some(set) = set
        && let Ok(v) = set.parse()
    {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}

/// The sign-in form, filled as far as it was.
fn sign_in_form(
    app: &Starling,
    headers: &HeaderMap,
    next: &str,
    login: String,
    error: String,
    status: StatusCode,
) -> WebResult<Response> {
    let (csrf, set) = anon_csrf(headers, app.settings());
    let page = SignInPage {
        layout: Layout::new(app, None, "Sign in", Nav::Other, 0, Some(csrf)),
        next: next.to_owned(),
        login,
        error,
    };
    Ok(with_cookie(render(&page)?, set, status))
}

/// `GET /sign-in`.
pub(crate) async fn sign_in_page(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> WebResult<Response> {
    let next = local_path(q.next.as_deref(), "/home");
    if session.is_some() {
        return Ok(see_other(next));
    }
    sign_in_form(
        &app,
        &headers,
        next,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// `POST /sign-in`: opens a session and goes to `next`.
pub(crate) async fn sign_in(
    State(app): State<Starling>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> WebResult<Response> {
    check_anon_csrf(&headers, &form.csrf)?;
    let next = local_path(form.next.as_deref(), "/home");
    match app.web_sign_in(&form.login, &form.password).await {
        Ok((_, token)) => Ok(signed_in(&app, &token.access_token, next)),
        Err(
            e @ (ServiceError::BadRequest(_)
            | ServiceError::Forbidden(_)
            | ServiceError::RateLimited(_)),
        ) => {
            let status = match e {
                ServiceError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            sign_in_form(&app, &headers, next, form.login, e.to_string(), status)
        }
        Err(e) => Err(e.into()),
    }
}

/// A redirect to `next` that stores the new session.
fn signed_in(app: &Starling, secret: &str, next: &str) -> Response {
    let mut response = see_other(next);
    if let Ok(v) = session_cookie(app.settings(), secret).parse() {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}

/// The sign-up form, filled as far as it was.
fn sign_up_form(
    app: &Starling,
    headers: &HeaderMap,
    username: String,
    email: String,
    error: String,
    status: StatusCode,
) -> WebResult<Response> {
    let (csrf, set) = anon_csrf(headers, app.settings());
    let page = SignUpPage {
        layout: Layout::new(app, None, "Sign up", Nav::Other, 0, Some(csrf)),
        username,
        email,
        error,
    };
    Ok(with_cookie(render(&page)?, set, status))
}

/// `GET /sign-up`.
pub(crate) async fn sign_up_page(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
) -> WebResult<Response> {
    if session.is_some() {
        return Ok(see_other("/home"));
    }
    sign_up_form(
        &app,
        &headers,
        String::new(),
        String::new(),
        String::new(),
        StatusCode::OK,
    )
}

/// The sign-up form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SignUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    agreement: Option<String>,
}

/// `POST /sign-up`: creates the account and signs it in.
pub(crate) async fn sign_up(
    State(app): State<Starling>,
    headers: HeaderMap,
    Form(form): Form<SignUpForm>,
) -> WebResult<Response> {
    check_anon_csrf(&headers, &form.csrf)?;
    let req = SignUp {
        username: form.username.clone(),
        email: form.email.clone(),
        password: form.password,
        agreement: form.agreement.is_some(),
        locale: None,
    };
    match app.web_sign_up(req).await {
        Ok((_, token)) => Ok(signed_in(&app, &token.access_token, "/home")),
        Err(e @ (ServiceError::Validation(_) | ServiceError::Forbidden(_))) => sign_up_form(
            &app,
            &headers,
            form.username,
            form.email,
            e.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /sign-out`: ends the session (its token is revoked) and clears the cookie.
pub(crate) async fn sign_out(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<super::actions::TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    app.web_sign_out(&session.secret).await?;
    let mut response = see_other("/sign-in");
    if let Ok(v) = clear_session_cookie(app.settings()).parse() {
        response.headers_mut().append(SET_COOKIE, v);
    }
    Ok(response)
}
