//! The service layer's error: what went wrong, in terms a front end can map to a response.

use starling_store::StoreError;
use thiserror::Error;

/// Result of a use case.
pub type Result<T> = std::result::Result<T, ServiceError>;

/// Why a use case failed. Messages are safe to show; internal causes are only logged.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// Input broke a rule; the message names the field and the rule.
    #[error("{0}")]
    Validation(String),
    /// The request is malformed (missing parameter, unusable value).
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// Missing, or not visible to this viewer (never reveals which).
    #[error("Record not found")]
    NotFound,
    /// Too many requests; the message says what to do.
    #[error("{0}")]
    RateLimited(String),
    /// Something failed inside; details are logged, not shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    /// A validation error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(field) => Self::Validation(format!("{field} is already taken")),
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(Box::new(e))
    }
}
