-- Every fanned-out copy paid for a second index entry; the rare removals by author
-- (unfollow, block) now scan the reader's own feed through the primary key instead.
DROP INDEX home_feed_author;
