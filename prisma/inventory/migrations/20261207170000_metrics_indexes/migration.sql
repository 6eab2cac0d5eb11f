-- The API's metrics refresh counts reservations by this column every 15 s: an index, not a scan of a growing table.
CREATE INDEX "reservations_status_idx" ON "reservations"("status");
