//! Turns a post's raw text into the safe HTML of a Mastodon status's `content`.
//!
//! Every character that comes from the user is escaped; the only markup in the output
//! is the paragraphs, line breaks, links, hashtags and mentions written here, so no
//! input can smuggle a tag or an attribute through.

use html_escape::encode_double_quoted_attribute_to_string as escape_into;

use super::scan::{Token, tokenize};

/// Renders a post's raw text to safe HTML for the Mastodon `content` field.
/// Every character of user text is HTML-escaped; line breaks become `<br>`, blank-line-separated paragraphs become `<p>…</p>` (always at least one `<p>`);
/// http(s) URLs become `<a href="URL" rel="nofollow noopener noreferrer" target="_blank">URL</a>` (both escaped);
/// `#tag` becomes `<a href="{base_url}/tags/{tag lowercase, percent-encoded if non-ASCII}" class="mention hashtag" rel="tag">#<span>{tag as written}</span></a>`;
/// `@name` becomes `<span class="h-card"><a href="{base_url}/@{name lowercase}" class="u-url mention">@<span>{name as written}</span></a></span>` ONLY when `is_known_user(&name_lowercase)` returns true, otherwise it stays plain escaped text.
/// `base_url` has no trailing slash, e.g. `"http://localhost:8080"`; escape it too when inserting. Nothing else (javascript: links, HTML tags in the text) is ever emitted unescaped.
#[must_use]
pub fn render_html(text: &str, base_url: &str, is_known_user: &dyn Fn(&str) -> bool) -> String {
    let own_host = host_of(base_url);
    let text = text.replace("\r\n", "\n");
    let mut paragraphs: Vec<Vec<&str>> = Vec::new();
    let mut current = Vec::new();
    for line in text.split(['\n', '\r']) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    if paragraphs.is_empty() {
        // Clients expect `content` to be a paragraph even for an empty post.
        return "<p></p>".to_owned();
    }

    let mut out = String::with_capacity(text.len() * 2 + 16);
    for lines in paragraphs {
        out.push_str("<p>");
        for (i, line) in lines.into_iter().enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            render_line(&mut out, line, base_url, own_host, is_known_user);
        }
        out.push_str("</p>");
    }
    out
}

/// Appends one line's tokens as HTML.
fn render_line(
    out: &mut String,
    line: &str,
    base_url: &str,
    own_host: &str,
    is_known_user: &dyn Fn(&str) -> bool,
) {
    for token in tokenize(line) {
        match token {
            Token::Text(text) => {
                escape_into(text, out);
            }
            Token::Url(url) => {
                out.push_str("<a href=\"");
                escape_into(url, out);
                out.push_str("\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">");
                escape_into(url, out);
                out.push_str("</a>");
            }
            Token::Hashtag { tag, .. } => {
                out.push_str("<a href=\"");
                escape_into(base_url, out);
                out.push_str("/tags/");
                percent_encode_into(&tag.to_lowercase(), out);
                out.push_str("\" class=\"mention hashtag\" rel=\"tag\">#<span>");
                escape_into(tag, out);
                out.push_str("</span></a>");
            }
            Token::Mention { raw, name, host } => {
                let lower = name.to_ascii_lowercase();
                // `@ana@elsewhere.example` is someone else than our local `ana`.
                let local = host.is_none_or(|h| h.eq_ignore_ascii_case(own_host));
                if local && is_known_user(&lower) {
                    out.push_str("<span class=\"h-card\"><a href=\"");
                    escape_into(base_url, out);
                    out.push_str("/@");
                    escape_into(&lower, out);
                    out.push_str("\" class=\"u-url mention\">@<span>");
                    escape_into(name, out);
                    out.push_str("</span></a></span>");
                } else {
                    escape_into(raw, out);
                }
            }
        }
    }
}

/// The host name of `base_url`, without scheme, port or path (empty if there is none).
fn host_of(base_url: &str) -> &str {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    if authority.starts_with('[') {
        // An IPv6 literal never matches a mention's host, which can't hold brackets.
        return authority;
    }
    authority.split(':').next().unwrap_or_default()
}

/// Percent-encodes everything but RFC 3986's unreserved characters, byte by byte.
fn percent_encode_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BASE: &str = "http://localhost:8080";

    fn known(name: &str) -> bool {
        matches!(name, "ana" | "bob")
    }

    fn render(text: &str) -> String {
        render_html(text, BASE, &known)
    }

    /// Removes the markup render_html writes itself; user text must then hold no `<` at all.
    fn strip_own_tags(html: &str) -> Result<String, String> {
        const FIXED: [&str; 7] = [
            "<p>",
            "</p>",
            "<br>",
            "<span>",
            "</span>",
            "<span class=\"h-card\">",
            "</a>",
        ];
        const LINK_TAILS: [&str; 3] = [
            "\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">",
            "\" class=\"mention hashtag\" rel=\"tag\">",
            "\" class=\"u-url mention\">",
        ];
        let mut rest = html;
        let mut kept = String::new();
        while let Some(lt) = rest.find('<') {
            kept.push_str(&rest[..lt]);
            rest = &rest[lt..];
            if let Some(tag) = FIXED.iter().find(|tag| rest.starts_with(**tag)) {
                rest = &rest[tag.len()..];
            } else if let Some(after) = rest.strip_prefix("<a href=\"") {
                let quote = after.find('"').ok_or("unterminated href")?;
                let href = &after[..quote];
                if href.contains(['<', '>']) {
                    return Err(format!("markup inside href {href:?}"));
                }
                let tail = LINK_TAILS
                    .iter()
                    .find(|tail| after[quote..].starts_with(**tail))
                    .ok_or_else(|| format!("unknown link attributes in {rest:?}"))?;
                rest = &after[quote + tail.len()..];
            } else {
                return Err(format!("stray markup at {rest:?}"));
            }
        }
        kept.push_str(rest);
        Ok(kept)
    }

    #[test]
    fn plain_text_is_one_paragraph() {
        assert_eq!(render("hello"), "<p>hello</p>");
        assert_eq!(render(""), "<p></p>");
        assert_eq!(render(" \n\n "), "<p></p>");
    }

    #[test]
    fn lines_and_paragraphs() {
        assert_eq!(render("a\nb\n\nc"), "<p>a<br>b</p><p>c</p>");
        assert_eq!(render("a\r\nb\r\n\r\n\r\nc\n"), "<p>a<br>b</p><p>c</p>");
        assert_eq!(render("\n\na\n  \nb"), "<p>a</p><p>b</p>");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            render("<script>alert(1)</script>"),
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        );
        assert_eq!(
            render("<img src=x onerror=alert(1)>"),
            "<p>&lt;img src=x onerror=alert(1)&gt;</p>"
        );
        assert_eq!(
            render("say \"hi\" & 'bye'"),
            "<p>say &quot;hi&quot; &amp; 'bye'</p>"
        );
    }

    #[test]
    fn links_urls() {
        assert_eq!(
            render("see https://example.com/a?b=1&c=2."),
            "<p>see <a href=\"https://example.com/a?b=1&amp;c=2\" \
             rel=\"nofollow noopener noreferrer\" target=\"_blank\">\
             https://example.com/a?b=1&amp;c=2</a>.</p>"
        );
    }

    #[test]
    fn url_with_quote_stays_inside_its_attribute() {
        let html = render("http://x.org/\"onmouseover=alert(1)");
        assert!(!html.contains("\"onmouseover"), "{html}");
        assert!(strip_own_tags(&html).is_ok());
    }

    #[test]
    fn javascript_is_not_linked() {
        assert_eq!(render("javascript:alert(1)"), "<p>javascript:alert(1)</p>");
        assert_eq!(
            render("<a href=\"javascript:alert(1)\">x</a>"),
            "<p>&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;</p>"
        );
    }

    #[test]
    fn links_hashtags() {
        assert_eq!(
            render("#Rust!"),
            "<p><a href=\"http://localhost:8080/tags/rust\" class=\"mention hashtag\" \
             rel=\"tag\">#<span>Rust</span></a>!</p>"
        );
        assert_eq!(
            render("#Café"),
            "<p><a href=\"http://localhost:8080/tags/caf%C3%A9\" class=\"mention hashtag\" \
             rel=\"tag\">#<span>Café</span></a></p>"
        );
        assert_eq!(render("#123 a#b"), "<p>#123 a#b</p>");
    }

    #[test]
    fn links_known_mentions_only() {
        assert_eq!(
            render("hi @Ana!"),
            "<p>hi <span class=\"h-card\"><a href=\"http://localhost:8080/@ana\" \
             class=\"u-url mention\">@<span>Ana</span></a></span>!</p>"
        );
        assert_eq!(render("hi @zed!"), "<p>hi @zed!</p>");
        assert_eq!(render("ana@example.com"), "<p>ana@example.com</p>");
    }

    #[test]
    fn remote_mentions_link_only_on_our_host() {
        assert_eq!(
            render("@ana@elsewhere.example"),
            "<p>@ana@elsewhere.example</p>"
        );
        assert_eq!(
            render("@ana@LocalHost."),
            "<p><span class=\"h-card\"><a href=\"http://localhost:8080/@ana\" \
             class=\"u-url mention\">@<span>ana</span></a></span>.</p>"
        );
    }

    #[test]
    fn base_url_is_escaped() {
        let html = render_html("#a", "http://x.org/\"><script>", &known);
        assert!(!html.contains("<script"), "{html}");
        assert!(strip_own_tags(&html).is_ok(), "{html}");
    }

    #[test]
    fn host_of_base_url() {
        assert_eq!(host_of("http://localhost:8080"), "localhost");
        assert_eq!(host_of("https://social.example/sub"), "social.example");
        assert_eq!(host_of("https://[::1]:8080"), "[::1]:8080");
        assert_eq!(host_of("odd"), "odd");
    }

    #[test]
    fn percent_encoding() {
        let mut out = String::new();
        percent_encode_into("a_1日", &mut out);
        assert_eq!(out, "a_1%E6%97%A5");
    }

    #[test]
    fn stripper_catches_foreign_markup() {
        assert!(strip_own_tags("<p>x</p>").is_ok());
        assert!(strip_own_tags("<p><script></p>").is_err());
        assert!(strip_own_tags("<a href=\"x\" onclick=\"y\">").is_err());
    }

    proptest! {
        #[test]
        fn output_holds_only_our_markup(text in any::<String>()) {
            let html = render(&text);
            let kept = strip_own_tags(&html).map_err(TestCaseError::fail)?;
            prop_assert!(!kept.contains('<'));
            prop_assert!(!html.contains("<script") && !html.contains("<img"));
        }

        #[test]
        fn hostile_fragments_stay_escaped(
            parts in prop::collection::vec(prop::sample::select(vec![
                "<script>", "<img src=x onerror=alert(1)>", "\"", "'", "&", ">", "<",
                "javascript:alert(1)", "https://x.org/\"<b>", "#tag", "#<b>", "@ana",
                "@bob@localhost", "@zed", " ", "\n", "\n\n", "onerror=", "é\u{301}",
            ]), 0..12),
        ) {
            let text: String = parts.concat();
            let html = render(&text);
            let kept = strip_own_tags(&html).map_err(TestCaseError::fail)?;
            prop_assert!(!kept.contains('<'));
            prop_assert!(!html.contains("<script") && !html.contains("<img"));
        }
    }
}
