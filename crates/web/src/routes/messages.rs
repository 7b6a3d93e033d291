//! Direct messages in the browser: the visitor's conversations (with who takes part,
//! the last message and whether it is unread), one conversation's messages oldest first
//! with a reply form, and a form to start a conversation.
//!
//! A message is an ordinary direct post (`Starling::post` with visibility `direct`,
//! mentioning its recipients), so the service decides who may be addressed and which
//! conversation a message joins, exactly as for the Mastodon API. A conversation is read
//! through the visitor's own row of it (`conversation_thread`): anyone else's is 404.
//! The open thread grows live through `/live?stream=conversation:<id>` (see `live.rs`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starling_domain::id::{now_millis, parse_id};
use starling_service::statuses::NewPost;
use starling_service::{Page, ServiceError, Starling};

use super::pages::{Older, layout, see_other};
use super::render;
use crate::error::{WebError, WebResult};
use crate::session::{Session, SignedIn};
use crate::view::{Composer, FixedAudience, Layout, Nav, Person, PostCard, ReplyTo};

/// Conversations or messages per page.
const PAGE_SIZE: i64 = 20;

/// A conversation as the list prints it.
#[derive(Debug, Clone)]
pub(crate) struct ConversationCard {
    /// Its page.
    pub url: String,
    /// The other participants.
    pub people: Vec<Person>,
    /// A message arrived since the visitor last opened it.
    pub unread: bool,
    /// The newest message the visitor may see.
    pub last: Option<PostCard>,
}

impl ConversationCard {
    /// The other participants' names, joined.
    pub fn names(&self) -> String {
        names(&self.people)
    }
}

/// People's names, joined (`Only you` when no one else is left).
fn names(people: &[Person]) -> String {
    if people.is_empty() {
        return "Only you".to_owned();
    }
    people
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The new-conversation form's fields (also its state when refused).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewConversationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    recipients: String,
    #[serde(default)]
    status: String,
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    layout: Layout,
    conversations: Vec<ConversationCard>,
    older: Option<String>,
    form: NewConversationForm,
    error: String,
}

async fn list_page(
    app: &Starling,
    session: &Session,
    q: &Older,
    form: NewConversationForm,
    error: String,
) -> WebResult<Response> {
    let page = Page {
        max_id: q.max_id,
        ..Page::first(PAGE_SIZE)
    };
    let paged = app.conversations(&session.account, page).await?;
    let now = now_millis();
    let conversations: Vec<ConversationCard> = paged
        .items
        .iter()
        .map(|c| ConversationCard {
            url: format!("/messages/{}", c.record.id),
            people: c.accounts.iter().map(Person::of).collect(),
            unread: c.record.unread,
            last: c.last_status.as_ref().map(|s| PostCard::of(s, now)),
        })
        .collect();
    let older = match paged.next_max_id {
        Some(id) if conversations.len() as i64 >= PAGE_SIZE => {
            Some(format!("/messages?max_id={id}"))
        }
        _ => None,
    };
    render(&MessagesPage {
        layout: layout(app, Some(session), "Messages", Nav::Messages).await?,
        conversations,
        older,
        form,
        error,
    })
}

/// `GET /messages`: the visitor's conversations, most recently active first, and a form
/// to start one.
pub(crate) async fn index(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Query(q): Query<Older>,
) -> WebResult<Response> {
    list_page(
        &app,
        &session,
        &q,
        NewConversationForm::default(),
        String::new(),
    )
    .await
}

/// The usernames of a recipients field (`@ana, @ben eve`), or why it cannot be read.
fn recipients(field: &str) -> Result<Vec<String>, String> {
    usernames(field, "Recipients")
}

/// The most people one field may name (the service invites at most 50 at a time).
const MAX_NAMES: usize = 50;

/// The usernames of a field listing people (`@ana, @ben eve`), or why it cannot be
/// read; `label` names the field in the message.
pub(crate) fn usernames(field: &str, label: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for token in field.split(|c: char| c.is_whitespace() || c == ',') {
        let name = token.trim().trim_start_matches('@');
        if name.is_empty() {
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "{label}: “{}” is not a username (letters, digits and underscores, as @name)",
                token.trim()
            ));
        }
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
        // Each name costs a lookup before the service's own limits apply.
        if names.len() > MAX_NAMES {
            return Err(format!(
                "{label}: name at most {MAX_NAMES} people at a time"
            ));
        }
    }
    if names.is_empty() {
        return Err(format!("{label}: name at least one person, as @name"));
    }
    Ok(names)
}

/// `POST /messages`: starts a conversation: a direct post mentioning the recipients,
/// then its page. A refused one comes back in the form with the reason.
pub(crate) async fn create(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Form(form): Form<NewConversationForm>,
) -> WebResult<Response> {
    session.check_csrf(&form.csrf)?;
    let names = match recipients(&form.recipients) {
        Ok(names) if !form.status.trim().is_empty() => names,
        Ok(_) => {
            return refused(
                &app,
                &session,
                form,
                "Message: write something to send".into(),
            )
            .await;
        }
        Err(reason) => return refused(&app, &session, form, reason).await,
    };
    let mentions: Vec<String> = names.iter().map(|n| format!("@{n}")).collect();
    let req = NewPost {
        text: format!("{} {}", mentions.join(" "), form.status.trim()),
        visibility: Some("direct".to_owned()),
        ..NewPost::default()
    };
    match app.post(&session.principal, req).await {
        // Sent: if its conversation cannot be found right now, the list is the place to
        // go, not an error page that would invite sending the message again.
        Ok(view) => match app
            .conversation_of_message(&session.account, view.status.id)
            .await
        {
            Ok(row) => Ok(see_other(&format!("/messages/{}", row.id))),
            Err(e) => {
                tracing::warn!(error = %e, "a sent message's conversation was not found");
                Ok(see_other("/messages"))
            }
        },
        Err(ServiceError::Validation(reason)) => {
            refused(&app, &session, form, format!("Not sent: {reason}")).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The list page again with the form as sent and why it was refused (422).
async fn refused(
    app: &Starling,
    session: &Session,
    form: NewConversationForm,
    error: String,
) -> WebResult<Response> {
    let page = list_page(app, session, &Older::default(), form, error).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    layout: Layout,
    id: String,
    posts: Vec<PostCard>,
    earlier: Option<String>,
    newer: bool,
    composer: Composer,
}

/// `GET /messages/{id}`: one of the visitor's conversations, oldest message first, with
/// a reply to everyone in it; `?max_id=` pages back. Opening the newest page marks it
/// read. Anyone else's conversation is 404.
pub(crate) async fn show(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<Older>,
) -> WebResult<Response> {
    let id = parse_id(&id).ok_or(WebError::NotFound)?;
    let me = &session.account;
    let page = Page {
        max_id: q.max_id,
        ..Page::first(PAGE_SIZE)
    };
    let (conversation, paged) = app.conversation_thread(me, id, page).await?;
    if q.max_id.is_none() && conversation.record.unread {
        app.mark_conversation_read(me, id).await?;
    }
    let now = now_millis();
    let path = format!("/messages/{id}");
    let people: Vec<Person> = conversation.accounts.iter().map(Person::of).collect();
    // The reply answers the newest message and addresses everyone else in it.
    let mut composer = Composer::new(me, path.clone());
    composer.text = people
        .iter()
        .map(|p| format!("@{} ", p.username))
        .collect::<String>();
    composer.fixed = Some(FixedAudience {
        visibility: "direct".to_owned(),
        group_id: None,
        label: "only the people in this conversation".to_owned(),
    });
    if let Some(newest) = paged.items.first() {
        let author = &newest.account.username;
        composer.reply = Some(ReplyTo {
            id: newest.status.id.to_string(),
            url: format!("/@{author}/{}", newest.status.id),
            username: author.clone(),
        });
    }
    let earlier = paged
        .next_max_id
        .map(|next| format!("{path}?max_id={next}"));
    // Oldest first, as a conversation reads.
    let posts: Vec<PostCard> = paged
        .items
        .iter()
        .rev()
        .map(|v| PostCard::of(v, now))
        .collect();
    let names = names(&people);
    let mut layout = layout(
        &app,
        Some(&session),
        format!("Conversation with {names}"),
        Nav::Messages,
    )
    .await?;
    // The thread has a stream of its own (new messages and the unread count), opened
    // by the page's script from `data-conversation`.
    layout.live = String::new();
    render(&ConversationPage {
        layout,
        id: id.to_string(),
        posts,
        earlier,
        newer: q.max_id.is_some(),
        composer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_read_from_names_with_or_without_at() {
        assert_eq!(
            recipients("@ana, ben  @Ana\n@cy_2").unwrap(),
            vec!["ana", "ben", "cy_2"]
        );
        assert!(recipients(" , @ ").unwrap_err().starts_with("Recipients:"));
        assert!(recipients("@ana @b!").unwrap_err().contains("“@b!”"));
    }
}
