//! Group rules: names, descriptions, who may read and join, and what each role may do.
//!
//! A group is a community inside the network (a team, a campus, a community of
//! practice). A public group is readable by everyone and anyone may join; a private
//! group is readable by its members only, and joining needs an admin's approval or an
//! invitation. Members hold one of three roles; admins run the membership, owners also
//! run the group itself, and a group always keeps at least one owner.

use thiserror::Error;

/// Longest group name, in characters (after trimming).
pub const NAME_MAX: usize = 100;
/// Longest group description, in characters.
pub const DESCRIPTION_MAX: usize = 1000;

/// Why a group request was refused; each message names the field or the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GroupError {
    #[error("name must be 1 to 100 characters")]
    InvalidName,
    #[error("description must be at most 1000 characters")]
    InvalidDescription,
    #[error("visibility must be one of public, private")]
    InvalidVisibility,
    #[error("role must be one of owner, admin, member")]
    InvalidRole,
    #[error("only the group's owners and admins may do this")]
    NotModerator,
    #[error("only the group's owners may do this")]
    NotOwner,
    #[error("admins may only change the roles of members and admins, and not to owner")]
    AdminCannotTouchOwners,
    #[error("a group must keep at least one owner: make another member owner first")]
    LastOwner,
}

/// A valid group name: 1 to [`NAME_MAX`] characters, surrounding whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    /// Parses a name as typed.
    pub fn parse(s: &str) -> Result<Self, GroupError> {
        let t = s.trim();
        if (1..=NAME_MAX).contains(&t.chars().count()) {
            Ok(Self(t.to_owned()))
        } else {
            Err(GroupError::InvalidName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a description's length and returns it trimmed.
pub fn parse_description(s: &str) -> Result<String, GroupError> {
    let t = s.trim();
    if t.chars().count() <= DESCRIPTION_MAX {
        Ok(t.to_owned())
    } else {
        Err(GroupError::InvalidDescription)
    }
}

/// Who may read a group and how one joins it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupVisibility {
    /// Everyone may read it; anyone may join.
    Public,
    /// Only members read it; joining needs approval or an invitation.
    Private,
}

impl GroupVisibility {
    /// Parses the API's names.
    pub fn parse(s: &str) -> Result<Self, GroupError> {
        match s {
            "public" => Ok(Self::Public),
            "private" => Ok(Self::Private),
            _ => Err(GroupError::InvalidVisibility),
        }
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }

    /// The Mastodon visibility a post in such a group carries, so that Mastodon apps show
    /// its reach: a public group's posts are readable by all but kept off the network
    /// timeline (`unlisted`); a private group's posts are not reblogable (`private`).
    pub fn post_visibility(self) -> crate::visibility::Visibility {
        match self {
            Self::Public => crate::visibility::Visibility::Unlisted,
            Self::Private => crate::visibility::Visibility::Private,
        }
    }
}

/// A member's role in a group, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupRole {
    /// Owns the group: may also delete it and appoint owners.
    Owner,
    /// Runs the group: edits it, answers requests, invites, removes members, appoints
    /// admins and deletes posts in it.
    Admin,
    /// Reads and posts.
    Member,
}

impl GroupRole {
    /// Parses the API's names.
    pub fn parse(s: &str) -> Result<Self, GroupError> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err(GroupError::InvalidRole),
        }
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Owners and admins moderate: they answer join requests, invite and remove members.
    pub fn moderates(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// Whether an account with `role` in a group (`None`: not a member) may read the group's
/// posts and member list; a post's own visibility is still decided by
/// [`crate::visibility::may_see`].
pub fn may_read(visibility: GroupVisibility, role: Option<GroupRole>) -> bool {
    visibility == GroupVisibility::Public || role.is_some()
}

/// Whether `actor` may manage the membership at all (requests, invitations).
pub fn may_moderate(actor: Option<GroupRole>) -> Result<(), GroupError> {
    match actor {
        Some(r) if r.moderates() => Ok(()),
        _ => Err(GroupError::NotModerator),
    }
}

/// Whether `actor` may change the group itself (name, description, visibility).
pub fn may_edit_group(actor: Option<GroupRole>) -> Result<(), GroupError> {
    may_moderate(actor)
}

/// Whether `actor` may delete the group.
pub fn may_delete_group(actor: Option<GroupRole>) -> Result<(), GroupError> {
    match actor {
        Some(GroupRole::Owner) => Ok(()),
        _ => Err(GroupError::NotOwner),
    }
}

/// Whether `actor` may give a member with role `from` the role `to` (`None`: remove them
/// from the group), when the group has `owners` owners. Owners may do anything but leave
/// the group without an owner; admins may act on members and admins only, never making
/// anyone an owner.
pub fn may_change_role(
    actor: Option<GroupRole>,
    from: GroupRole,
    to: Option<GroupRole>,
    owners: i64,
) -> Result<(), GroupError> {
    match actor {
        Some(GroupRole::Owner) => {}
        Some(GroupRole::Admin) => {
            if from == GroupRole::Owner || to == Some(GroupRole::Owner) {
                return Err(GroupError::AdminCannotTouchOwners);
            }
        }
        _ => return Err(GroupError::NotModerator),
    }
    owner_remains(from, to, owners)
}

/// Whether a member with role `from` may take role `to` (`None`: leave) on their own or
/// by another's hand without leaving the group ownerless.
pub fn owner_remains(
    from: GroupRole,
    to: Option<GroupRole>,
    owners: i64,
) -> Result<(), GroupError> {
    if from == GroupRole::Owner && to != Some(GroupRole::Owner) && owners <= 1 {
        Err(GroupError::LastOwner)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GroupRole::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            GroupName::parse("  Rust guild ").unwrap().as_str(),
            "Rust guild"
        );
        assert_eq!(GroupName::parse("   "), Err(GroupError::InvalidName));
        assert!(GroupName::parse(&"é".repeat(NAME_MAX)).is_ok());
        assert!(GroupName::parse(&"é".repeat(NAME_MAX + 1)).is_err());
        assert!(parse_description(&"x".repeat(DESCRIPTION_MAX + 1)).is_err());
    }

    #[test]
    fn names_round_trip() {
        for r in [Owner, Admin, Member] {
            assert_eq!(GroupRole::parse(r.as_str()), Ok(r));
        }
        for v in [GroupVisibility::Public, GroupVisibility::Private] {
            assert_eq!(GroupVisibility::parse(v.as_str()), Ok(v));
        }
        assert!(GroupRole::parse("boss").is_err());
        assert!(GroupVisibility::parse("secret").is_err());
    }

    /// Who may move whom from one role to another (`None`: out of the group), with two
    /// owners in the group.
    #[test]
    fn role_changes() {
        let ok = |a, f, t| may_change_role(a, f, t, 2).is_ok();
        // Owners: everything.
        assert!(ok(Some(Owner), Member, Some(Owner)));
        assert!(ok(Some(Owner), Owner, Some(Member)));
        assert!(ok(Some(Owner), Admin, None));
        // Admins: members and admins, never to or from owner.
        assert!(ok(Some(Admin), Member, Some(Admin)));
        assert!(ok(Some(Admin), Admin, Some(Member)));
        assert!(ok(Some(Admin), Member, None));
        assert!(!ok(Some(Admin), Member, Some(Owner)));
        assert!(!ok(Some(Admin), Owner, Some(Member)));
        assert!(!ok(Some(Admin), Owner, None));
        // Members and outsiders: nothing.
        assert!(!ok(Some(Member), Member, None));
        assert!(!ok(None, Member, Some(Admin)));
    }

    #[test]
    fn the_last_owner_stays() {
        assert_eq!(
            may_change_role(Some(Owner), Owner, Some(Admin), 1),
            Err(GroupError::LastOwner)
        );
        assert_eq!(owner_remains(Owner, None, 1), Err(GroupError::LastOwner));
        assert!(owner_remains(Owner, None, 2).is_ok());
        assert!(owner_remains(Owner, Some(Owner), 1).is_ok());
        assert!(owner_remains(Member, None, 0).is_ok());
    }

    #[test]
    fn private_groups_are_read_by_members() {
        assert!(may_read(GroupVisibility::Public, None));
        assert!(!may_read(GroupVisibility::Private, None));
        assert!(may_read(GroupVisibility::Private, Some(Member)));
    }

    #[test]
    fn only_owners_delete_and_moderators_edit() {
        assert!(may_delete_group(Some(Owner)).is_ok());
        assert!(may_delete_group(Some(Admin)).is_err());
        assert!(may_edit_group(Some(Admin)).is_ok());
        assert!(may_edit_group(Some(Member)).is_err());
        assert!(may_moderate(None).is_err());
    }
}
