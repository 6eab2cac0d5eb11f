-- The unread list (?unread=true) and the unread count read only the user's unread rows: without
-- this index both scanned every user's notifications (read ones are most of them).
CREATE INDEX "notifications_user_id_read_at_sequence_idx" ON "notifications"("user_id", "read_at", "sequence");
