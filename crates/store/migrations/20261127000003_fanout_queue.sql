-- Posts whose copies into followers' home feeds are still to be written. Posting only
-- appends here; a background worker fans the queue out in batches (one transaction for
-- many posts), and home reads merge the queue with the feed, so nothing waits for it.
CREATE TABLE fanout_queue (
    status_id BIGINT PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL,
    reblog BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX fanout_queue_author ON fanout_queue (author_id, status_id);
