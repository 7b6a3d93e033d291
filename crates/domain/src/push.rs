//! Web Push rules: which notifications a push subscription asks for (its *alerts*, one per
//! notification type) and from whom (its *policy*), as Mastodon defines them.
//!
//! Alerts are kept as a bit set so the store can pick the matching subscriptions of a new
//! notification in the same statement that queues its delivery (`alerts & bit <> 0`),
//! instead of loading every subscription to filter it in memory.

use thiserror::Error;

/// The notification types a subscription can ask to be pushed, in Mastodon's order. Other
/// types (Starling's group requests, invitations and approvals) have no alert and are
/// never pushed, as in Mastodon where a type without an alert is not pushed either.
pub const ALERT_TYPES: [&str; 8] = [
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
];

/// The set of notification types a subscription wants pushed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Alerts(i64);

impl Alerts {
    /// No alert: nothing is pushed (Mastodon's default for alerts not sent).
    pub const NONE: Self = Self(0);

    /// The bit of a notification type, or `None` for a type that has no alert.
    pub fn bit(kind: &str) -> Option<i64> {
        ALERT_TYPES
            .iter()
            .position(|t| *t == kind)
            .map(|i| 1_i64 << i)
    }

    /// The set as stored (see [`Alerts::from_bits`]).
    pub fn bits(self) -> i64 {
        self.0
    }

    /// A stored set; bits that name no type are dropped.
    pub fn from_bits(bits: i64) -> Self {
        Self(bits & ((1 << ALERT_TYPES.len()) - 1))
    }

    /// The set with `kind` switched on or off; a type without an alert changes nothing.
    pub fn with(self, kind: &str, on: bool) -> Self {
        match Self::bit(kind) {
            Some(bit) if on => Self(self.0 | bit),
            Some(bit) => Self(self.0 & !bit),
            None => self,
        }
    }

    /// Whether notifications of type `kind` are wanted.
    pub fn wants(self, kind: &str) -> bool {
        Self::bit(kind).is_some_and(|bit| self.0 & bit != 0)
    }

    /// Every alert type with whether it is on, in [`ALERT_TYPES`] order.
    pub fn entries(self) -> impl Iterator<Item = (&'static str, bool)> {
        ALERT_TYPES.into_iter().map(move |t| (t, self.wants(t)))
    }
}

/// From whom notifications are pushed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushPolicy {
    /// From anyone (the default).
    #[default]
    All,
    /// Only from accounts the recipient follows.
    Followed,
    /// Only from accounts that follow the recipient.
    Follower,
    /// From nobody: the subscription is kept but sends nothing.
    None,
}

/// A policy name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("data[policy] must be one of all, followed, follower, none")]
pub struct InvalidPolicy;

impl PushPolicy {
    /// Parses Mastodon's names.
    pub fn parse(s: &str) -> Result<Self, InvalidPolicy> {
        match s {
            "all" => Ok(Self::All),
            "followed" => Ok(Self::Followed),
            "follower" => Ok(Self::Follower),
            "none" => Ok(Self::None),
            _ => Err(InvalidPolicy),
        }
    }

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Followed => "followed",
            Self::Follower => "follower",
            Self::None => "none",
        }
    }

    /// Whether the policy needs to know how the recipient and the notification's sender
    /// stand towards each other (so the caller loads it only then).
    pub fn needs_relationship(self) -> bool {
        matches!(self, Self::Followed | Self::Follower)
    }

    /// Whether a notification from an account is pushed, given whether the recipient
    /// follows that account (`following`) and whether it follows the recipient
    /// (`followed_by`).
    pub fn allows(self, following: bool, followed_by: bool) -> bool {
        match self {
            Self::All => true,
            Self::Followed => following,
            Self::Follower => followed_by,
            Self::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_round_trip_and_ignore_unknown_types() {
        let a = Alerts::NONE
            .with("mention", true)
            .with("follow", true)
            .with("group_request", true);
        assert!(a.wants("mention") && a.wants("follow"));
        assert!(!a.wants("favourite") && !a.wants("group_request"));
        assert_eq!(Alerts::from_bits(a.bits()), a);
        assert_eq!(a.with("mention", false), Alerts::NONE.with("follow", true));
        assert_eq!(
            Alerts::from_bits(-1).bits(),
            0xff,
            "unknown bits are dropped"
        );
        let on: Vec<_> = a.entries().filter(|(_, on)| *on).map(|(t, _)| t).collect();
        assert_eq!(on, ["mention", "follow"]);
    }

    #[test]
    fn every_alert_type_has_its_own_bit() {
        let mut seen = 0;
        for t in ALERT_TYPES {
            let bit = Alerts::bit(t).unwrap();
            assert_eq!(seen & bit, 0, "{t}");
            seen |= bit;
        }
        assert_eq!(Alerts::bit("group_invitation"), None);
    }

    #[test]
    fn policies_parse_and_decide() {
        for p in [
            PushPolicy::All,
            PushPolicy::Followed,
            PushPolicy::Follower,
            PushPolicy::None,
        ] {
            assert_eq!(PushPolicy::parse(p.as_str()), Ok(p));
        }
        assert_eq!(PushPolicy::parse("everyone"), Err(InvalidPolicy));
        assert!(PushPolicy::All.allows(false, false));
        assert!(PushPolicy::Followed.allows(true, false));
        assert!(!PushPolicy::Followed.allows(false, true));
        assert!(PushPolicy::Follower.allows(false, true));
        assert!(!PushPolicy::Follower.allows(true, false));
        assert!(!PushPolicy::None.allows(true, true));
    }
}
