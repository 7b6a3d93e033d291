//! Small helpers for forms and links: percent-encoding a query value, and keeping
//! redirect targets on this site (an open redirect would let a link to Starling send
//! people anywhere).

use serde::{Deserialize, Deserializer};

/// Percent-encodes `s` for a query string (everything but RFC 3986's unreserved set).
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `next` if it is a path on this site, else `fallback`: `//host` and `/\host` are
/// other sites to a browser, and anything not starting with `/` is refused too.
pub fn local_path<'a>(next: Option<&'a str>, fallback: &'a str) -> &'a str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => fallback,
    }
}

/// Deserializes an optional id from a form field; empty means none, garbage is refused.
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => starling_domain::id::parse_id(v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("not an id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_kept() {
        assert_eq!(local_path(Some("/home?x=1"), "/"), "/home?x=1");
        assert_eq!(local_path(Some("//evil.example"), "/"), "/");
        assert_eq!(local_path(Some("/\\evil.example"), "/"), "/");
        assert_eq!(local_path(Some("https://evil.example"), "/"), "/");
        assert_eq!(local_path(Some("/a\r\nb"), "/"), "/");
        assert_eq!(local_path(None, "/home"), "/home");
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(encode_query("/home?a=b&c"), "/home%3Fa%3Db%26c");
    }
}
