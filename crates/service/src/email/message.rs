//! What e-mails say: subject, plain text and a simple HTML alternative for a notification
//! and for the daily digest, built from the same views the notifications list shows.
//!
//! Pure functions (no I/O), so the wording is unit-tested here; `delivery` wraps the result
//! in a MIME message. Everything people wrote is escaped in the HTML part, and a post
//! behind a content warning is not quoted at all (a mail preview would show it): only the
//! warning and the link.

use crate::views::{NotificationView, StatusView};
use html_escape::{encode_double_quoted_attribute, encode_text};
use starling_domain::email::EmailKind;
use starling_store::AccountRecord;

/// Longest quote of a post in a digest line, in characters.
const DIGEST_QUOTE_CHARS: usize = 100;

/// An e-mail's content, before addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The subject line (one line, no control characters).
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The same content as a small HTML document.
    pub html: String,
}

/// What the links in a mail point to and what the network is called.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// The public base URL, without a trailing slash.
    pub base_url: &'a str,
    /// The network's name.
    pub network_name: &'a str,
}

impl Site<'_> {
    fn profile_url(&self, a: &AccountRecord) -> String {
        format!("{}/@{}", self.base_url, a.username)
    }

    fn status_url(&self, s: &StatusView) -> String {
        format!("{}/@{}/{}", self.base_url, s.account.username, s.status.id)
    }
}

/// How a person is named in a mail: their display name, else their username.
fn name_of(a: &AccountRecord) -> String {
    let name = a.display_name.trim();
    one_line(if name.is_empty() { &a.username } else { name })
}

/// `text` on one line without control characters (for subjects and list items).
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .filter(|part| !part.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// The part of a post a mail may quote: its text, or only its content warning.
enum Quote<'a> {
    Text(&'a str),
    Warning(&'a str),
}

fn quote_of(s: &StatusView) -> Quote<'_> {
    if s.status.spoiler_text.trim().is_empty() {
        Quote::Text(s.status.text.trim())
    } else {
        Quote::Warning(s.status.spoiler_text.trim())
    }
}

/// A paragraph of HTML from plain text: escaped, line breaks kept.
fn html_paragraph(text: &str) -> String {
    format!("<p>{}</p>", encode_text(text).replace('\n', "<br>\n"))
}

fn html_link(url: &str, label: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        encode_double_quoted_attribute(url),
        encode_text(label)
    )
}

fn html_document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.4\">\n{body}\n</body></html>\n",
        encode_text(title)
    )
}

/// The footer: why the mail came and how to stop it.
fn footer(site: &Site<'_>, kind: EmailKind) -> String {
    let what = match kind {
        EmailKind::Mention => "mentions",
        EmailKind::Direct => "direct messages",
        EmailKind::Follow => "new followers",
        EmailKind::Digest => "a daily digest",
    };
    format!(
        "You get this e-mail because your {} account has e-mail for {what} switched on. \
         Change that in your e-mail preferences.",
        site.network_name
    )
}

/// The mail for one notification of an e-mail kind (`None` for any other kind, or for a
/// mention whose post is no longer there to quote).
pub fn notification_mail(
    site: &Site<'_>,
    kind: EmailKind,
    view: &NotificationView,
) -> Option<Composed> {
    let from = &view.account;
    let name = name_of(from);
    let handle = format!("@{}", from.username);
    let (subject, lead, quote, link) = match kind {
        EmailKind::Mention | EmailKind::Direct => {
            let status = view.status.as_ref()?;
            let (subject, lead) = if kind == EmailKind::Direct {
                (
                    format!("New direct message from {name}"),
                    format!("{name} ({handle}) sent you a direct message:"),
                )
            } else {
                (
                    format!("{name} mentioned you"),
                    format!("{name} ({handle}) mentioned you:"),
                )
            };
            (
                subject,
                lead,
                Some(quote_of(status)),
                (site.status_url(status), "Open the post"),
            )
        }
        EmailKind::Follow => {
            let (subject, lead) = if view.notification.kind == "follow_request" {
                (
                    format!("{name} asked to follow you"),
                    format!(
                        "{name} ({handle}) asked to follow you. You can accept or reject the request in your app."
                    ),
                )
            } else {
                (
                    format!("{name} followed you"),
                    format!("{name} ({handle}) is now following you."),
                )
            };
            (
                subject,
                lead,
                None,
                (site.profile_url(from), "See their profile"),
            )
        }
        EmailKind::Digest => return None,
    };
    let footer = footer(site, kind);
    let mut text = format!("{lead}\n\n");
    let mut html = html_paragraph(&lead);
    match quote {
        Some(Quote::Text(t)) => {
            text.push_str(&format!("{t}\n\n"));
            html.push_str(&format!("\n<blockquote>{}</blockquote>", html_paragraph(t)));
        }
        Some(Quote::Warning(w)) => {
            let line = format!("Content warning: {w}");
            text.push_str(&format!("{line}\n\n"));
            html.push('\n');
            html.push_str(&html_paragraph(&line));
        }
        None => {}
    }
    text.push_str(&format!("{}: {}\n\n-- \n{footer}\n", link.1, link.0));
    html.push_str(&format!(
        "\n<p>{}</p>\n<hr>\n<p><small>{}</small></p>",
        html_link(&link.0, link.1),
        encode_text(&footer)
    ));
    Some(Composed {
        subject: one_line(&subject),
        text,
        html: html_document(&subject, &html),
    })
}

/// What a daily digest reports.
#[derive(Debug, Clone)]
pub struct DigestContent {
    /// The recipient.
    pub recipient: AccountRecord,
    /// How many notifications of the day are unread (past the notifications marker).
    pub unread: usize,
    /// The newest of them, as the notifications list shows them.
    pub notifications: Vec<NotificationView>,
    /// The day's most liked and most replied posts in the recipient's home.
    pub popular: Vec<StatusView>,
}

impl DigestContent {
    /// Whether there is anything to report (no mail is sent otherwise).
    pub fn is_empty(&self) -> bool {
        self.unread == 0 && self.popular.is_empty()
    }
}

/// One line describing a notification in a digest, with its link.
fn digest_line(site: &Site<'_>, n: &NotificationView) -> (String, String) {
    let name = name_of(&n.account);
    let what = match n.notification.kind.as_str() {
        "mention" => match &n.status {
            Some(s) if s.status.visibility == "direct" => "sent you a direct message",
            _ => "mentioned you",
        },
        "favourite" => "favourited your post",
        "reblog" => "boosted your post",
        "follow" => "followed you",
        "follow_request" => "asked to follow you",
        "status" => "posted",
        "update" => "edited a post",
        "poll" => "ended a poll",
        "group_request" => "asked to join your group",
        "group_invitation" => "invited you to a group",
        "group_approval" => "approved your request to join a group",
        _ => "did something",
    };
    match &n.status {
        Some(s) => {
            let quoted = match quote_of(s) {
                Quote::Text(t) => format!(": \"{}\"", cut(&one_line(t), DIGEST_QUOTE_CHARS)),
                Quote::Warning(w) => format!(" (content warning: {})", one_line(w)),
            };
            (format!("{name} {what}{quoted}"), site.status_url(s))
        }
        None => (format!("{name} {what}"), site.profile_url(&n.account)),
    }
}

/// The daily digest (`None` when there is nothing to report).
pub fn digest_mail(site: &Site<'_>, d: &DigestContent) -> Option<Composed> {
    if d.is_empty() {
        return None;
    }
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let subject = if d.unread > 0 {
        format!(
            "Your {} digest: {}",
            site.network_name,
            plural(d.unread, "new notification", "new notifications")
        )
    } else {
        format!("Your {} digest", site.network_name)
    };
    let hello = format!("Hi {},", name_of(&d.recipient));
    let intro = format!(
        "Here is what you missed on {} in the last 24 hours.",
        site.network_name
    );
    let mut text = format!("{hello}\n\n{intro}\n");
    let mut html = format!("{}\n{}", html_paragraph(&hello), html_paragraph(&intro));
    if d.unread > 0 {
        let heading = format!(
            "You have {}:",
            plural(d.unread, "unread notification", "unread notifications")
        );
        text.push_str(&format!("\n{heading}\n"));
        html.push_str(&format!("\n<h2>{}</h2>\n<ul>", encode_text(&heading)));
        for n in &d.notifications {
            let (line, url) = digest_line(site, n);
            text.push_str(&format!("- {line}\n  {url}\n"));
            html.push_str(&format!("\n<li>{}</li>", html_link(&url, &line)));
        }
        let more = d.unread.saturating_sub(d.notifications.len());
        if more > 0 {
            let line = format!("…and {more} more.");
            text.push_str(&format!("{line}\n"));
            html.push_str(&format!("\n<li>{}</li>", encode_text(&line)));
        }
        html.push_str("\n</ul>");
    }
    if !d.popular.is_empty() {
        let heading = "Popular in your home:";
        text.push_str(&format!("\n{heading}\n"));
        html.push_str(&format!("\n<h2>{}</h2>\n<ul>", encode_text(heading)));
        for s in &d.popular {
            let said = match quote_of(s) {
                Quote::Text(t) => format!("\"{}\"", cut(&one_line(t), DIGEST_QUOTE_CHARS)),
                Quote::Warning(w) => format!("(content warning: {})", one_line(w)),
            };
            let line = format!(
                "{}: {said} ({}, {})",
                name_of(&s.account),
                plural(s.status.favourites_count.max(0) as usize, "like", "likes"),
                plural(s.status.replies_count.max(0) as usize, "reply", "replies"),
            );
            let url = site.status_url(s);
            text.push_str(&format!("- {line}\n  {url}\n"));
            html.push_str(&format!("\n<li>{}</li>", html_link(&url, &line)));
        }
        html.push_str("\n</ul>");
    }
    let footer = footer(site, EmailKind::Digest);
    text.push_str(&format!(
        "\nOpen {}: {}\n\n-- \n{footer}\n",
        site.network_name, site.base_url
    ));
    html.push_str(&format!(
        "\n<p>{}</p>\n<hr>\n<p><small>{}</small></p>",
        html_link(site.base_url, &format!("Open {}", site.network_name)),
        encode_text(&footer)
    ));
    Some(Composed {
        subject: one_line(&subject),
        text,
        html: html_document(&subject, &html),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_store::{NotificationRecord, StatusRecord};
    use std::sync::Arc;

    const SITE: Site<'static> = Site {
        base_url: "https://social.example",
        network_name: "Acme",
    };

    fn account(id: i64, username: &str, display: &str) -> AccountRecord {
        AccountRecord {
            id,
            username: username.into(),
            email: format!("{username}@example.com"),
            display_name: display.into(),
            ..AccountRecord::default()
        }
    }

    fn status(author: &AccountRecord, text: &str, visibility: &str) -> StatusView {
        StatusView {
            status: Arc::new(StatusRecord {
                id: 42,
                account_id: author.id,
                text: text.into(),
                visibility: visibility.into(),
                ..StatusRecord::default()
            }),
            account: Arc::new(author.clone()),
            mentions: Vec::new(),
            tags: Vec::new(),
            reblog: None,
            favourited: false,
            reblogged: false,
            bookmarked: false,
            pinned: false,
            group: None,
        }
    }

    fn note(kind: &str, from: &AccountRecord, status: Option<StatusView>) -> NotificationView {
        NotificationView {
            notification: NotificationRecord {
                id: 7,
                account_id: 2,
                kind: kind.into(),
                from_account_id: from.id,
                status_id: status.as_ref().map(|s| s.status.id),
                group_id: None,
                created_at: 0,
            },
            account: from.clone(),
            status,
            group: None,
        }
    }

    #[test]
    fn a_mention_quotes_the_post_and_links_to_it() {
        let ana = account(1, "ana", "Ana <b>");
        let view = note("mention", &ana, Some(status(&ana, "hi @bob <3", "public")));
        let m = notification_mail(&SITE, EmailKind::Mention, &view).unwrap();
        assert_eq!(m.subject, "Ana <b> mentioned you");
        assert!(m.text.contains("hi @bob <3"), "{}", m.text);
        assert!(
            m.text.contains("https://social.example/@ana/42"),
            "{}",
            m.text
        );
        assert!(m.html.contains("hi @bob &lt;3"), "{}", m.html);
        assert!(!m.html.contains("<b>"), "escaped: {}", m.html);
    }

    #[test]
    fn subjects_name_the_kind() {
        let ana = account(1, "ana", "");
        let dm = note("mention", &ana, Some(status(&ana, "psst", "direct")));
        let m = notification_mail(&SITE, EmailKind::Direct, &dm).unwrap();
        assert_eq!(m.subject, "New direct message from ana");
        let f = notification_mail(&SITE, EmailKind::Follow, &note("follow", &ana, None)).unwrap();
        assert_eq!(f.subject, "ana followed you");
        assert!(f.text.contains("https://social.example/@ana"));
        let r = notification_mail(
            &SITE,
            EmailKind::Follow,
            &note("follow_request", &ana, None),
        )
        .unwrap();
        assert_eq!(r.subject, "ana asked to follow you");
    }

    #[test]
    fn content_behind_a_warning_is_not_quoted() {
        let ana = account(1, "ana", "");
        let mut s = status(&ana, "the secret plot", "public");
        Arc::make_mut(&mut s.status).spoiler_text = "spoilers".into();
        let m =
            notification_mail(&SITE, EmailKind::Mention, &note("mention", &ana, Some(s))).unwrap();
        assert!(!m.text.contains("secret plot") && !m.html.contains("secret plot"));
        assert!(m.text.contains("Content warning: spoilers"));
    }

    #[test]
    fn subjects_are_one_line() {
        let evil = account(1, "ana", "Ana\r\nBcc: all@example.com");
        let f = notification_mail(&SITE, EmailKind::Follow, &note("follow", &evil, None)).unwrap();
        assert_eq!(f.subject, "Ana Bcc: all@example.com followed you");
    }

    #[test]
    fn digests_list_notifications_and_popular_posts() {
        let ana = account(1, "ana", "");
        let bob = account(2, "bob", "Bob");
        let mut popular = status(&ana, "big news", "public");
        let counted = Arc::make_mut(&mut popular.status);
        counted.favourites_count = 3;
        counted.replies_count = 1;
        let d = DigestContent {
            recipient: bob,
            unread: 3,
            notifications: vec![
                note("favourite", &ana, Some(status(&ana, "x", "public"))),
                note("follow", &ana, None),
            ],
            popular: vec![popular],
        };
        let m = digest_mail(&SITE, &d).unwrap();
        assert_eq!(m.subject, "Your Acme digest: 3 new notifications");
        assert!(m.text.starts_with("Hi Bob,"), "{}", m.text);
        assert!(
            m.text.contains("ana favourited your post: \"x\""),
            "{}",
            m.text
        );
        assert!(m.text.contains("ana followed you"), "{}", m.text);
        assert!(m.text.contains("…and 1 more."), "{}", m.text);
        assert!(
            m.text.contains("\"big news\" (3 likes, 1 reply)"),
            "{}",
            m.text
        );
        let empty = DigestContent {
            unread: 0,
            notifications: Vec::new(),
            popular: Vec::new(),
            ..d
        };
        assert!(digest_mail(&SITE, &empty).is_none());
    }
}
