//! Hashtag names as clients send them in URLs (`/api/v1/tags/:name`).

use crate::text::extract_hashtags;

/// The normalised form of a hashtag name (with or without a leading `#`), or `None` when
/// it is not one hashtag as posts would write it.
pub fn parse_tag(name: &str) -> Option<String> {
    let name = name.trim().trim_start_matches('#');
    if name.is_empty() || name.chars().count() > 100 {
        return None;
    }
    match extract_hashtags(&format!("#{name}")).as_slice() {
        [tag] if tag == &name.to_lowercase() => Some(tag.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(parse_tag("Rust"), Some("rust".into()));
        assert_eq!(parse_tag("#Café"), Some("café".into()));
        assert_eq!(parse_tag("日本語"), Some("日本語".into()));
        for bad in ["", "#", "123", "two words", "a-b", "x#y", &"a".repeat(101)] {
            assert_eq!(parse_tag(bad), None, "{bad:?}");
        }
    }
}
