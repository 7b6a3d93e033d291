//! Accounts: sign-up, credentials, profiles, follows, blocks, mutes and relationships.

use crate::entities::{Account, Relationship, Token};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Body, MaybeAuth, Params, flex_bool, path_id};
use crate::pagination::{PageParams, StatusList, accounts_page, statuses_page};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use starling_service::accounts::{ProfileChanges, SignUp};
use starling_service::timelines::Timeline;
use starling_service::{AccountList, AccountTimelineFilter, Starling};

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/accounts", post(sign_up))
        .route(
            "/api/v1/accounts/verify_credentials",
            get(verify_credentials),
        )
        .route(
            "/api/v1/accounts/update_credentials",
            patch(update_credentials),
        )
        .route("/api/v1/accounts/lookup", get(lookup))
        .route("/api/v1/accounts/relationships", get(relationships))
        .route("/api/v1/accounts/{id}", get(show))
        .route("/api/v1/accounts/{id}/statuses", get(statuses))
        .route("/api/v1/accounts/{id}/followers", get(followers))
        .route("/api/v1/accounts/{id}/following", get(following))
        .route("/api/v1/accounts/{id}/follow", post(follow))
        .route("/api/v1/accounts/{id}/unfollow", post(unfollow))
        .route("/api/v1/accounts/{id}/block", post(block))
        .route("/api/v1/accounts/{id}/unblock", post(unblock))
        .route("/api/v1/accounts/{id}/mute", post(mute))
        .route("/api/v1/accounts/{id}/unmute", post(unmute))
        .route("/api/v1/blocks", get(blocks))
        .route("/api/v1/mutes", get(mutes))
}

#[derive(Debug, Deserialize)]
struct SignUpRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default, deserialize_with = "flex_bool")]
    agreement: Option<bool>,
    locale: Option<String>,
}

/// `POST /api/v1/accounts`: signs up with an app token; the returned token works at once.
async fn sign_up(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(r): Body<SignUpRequest>,
) -> ApiResult<Json<Token>> {
    p.require("write:accounts")?;
    let (_, token) = app
        .sign_up(
            &p,
            SignUp {
                username: r.username,
                email: r.email,
                password: r.password,
                agreement: r.agreement.unwrap_or(false),
                locale: r.locale,
            },
        )
        .await?;
    Ok(Json(token.into()))
}

/// `GET /api/v1/accounts/verify_credentials`.
async fn verify_credentials(
    State(app): State<Starling>,
    Auth(p): Auth,
) -> ApiResult<Json<Account>> {
    if !p.scopes.grants("profile") {
        p.require("read:accounts")?;
    }
    Ok(Json(Account::credential(p.account()?, app.settings())))
}

#[derive(Debug, Default, Deserialize)]
struct SourceJson {
    privacy: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    sensitive: Option<bool>,
    language: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct UpdateCredentials {
    display_name: Option<String>,
    note: Option<String>,
    #[serde(default, deserialize_with = "flex_bool")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    bot: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    discoverable: Option<bool>,
    source: Option<SourceJson>,
    #[serde(rename = "source[privacy]")]
    source_privacy: Option<String>,
    #[serde(rename = "source[sensitive]", default, deserialize_with = "flex_bool")]
    source_sensitive: Option<bool>,
    #[serde(rename = "source[language]")]
    source_language: Option<String>,
}

/// `PATCH /api/v1/accounts/update_credentials`.
async fn update_credentials(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(r): Body<UpdateCredentials>,
) -> ApiResult<Json<Account>> {
    p.require("write:accounts")?;
    let source = r.source.unwrap_or_default();
    let updated = app
        .update_profile(
            p.account()?,
            ProfileChanges {
                display_name: r.display_name,
                note: r.note,
                locked: r.locked,
                bot: r.bot,
                discoverable: r.discoverable,
                privacy: r.source_privacy.or(source.privacy),
                sensitive: r.source_sensitive.or(source.sensitive),
                language: r.source_language.or(source.language),
            },
        )
        .await?;
    Ok(Json(Account::credential(&updated, app.settings())))
}

#[derive(Debug, Deserialize)]
struct LookupParams {
    acct: Option<String>,
}

/// `GET /api/v1/accounts/lookup?acct=`.
async fn lookup(
    State(app): State<Starling>,
    MaybeAuth(_): MaybeAuth,
    Params(q): Params<LookupParams>,
) -> ApiResult<Json<Account>> {
    let acct = q
        .acct
        .ok_or_else(|| ApiError::bad_request("acct is required"))?;
    Ok(Json(Account::from_record(
        &app.lookup(&acct).await?,
        app.settings(),
    )))
}

#[derive(Debug, Deserialize)]
struct RelationshipParams {
    #[serde(rename = "id[]", default)]
    ids: Vec<String>,
    #[serde(default)]
    id: Vec<String>,
}

/// `GET /api/v1/accounts/relationships?id[]=…` (a single `id=` is accepted too).
async fn relationships(
    State(app): State<Starling>,
    Auth(p): Auth,
    Params(q): Params<RelationshipParams>,
) -> ApiResult<Json<Vec<Relationship>>> {
    p.require("read:follows")?;
    // Unknown or malformed ids get no entry, as in Mastodon.
    let ids: Vec<i64> = q
        .ids
        .iter()
        .chain(q.id.iter())
        .filter_map(|s| starling_domain::id::parse_id(s))
        .take(100)
        .collect();
    let rels = app.relationships(p.account()?, &ids).await?;
    Ok(Json(rels.iter().map(Relationship::from).collect()))
}

/// `GET /api/v1/accounts/:id`.
async fn show(
    State(app): State<Starling>,
    MaybeAuth(_): MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    let account = app.account(path_id(&id)?).await?;
    Ok(Json(Account::from_record(&account, app.settings())))
}

#[derive(Debug, Deserialize)]
struct AccountStatusesParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "flex_bool")]
    exclude_replies: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    exclude_reblogs: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    only_media: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    pinned: Option<bool>,
}

/// `GET /api/v1/accounts/:id/statuses`.
async fn statuses(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<AccountStatusesParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    if let Some(p) = &p {
        p.require("read:statuses")?;
    }
    let id = path_id(&id)?;
    let page = q.page.page()?;
    let viewer = p.as_ref().and_then(|p| p.account.as_deref());
    if q.only_media.unwrap_or(false) {
        // No post carries media yet; the filter is honoured by returning none.
        app.account(id).await?;
        return Ok((HeaderMap::new(), StatusList(Vec::new())));
    }
    let filter = AccountTimelineFilter {
        exclude_replies: q.exclude_replies.unwrap_or(false),
        exclude_reblogs: q.exclude_reblogs.unwrap_or(false),
        pinned: q.pinned.unwrap_or(false),
    };
    let paged = app
        .timeline(viewer, Timeline::Account(id, filter), page)
        .await?;
    Ok(statuses_page(&app, &uri, paged))
}

async fn account_list(
    app: &Starling,
    list: AccountList,
    subject: i64,
    uri: &axum::http::Uri,
    q: &PageParams,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    let paged = app.account_list(list, subject, q.page()?).await?;
    Ok(accounts_page(app, uri, &paged))
}

/// `GET /api/v1/accounts/:id/followers`.
async fn followers(
    State(app): State<Starling>,
    MaybeAuth(_): MaybeAuth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    account_list(&app, AccountList::Followers, path_id(&id)?, &uri, &q).await
}

/// `GET /api/v1/accounts/:id/following`.
async fn following(
    State(app): State<Starling>,
    MaybeAuth(_): MaybeAuth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    account_list(&app, AccountList::Following, path_id(&id)?, &uri, &q).await
}

/// `GET /api/v1/blocks`.
async fn blocks(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    p.require("read:blocks")?;
    account_list(&app, AccountList::Blocks, p.account()?.id, &uri, &q).await
}

/// `GET /api/v1/mutes`.
async fn mutes(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    p.require("read:mutes")?;
    account_list(&app, AccountList::Mutes, p.account()?.id, &uri, &q).await
}

#[derive(Debug, Default, Deserialize)]
struct FollowOptions {
    #[serde(default, deserialize_with = "flex_bool")]
    reblogs: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    notify: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    notifications: Option<bool>,
}

/// `POST /api/v1/accounts/:id/follow`.
async fn follow(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(o): Body<FollowOptions>,
) -> ApiResult<Json<Relationship>> {
    p.require("write:follows")?;
    let rel = app
        .follow(p.account()?, path_id(&id)?, o.reblogs, o.notify)
        .await?;
    Ok(Json((&rel).into()))
}

/// `POST /api/v1/accounts/:id/unfollow`.
async fn unfollow(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    p.require("write:follows")?;
    Ok(Json(
        (&app.unfollow(p.account()?, path_id(&id)?).await?).into(),
    ))
}

/// `POST /api/v1/accounts/:id/block`.
async fn block(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    p.require("write:blocks")?;
    Ok(Json(
        (&app.block(p.account()?, path_id(&id)?).await?).into(),
    ))
}

/// `POST /api/v1/accounts/:id/unblock`.
async fn unblock(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    p.require("write:blocks")?;
    Ok(Json(
        (&app.unblock(p.account()?, path_id(&id)?).await?).into(),
    ))
}

/// `POST /api/v1/accounts/:id/mute` (`notifications` defaults to true).
async fn mute(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(o): Body<FollowOptions>,
) -> ApiResult<Json<Relationship>> {
    p.require("write:mutes")?;
    Ok(Json(
        (&app
            .mute(p.account()?, path_id(&id)?, o.notifications)
            .await?)
            .into(),
    ))
}

/// `POST /api/v1/accounts/:id/unmute`.
async fn unmute(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    p.require("write:mutes")?;
    Ok(Json(
        (&app.unmute(p.account()?, path_id(&id)?).await?).into(),
    ))
}
