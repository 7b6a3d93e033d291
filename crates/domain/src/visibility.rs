//! Who may see a post: the one visibility rule every read path applies.
//!
//! The service layer loads the facts (follows, mentions, blocks, group memberships) for a
//! viewer and a batch of posts, then asks [`may_see`]; nothing else in Starling decides
//! visibility.
//!
//! A post in a group has the group as its audience: a public group's posts are readable
//! by everyone, a private group's by its members only — whatever else holds (a mention,
//! a follow). A group role adds nothing to reading, and neither does being a network
//! administrator: private conversations stay private from the people running the server.

use crate::group::GroupVisibility;
use thiserror::Error;

/// A post's audience, as Mastodon names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Everyone, and listed on the network timeline.
    Public,
    /// Everyone, but kept off the network timeline.
    Unlisted,
    /// The author's followers and mentioned accounts.
    Private,
    /// Only the mentioned accounts.
    Direct,
}

/// A visibility name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("visibility must be one of public, unlisted, private, direct")]
pub struct InvalidVisibility;

impl Visibility {
    /// Parses Mastodon's names.
    pub fn parse(s: &str) -> Result<Self, InvalidVisibility> {
        match s {
            "public" => Ok(Self::Public),
            "unlisted" => Ok(Self::Unlisted),
            "private" => Ok(Self::Private),
            "direct" => Ok(Self::Direct),
            _ => Err(InvalidVisibility),
        }
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
            Self::Direct => "direct",
        }
    }

    /// Whether others may reblog a post of this visibility.
    pub fn is_reblogable(self) -> bool {
        matches!(self, Self::Public | Self::Unlisted)
    }
}

/// The facts about one post that decide its visibility.
#[derive(Debug, Clone, Copy)]
pub struct PostFacts {
    /// The author's account id.
    pub author_id: i64,
    /// The post's audience.
    pub visibility: Visibility,
    /// Whether the author's account is deactivated.
    pub author_deactivated: bool,
    /// The visibility of the group the post was written in, if any.
    pub group: Option<GroupVisibility>,
}

/// The facts about one viewer's relation to one post's author.
#[derive(Debug, Clone, Copy, Default)]
pub struct ViewerFacts {
    /// The signed-in viewer, or `None` for an anonymous reader.
    pub viewer_id: Option<i64>,
    /// The viewer follows the author.
    pub follows_author: bool,
    /// The post mentions the viewer.
    pub mentioned: bool,
    /// The viewer blocks the author or the author blocks the viewer.
    pub blocked: bool,
    /// The viewer is a member (of any role) of the post's group.
    pub group_member: bool,
}

/// Whether a viewer may see a post.
pub fn may_see(post: &PostFacts, viewer: &ViewerFacts) -> bool {
    if viewer.viewer_id == Some(post.author_id) {
        return true;
    }
    if post.author_deactivated || viewer.blocked {
        return false;
    }
    match post.group {
        Some(GroupVisibility::Private) => return viewer.viewer_id.is_some() && viewer.group_member,
        Some(GroupVisibility::Public) => return true,
        None => {}
    }
    match post.visibility {
        Visibility::Public | Visibility::Unlisted => true,
        Visibility::Private => {
            viewer.viewer_id.is_some() && (viewer.follows_author || viewer.mentioned)
        }
        Visibility::Direct => viewer.viewer_id.is_some() && viewer.mentioned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Visibility::*;

    fn post(v: Visibility) -> PostFacts {
        PostFacts {
            author_id: 1,
            visibility: v,
            author_deactivated: false,
            group: None,
        }
    }

    /// Expected visibility, by viewer (rows) and post kind (columns: public, unlisted, private, direct).
    #[test]
    fn matrix() {
        let anon = ViewerFacts::default();
        let author = ViewerFacts {
            viewer_id: Some(1),
            ..anon
        };
        let stranger = ViewerFacts {
            viewer_id: Some(2),
            ..anon
        };
        let follower = ViewerFacts {
            follows_author: true,
            ..stranger
        };
        let mentioned = ViewerFacts {
            mentioned: true,
            ..stranger
        };
        let blocked = ViewerFacts {
            blocked: true,
            follows_author: true,
            mentioned: true,
            ..stranger
        };
        let table: [(&str, ViewerFacts, [bool; 4]); 6] = [
            ("author", author, [true, true, true, true]),
            ("follower", follower, [true, true, true, false]),
            ("mentioned", mentioned, [true, true, true, true]),
            ("stranger", stranger, [true, true, false, false]),
            ("anonymous", anon, [true, true, false, false]),
            ("blocked", blocked, [false, false, false, false]),
        ];
        for (name, viewer, expected) in table {
            for (i, v) in [Public, Unlisted, Private, Direct].into_iter().enumerate() {
                assert_eq!(may_see(&post(v), &viewer), expected[i], "{name} / {v:?}");
            }
        }
        let gone = PostFacts {
            author_deactivated: true,
            ..post(Public)
        };
        assert!(!may_see(&gone, &follower));
    }

    /// Group posts, by viewer (rows) and group (columns: public, private). A mention or a
    /// follow does not open a private group's post to a non-member; a block closes both.
    #[test]
    fn group_matrix() {
        let anon = ViewerFacts::default();
        let stranger = ViewerFacts {
            viewer_id: Some(2),
            ..anon
        };
        let member = ViewerFacts {
            group_member: true,
            ..stranger
        };
        let follower_mentioned = ViewerFacts {
            follows_author: true,
            mentioned: true,
            ..stranger
        };
        let blocked_member = ViewerFacts {
            blocked: true,
            ..member
        };
        let author = ViewerFacts {
            viewer_id: Some(1),
            ..anon
        };
        let table: [(&str, ViewerFacts, [bool; 2]); 6] = [
            ("author (even after leaving)", author, [true, true]),
            ("member", member, [true, true]),
            (
                "follower, mentioned, not a member",
                follower_mentioned,
                [true, false],
            ),
            ("stranger", stranger, [true, false]),
            ("anonymous", anon, [true, false]),
            ("blocked member", blocked_member, [false, false]),
        ];
        for (name, viewer, expected) in table {
            for (i, g) in [GroupVisibility::Public, GroupVisibility::Private]
                .into_iter()
                .enumerate()
            {
                let p = PostFacts {
                    group: Some(g),
                    ..post(g.post_visibility())
                };
                assert_eq!(may_see(&p, &viewer), expected[i], "{name} / {g:?}");
            }
        }
    }
}
