-- Every order list pages newest first by (created_at, id) (lib/paging.ts). Each index below ends in
-- both columns, so a page is a backward range scan of limit + 1 rows after the cursor whatever the
-- table's size: one customer's list, an admin's across customers, and an admin's of one status.
-- Without them an admin's page sorted every order (of the status) to keep 51.
DROP INDEX "orders_customer_id_created_at_idx";
CREATE INDEX "orders_customer_id_created_at_id_idx" ON "orders"("customer_id", "created_at", "id");

CREATE INDEX "orders_created_at_id_idx" ON "orders"("created_at", "id");

-- Its leading column answers what the status index did (the counts by status, the reconciler's scans).
DROP INDEX "orders_status_idx";
CREATE INDEX "orders_status_created_at_id_idx" ON "orders"("status", "created_at", "id");
