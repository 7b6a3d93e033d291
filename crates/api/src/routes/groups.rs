//! Groups (a Starling extension, documented in `docs/api.md`): `/api/v1/groups` and
//! everything under it — the directory, one group, members and roles, joining and
//! leaving, join requests, invitations and the group timeline.
//!
//! Conventions are Mastodon's: string ids, `Link` pagination, `{"error"}` bodies; join
//! requests are answered like follow requests (`…/requests/:account_id/authorize`).

use crate::entities::Account;
use crate::error::ApiResult;
use crate::extract::{AccountIds, Auth, Body, MaybeAuth, Params, flex_bool, path_id};
use crate::pagination::{PageParams, StatusList, accounts_page, link_header, statuses_page};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use starling_service::auth::Principal;
use starling_service::groups::{GroupChanges, GroupView, MemberView, NewGroup};
use starling_service::timelines::{Paged, Timeline};
use starling_service::{AccountRecord, Settings, Starling};

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/groups", get(index).post(create))
        .route("/api/v1/groups/{id}", get(show).put(update).delete(destroy))
        .route("/api/v1/groups/{id}/join", post(join))
        .route("/api/v1/groups/{id}/leave", post(leave))
        .route("/api/v1/groups/{id}/members", get(members))
        .route(
            "/api/v1/groups/{id}/members/{account_id}",
            put(set_role).delete(remove_member),
        )
        .route("/api/v1/groups/{id}/requests", get(requests))
        .route(
            "/api/v1/groups/{id}/requests/{account_id}/authorize",
            post(authorize),
        )
        .route(
            "/api/v1/groups/{id}/requests/{account_id}/reject",
            post(reject),
        )
        .route("/api/v1/groups/{id}/invitations", post(invite))
        .route("/api/v1/groups/{id}/timeline", get(timeline))
}

/// Where the caller stands with a group.
#[derive(Debug, Serialize)]
struct GroupRelationship {
    member: bool,
    role: Option<String>,
    notifying: bool,
    requested: bool,
    invited: bool,
}

/// Starling's Group entity.
#[derive(Debug, Serialize)]
struct Group {
    id: String,
    name: String,
    description: String,
    visibility: String,
    created_at: String,
    members_count: i64,
    url: String,
    relationship: GroupRelationship,
}

impl Group {
    fn from_view(v: &GroupView, s: &Settings) -> Self {
        let g = &v.group;
        let member = v.standing.member.as_ref();
        Self {
            id: g.id.to_string(),
            name: g.name.clone(),
            description: g.description.clone(),
            visibility: g.visibility.clone(),
            created_at: crate::entities::iso_time(g.created_at),
            members_count: g.members_count,
            url: format!("{}/groups/{}", s.base_url(), g.id),
            relationship: GroupRelationship {
                member: member.is_some(),
                role: member.map(|m| m.role.clone()),
                notifying: member.is_some_and(|m| m.notify),
                requested: v.standing.requested,
                invited: v.standing.invited,
            },
        }
    }
}

/// A member as listed: the account and its role.
#[derive(Debug, Serialize)]
struct GroupMember {
    account: Account,
    role: String,
}

fn one(app: &Starling, v: &GroupView) -> Json<Group> {
    Json(Group::from_view(v, app.settings()))
}

#[derive(Debug, Default, Deserialize)]
struct GroupForm {
    name: Option<String>,
    description: Option<String>,
    visibility: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DirectoryParams {
    #[serde(default, deserialize_with = "flex_bool")]
    mine: Option<bool>,
}

/// `GET /api/v1/groups`: public groups and the caller's own, newest first; `mine=true`
/// lists only the caller's.
async fn index(
    State(app): State<Starling>,
    Auth(p): Auth,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
    Params(d): Params<DirectoryParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Group>>)> {
    p.require("read:groups")?;
    let paged: Paged<GroupView> = app
        .groups(p.account()?, d.mine.unwrap_or(false), q.page()?)
        .await?;
    let headers = link_header(&app.settings().base_url(), &uri, &paged);
    let groups = paged
        .items
        .iter()
        .map(|g| Group::from_view(g, app.settings()))
        .collect();
    Ok((headers, Json(groups)))
}

/// `POST /api/v1/groups` (`name`, optional `description` and `visibility`).
async fn create(
    State(app): State<Starling>,
    Auth(p): Auth,
    Body(f): Body<GroupForm>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .create_group(
            p.account()?,
            NewGroup {
                name: f.name.unwrap_or_default(),
                description: f.description,
                visibility: f.visibility,
            },
        )
        .await?;
    Ok(one(&app, &group))
}

/// `GET /api/v1/groups/:id` (anonymous readers: public groups only).
async fn show(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Group>> {
    let viewer = reader(&p, "read:groups")?;
    Ok(one(&app, &app.group_for(viewer, path_id(&id)?).await?))
}

/// The signed-in reader, if any, checked for `scope`.
fn reader<'a>(p: &'a Option<Principal>, scope: &str) -> ApiResult<Option<&'a AccountRecord>> {
    if let Some(p) = p {
        p.require(scope)?;
    }
    Ok(p.as_ref().and_then(|p| p.account.as_deref()))
}

/// `PUT /api/v1/groups/:id` (owners and admins; fields left out keep their values).
async fn update(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(f): Body<GroupForm>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .update_group(
            p.account()?,
            path_id(&id)?,
            GroupChanges {
                name: f.name,
                description: f.description,
                visibility: f.visibility,
            },
        )
        .await?;
    Ok(one(&app, &group))
}

/// `DELETE /api/v1/groups/:id` (owners only): answers `{}`.
async fn destroy(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require("write:groups")?;
    app.delete_group(p.account()?, path_id(&id)?).await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
struct JoinForm {
    #[serde(default, deserialize_with = "flex_bool")]
    notify: Option<bool>,
}

/// `POST /api/v1/groups/:id/join` (optional `notify`): joins, or asks to join a private
/// group; the answer's `relationship` tells which.
async fn join(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Body(f): Body<JoinForm>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .join_group(p.account()?, path_id(&id)?, f.notify)
        .await?;
    Ok(one(&app, &group))
}

/// `POST /api/v1/groups/:id/leave`: leaves, withdraws a request or declines an invitation.
async fn leave(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    Ok(one(
        &app,
        &app.leave_group(p.account()?, path_id(&id)?).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct RoleFilter {
    role: Option<String>,
}

/// `GET /api/v1/groups/:id/members` (optional `role`): members with their roles.
async fn members(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
    Params(r): Params<RoleFilter>,
) -> ApiResult<(HeaderMap, Json<Vec<GroupMember>>)> {
    p.require("read:groups")?;
    let paged: Paged<MemberView> = app
        .group_members(p.account()?, path_id(&id)?, r.role.as_deref(), q.page()?)
        .await?;
    let headers = link_header(&app.settings().base_url(), &uri, &paged);
    let members = paged
        .items
        .iter()
        .map(|m| GroupMember {
            account: Account::from_record(&m.account, app.settings()),
            role: m.role.clone(),
        })
        .collect();
    Ok((headers, Json(members)))
}

#[derive(Debug, Default, Deserialize)]
struct RoleForm {
    role: Option<String>,
}

/// `PUT /api/v1/groups/:id/members/:account_id` with `role`: promotes or demotes.
async fn set_role(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path((id, account_id)): Path<(String, String)>,
    Body(f): Body<RoleForm>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .set_group_role(
            p.account()?,
            path_id(&id)?,
            path_id(&account_id)?,
            f.role.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(one(&app, &group))
}

/// `DELETE /api/v1/groups/:id/members/:account_id`: removes a member.
async fn remove_member(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path((id, account_id)): Path<(String, String)>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .remove_group_member(p.account()?, path_id(&id)?, path_id(&account_id)?)
        .await?;
    Ok(one(&app, &group))
}

/// `GET /api/v1/groups/:id/requests`: accounts waiting for approval (owners and admins).
async fn requests(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, Json<Vec<Account>>)> {
    p.require("read:groups")?;
    let paged = app
        .group_requests(p.account()?, path_id(&id)?, q.page()?)
        .await?;
    Ok(accounts_page(&app, &uri, &paged))
}

/// `POST /api/v1/groups/:id/requests/:account_id/authorize`.
async fn authorize(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path((id, account_id)): Path<(String, String)>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .authorize_group_request(p.account()?, path_id(&id)?, path_id(&account_id)?)
        .await?;
    Ok(one(&app, &group))
}

/// `POST /api/v1/groups/:id/requests/:account_id/reject`.
async fn reject(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path((id, account_id)): Path<(String, String)>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .reject_group_request(p.account()?, path_id(&id)?, path_id(&account_id)?)
        .await?;
    Ok(one(&app, &group))
}

/// `POST /api/v1/groups/:id/invitations` (`account_ids[]`, form or JSON).
async fn invite(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Params(q): Params<AccountIds>,
    Body(b): Body<AccountIds>,
) -> ApiResult<Json<Group>> {
    p.require("write:groups")?;
    let group = app
        .invite_to_group(p.account()?, path_id(&id)?, &b.ids(q))
        .await?;
    Ok(one(&app, &group))
}

/// `GET /api/v1/groups/:id/timeline`: the group's posts, newest first (anonymous
/// readers: public groups only).
async fn timeline(
    State(app): State<Starling>,
    MaybeAuth(p): MaybeAuth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    Params(q): Params<PageParams>,
) -> ApiResult<(HeaderMap, StatusList)> {
    let viewer = reader(&p, "read:statuses")?;
    let paged = app
        .timeline(viewer, Timeline::Group(path_id(&id)?), q.page()?)
        .await?;
    Ok(statuses_page(&app, &uri, paged))
}
