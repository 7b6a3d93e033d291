//! The web UI's route table, and the headers every page carries.

mod actions;
mod auth;
mod consent;
mod feed;
mod groups;
mod interactions;
mod lists;
mod live;
mod mentions;
mod messages;
mod pages;
mod people;
mod settings;

use askama::Template;
use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use starling_service::Starling;

use crate::error::WebResult;

/// The Content-Security-Policy of every page: only this site's own files run or style
/// the page (no inline script or style, so injected markup could do nothing), forms post
/// only here, and no other site may frame it.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

pub(crate) fn routes() -> Router<Starling> {
    Router::new()
        .route("/", get(pages::root))
        .route("/home", get(pages::home))
        .route("/public", get(pages::network))
        .route("/tags/{tag}", get(pages::tag))
        .route("/notifications", get(pages::notifications))
        .route("/statuses", post(actions::post_status))
        .route("/statuses/{id}", get(pages::status_redirect))
        // Post actions, bookmarks, lists, hashtag following, mention autocomplete.
        .route("/statuses/{id}/{action}", post(interactions::act))
        .route("/bookmarks", get(lists::bookmarks))
        .route("/lists", get(lists::index).post(lists::create))
        .route("/lists/{id}", get(lists::show))
        .route("/lists/{id}/rename", post(lists::rename))
        .route("/lists/{id}/delete", post(lists::delete))
        .route("/lists/{id}/members", post(lists::add_member))
        .route(
            "/lists/{id}/members/{account}/remove",
            post(lists::remove_member),
        )
        .route("/tags/{tag}/{action}", post(lists::follow_tag))
        .route("/mentions", get(mentions::mentions))
        .route("/accounts/{id}/follow", post(actions::follow))
        .route("/accounts/{id}/unfollow", post(actions::unfollow))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-up", get(auth::sign_up_page).post(auth::sign_up))
        .route("/sign-out", post(auth::sign_out))
        .route("/live", get(live::live))
        // Groups and direct messages (`groups.rs`, `messages.rs`).
        .route("/groups", get(groups::index).post(groups::create))
        .route("/groups/{id}", get(groups::show))
        .route("/groups/{id}/join", post(groups::join))
        .route("/groups/{id}/leave", post(groups::leave))
        .route("/groups/{id}/edit", post(groups::edit))
        .route("/groups/{id}/delete", post(groups::delete))
        .route("/groups/{id}/invitations", post(groups::invite))
        .route("/groups/{id}/members", get(groups::members))
        .route(
            "/groups/{id}/members/{account_id}/role",
            post(groups::set_role),
        )
        .route(
            "/groups/{id}/members/{account_id}/remove",
            post(groups::remove),
        )
        .route(
            "/groups/{id}/requests/{account_id}/authorize",
            post(groups::authorize),
        )
        .route(
            "/groups/{id}/requests/{account_id}/reject",
            post(groups::reject),
        )
        .route("/messages", get(messages::index).post(messages::create))
        .route("/messages/{id}", get(messages::show))
        .route(
            "/oauth/authorize",
            get(consent::authorize_page).post(consent::authorize_submit),
        )
        // Settings (profile, password, sessions and apps, e-mail).
        .route("/settings", get(settings::index))
        .route(
            "/settings/profile",
            get(settings::profile_page).post(settings::save_profile),
        )
        .route(
            "/settings/password",
            get(settings::password_page).post(settings::change_password),
        )
        .route("/settings/sessions", get(settings::sessions_page))
        .route(
            "/settings/sessions/{id}/revoke",
            post(settings::revoke_session),
        )
        .route("/settings/apps/{id}/revoke", post(settings::revoke_app))
        .route(
            "/settings/email",
            get(settings::email_page).post(settings::save_email),
        )
        .route("/assets/{file}", get(crate::assets::serve))
        // `/@name` and `/@name/123` (the URLs the API gives accounts and posts). The
        // router cannot match a prefix inside a segment, so the handlers check the `@`.
        .route("/{handle}", get(pages::profile))
        .route("/{handle}/{id}", get(pages::thread))
        // Followers and following of `/@name`, and blocking and muting from a profile.
        .route("/{handle}/followers", get(people::followers))
        .route("/{handle}/following", get(people::following))
        .route("/accounts/{id}/block", post(people::block))
        .route("/accounts/{id}/unblock", post(people::unblock))
        .route("/accounts/{id}/mute", post(people::mute))
        .route("/accounts/{id}/unmute", post(people::unmute))
}

/// Adds the security headers to every web response; pages (not assets) are private to
/// the visitor and never cached.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    // A page may widen its own policy (the consent page lets its form reach the app).
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Renders a page.
pub(crate) fn render(page: &impl Template) -> WebResult<Response> {
    Ok(Html(page.render()?).into_response())
}
