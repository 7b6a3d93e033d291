//! Keyset pagination as Mastodon clients use it (`max_id`, `since_id`, `min_id`, `limit`).

use crate::db::Arg;

/// A page request over an id-ordered list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// Only items with an id below this.
    pub max_id: Option<i64>,
    /// Only items with an id above this, newest first.
    pub since_id: Option<i64>,
    /// Only items with an id above this, taken oldest first (the page right after it).
    pub min_id: Option<i64>,
    /// How many items at most.
    pub limit: i64,
}

impl Page {
    /// A first page of `limit` items.
    pub fn first(limit: i64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Appends the keyset conditions on `col` to `sql` (which already has a WHERE), binding
    /// values from `$next`, and returns the ORDER BY clause. With `min_id` the rows come
    /// out ascending; [`Page::finish`] puts them back newest first.
    pub(crate) fn apply(&self, sql: &mut String, col: &str, binds: &mut Vec<Arg>) -> String {
        if let Some(v) = self.max_id {
            binds.push(Arg::I(v));
            sql.push_str(&format!(" AND {col} < ${}", binds.len()));
        }
        if let Some(v) = self.since_id {
            binds.push(Arg::I(v));
            sql.push_str(&format!(" AND {col} > ${}", binds.len()));
        }
        if let Some(v) = self.min_id {
            binds.push(Arg::I(v));
            sql.push_str(&format!(" AND {col} > ${}", binds.len()));
        }
        let dir = if self.min_id.is_some() { "ASC" } else { "DESC" };
        format!(" ORDER BY {col} {dir} LIMIT {}", self.limit.max(0))
    }

    /// Restores newest-first order for a `min_id` page.
    pub(crate) fn finish<T>(&self, mut rows: Vec<T>) -> Vec<T> {
        if self.min_id.is_some() {
            rows.reverse();
        }
        rows
    }
}
