-- After the sale: COMPLETED -> PARTIALLY_REFUNDED -> REFUNDED, the money refunded, and each refund
-- recorded once by its id.
ALTER TYPE "order_status" ADD VALUE 'PARTIALLY_REFUNDED';
ALTER TYPE "order_status" ADD VALUE 'REFUNDED';

ALTER TABLE "orders" ADD COLUMN "refunded_cents" INTEGER NOT NULL DEFAULT 0;

CREATE TABLE "order_refunds" (
    "refund_id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "amount_cents" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "order_refunds_pkey" PRIMARY KEY ("refund_id")
);

CREATE INDEX "order_refunds_order_id_idx" ON "order_refunds"("order_id");

ALTER TABLE "order_refunds" ADD CONSTRAINT "order_refunds_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).
ALTER TABLE "orders" ADD CONSTRAINT "orders_refunded_cents_check" CHECK ("refunded_cents" >= 0 AND "refunded_cents" <= "total_cents");
ALTER TABLE "order_refunds" ADD CONSTRAINT "order_refunds_amount_cents_check" CHECK ("amount_cents" > 0);
