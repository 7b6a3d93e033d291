//! What a post refers to: the usernames it mentions, the hashtags it carries and
//! the web links it contains, read from its raw text.

use std::collections::HashSet;

use super::scan::{Token, tokenize, url_ranges};

/// Usernames mentioned as `@name` (ASCII `[A-Za-z0-9_]{1,30}`), lowercased, deduplicated, in order of first appearance.
/// `@name@host` forms: return the local part too (host ignored). Not inside URLs, not after a word character (so `a@b.com` emails are not mentions).
#[must_use]
pub fn extract_mentions(text: &str) -> Vec<String> {
    dedup_lowercase(tokenize(text).into_iter().filter_map(|token| match token {
        Token::Mention { name, .. } => Some(name.to_ascii_lowercase()),
        _ => None,
    }))
}

/// Like [`extract_mentions`], but only the mentions of local accounts: `@name`, or
/// `@name@host` where `host` is `local_host` (compared without case or port). A mention
/// of someone elsewhere must never reach the local account of the same name.
#[must_use]
pub fn extract_local_mentions(text: &str, local_host: &str) -> Vec<String> {
    let bare = |h: &str| h.split(':').next().unwrap_or(h).to_ascii_lowercase();
    let local = bare(local_host);
    dedup_lowercase(tokenize(text).into_iter().filter_map(|token| match token {
        Token::Mention { name, host, .. } if host.is_none_or(|h| bare(h) == local) => {
            Some(name.to_ascii_lowercase())
        }
        _ => None,
    }))
}

/// Hashtags written `#tag`, normalised to lowercase, deduplicated, in order of first appearance.
/// A tag is Unicode letters, marks, digits and `_`, containing at least one non-digit; not inside URLs, not after a word character (so `a#b` and `https://x/#frag` are not tags).
#[must_use]
pub fn extract_hashtags(text: &str) -> Vec<String> {
    dedup_lowercase(tokenize(text).into_iter().filter_map(|token| match token {
        Token::Hashtag { tag, .. } => Some(tag.to_lowercase()),
        _ => None,
    }))
}

/// http:// and https:// URLs found in the text, in order (use the linkify crate for detection).
#[must_use]
pub fn extract_urls(text: &str) -> Vec<String> {
    url_ranges(text)
        .into_iter()
        .map(|range| text[range].to_owned())
        .collect()
}

/// Keeps the first occurrence of each (already lowercased) name.
fn dedup_lowercase(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names.filter(|name| seen.insert(name.clone())).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn mentions_stop_at_punctuation() {
        assert_eq!(extract_mentions("@Ana, hi"), vec!["ana"]);
        assert_eq!(
            extract_mentions("(@bob) @carol! @dave."),
            vec!["bob", "carol", "dave"]
        );
        assert_eq!(extract_mentions("@x_1?"), vec!["x_1"]);
    }

    #[test]
    fn mentions_dedupe_ignoring_case() {
        assert_eq!(extract_mentions("@Ana @bob @ANA @ana"), vec!["ana", "bob"]);
    }

    #[test]
    fn emails_are_not_mentions() {
        assert!(extract_mentions("write to ana@example.com").is_empty());
        assert!(extract_mentions("a@b.com").is_empty());
    }

    #[test]
    fn remote_mentions_give_the_local_part() {
        assert_eq!(
            extract_mentions("hi @Ana@example.org and @bob@social.example."),
            vec!["ana", "bob"]
        );
    }

    #[test]
    fn mentions_need_a_plain_ascii_name() {
        assert!(extract_mentions("@ @ é@ana @anaé @a\u{301}").is_empty());
        assert!(extract_mentions(&format!("@{}", "a".repeat(31))).is_empty());
        assert_eq!(extract_mentions(&format!("@{}", "a".repeat(30))).len(), 1);
    }

    #[test]
    fn mentions_inside_urls_are_ignored() {
        assert!(extract_mentions("https://example.com/@ana and x.org/@bob").is_empty());
    }

    #[test]
    fn hashtags_lowercase_and_dedupe() {
        assert_eq!(
            extract_hashtags("#Rust #rust #RUST #Go"),
            vec!["rust", "go"]
        );
    }

    #[test]
    fn hashtags_allow_unicode_letters() {
        assert_eq!(
            extract_hashtags("#Café #日本語 #Cafe\u{301}x"),
            vec!["café", "日本語", "cafe\u{301}x"]
        );
        assert_eq!(
            extract_hashtags("#snake_case #_x #v2"),
            vec!["snake_case", "_x", "v2"]
        );
    }

    #[test]
    fn digits_only_is_not_a_hashtag() {
        assert!(extract_hashtags("#123 #2024").is_empty());
        assert_eq!(extract_hashtags("#1st"), vec!["1st"]);
    }

    #[test]
    fn hashtags_not_in_urls_or_words() {
        assert!(extract_hashtags("https://x.org/#frag https://x.org/a#b").is_empty());
        assert!(extract_hashtags("a#b C#").is_empty());
        assert_eq!(extract_hashtags("(#tag) #end."), vec!["tag", "end"]);
    }

    #[test]
    fn urls_in_order_without_trailing_punctuation() {
        assert_eq!(
            extract_urls("see https://example.com/a, (http://x.org/b) and https://example.com/a."),
            vec![
                "https://example.com/a",
                "http://x.org/b",
                "https://example.com/a"
            ]
        );
    }

    #[test]
    fn only_http_urls_are_extracted() {
        assert!(extract_urls("javascript:alert(1) ftp://x.org example.com a@b.com").is_empty());
    }

    proptest! {
        #[test]
        fn extractors_never_panic(text in any::<String>()) {
            let _ = extract_mentions(&text);
            let _ = extract_hashtags(&text);
            let _ = extract_urls(&text);
        }

        #[test]
        fn extractors_never_panic_on_dense_markers(text in "[@#a-zé\u{301}_/.:\u{200d} -]{0,40}") {
            for mention in extract_mentions(&text) {
                prop_assert!(!mention.is_empty() && mention.len() <= 30);
                prop_assert!(mention.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            }
            for tag in extract_hashtags(&text) {
                prop_assert!(!tag.is_empty());
                prop_assert!(!tag.contains(['#', '@', ' ']));
            }
        }
    }
}

#[cfg(test)]
mod local_mention_tests {
    use super::*;

    #[test]
    fn only_local_mentions_count() {
        let text = "@Ana @bob@partner.example @cat@Starling.Example:8080 @dan@starling.example";
        assert_eq!(
            extract_local_mentions(text, "starling.example:8080"),
            vec!["ana", "cat", "dan"]
        );
    }
}
