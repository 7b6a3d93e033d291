//! The pages: timelines, a thread, a profile, notifications. Each reads the session,
//! calls the service's read use cases and renders a template.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use starling_domain::id::{now_millis, parse_id};
use starling_service::timelines::Timeline;
use starling_service::{AccountTimelineFilter, Page, RelationshipRecord, Starling};

use super::feed::{self, FragmentQuery};
use super::render;
use crate::error::{WebError, WebResult};
use crate::forms::{encode_query, opt_id};
use crate::session::{MaybeSession, Session, SignedIn};
use crate::view::{Composer, Layout, Nav, NoteCard, Person, PostCard};

/// Posts per page.
const PAGE_SIZE: i64 = 20;

/// `?max_id=` for older pages.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Older {
    #[serde(default, deserialize_with = "opt_id")]
    pub(crate) max_id: Option<i64>,
}

impl Older {
    pub(crate) fn page(&self) -> Page {
        Page {
            max_id: self.max_id,
            ..Page::first(PAGE_SIZE)
        }
    }
}

/// The link to the next older page, for lists whose service says whether one may exist
/// (`next_max_id` is `None` at the end), so a page thinned by filtering still leads on.
pub(crate) fn next_link(path: &str, next: Option<i64>) -> Option<String> {
    next.map(|id| format!("{path}?max_id={id}"))
}

/// The link to the next older page, when this one was full.
pub(crate) fn older_link(path: &str, len: usize, next: Option<i64>) -> Option<String> {
    match next {
        Some(id) if len as i64 >= PAGE_SIZE => Some(format!("{path}?max_id={id}")),
        _ => None,
    }
}

/// The page frame for this visitor (with their unread count).
pub(crate) async fn layout(
    app: &Starling,
    session: Option<&Session>,
    title: impl Into<String>,
    nav: Nav,
) -> WebResult<Layout> {
    let unread = match session {
        Some(s) => app.unread_notifications(&s.account).await?,
        None => 0,
    };
    Ok(Layout::new(app, session, title, nav, unread, None))
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePage {
    layout: Layout,
    composer: Option<Composer>,
    posts: Vec<PostCard>,
    empty: &'static str,
    older: Option<String>,
    /// The hashtag of a hashtag page, with whether the viewer follows it.
    tag: Option<starling_service::tags::TagView>,
}

/// `GET /`: the home timeline when signed in, else the network timeline.
pub(crate) async fn root(MaybeSession(session): MaybeSession) -> Redirect {
    match session {
        Some(_) => Redirect::to("/home"),
        None => Redirect::to("/public"),
    }
}

/// `GET /home`: the home timeline with the composer.
pub(crate) async fn home(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Older>,
    Query(f): Query<FragmentQuery>,
) -> WebResult<Response> {
    let me = &session.account;
    let page = app.timeline(Some(me), Timeline::Home, q.page()).await?;
    if f.wanted() {
        let older = older_link("/home", page.items.len(), page.next_max_id);
        return feed::fragment(
            Some(&session),
            PostCard::all(&page.items, now_millis()),
            older,
        );
    }
    render(&TimelinePage {
        layout: layout(&app, Some(&session), "Home", Nav::Home).await?,
        composer: Some(Composer::new(me, "/home")),
        posts: PostCard::all(&page.items, now_millis()),
        empty: "Nothing here yet. Follow people from the network timeline and their posts appear here.",
        older: older_link("/home", page.items.len(), page.next_max_id),
        tag: None,
    })
}

/// `GET /public`: the whole network's public posts (open to signed-out visitors).
pub(crate) async fn network(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<Older>,
    Query(f): Query<FragmentQuery>,
) -> WebResult<Response> {
    let me = session.as_ref().map(|s| &*s.account);
    let page = app.timeline(me, Timeline::Public, q.page()).await?;
    if f.wanted() {
        let older = older_link("/public", page.items.len(), page.next_max_id);
        return feed::fragment(
            session.as_ref(),
            PostCard::all(&page.items, now_millis()),
            older,
        );
    }
    render(&TimelinePage {
        layout: layout(&app, session.as_ref(), "Network", Nav::Network).await?,
        composer: me.map(|m| Composer::new(m, "/public")),
        posts: PostCard::all(&page.items, now_millis()),
        empty: "No public posts yet.",
        older: older_link("/public", page.items.len(), page.next_max_id),
        tag: None,
    })
}

/// `GET /tags/{tag}`: public posts with a hashtag.
pub(crate) async fn tag(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    Path(tag): Path<String>,
    Query(q): Query<Older>,
    Query(f): Query<FragmentQuery>,
) -> WebResult<Response> {
    let me = session.as_ref().map(|s| &*s.account);
    let page = app
        .timeline(me, Timeline::Tag(tag.clone()), q.page())
        .await?;
    let path = format!("/tags/{}", encode_query(&tag.to_lowercase()));
    let older = older_link(&path, page.items.len(), page.next_max_id);
    if f.wanted() {
        return feed::fragment(
            session.as_ref(),
            PostCard::all(&page.items, now_millis()),
            older,
        );
    }
    // Whether the viewer follows it (a name that is no valid hashtag has no button).
    let followed = match app.tag(me, &tag).await {
        Ok(view) => Some(view),
        Err(starling_service::ServiceError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    render(&TimelinePage {
        layout: layout(&app, session.as_ref(), format!("#{tag}"), Nav::Other).await?,
        composer: None,
        posts: PostCard::all(&page.items, now_millis()),
        empty: "No public posts with this hashtag yet.",
        older,
        tag: followed,
    })
}

/// The username in a `@name` path segment; other segments are no page of ours.
fn handle(segment: &str) -> WebResult<&str> {
    segment
        .strip_prefix('@')
        .filter(|n| !n.is_empty())
        .ok_or(WebError::NotFound)
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    layout: Layout,
    ancestors: Vec<PostCard>,
    main: PostCard,
    replies: Vec<PostCard>,
    composer: Option<Composer>,
    sign_in_next: String,
}

/// `GET /statuses/{id}`: sends to the post's thread page.
pub(crate) async fn status_redirect(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    let view = app
        .status(session.as_ref().map(|s| &*s.account), id)
        .await?;
    Ok(see_other(&format!("/@{}/{}", view.account.username, id)))
}

/// A 303 redirect (after a form, the browser GETs the new page).
pub(crate) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

/// `GET /@{name}/{id}`: a post with the thread around it and a reply form.
pub(crate) async fn thread(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    Path((segment, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let name = handle(&segment)?;
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    let me = session.as_ref().map(|s| &*s.account);
    let view = app.status(me, id).await?;
    let canonical = format!("/@{}/{}", view.account.username, id);
    if !view.account.username.eq_ignore_ascii_case(name) {
        return Ok(see_other(&canonical));
    }
    let (ancestors, descendants) = app.context(me, id).await?;
    let now = now_millis();
    let main = PostCard::of(&view, now);
    let title = format!("Post by {}", main.author.name);
    render(&ThreadPage {
        layout: layout(&app, session.as_ref(), title, Nav::Other).await?,
        ancestors: PostCard::all(&ancestors, now),
        composer: me.map(|m| Composer::reply(m, &view, canonical.clone())),
        sign_in_next: encode_query(&canonical),
        main,
        replies: PostCard::all(&descendants, now),
    })
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    person: Person,
    account_id: i64,
    note: String,
    posts_count: i64,
    following_count: i64,
    followers_count: i64,
    relation: Option<RelationshipRecord>,
    posts: Vec<PostCard>,
    older: Option<String>,
}

/// `GET /@{name}`: an account's profile and posts, with follow/unfollow.
pub(crate) async fn profile(
    State(app): State<Starling>,
    MaybeSession(session): MaybeSession,
    Path(segment): Path<String>,
    Query(q): Query<Older>,
    Query(f): Query<FragmentQuery>,
) -> WebResult<Response> {
    let name = handle(&segment)?;
    let account = app.lookup(name).await?;
    let me = session.as_ref().map(|s| &*s.account);
    let page = app
        .timeline(
            me,
            Timeline::Account(account.id, AccountTimelineFilter::default()),
            q.page(),
        )
        .await?;
    let path = format!("/@{}", account.username);
    if f.wanted() {
        let older = older_link(&path, page.items.len(), page.next_max_id);
        return feed::fragment(
            session.as_ref(),
            PostCard::all(&page.items, now_millis()),
            older,
        );
    }
    let relation = match me {
        Some(m) if m.id != account.id => app.relationships(m, &[account.id]).await?.pop(),
        _ => None,
    };
    let own = me.is_some_and(|m| m.id == account.id);
    let person = Person::of(&account);
    render(&ProfilePage {
        layout: layout(
            &app,
            session.as_ref(),
            person.name.clone(),
            if own { Nav::Profile } else { Nav::Other },
        )
        .await?,
        account_id: account.id,
        note: account.note.clone(),
        posts_count: account.statuses_count,
        following_count: account.following_count,
        followers_count: account.followers_count,
        relation,
        posts: PostCard::all(&page.items, now_millis()),
        older: older_link(&path, page.items.len(), page.next_max_id),
        person,
    })
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    notes: Vec<NoteCard>,
    older: Option<String>,
}

/// `GET /notifications`: the newest notifications; seeing the first page marks them read.
pub(crate) async fn notifications(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Older>,
) -> WebResult<Response> {
    let me = &session.account;
    let page = app.notifications(me, &[], &[], None, q.page()).await?;
    if q.max_id.is_none()
        && let Some(newest) = page.prev_min_id
    {
        app.save_markers(me, &[("notifications".to_owned(), newest)])
            .await?;
    }
    let now = now_millis();
    render(&NotificationsPage {
        layout: layout(&app, Some(&session), "Notifications", Nav::Notifications).await?,
        notes: page.items.iter().map(|n| NoteCard::of(n, now)).collect(),
        older: older_link("/notifications", page.items.len(), page.next_max_id),
    })
}
