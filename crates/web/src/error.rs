//! The web UI's one error type and its one mapping to responses: an HTML page with the
//! right status and a safe message (internal causes are logged, never shown), or a
//! redirect to the sign-in page when a page needs a session.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use starling_service::ServiceError;
use thiserror::Error;

use crate::assets::{ASSETS, Assets};

/// Why a web request failed.
#[derive(Debug, Error)]
pub enum WebError {
    /// A use case refused or failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The page needs a signed-in visitor; `next` is where to return afterwards.
    #[error("sign-in required")]
    SignInRequired {
        /// The local path to come back to.
        next: String,
    },
    /// A form arrived without the session's anti-forgery token.
    #[error("the form's security token is missing or wrong")]
    Csrf,
    /// No such page.
    #[error("not found")]
    NotFound,
    /// A template failed to render.
    #[error("cannot render a page")]
    Render(#[from] askama::Error),
}

/// Result of a web handler.
pub type WebResult<T> = Result<T, WebError>;

/// The page shown for an error.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    assets: &'a Assets,
    title: &'a str,
    message: &'a str,
}

impl WebError {
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            Self::Service(e) => {
                let status = match e {
                    ServiceError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
                    ServiceError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                    ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
                    ServiceError::NotFound => StatusCode::NOT_FOUND,
                    ServiceError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                    ServiceError::Internal(cause) => {
                        tracing::error!(error = %cause, "internal error");
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                };
                let message = match e {
                    ServiceError::NotFound => "This page does not exist, or is not visible to you.".to_owned(),
                    ServiceError::Internal(_) => "Something went wrong on our side.".to_owned(),
                    other => other.to_string(),
                };
                (status, message)
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.".to_owned(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "This page does not exist, or is not visible to you.".to_owned(),
            ),
            Self::Render(e) => {
                tracing::error!(error = %e, "cannot render a page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side.".to_owned(),
                )
            }
            Self::SignInRequired { .. } => (StatusCode::UNAUTHORIZED, "Please sign in.".to_owned()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let Self::SignInRequired { next } = &self {
            let location = format!("/sign-in?next={}", crate::forms::encode_query(next));
            return (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
        }
        let (status, message) = self.status_and_message();
        let title = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            assets: &ASSETS,
            title,
            message: &message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            // The error page itself failed: plain text is all that is left.
            Err(_) => (status, message).into_response(),
        }
    }
}
