-- The API's metrics refresh counts usage_events by this column every 15 s: an index, not a scan of a growing table.
CREATE INDEX "usage_events_released_at_idx" ON "usage_events"("released_at");
