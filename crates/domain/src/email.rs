//! E-mail notification rules: which notifications become an e-mail (mentions, direct
//! messages, follows and follow requests), under which of a person's preferences, and
//! what the preferences are for someone who never set them.
//!
//! Only these kinds are mailed one by one because they are addressed to the person and
//! usually want an answer; favourites, reblogs and the rest are the kind of thing the
//! daily digest summarises instead (a mail per like would train people to filter us out).

/// What an e-mail is about; each kind has its own preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailKind {
    /// Someone mentioned the person in a post that is not a direct message.
    Mention,
    /// Someone sent the person a direct message (a mention in a `direct` post).
    Direct,
    /// Someone followed the person, or asked to.
    Follow,
    /// The daily summary of what the person missed.
    Digest,
}

impl EmailKind {
    /// Every kind, in the order the preferences are listed.
    pub const ALL: [Self; 4] = [Self::Mention, Self::Direct, Self::Follow, Self::Digest];

    /// The kind of e-mail a notification of type `kind` is sent as, if any; `direct` says
    /// whether the post it is about is a direct message.
    pub fn for_notification(kind: &str, direct: bool) -> Option<Self> {
        match kind {
            "mention" if direct => Some(Self::Direct),
            "mention" => Some(Self::Mention),
            "follow" | "follow_request" => Some(Self::Follow),
            _ => None,
        }
    }

    /// The name used in the API, the database and job records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mention => "mention",
            Self::Direct => "direct",
            Self::Follow => "follow",
            Self::Digest => "digest",
        }
    }

    /// The kind named `s` (see [`EmailKind::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A person's e-mail preferences: one switch per [`EmailKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailPreferences {
    /// Mail for mentions.
    pub mention: bool,
    /// Mail for direct messages.
    pub direct: bool,
    /// Mail for new followers and follow requests.
    pub follow: bool,
    /// A daily digest.
    pub digest: bool,
}

impl Default for EmailPreferences {
    /// What someone who never chose gets: mail for what is addressed to them personally,
    /// and no digest (a recurring message is something to opt into).
    fn default() -> Self {
        Self {
            mention: true,
            direct: true,
            follow: true,
            digest: false,
        }
    }
}

impl EmailPreferences {
    /// Whether e-mail of `kind` is wanted.
    pub fn wants(&self, kind: EmailKind) -> bool {
        match kind {
            EmailKind::Mention => self.mention,
            EmailKind::Direct => self.direct,
            EmailKind::Follow => self.follow,
            EmailKind::Digest => self.digest,
        }
    }

    /// The preferences with `kind` switched on or off.
    pub fn with(mut self, kind: EmailKind, on: bool) -> Self {
        match kind {
            EmailKind::Mention => self.mention = on,
            EmailKind::Direct => self.direct = on,
            EmailKind::Follow => self.follow = on,
            EmailKind::Digest => self.digest = on,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_map_to_kinds() {
        assert_eq!(
            EmailKind::for_notification("mention", false),
            Some(EmailKind::Mention)
        );
        assert_eq!(
            EmailKind::for_notification("mention", true),
            Some(EmailKind::Direct)
        );
        assert_eq!(
            EmailKind::for_notification("follow", false),
            Some(EmailKind::Follow)
        );
        assert_eq!(
            EmailKind::for_notification("follow_request", false),
            Some(EmailKind::Follow)
        );
        for other in [
            "favourite",
            "reblog",
            "status",
            "update",
            "group_invitation",
        ] {
            assert_eq!(EmailKind::for_notification(other, false), None, "{other}");
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in EmailKind::ALL {
            assert_eq!(EmailKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EmailKind::parse("favourite"), None);
    }

    #[test]
    fn defaults_mail_personal_things_and_no_digest() {
        let p = EmailPreferences::default();
        assert!(p.wants(EmailKind::Mention) && p.wants(EmailKind::Direct));
        assert!(p.wants(EmailKind::Follow));
        assert!(!p.wants(EmailKind::Digest));
        let p = p
            .with(EmailKind::Mention, false)
            .with(EmailKind::Digest, true);
        assert!(!p.wants(EmailKind::Mention) && p.wants(EmailKind::Digest));
    }
}
