//! Groups in the browser: the directory with a form to create a group, a group's page
//! (its timeline and composer, joining and leaving), its members, and for its owners and
//! admins the join requests and roles.
//!
//! Every rule is the service's (`starling_service::groups`): who may look a group up
//! (`group_for`), read its posts and members (a private group's only for members), join,
//! answer requests or change roles. The pages only ask and print the answer; a private
//! group's page shows a non-member what `group_for` gives (name, description, size) and
//! never asks for its posts or members.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_domain::group::GroupRole;
use starling_domain::id::{now_millis, parse_id};
use starling_service::groups::{GroupChanges, GroupView, NewGroup};
use starling_service::timelines::Timeline;
use starling_service::{Page, ServiceError, Starling};

use super::actions::TokenForm;
use super::pages::{Older, layout, see_other};
use super::render;
use crate::error::{WebError, WebResult};
use crate::forms::{encode_query, opt_id};
use crate::session::{MaybeSession, SignedIn};
use crate::view::{Composer, FixedAudience, Layout, Nav, Person, PostCard};

/// Groups, members or requests per page.
const PAGE_SIZE: i64 = 20;

/// The composer's fixed audience for a post in `group`.
pub(crate) fn audience_of(group: &GroupView) -> FixedAudience {
    FixedAudience {
        visibility: String::new(),
        group_id: Some(group.group.id.to_string()),
        label: format!("members of {}", group.group.name),
    }
}

/// A group id from the path; anything else is no page.
fn group_id(raw: &str) -> WebResult<i64> {
    parse_id(raw).ok_or(WebError::NotFound)
}

/// A group as the directory and its page print it.
#[derive(Debug, Clone)]
pub(crate) struct GroupCard {
    /// Its page.
    pub url: String,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// Whether only members read it.
    pub private: bool,
    /// How many members it has.
    pub members: i64,
    /// The visitor's role in it (`owner`, `admin`, `member`), if a member.
    pub role: Option<String>,
    /// The visitor asked to join and waits.
    pub requested: bool,
    /// The visitor was invited.
    pub invited: bool,
}

impl GroupCard {
    fn of(v: &GroupView) -> Self {
        let g = &v.group;
        Self {
            url: format!("/groups/{}", g.id),
            name: g.name.clone(),
            description: g.description.clone(),
            private: g.visibility != "public",
            members: g.members_count,
            role: v.standing.member.as_ref().map(|m| m.role.clone()),
            requested: v.standing.requested,
            invited: v.standing.invited,
        }
    }

    /// The visitor's standing, in words (empty for none).
    pub fn standing(&self) -> &'static str {
        match (self.role.as_deref(), self.requested, self.invited) {
            (Some("owner"), _, _) => "Owner",
            (Some("admin"), _, _) => "Admin",
            (Some(_), _, _) => "Member",
            (None, true, _) => "Requested",
            (None, _, true) => "Invited",
            _ => "",
        }
    }

    /// Whether the visitor is an owner or admin.
    pub fn moderator(&self) -> bool {
        matches!(self.role.as_deref(), Some("owner" | "admin"))
    }

    /// `1 member`, `5 members`.
    pub fn members_label(&self) -> String {
        if self.members == 1 {
            "1 member".to_owned()
        } else {
            format!("{} members", self.members)
        }
    }
}

/// The create-a-group form's fields (also its state when refused).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GroupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
    /// The privacy the form was shown with: only a change of it is sent, so saving a
    /// stale form (another admin changed the privacy since) does not undo theirs.
    #[serde(default)]
    visibility_was: String,
}

/// `?max_id=` and `?mine=1` (only the visitor's own groups) for the directory.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DirectoryQuery {
    #[serde(default, deserialize_with = "opt_id")]
    max_id: Option<i64>,
    #[serde(default)]
    mine: Option<String>,
}

impl DirectoryQuery {
    fn mine(&self) -> bool {
        self.mine
            .as_deref()
            .is_some_and(|m| !m.is_empty() && m != "0")
    }
}

#[derive(Template)]
#[template(path = "groups.html")]
struct DirectoryPage {
    layout: Layout,
    mine: bool,
    groups: Vec<GroupCard>,
    older: Option<String>,
    form: GroupForm,
    error: String,
}

/// Reads the directory page `q` and renders it with the form in state `form`.
async fn directory(
    app: &Starling,
    session: &crate::session::Session,
    q: &DirectoryQuery,
    form: GroupForm,
    error: String,
) -> WebResult<Response> {
    let page = Page {
        max_id: q.max_id,
        ..Page::first(PAGE_SIZE)
    };
    let mine = q.mine();
    let paged = app.groups(&session.account, mine, page).await?;
    let base = if mine { "/groups?mine=1&" } else { "/groups?" };
    let older = match paged.next_max_id {
        Some(id) if paged.items.len() as i64 >= PAGE_SIZE => Some(format!("{base}max_id={id}")),
        _ => None,
    };
    render(&DirectoryPage {
        layout: layout(app, Some(session), "Groups", Nav::Groups).await?,
        mine,
        groups: paged.items.iter().map(GroupCard::of).collect(),
        older,
        form,
        error,
    })
}

/// `GET /groups` (`?mine=1`: only the visitor's own): public groups and the visitor's
/// own, newest first, with a form to create one.
pub(crate) async fn index(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<DirectoryQuery>,
) -> WebResult<Response> {
    let form = GroupForm {
        visibility: "public".to_owned(),
        ..GroupForm::default()
    };
    directory(&app, &session, &q, form, String::new()).await
}

/// `POST /groups`: creates a group (the visitor becomes its owner) and opens its page;
/// a refused one comes back in the form with the reason.
pub(crate) async fn create(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<GroupForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let new = NewGroup {
        name: form.name.clone(),
        description: Some(form.description.clone()),
        visibility: Some(form.visibility.clone()),
    };
    match app.create_group(&session.account, new).await {
        Ok(view) => Ok(see_other(&format!("/groups/{}", view.group.id))),
        Err(ServiceError::Validation(reason)) => {
            let error = format!("The group was not created: {reason}");
            let page = directory(&app, &session, &DirectoryQuery::default(), form, error).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    layout: Layout,
    group: GroupCard,
    signed_in: bool,
    readable: bool,
    composer: Option<Composer>,
    posts: Vec<PostCard>,
    older: Option<String>,
    sign_in_next: String,
}

/// `GET /groups/{id}`: the group and, for those who may read it, its posts (with a
/// composer for members). A private group shows others only what the service's
/// `group_for` gives; signed-out visitors see public groups only.
pub(crate) async fn show(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<Older>,
) -> WebResult<Response> {
    let id = group_id(&id)?;
    let me = session.as_ref().map(|s| &*s.account);
    let view = app.group_for(me, id).await?;
    let group = GroupCard::of(&view);
    let path = format!("/groups/{id}");
    // Whether the visitor may read the posts is the service's call (a private group's
    // are for members): asked, not guessed, and a refusal shows no posts at all.
    let page = Page {
        max_id: q.max_id,
        ..Page::first(PAGE_SIZE)
    };
    let (readable, posts, older) = match app.timeline(me, Timeline::Group(id), page).await {
        Ok(paged) => {
            let older = match paged.next_max_id {
                Some(next) if paged.items.len() as i64 >= PAGE_SIZE => {
                    Some(format!("{path}?max_id={next}"))
                }
                _ => None,
            };
            (true, PostCard::all(&paged.items, now_millis()), older)
        }
        Err(ServiceError::Forbidden(_)) => (false, Vec::new(), None),
        Err(e) => return Err(e.into()),
    };
    let composer = match (me, &group.role) {
        (Some(m), Some(_)) => {
            let mut c = Composer::new(m, path.clone());
            c.fixed = Some(audience_of(&view));
            Some(c)
        }
        _ => None,
    };
    let mut layout = layout(&app, session.as_ref(), group.name.clone(), Nav::Groups).await?;
    if readable && session.is_some() {
        layout.live = format!("group:{id}");
    }
    render(&GroupPage {
        layout,
        signed_in: session.is_some(),
        readable,
        composer,
        posts,
        older,
        sign_in_next: encode_query(&path),
        group,
    })
}

/// `POST /groups/{id}/join`: joins a public group (or a private one the visitor was
/// invited to), or asks a private group's admins.
pub(crate) async fn join(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = group_id(&id)?;
    app.join_group(&session.account, id, None).await?;
    Ok(see_other(&format!("/groups/{id}")))
}

/// `POST /groups/{id}/leave`: leaves, withdraws a request or declines an invitation.
pub(crate) async fn leave(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = group_id(&id)?;
    app.leave_group(&session.account, id).await?;
    Ok(see_other(&format!("/groups/{id}")))
}

/// A member as the members page lists it.
#[derive(Debug, Clone)]
pub(crate) struct MemberCard {
    /// The account's id.
    pub id: String,
    /// The account.
    pub person: Person,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// Whether the visitor may change this member's role or remove them (the service
    /// decides; this only hides buttons that would be refused).
    pub manageable: bool,
}

/// `?max_id=` for members and `?requests_max_id=` for join requests.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MembersQuery {
    #[serde(default, deserialize_with = "opt_id")]
    max_id: Option<i64>,
    #[serde(default, deserialize_with = "opt_id")]
    requests_max_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "group_members.html")]
struct MembersPage {
    layout: Layout,
    group: GroupCard,
    members: Vec<MemberCard>,
    older: Option<String>,
    requests: Vec<(String, Person)>,
    older_requests: Option<String>,
    is_owner: bool,
    error: String,
}

/// `GET /groups/{id}/members`: the members with their roles (for those who may read the
/// group); its owners and admins also get the join requests and member controls.
pub(crate) async fn members(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<MembersQuery>,
) -> WebResult<Response> {
    let id = group_id(&id)?;
    members_page(&app, &session, id, &q, String::new()).await
}

async fn members_page(
    app: &Starling,
    session: &crate::session::Session,
    id: i64,
    q: &MembersQuery,
    error: String,
) -> WebResult<Response> {
    let me = &session.account;
    let view = app.group(me, id).await?;
    let group = GroupCard::of(&view);
    let paged = app
        .group_members(
            me,
            id,
            None,
            Page {
                max_id: q.max_id,
                ..Page::first(PAGE_SIZE)
            },
        )
        .await?;
    let mine = group.role.as_deref().and_then(|r| GroupRole::parse(r).ok());
    let members = paged
        .items
        .iter()
        .map(|m| {
            let theirs = GroupRole::parse(&m.role).ok();
            MemberCard {
                id: m.account.id.to_string(),
                person: Person::of(&m.account),
                role: m.role.clone(),
                manageable: m.account.id != me.id
                    && match mine {
                        Some(GroupRole::Owner) => true,
                        Some(GroupRole::Admin) => theirs != Some(GroupRole::Owner),
                        _ => false,
                    },
            }
        })
        .collect::<Vec<_>>();
    let path = format!("/groups/{id}/members");
    let older = match paged.next_max_id {
        Some(next) if members.len() as i64 >= PAGE_SIZE => Some(format!("{path}?max_id={next}")),
        _ => None,
    };
    let (requests, older_requests) = if group.moderator() {
        let paged = app
            .group_requests(
                me,
                id,
                Page {
                    max_id: q.requests_max_id,
                    ..Page::first(PAGE_SIZE)
                },
            )
            .await?;
        let older = match paged.next_max_id {
            Some(next) if paged.items.len() as i64 >= PAGE_SIZE => {
                Some(format!("{path}?requests_max_id={next}#requests"))
            }
            _ => None,
        };
        let items = paged
            .items
            .iter()
            .map(|a| (a.id.to_string(), Person::of(a)))
            .collect();
        (items, older)
    } else {
        (Vec::new(), None)
    };
    let title = format!("Members of {}", group.name);
    let page = MembersPage {
        layout: layout(app, Some(session), title, Nav::Groups).await?,
        is_owner: mine == Some(GroupRole::Owner),
        group,
        members,
        older,
        requests,
        older_requests,
        error,
    };
    render(&page)
}

/// `POST /groups/{id}/requests/{account_id}/authorize`: the requester becomes a member.
pub(crate) async fn authorize(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((id, account)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let (id, account) = (group_id(&id)?, group_id(&account)?);
    app.authorize_group_request(&session.account, id, account)
        .await?;
    Ok(see_other(&format!("/groups/{id}/members#requests")))
}

/// `POST /groups/{id}/requests/{account_id}/reject`.
pub(crate) async fn reject(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((id, account)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let (id, account) = (group_id(&id)?, group_id(&account)?);
    app.reject_group_request(&session.account, id, account)
        .await?;
    Ok(see_other(&format!("/groups/{id}/members#requests")))
}

/// `POST /groups/{id}/members/{account_id}/remove`.
pub(crate) async fn remove(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((id, account)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let (id, account) = (group_id(&id)?, group_id(&account)?);
    match app.remove_group_member(&session.account, id, account).await {
        Ok(_) => Ok(see_other(&format!("/groups/{id}/members"))),
        Err(e) => refused(&app, &session, id, e).await,
    }
}

/// The role form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

/// `POST /groups/{id}/members/{account_id}/role` (`role`: owner, admin or member).
pub(crate) async fn set_role(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((id, account)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let (id, account) = (group_id(&id)?, group_id(&account)?);
    match app
        .set_group_role(&session.account, id, account, &form.role)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/groups/{id}/members"))),
        Err(e) => refused(&app, &session, id, e).await,
    }
}

/// A refused member change: the members page again with the reason (422 or 403), or
/// the error page for anything else.
async fn refused(
    app: &Starling,
    session: &crate::session::Session,
    id: i64,
    e: ServiceError,
) -> WebResult<Response> {
    let status = match &e {
        ServiceError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => return Err(e.into()),
    };
    let page = members_page(
        app,
        session,
        id,
        &MembersQuery::default(),
        format!("Not changed: {e}"),
    )
    .await?;
    Ok((status, page).into_response())
}

/// `POST /groups/{id}/edit`: owners and admins change the name, description or privacy.
pub(crate) async fn edit(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<GroupForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = group_id(&id)?;
    let changes = GroupChanges {
        name: Some(form.name),
        description: Some(form.description),
        visibility: Some(form.visibility).filter(|v| !v.is_empty() && *v != form.visibility_was),
    };
    match app.update_group(&session.account, id, changes).await {
        Ok(_) => Ok(see_other(&format!("/groups/{id}/members"))),
        Err(e) => refused(&app, &session, id, e).await,
    }
}

/// The invitation form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    usernames: String,
}

/// `POST /groups/{id}/invitations` (`usernames`: `@ana @ben`): owners and admins invite
/// people, who may then join without approval.
pub(crate) async fn invite(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<InviteForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = group_id(&id)?;
    let names = match super::messages::usernames(&form.usernames, "People to invite") {
        Ok(names) => names,
        Err(reason) => {
            return refused(&app, &session, id, ServiceError::Validation(reason)).await;
        }
    };
    let mut ids = Vec::with_capacity(names.len());
    for name in &names {
        match app.lookup(name).await {
            Ok(account) => ids.push(account.id),
            Err(ServiceError::NotFound) => {
                let reason = format!("People to invite: no account is named @{name}");
                return refused(&app, &session, id, ServiceError::Validation(reason)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    match app.invite_to_group(&session.account, id, &ids).await {
        Ok(_) => Ok(see_other(&format!("/groups/{id}/members"))),
        Err(e) => refused(&app, &session, id, e).await,
    }
}

/// The delete form's fields: the box that confirms it.
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /groups/{id}/delete` (`confirm=yes`): owners delete the group and its posts.
pub(crate) async fn delete(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = group_id(&id)?;
    if form.confirm != "yes" {
        let reason = "confirm: tick the box to delete the group and its posts".to_owned();
        return refused(&app, &session, id, ServiceError::Validation(reason)).await;
    }
    match app.delete_group(&session.account, id).await {
        Ok(()) => Ok(see_other("/groups")),
        Err(e) => refused(&app, &session, id, e).await,
    }
}
