//! Web Push subscriptions (`/api/v1/push/subscription`): one per access token, as in
//! Mastodon. Delivery itself is the service's background work.

use crate::entities::WebPushSubscription;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Body};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use starling_service::Starling;
use starling_service::push::{NewPushSubscription, PushData, PushSubscriptionRecord};
use std::collections::HashMap;

pub(super) fn routes() -> Router<Starling> {
    Router::new().route(
        "/api/v1/push/subscription",
        post(create).get(show).put(update).delete(remove),
    )
}

/// `subscription` of a JSON body.
#[derive(Debug, Default, Deserialize)]
struct SubscriptionJson {
    endpoint: Option<String>,
    keys: Option<KeysJson>,
}

#[derive(Debug, Default, Deserialize)]
struct KeysJson {
    p256dh: Option<String>,
    auth: Option<String>,
}

/// `data` of a JSON body.
#[derive(Debug, Default, Deserialize)]
struct DataJson {
    alerts: Option<Map<String, Value>>,
    policy: Option<String>,
}

/// A subscription request: JSON (`{"subscription": {…}, "data": {…}}`) or a form with
/// Mastodon's bracketed keys (`subscription[keys][p256dh]=…`, `data[alerts][mention]=1`),
/// which land in `form`.
#[derive(Debug, Default, Deserialize)]
struct SubscriptionBody {
    subscription: Option<SubscriptionJson>,
    data: Option<DataJson>,
    #[serde(flatten)]
    form: HashMap<String, Value>,
}

impl SubscriptionBody {
    /// A bracketed form value, if sent as a string.
    fn form_str(&self, key: &str) -> Option<String> {
        match self.form.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// The `data` part: alerts from `data[alerts][<type>]` form keys and the JSON object,
    /// each value a boolean (`true`/`false`, `1`/`0`).
    fn data(&self) -> ApiResult<PushData> {
        let mut alerts = Vec::new();
        for (key, value) in &self.form {
            if let Some(kind) = key
                .strip_prefix("data[alerts][")
                .and_then(|k| k.strip_suffix(']'))
            {
                alerts.push((kind.to_owned(), flag(key, value)?));
            }
        }
        let json = self.data.as_ref();
        for (kind, value) in json.and_then(|d| d.alerts.as_ref()).into_iter().flatten() {
            alerts.push((kind.clone(), flag(&format!("data[alerts][{kind}]"), value)?));
        }
        Ok(PushData {
            alerts,
            policy: self
                .form_str("data[policy]")
                .or_else(|| json.and_then(|d| d.policy.clone())),
        })
    }

    fn new_subscription(mut self) -> ApiResult<NewPushSubscription> {
        let data = self.data()?;
        let json = self.subscription.take().unwrap_or_default();
        let keys = json.keys.unwrap_or_default();
        Ok(NewPushSubscription {
            endpoint: self.form_str("subscription[endpoint]").or(json.endpoint),
            p256dh: self.form_str("subscription[keys][p256dh]").or(keys.p256dh),
            auth: self.form_str("subscription[keys][auth]").or(keys.auth),
            data,
        })
    }
}

/// A boolean as clients send it: a JSON boolean or number, or a form string.
fn flag(field: &str, value: &Value) -> ApiResult<bool> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "on" | "yes" => Some(true),
            "0" | "false" | "off" | "no" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    };
    parsed.ok_or_else(|| ApiError::unprocessable(format!("{field} must be true or false")))
}

fn entity(app: &Starling, record: &PushSubscriptionRecord) -> Json<WebPushSubscription> {
    Json(WebPushSubscription::from_record(
        record,
        app.vapid_public_key(),
    ))
}

/// `POST /api/v1/push/subscription`: subscribes this token (replacing its subscription).
async fn create(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(body): Body<SubscriptionBody>,
) -> ApiResult<Json<WebPushSubscription>> {
    p.require("push")?;
    let record = app.subscribe_push(&p, body.new_subscription()?).await?;
    Ok(entity(&app, &record))
}

/// `GET /api/v1/push/subscription`: this token's subscription.
async fn show(State(app): State<Starling>, Auth(p): Auth) -> ApiResult<Json<WebPushSubscription>> {
    p.require("push")?;
    let record = app.push_subscription(&p).await?;
    Ok(entity(&app, &record))
}

/// `PUT /api/v1/push/subscription`: replaces the alerts and policy.
async fn update(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(body): Body<SubscriptionBody>,
) -> ApiResult<Json<WebPushSubscription>> {
    p.require("push")?;
    let record = app.update_push_subscription(&p, body.data()?).await?;
    Ok(entity(&app, &record))
}

/// `DELETE /api/v1/push/subscription`: unsubscribes this token.
async fn remove(State(app): State<Starling>, Auth(p): Auth) -> ApiResult<Json<Value>> {
    p.require("push")?;
    app.unsubscribe_push(&p).await?;
    Ok(Json(json!({})))
}
