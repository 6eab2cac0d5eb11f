-- Refunds after the sale: any number per payment, each PENDING until Stripe answers, never more
-- than the payment took (the payments service decides that under the payment's row lock).
CREATE TYPE "refund_kind" AS ENUM ('COMPENSATION', 'AFTER_SALE');
CREATE TYPE "refund_status" AS ENUM ('PENDING', 'SUCCEEDED', 'FAILED');

DROP INDEX "refunds_payment_id_key";
CREATE INDEX "refunds_payment_id_idx" ON "refunds"("payment_id");

ALTER TABLE "refunds"
    ADD COLUMN "order_id" UUID,
    ADD COLUMN "kind" "refund_kind" NOT NULL DEFAULT 'COMPENSATION',
    ADD COLUMN "status" "refund_status" NOT NULL DEFAULT 'SUCCEEDED',
    ADD COLUMN "currency" TEXT,
    ADD COLUMN "lines" JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN "restock" BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN "request_hash" TEXT,
    ADD COLUMN "failure_code" TEXT,
    ADD COLUMN "failure_message" TEXT,
    ADD COLUMN "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- The compensations recorded so far name their order through their payment.
UPDATE "refunds" r SET "order_id" = p."order_id", "currency" = p."currency" FROM "payments" p WHERE p."id" = r."payment_id";

CREATE INDEX "refunds_order_id_created_at_idx" ON "refunds"("order_id", "created_at");

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).
ALTER TABLE "refunds" ADD CONSTRAINT "refunds_currency_check" CHECK ("currency" IS NULL OR "currency" ~ '^[a-z]{3}$');
