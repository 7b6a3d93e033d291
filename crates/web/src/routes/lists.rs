//! The visitor's own collections: bookmarks, lists (create, rename, delete, members, the
//! list timeline) and followed hashtags. Lists are private to their owner: another
//! account's list id is 404, exactly like one that does not exist (the service decides).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_domain::id::{now_millis, parse_id};
use starling_service::lists::{ListChanges, ListRecord, NewList};
use starling_service::timelines::Timeline;
use starling_service::{ServiceError, Starling};

use super::actions::TokenForm;
use super::feed::{self, FragmentQuery};
use super::interactions::back_to;
use super::pages::{Older, layout, next_link, older_link, see_other};
use super::render;
use crate::error::{WebError, WebResult};
use crate::forms::encode_query;
use crate::session::{Session, SignedIn};
use crate::view::{Composer, Layout, Nav, Person, PostCard};

/// The timeline page (`timeline.html`), as bookmarks use it.
#[derive(Template)]
#[template(path = "timeline.html")]
struct BookmarksPage {
    layout: Layout,
    composer: Option<Composer>,
    posts: Vec<PostCard>,
    empty: &'static str,
    older: Option<String>,
    tag: Option<starling_service::tags::TagView>,
}

/// `GET /bookmarks`: the posts the visitor bookmarked, most recently bookmarked first.
pub(crate) async fn bookmarks(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Older>,
    Query(f): Query<FragmentQuery>,
) -> WebResult<Response> {
    let page = app.marked(&session.account, true, q.page()).await?;
    let posts = PostCard::all(&page.items, now_millis());
    let older = next_link("/bookmarks", page.next_max_id);
    if f.wanted() {
        return feed::fragment(Some(&session), posts, older);
    }
    render(&BookmarksPage {
        layout: layout(&app, Some(&session), "Bookmarks", Nav::Bookmarks).await?,
        composer: None,
        posts,
        empty: "No bookmarks yet. Bookmark a post to find it here later; only you see your bookmarks.",
        older,
        tag: None,
    })
}

#[derive(Template)]
#[template(path = "lists.html")]
struct ListsPage {
    layout: Layout,
    lists: Vec<ListRecord>,
    /// Why the last change was refused, and the title typed.
    error: String,
    title: String,
}

/// Renders the lists page, with `error` (and status 422) after a refused change.
async fn lists_page(
    app: &Starling,
    session: &Session,
    error: String,
    title: String,
) -> WebResult<Response> {
    let page = ListsPage {
        layout: layout(app, Some(session), "Lists", Nav::Lists).await?,
        lists: app.lists(&session.account).await?,
        error,
        title,
    };
    let status = if page.error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)?).into_response())
}

/// `GET /lists`: the visitor's lists, with forms to create, rename and delete them.
pub(crate) async fn index(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
) -> WebResult<Response> {
    lists_page(&app, &session, String::new(), String::new()).await
}

/// A list's title, as typed.
#[derive(Debug, Deserialize)]
pub(crate) struct TitleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
}

/// `POST /lists`: creates a list, then to its page.
pub(crate) async fn create(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<TitleForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let new = NewList {
        title: form.title.clone(),
        ..NewList::default()
    };
    match app.create_list(&session.account, new).await {
        Ok(list) => Ok(see_other(&format!("/lists/{}", list.id))),
        Err(ServiceError::Validation(reason)) => {
            let error = format!("The list was not created: {reason}");
            lists_page(&app, &session, error, form.title).await
        }
        Err(e) => Err(e.into()),
    }
}

fn list_id(id: &str) -> WebResult<i64> {
    parse_id(id).ok_or(WebError::NotFound)
}

/// `POST /lists/{id}/rename`, then back to the page the form was on.
pub(crate) async fn rename(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<TitleForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = list_id(&id)?;
    let changes = ListChanges {
        title: Some(form.title.clone()),
        ..ListChanges::default()
    };
    match app.update_list(&session.account, id, changes).await {
        Ok(list) => {
            let back = back_to(&headers).unwrap_or_else(|| format!("/lists/{}", list.id));
            Ok(see_other(&back))
        }
        Err(ServiceError::Validation(reason)) => {
            let error = format!("The list was not renamed: {reason}");
            lists_page(&app, &session, error, String::new()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /lists/{id}/delete`, then to the lists page.
pub(crate) async fn delete(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    app.delete_list(&session.account, list_id(&id)?).await?;
    Ok(see_other("/lists"))
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    layout: Layout,
    list: ListRecord,
    members: Vec<Person>,
    member_ids: Vec<String>,
    posts: Vec<PostCard>,
    older: Option<String>,
    error: String,
    name: String,
}

/// `GET /lists/{id}`: the list's timeline, its members and the form to add one.
pub(crate) async fn show(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<Older>,
    Query(f): Query<FragmentQuery>,
) -> WebResult<Response> {
    list_page(
        &app,
        &session,
        list_id(&id)?,
        &q,
        &f,
        String::new(),
        String::new(),
    )
    .await
}

async fn list_page(
    app: &Starling,
    session: &Session,
    id: i64,
    q: &Older,
    f: &FragmentQuery,
    error: String,
    name: String,
) -> WebResult<Response> {
    let me = &session.account;
    let list = app.list(me, id).await?;
    let page = app
        .timeline(Some(me), Timeline::List(list.id), q.page())
        .await?;
    let path = format!("/lists/{}", list.id);
    let older = older_link(&path, page.items.len(), page.next_max_id);
    let posts = PostCard::all(&page.items, now_millis());
    if f.wanted() {
        return feed::fragment(Some(session), posts, older);
    }
    let members = app.list_members(me, list.id, None).await?.items;
    let page = ListPage {
        layout: layout(app, Some(session), list.title.clone(), Nav::Lists).await?,
        member_ids: members.iter().map(|m| m.id.to_string()).collect(),
        members: members.iter().map(Person::of).collect(),
        list,
        posts,
        older,
        error,
        name,
    };
    let status = if page.error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)?).into_response())
}

/// The account to add to a list, by `@name`.
#[derive(Debug, Deserialize)]
pub(crate) struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /lists/{id}/members`: adds a followed account by name, then back to the list.
pub(crate) async fn add_member(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<MemberForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = list_id(&id)?;
    let me = &session.account;
    // The list first: someone else's list is 404 whatever the name.
    let list = app.list(me, id).await?;
    let name = form.name.trim().trim_start_matches('@').to_owned();
    let error = if name.is_empty() {
        Some("Account: type the @name of someone you follow.".to_owned())
    } else {
        match app.lookup(&name).await {
            Ok(account) => match app.add_to_list(me, list.id, &[account.id]).await {
                Ok(()) => None,
                Err(ServiceError::Validation(reason)) => Some(format!(
                    "Account: @{} was not added — {}",
                    account.username,
                    reason.trim_start_matches("account_ids: ")
                )),
                Err(ServiceError::NotFound) => Some(format!("Account: there is no @{name} here.")),
                Err(e) => return Err(e.into()),
            },
            Err(ServiceError::NotFound) => Some(format!("Account: there is no @{name} here.")),
            Err(e) => return Err(e.into()),
        }
    };
    match error {
        None => Ok(see_other(&format!("/lists/{}#members", list.id))),
        Some(error) => {
            let q = Older::default();
            let f = FragmentQuery::default();
            list_page(&app, &session, list.id, &q, &f, error, form.name).await
        }
    }
}

/// `POST /lists/{id}/members/{account}/remove`, then back to the list.
pub(crate) async fn remove_member(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((id, account)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let id = list_id(&id)?;
    let account = parse_id(&account).ok_or(WebError::NotFound)?;
    app.remove_from_list(&session.account, id, &[account])
        .await?;
    Ok(see_other(&format!("/lists/{id}#members")))
}

/// `POST /tags/{tag}/follow` and `/tags/{tag}/unfollow`, then back to the hashtag page.
pub(crate) async fn follow_tag(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path((tag, action)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let view = match action.as_str() {
        "follow" => app.follow_tag(&session.account, &tag).await?,
        "unfollow" => app.unfollow_tag(&session.account, &tag).await?,
        _ => return Err(WebError::NotFound),
    };
    Ok(see_other(&format!("/tags/{}", encode_query(&view.name))))
}
