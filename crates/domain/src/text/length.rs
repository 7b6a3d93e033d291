//! How long a post is, as the length limit sees it, and the check against that limit.
//!
//! Length is what a person perceives: one per extended grapheme cluster, so an emoji
//! family or a flag is one character, and every http(s) URL weighs the same however
//! long it is, as Mastodon clients expect when they show the remaining characters.

use unicode_segmentation::UnicodeSegmentation;

use super::scan::url_ranges;

/// Weight of any URL in a post, however long it is (Mastodon's `characters_reserved_per_url`).
pub const URL_WEIGHT: usize = 23;

/// Length of a post as users perceive it: extended grapheme clusters, each http(s) URL counted as [`URL_WEIGHT`].
#[must_use]
pub fn post_length(text: &str) -> usize {
    let mut count = 0;
    let mut pos = 0;
    for url in url_ranges(text) {
        // Count each stretch on its own so that no cluster can straddle a URL's edge.
        count += text[pos..url.start].graphemes(true).count() + URL_WEIGHT;
        pos = url.end;
    }
    count + text[pos..].graphemes(true).count()
}

/// Why a post's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text is empty or only whitespace.
    #[error("text can't be blank")]
    Empty,
    /// The text counts more than the limit allows.
    #[error("text is too long: {count} characters, the limit is {limit}")]
    TooLong {
        /// The text's length, as [`post_length`] counts it.
        count: usize,
        /// The limit it was checked against.
        limit: usize,
    },
}

/// Checks a post's text against the length limit; returns its counted length.
///
/// # Errors
/// [`TextError::Empty`] for blank text, [`TextError::TooLong`] when it counts over `limit`.
pub fn validate_post_text(text: &str, limit: usize) -> Result<usize, TextError> {
    if text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    let count = post_length(text);
    if count > limit {
        return Err(TextError::TooLong { count, limit });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::extract_urls;
    use super::*;

    #[test]
    fn ascii_counts_chars() {
        assert_eq!(post_length(""), 0);
        assert_eq!(post_length("hello"), 5);
    }

    #[test]
    fn emoji_count_one_each() {
        // Single code points, skin-tone modifiers, ZWJ families, flags and keycaps.
        let emoji = [
            "😀",
            "👍🏽",
            "👨\u{200d}👩\u{200d}👧\u{200d}👦",
            "🇫🇷",
            "🏳\u{fe0f}\u{200d}🌈",
            "#\u{fe0f}\u{20e3}",
            "❤\u{fe0f}",
        ];
        let text: String = emoji.iter().cycle().take(140).copied().collect();
        assert!(text.chars().count() > 140);
        assert_eq!(post_length(&text), 140);
    }

    #[test]
    fn combining_marks_join_their_letter() {
        assert_eq!(post_length("e\u{301}"), 1);
        assert_eq!(post_length("Cafe\u{301}"), 4);
        assert_eq!(post_length("\r\n"), 1);
    }

    #[test]
    fn long_url_counts_url_weight() {
        let url = format!("https://example.com/{}", "a".repeat(180));
        assert_eq!(url.chars().count(), 200);
        assert_eq!(post_length(&url), URL_WEIGHT);
        assert_eq!(post_length("http://a.co"), URL_WEIGHT);
    }

    #[test]
    fn url_after_text() {
        assert_eq!(post_length("hello https://example.com/x"), 6 + 23);
        assert_eq!(
            post_length("a https://x.org b https://y.org/z."),
            2 + 23 + 3 + 23 + 1
        );
    }

    #[test]
    fn other_schemes_count_as_text() {
        assert_eq!(post_length("ftp://example.com"), 17);
        assert_eq!(post_length("javascript:alert(1)"), 19);
    }

    #[test]
    fn blank_text_is_refused() {
        assert_eq!(validate_post_text("", 500), Err(TextError::Empty));
        assert_eq!(
            validate_post_text(" \n\t\u{3000}", 500),
            Err(TextError::Empty)
        );
    }

    #[test]
    fn limit_is_inclusive() {
        assert_eq!(validate_post_text(&"a".repeat(140), 140), Ok(140));
        assert_eq!(
            validate_post_text(&"a".repeat(141), 140),
            Err(TextError::TooLong {
                count: 141,
                limit: 140
            })
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(TextError::Empty.to_string(), "text can't be blank");
        assert_eq!(
            TextError::TooLong {
                count: 141,
                limit: 140
            }
            .to_string(),
            "text is too long: 141 characters, the limit is 140"
        );
    }

    proptest! {
        #[test]
        fn length_is_bounded(text in any::<String>()) {
            // Each URL is swapped for URL_WEIGHT, which may be more than a short URL's chars.
            let urls = extract_urls(&text);
            let url_chars: usize = urls.iter().map(|u| u.chars().count()).sum();
            let bound = text.chars().count() - url_chars + URL_WEIGHT * urls.len();
            let len = post_length(&text);
            prop_assert!(len <= bound);
            if urls.is_empty() {
                prop_assert!(len <= text.chars().count());
            }
            if !text.is_empty() {
                prop_assert!(len >= 1);
            }
        }

        #[test]
        fn length_with_long_urls_is_at_most_chars(
            parts in prop::collection::vec(("[a-z ]{0,5}", "[a-z]{10,30}"), 0..5),
        ) {
            // URLs of at least URL_WEIGHT chars never make a post count longer than its chars.
            let text: String = parts
                .iter()
                .map(|(gap, path)| format!("{gap} https://example.com/{path} "))
                .collect();
            prop_assert!(post_length(&text) <= text.chars().count());
            prop_assert_eq!(extract_urls(&text).len(), parts.len());
        }

        #[test]
        fn without_urls_length_is_grapheme_count(text in any::<String>()) {
            prop_assume!(extract_urls(&text).is_empty());
            prop_assert_eq!(post_length(&text), text.graphemes(true).count());
        }

        #[test]
        fn graphemes_of_mixed_scripts(text in "[a-z\u{301}\u{200d}\u{fe0f}😀👨🇫🇷日本 ]{0,40}") {
            prop_assert_eq!(post_length(&text), text.graphemes(true).count());
        }
    }
}
