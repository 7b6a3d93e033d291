//! People: the followers and following lists of a profile (public, as the API's, and
//! paginated), and blocking and muting from a profile. Each action checks the
//! anti-forgery token, calls the same use case as the API and returns to the profile.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use starling_domain::id::parse_id;
use starling_service::{AccountList, Page, Starling};

use super::actions::TokenForm;
use super::pages::{layout, see_other};
use super::render;
use crate::error::{WebError, WebResult};
use crate::forms::opt_id;
use crate::session::{MaybeSession, SignedIn};
use crate::view::{Nav, Person, PersonRow};

/// People per page.
const PEOPLE_PAGE: i64 = 40;

/// `?max_id=` for the next page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct More {
    #[serde(default, deserialize_with = "opt_id")]
    max_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    layout: crate::view::Layout,
    person: Person,
    heading: String,
    empty: String,
    people: Vec<PersonRow>,
    more: Option<String>,
}

async fn people(
    app: Starling,
    session: MaybeSession,
    segment: &str,
    q: More,
    list: AccountList,
) -> WebResult<Response> {
    let name = segment
        .strip_prefix('@')
        .filter(|n| !n.is_empty())
        .ok_or(WebError::NotFound)?;
    let account = app.lookup(name).await?;
    let page = Page {
        max_id: q.max_id,
        ..Page::first(PEOPLE_PAGE)
    };
    let paged = app.account_list(list, account.id, page).await?;
    let person = Person::of(&account);
    let (heading, empty, path) = match list {
        AccountList::Following => (
            format!("People {} follows", person.name),
            format!("{} follows nobody yet.", person.name),
            "following",
        ),
        _ => (
            format!("People following {}", person.name),
            format!("Nobody follows {} yet.", person.name),
            "followers",
        ),
    };
    let more =
        super::pages::next_link(&format!("/@{}/{path}", account.username), paged.next_max_id);
    render(&PeoplePage {
        layout: layout(&app, session.0.as_ref(), heading.clone(), Nav::Other).await?,
        people: paged.items.iter().map(PersonRow::of).collect(),
        person,
        heading,
        empty,
        more,
    })
}

/// `GET /@{name}/followers`.
pub(crate) async fn followers(
    State(app): State<Starling>,
    session: MaybeSession,
    Path(segment): Path<String>,
    Query(q): Query<More>,
) -> WebResult<Response> {
    people(app, session, &segment, q, AccountList::Followers).await
}

/// `GET /@{name}/following`.
pub(crate) async fn following(
    State(app): State<Starling>,
    session: MaybeSession,
    Path(segment): Path<String>,
    Query(q): Query<More>,
) -> WebResult<Response> {
    people(app, session, &segment, q, AccountList::Following).await
}

/// What a profile button does.
#[derive(Debug, Clone, Copy)]
enum Act {
    Block,
    Unblock,
    Mute,
    Unmute,
}

async fn act(
    app: Starling,
    session: crate::session::Session,
    id: &str,
    csrf: &str,
    what: Act,
) -> WebResult<Response> {
    session.check_csrf(csrf)?;
    let id = parse_id(id).ok_or(WebError::NotFound)?;
    let me = &session.account;
    match what {
        Act::Block => app.block(me, id).await?,
        Act::Unblock => app.unblock(me, id).await?,
        Act::Mute => app.mute(me, id, None).await?,
        Act::Unmute => app.unmute(me, id).await?,
    };
    let target = app.account(id).await?;
    Ok(see_other(&format!("/@{}", target.username)))
}

/// `POST /accounts/{id}/block`: also ends follows both ways; their posts leave home.
pub(crate) async fn block(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    act(app, session, &id, &form.csrf, Act::Block).await
}

/// `POST /accounts/{id}/unblock`.
pub(crate) async fn unblock(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    act(app, session, &id, &form.csrf, Act::Unblock).await
}

/// `POST /accounts/{id}/mute`: their posts and notifications are hidden.
pub(crate) async fn mute(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    act(app, session, &id, &form.csrf, Act::Mute).await
}

/// `POST /accounts/{id}/unmute`.
pub(crate) async fn unmute(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> WebResult<Response> {
    act(app, session, &id, &form.csrf, Act::Unmute).await
}
