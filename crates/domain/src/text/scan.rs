//! The tokenizer shared by the length counter, the extractors and the renderer:
//! it splits a post's text into plain text, http(s) URLs, `@mentions` and `#hashtags`.
//!
//! Scanning works on extended grapheme clusters rather than chars, so combining
//! marks stay attached to the letter they modify (`#Cafe\u{301}` is one tag) and a
//! keycap emoji such as `#\u{fe0f}\u{20e3}` is never mistaken for a hashtag sign.

use std::ops::Range;

use linkify::{LinkFinder, LinkKind};
use unicode_segmentation::UnicodeSegmentation;

/// Longest username accepted in a mention.
const MAX_USERNAME_LEN: usize = 30;

/// One piece of a post's text, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// Text with no special meaning.
    Text(&'a str),
    /// An http:// or https:// URL.
    Url(&'a str),
    /// `@name` or `@name@host`; `raw` is the whole token as written, `@` included.
    Mention {
        raw: &'a str,
        name: &'a str,
        host: Option<&'a str>,
    },
    /// `#tag`; `raw` includes the `#`, `tag` does not.
    Hashtag { raw: &'a str, tag: &'a str },
}

/// Byte ranges of the http(s) URLs in `text`, in order.
pub(super) fn url_ranges(text: &str) -> Vec<Range<usize>> {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    finder
        .links(text)
        .filter(|link| is_http(link.as_str()))
        .map(|link| link.start()..link.end())
        .collect()
}

/// Whether a URL uses the http or https scheme (schemes are case-insensitive).
fn is_http(url: &str) -> bool {
    ["http://", "https://"].iter().any(|prefix| {
        url.get(..prefix.len())
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(prefix))
    })
}

/// Splits `text` into tokens; concatenating their text gives back `text` exactly.
pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    for url in url_ranges(text) {
        scan_words(text, pos..url.start, &mut tokens);
        tokens.push(Token::Url(&text[url.clone()]));
        pos = url.end;
    }
    scan_words(text, pos..text.len(), &mut tokens);
    tokens
}

/// Finds mentions and hashtags in `text[range]`, a stretch that holds no URL.
fn scan_words<'a>(text: &'a str, range: Range<usize>, out: &mut Vec<Token<'a>>) {
    let seg = &text[range.clone()];
    if seg.is_empty() {
        return;
    }
    let graphemes: Vec<(usize, &str)> = seg.grapheme_indices(true).collect();
    let offset_of = |i: usize| graphemes.get(i).map_or(seg.len(), |&(off, _)| off);

    // What precedes the stretch (the end of a URL) counts too: `https://x/#a` is no tag.
    let mut prev_blocks = text[..range.start]
        .chars()
        .next_back()
        .is_some_and(|c| is_word_char(c) || c == '/');
    let mut plain_start = 0;
    let mut i = 0;
    while let Some(&(off, grapheme)) = graphemes.get(i) {
        let found = if prev_blocks {
            None
        } else {
            match grapheme {
                "@" => mention_at(seg, &graphemes, i),
                "#" => hashtag_at(seg, &graphemes, i),
                _ => None,
            }
        };
        match found {
            Some((token, next)) => {
                if plain_start < off {
                    out.push(Token::Text(&seg[plain_start..off]));
                }
                out.push(token);
                plain_start = offset_of(next);
                // A token always ends on a word grapheme, so nothing can start right after it.
                prev_blocks = true;
                i = next;
            }
            None => {
                prev_blocks = blocks_marker(grapheme);
                i += 1;
            }
        }
    }
    if plain_start < seg.len() {
        out.push(Token::Text(&seg[plain_start..]));
    }
}

/// Reads a mention whose `@` is grapheme `at`; returns it and the index just past it.
fn mention_at<'a>(
    seg: &'a str,
    graphemes: &[(usize, &'a str)],
    at: usize,
) -> Option<(Token<'a>, usize)> {
    let offset_of = |i: usize| graphemes.get(i).map_or(seg.len(), |&(off, _)| off);
    let name_start = at + 1;
    let mut end = name_start;
    while graphemes
        .get(end)
        .is_some_and(|&(_, g)| is_username_grapheme(g))
    {
        end += 1;
    }
    let len = end - name_start;
    if len == 0 || len > MAX_USERNAME_LEN {
        return None;
    }
    // `@anaé` is not a mention of `ana`: names are ASCII, so a longer word is someone else.
    if graphemes
        .get(end)
        .is_some_and(|&(_, g)| is_word_grapheme(g))
    {
        return None;
    }
    let name = &seg[offset_of(name_start)..offset_of(end)];

    let mut host = None;
    if graphemes.get(end).is_some_and(|&(_, g)| g == "@") {
        let host_start = end + 1;
        let mut host_end = host_start;
        while graphemes
            .get(host_end)
            .is_some_and(|&(_, g)| is_host_grapheme(g))
        {
            host_end += 1;
        }
        // Trailing dots and dashes are punctuation (`@ana@example.org.`), not the host.
        while host_end > host_start
            && graphemes
                .get(host_end - 1)
                .is_some_and(|&(_, g)| g == "." || g == "-")
        {
            host_end -= 1;
        }
        let starts_well = graphemes
            .get(host_start)
            .is_some_and(|&(_, g)| g.chars().next().is_some_and(char::is_alphanumeric));
        if host_end > host_start && starts_well {
            host = Some(&seg[offset_of(host_start)..offset_of(host_end)]);
            end = host_end;
        }
    }

    let raw = &seg[offset_of(at)..offset_of(end)];
    Some((Token::Mention { raw, name, host }, end))
}

/// Reads a hashtag whose `#` is grapheme `at`; returns it and the index just past it.
fn hashtag_at<'a>(
    seg: &'a str,
    graphemes: &[(usize, &'a str)],
    at: usize,
) -> Option<(Token<'a>, usize)> {
    let offset_of = |i: usize| graphemes.get(i).map_or(seg.len(), |&(off, _)| off);
    let mut end = at + 1;
    while graphemes
        .get(end)
        .is_some_and(|&(_, g)| is_word_grapheme(g))
    {
        end += 1;
    }
    let tag = &seg[offset_of(at + 1)..offset_of(end)];
    // `#1` or `#2024` is a number, not a topic.
    if !tag.chars().any(|c| c.is_alphabetic() || c == '_') {
        return None;
    }
    let raw = &seg[offset_of(at)..offset_of(end)];
    Some((Token::Hashtag { raw, tag }, end))
}

/// Letters, digits and `_`: what mentions and hashtags are made of.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A grapheme led by a word char; its marks and joiners come along with it.
fn is_word_grapheme(grapheme: &str) -> bool {
    grapheme.chars().next().is_some_and(is_word_char)
}

/// Whether a grapheme right before `@` or `#` keeps it from starting a token:
/// word chars (so `a@b.com` and `a#b` stay text) and `/` (paths such as `x.org/@ana`).
fn blocks_marker(grapheme: &str) -> bool {
    is_word_grapheme(grapheme) || grapheme == "/"
}

/// One ASCII letter, digit or `_`, alone in its grapheme.
fn is_username_grapheme(grapheme: &str) -> bool {
    matches!(grapheme.as_bytes(), [b] if b.is_ascii_alphanumeric() || *b == b'_')
}

/// Domain-name material: letters and digits (internationalised too), `.`, `-` and `_`.
fn is_host_grapheme(grapheme: &str) -> bool {
    is_word_grapheme(grapheme) || grapheme == "." || grapheme == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concat(tokens: &[Token<'_>]) -> String {
        tokens
            .iter()
            .map(|t| match *t {
                Token::Text(s) | Token::Url(s) => s,
                Token::Mention { raw, .. } | Token::Hashtag { raw, .. } => raw,
            })
            .collect()
    }

    #[test]
    fn tokens_cover_the_text() {
        let text = "hi @Ana, see https://example.com/#x and #Tag!\n@bob@example.org.";
        assert_eq!(concat(&tokenize(text)), text);
    }

    #[test]
    fn splits_into_expected_tokens() {
        let tokens = tokenize("@ana@example.org. #Tag https://x.org/a");
        assert_eq!(
            tokens,
            vec![
                Token::Mention {
                    raw: "@ana@example.org",
                    name: "ana",
                    host: Some("example.org"),
                },
                Token::Text(". "),
                Token::Hashtag {
                    raw: "#Tag",
                    tag: "Tag",
                },
                Token::Text(" "),
                Token::Url("https://x.org/a"),
            ]
        );
    }

    #[test]
    fn only_http_urls_are_urls() {
        assert!(url_ranges("ftp://example.com/x javascript:alert(1)").is_empty());
        assert_eq!(url_ranges("HTTPS://Example.com").len(), 1);
    }

    #[test]
    fn keycap_is_not_a_hashtag_sign() {
        assert_eq!(
            tokenize("#\u{fe0f}\u{20e3}abc"),
            vec![Token::Text("#\u{fe0f}\u{20e3}abc")]
        );
    }

    #[test]
    fn too_long_username_is_not_a_mention() {
        let text = format!("@{}", "a".repeat(31));
        assert_eq!(tokenize(&text), vec![Token::Text(&text)]);
        let text = format!("@{}", "a".repeat(30));
        assert!(matches!(tokenize(&text)[..], [Token::Mention { .. }]));
    }
}
