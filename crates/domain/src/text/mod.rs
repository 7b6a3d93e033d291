//! Text rules for posts: how long a post counts as, which mentions, hashtags and
//! links it contains, and how its plain text becomes the safe HTML that Mastodon
//! clients display in a status's `content`.
//!
//! Everything here is pure. One shared tokenizer decides what is a URL, a mention
//! or a hashtag, so that counting, extraction and rendering always agree.

mod extract;
mod length;
mod render;
mod scan;

pub use extract::{extract_hashtags, extract_local_mentions, extract_mentions, extract_urls};
pub use length::{TextError, URL_WEIGHT, post_length, validate_post_text};
pub use render::render_html;
