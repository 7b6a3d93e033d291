//! Form actions of a signed-in visitor: posting, following, unfollowing. Each checks the
//! anti-forgery token first, calls one use case, and redirects (303) to a page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_domain::id::parse_id;
use starling_service::statuses::NewPost;
use starling_service::{ServiceError, Starling};

use super::pages::{layout, see_other};
use crate::error::{WebError, WebResult};
use crate::forms::{local_path, opt_id};
use crate::session::SignedIn;
use crate::view::{Composer, Layout, Nav};

/// The composer's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct PostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    visibility: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_id: Option<i64>,
    return_to: Option<String>,
    /// The group posted to (the group page's composer).
    #[serde(default, deserialize_with = "opt_id")]
    group_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    layout: Layout,
    composer: Composer,
}

/// `POST /statuses`: publishes a post, then back to the page it was written on. A
/// refused post comes back in the composer with the reason, its text kept.
pub(crate) async fn post_status(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<PostForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let return_to = local_path(form.return_to.as_deref(), "/home").to_owned();
    let req = NewPost {
        text: form.status.clone(),
        visibility: form.visibility.clone(),
        in_reply_to_id: form.in_reply_to_id,
        group_id: form.group_id,
        ..NewPost::default()
    };
    match app.post(&session.principal, req).await {
        Ok(_) => Ok(see_other(&return_to)),
        Err(ServiceError::Validation(reason)) => {
            let me = &session.account;
            let mut composer = match form.in_reply_to_id {
                Some(id) => match app.status(Some(me), id).await {
                    Ok(parent) => Composer::reply(me, &parent, return_to),
                    Err(_) => Composer::new(me, return_to),
                },
                None => Composer::new(me, return_to),
            };
            composer.text = form.status;
            if let Some(v) = form.visibility {
                composer.visibility = v;
            }
            // A group's composer stays the group's.
            if let Some(id) = form.group_id
                && let Ok(group) = app.group(me, id).await
            {
                composer.fixed = Some(super::groups::audience_of(&group));
            }
            composer.error = format!("Your post was not published: {reason}");
            let page = ComposePage {
                layout: layout(&app, Some(&session), "Edit your post", Nav::Other).await?,
                composer,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, super::render(&page)?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// A form that carries only the anti-forgery token.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

/// `POST /accounts/{id}/follow`.
pub(crate) async fn follow(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    app.follow(&session.account, id, None, None).await?;
    let target = app.account(id).await?;
    Ok(see_other(&format!("/@{}", target.username)))
}

/// `POST /accounts/{id}/unfollow`.
pub(crate) async fn unfollow(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    app.unfollow(&session.account, id).await?;
    let target = app.account(id).await?;
    Ok(see_other(&format!("/@{}", target.username)))
}
