//! OAuth2 scopes as Mastodon defines them: `read`, `write`, `follow`, `push`, their
//! `read:*`/`write:*` sub-scopes, and the rule deciding whether a granted set covers
//! what an endpoint requires.

use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

/// Every scope a client may ask for.
const KNOWN: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:groups",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:groups",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
];

/// Sub-scopes that the legacy `follow` scope also grants.
const FOLLOW_COVERS: &[&str] = &[
    "read:follows",
    "read:blocks",
    "read:mutes",
    "write:follows",
    "write:blocks",
    "write:mutes",
];

/// A scope string named something this server does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("scope {0:?} is not a known scope")]
pub struct UnknownScope(pub String);

/// A set of granted scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses a space- (or `+`-, or comma-) separated scope list; empty means `read`,
    /// as in Mastodon.
    pub fn parse(s: &str) -> Result<Self, UnknownScope> {
        let mut set = BTreeSet::new();
        for part in s.split([' ', '+', ',']).filter(|p| !p.is_empty()) {
            if !KNOWN.contains(&part) {
                return Err(UnknownScope(part.to_owned()));
            }
            set.insert(part.to_owned());
        }
        if set.is_empty() {
            set.insert("read".to_owned());
        }
        Ok(Self(set))
    }

    /// Whether this set grants `required` (e.g. `read:statuses`), directly or through
    /// its parent scope (`read`) or the legacy `follow` scope.
    pub fn grants(&self, required: &str) -> bool {
        if self.0.contains(required) {
            return true;
        }
        if let Some((parent, _)) = required.split_once(':')
            && self.0.contains(parent)
        {
            return true;
        }
        // `profile` only unlocks reading one's own account.
        if required == "read:accounts" && self.0.contains("profile") {
            return false;
        }
        self.0.contains("follow") && FOLLOW_COVERS.contains(&required)
    }

    /// Whether every scope of `other` is granted by this set (for narrowing on refresh or code exchange).
    pub fn covers(&self, other: &Scopes) -> bool {
        other.0.iter().all(|s| self.grants(s))
    }

    /// The scopes of this set that `allowed` grants (to cap a request at what an app registered).
    pub fn intersect(&self, allowed: &Scopes) -> Scopes {
        Scopes(
            self.0
                .iter()
                .filter(|s| allowed.grants(s))
                .cloned()
                .collect(),
        )
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<&str> = self.0.iter().map(String::as_str).collect();
        f.write_str(&v.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_and_follow_cover_children() {
        let s = Scopes::parse("read write:statuses follow").unwrap();
        assert!(s.grants("read:notifications"));
        assert!(s.grants("write:statuses"));
        assert!(!s.grants("write:favourites"));
        assert!(s.grants("write:follows"));
        assert!(s.grants("write:blocks"));
        assert!(!s.grants("push"));
    }

    #[test]
    fn parsing() {
        assert_eq!(Scopes::parse("").unwrap().to_string(), "read");
        assert_eq!(
            Scopes::parse("read+write").unwrap().to_string(),
            "read write"
        );
        assert!(Scopes::parse("read admin:everything").is_err());
        let app = Scopes::parse("read write").unwrap();
        let asked = Scopes::parse("read write follow").unwrap();
        assert!(!app.covers(&asked));
        assert_eq!(asked.intersect(&app).to_string(), "read write");
    }
}
