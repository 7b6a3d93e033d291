//! List rules: titles, the replies policy and which replies a list timeline shows.
//!
//! A list is an account's named subset of the accounts it follows; its timeline is the
//! owner's home restricted to the members. The replies policy decides which replies by
//! members reach that timeline; the service classifies each reply with the facts it
//! loads ([`ReplyTo`]) and asks [`RepliesPolicy::shows`].

use thiserror::Error;

/// Longest list title, in characters (after trimming).
pub const TITLE_MAX: usize = 100;
/// Most lists one account may have.
pub const LISTS_MAX: usize = 100;

/// Why a list field was refused; each message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ListError {
    #[error("title must be 1 to 100 characters")]
    InvalidTitle,
    #[error("replies_policy must be one of followed, list, none")]
    InvalidRepliesPolicy,
}

/// A valid list title: 1 to [`TITLE_MAX`] characters, surrounding whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListTitle(String);

impl ListTitle {
    /// Parses a title as typed; surrounding whitespace is not part of it.
    pub fn parse(s: &str) -> Result<Self, ListError> {
        let t = s.trim();
        let n = t.chars().count();
        if (1..=TITLE_MAX).contains(&n) {
            Ok(Self(t.to_owned()))
        } else {
            Err(ListError::InvalidTitle)
        }
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which replies by members a list timeline shows, as Mastodon names the choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RepliesPolicy {
    /// Replies to any account the owner follows.
    Followed,
    /// Replies to members of the list (Mastodon's default).
    #[default]
    List,
    /// No replies to others.
    None,
}

impl RepliesPolicy {
    /// Parses Mastodon's names.
    pub fn parse(s: &str) -> Result<Self, ListError> {
        match s {
            "followed" => Ok(Self::Followed),
            "list" => Ok(Self::List),
            "none" => Ok(Self::None),
            _ => Err(ListError::InvalidRepliesPolicy),
        }
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Followed => "followed",
            Self::List => "list",
            Self::None => "none",
        }
    }

    /// Whether a post replying to `to` belongs in a list timeline with this policy.
    ///
    /// Posts that reply to nobody, threads (the author replying to themself) and replies
    /// to the list's owner are always shown, whatever the policy: this is what Mastodon
    /// does (`FeedManager#filter_from_list?`), and hiding a reply addressed to the reader
    /// would be a surprise.
    pub fn shows(self, to: ReplyTo) -> bool {
        match to {
            ReplyTo::Nobody | ReplyTo::Author | ReplyTo::Owner => true,
            ReplyTo::Member => self != Self::None,
            ReplyTo::Followed => self == Self::Followed,
            ReplyTo::Other => false,
        }
    }
}

/// Whom a post replies to, from the point of view of one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyTo {
    /// The post is not a reply.
    Nobody,
    /// The author replies to themself (a thread).
    Author,
    /// The list's owner.
    Owner,
    /// A member of the list (members are always followed by the owner).
    Member,
    /// An account the owner follows that is not a member.
    Followed,
    /// Anyone else, or an account no longer known.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(ListTitle::parse("  Friends ").unwrap().as_str(), "Friends");
        assert_eq!(ListTitle::parse(""), Err(ListError::InvalidTitle));
        assert_eq!(ListTitle::parse(" \t "), Err(ListError::InvalidTitle));
        assert!(ListTitle::parse(&"é".repeat(TITLE_MAX)).is_ok());
        assert_eq!(
            ListTitle::parse(&"x".repeat(TITLE_MAX + 1)),
            Err(ListError::InvalidTitle)
        );
        assert!(ListError::InvalidTitle.to_string().starts_with("title"));
    }

    #[test]
    fn policies_round_trip() {
        for p in [
            RepliesPolicy::Followed,
            RepliesPolicy::List,
            RepliesPolicy::None,
        ] {
            assert_eq!(RepliesPolicy::parse(p.as_str()), Ok(p));
        }
        assert_eq!(RepliesPolicy::default(), RepliesPolicy::List);
        assert_eq!(
            RepliesPolicy::parse("everyone"),
            Err(ListError::InvalidRepliesPolicy)
        );
    }

    #[test]
    fn which_replies_are_shown() {
        use RepliesPolicy as P;
        use ReplyTo as R;
        for p in [P::Followed, P::List, P::None] {
            assert!(p.shows(R::Nobody) && p.shows(R::Author) && p.shows(R::Owner));
            assert!(!p.shows(R::Other));
        }
        assert!(P::Followed.shows(R::Member) && P::Followed.shows(R::Followed));
        assert!(P::List.shows(R::Member) && !P::List.shows(R::Followed));
        assert!(!P::None.shows(R::Member) && !P::None.shows(R::Followed));
    }
}
