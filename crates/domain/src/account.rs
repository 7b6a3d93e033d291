//! Account rules: usernames, e-mail addresses, passwords and roles, parsed once at the edge.

use thiserror::Error;

/// Longest username allowed.
pub const USERNAME_MAX: usize = 30;
/// Shortest password accepted at sign-up.
pub const PASSWORD_MIN: usize = 8;
/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX: usize = 30;
/// Longest bio, in characters.
pub const NOTE_MAX: usize = 500;

/// Why an account field was refused; each message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccountError {
    #[error("username must be 1 to 30 characters of a-z, 0-9 and _")]
    InvalidUsername,
    #[error("email must be an address like name@example.com")]
    InvalidEmail,
    #[error("email domain is not allowed on this network")]
    EmailDomainNotAllowed,
    #[error("password must be at least 8 characters")]
    PasswordTooShort,
    #[error("display_name must be at most 30 characters")]
    DisplayNameTooLong,
    #[error("note must be at most 500 characters")]
    NoteTooLong,
    #[error("role must be member or admin")]
    InvalidRole,
}

/// A valid username: `[a-z0-9_]{1,30}`; input is accepted in any case and kept as typed,
/// while uniqueness and lookups use the lowercase form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username as typed by a person.
    pub fn parse(s: &str) -> Result<Self, AccountError> {
        let ok = !s.is_empty()
            && s.len() <= USERNAME_MAX
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(AccountError::InvalidUsername)
        }
    }

    /// The username as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookups.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A plausible e-mail address (one `@`, non-empty local part, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address; deliverability is not checked here.
    pub fn parse(s: &str) -> Result<Self, AccountError> {
        let s = s.trim();
        let (local, domain) = s.split_once('@').ok_or(AccountError::InvalidEmail)?;
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(char::is_whitespace)
            && s.len() <= 254;
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(AccountError::InvalidEmail)
        }
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase form used for uniqueness and sign-in.
    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }

    /// The domain part, lowercase.
    pub fn domain(&self) -> String {
        self.0
            .rsplit_once('@')
            .map(|(_, d)| d.to_lowercase())
            .unwrap_or_default()
    }

    /// Whether sign-up is allowed for this address; an empty list means any domain.
    pub fn check_domain(&self, allowed: &[String]) -> Result<(), AccountError> {
        let domain = self.domain();
        if allowed.is_empty() || allowed.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            Ok(())
        } else {
            Err(AccountError::EmailDomainNotAllowed)
        }
    }
}

/// Checks a new password against the minimum length (in characters).
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() >= PASSWORD_MIN {
        Ok(())
    } else {
        Err(AccountError::PasswordTooShort)
    }
}

/// Checks a display name's length.
pub fn check_display_name(name: &str) -> Result<(), AccountError> {
    if name.chars().count() <= DISPLAY_NAME_MAX {
        Ok(())
    } else {
        Err(AccountError::DisplayNameTooLong)
    }
}

/// Checks a bio's length.
pub fn check_note(note: &str) -> Result<(), AccountError> {
    if note.chars().count() <= NOTE_MAX {
        Ok(())
    } else {
        Err(AccountError::NoteTooLong)
    }
}

/// What an account may do on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An ordinary member.
    Member,
    /// A network administrator.
    Admin,
}

impl Role {
    /// Parses `member` or `admin`.
    pub fn parse(s: &str) -> Result<Self, AccountError> {
        match s.to_ascii_lowercase().as_str() {
            "member" | "user" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            _ => Err(AccountError::InvalidRole),
        }
    }

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("ana_1").is_ok());
        assert_eq!(
            Username::parse("Ana").map(|u| u.canonical()),
            Ok("ana".into())
        );
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(31)).is_err());
        assert!(Username::parse("an a").is_err());
        assert!(Username::parse("anä").is_err());
        assert!(Username::parse("a-b").is_err());
    }

    #[test]
    fn emails_and_domains() {
        let e = Email::parse("Ana@Example.COM").unwrap();
        assert_eq!(e.domain(), "example.com");
        assert!(e.check_domain(&[]).is_ok());
        assert!(e.check_domain(&["example.com".into()]).is_ok());
        assert_eq!(
            e.check_domain(&["corp.example".into()]),
            Err(AccountError::EmailDomainNotAllowed)
        );
        for bad in [
            "",
            "ana",
            "@x.com",
            "ana@",
            "ana@x",
            "a b@x.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_and_roles() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert_eq!(Role::parse("ADMIN"), Ok(Role::Admin));
        assert!(Role::parse("root").is_err());
    }
}
