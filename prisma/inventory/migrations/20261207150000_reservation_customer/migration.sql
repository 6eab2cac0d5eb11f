-- A reservation names the customer who holds it, so that the holding limits (docs/design.md
-- "Holding limits") can count what one customer holds unpaid: their HELD reservations, found by
-- this index. Reservations made before this migration have no customer and count for no one.

-- AlterTable
ALTER TABLE "reservations" ADD COLUMN "customer_id" TEXT;

-- CreateIndex
CREATE INDEX "reservations_customer_id_status_idx" ON "reservations"("customer_id", "status");
