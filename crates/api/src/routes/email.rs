//! E-mail notification preferences (`/api/v1/email_preferences`), a Starling extension:
//! which notifications the signed-in person is e-mailed about, and the daily digest.
//! Sending is the service's background work.

use crate::entities::EmailPreferences;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Body};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use starling_service::Starling;
use starling_service::email::EmailPreferencesUpdate;
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<Starling> {
    Router::new().route(
        "/api/v1/email_preferences",
        get(show).patch(update).put(update),
    )
}

/// `GET /api/v1/email_preferences`: the signed-in person's e-mail preferences.
async fn show(State(app): State<Starling>, Auth(p): Auth) -> ApiResult<Json<EmailPreferences>> {
    p.require("read:accounts")?;
    let prefs = app.email_preferences(&p).await?;
    Ok(Json(EmailPreferences::new(prefs, app.email_enabled())))
}

/// `PATCH /api/v1/email_preferences` (or `PUT`): switches the preferences sent on or off
/// and keeps the others; unknown fields and values that are not booleans are refused
/// with 422 naming the field, so a typo is not silently ignored.
async fn update(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(body): Body<BTreeMap<String, Value>>,
) -> ApiResult<Json<EmailPreferences>> {
    p.require("write:accounts")?;
    let mut changes = EmailPreferencesUpdate::default();
    for (field, value) in &body {
        let slot = match field.as_str() {
            "mention" => &mut changes.mention,
            "direct" => &mut changes.direct,
            "follow" => &mut changes.follow,
            "digest" => &mut changes.digest,
            other => {
                return Err(ApiError::unprocessable(format!(
                    "{other} is not an e-mail preference (mention, direct, follow, digest)"
                )));
            }
        };
        *slot = Some(flag(field, value)?);
    }
    let prefs = app.update_email_preferences(&p, changes).await?;
    Ok(Json(EmailPreferences::new(prefs, app.email_enabled())))
}

/// A boolean as clients send it: a JSON boolean, or a form's `true`/`false`/`1`/`0`.
fn flag(field: &str, value: &Value) -> ApiResult<bool> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "on" | "yes" => Some(true),
            "0" | "false" | "off" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| ApiError::unprocessable(format!("{field} must be true or false")))
}
