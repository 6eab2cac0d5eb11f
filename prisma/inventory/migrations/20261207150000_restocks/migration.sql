-- Units a refund put back on sale, once per refund and product (the reconciler matches them
-- against the refunds that asked for them).
CREATE TABLE "restocks" (
    "refund_id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "restocks_pkey" PRIMARY KEY ("refund_id", "product_id")
);

CREATE INDEX "restocks_order_id_idx" ON "restocks"("order_id");

ALTER TABLE "restocks" ADD CONSTRAINT "restocks_product_id_fkey" FOREIGN KEY ("product_id") REFERENCES "products"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).
ALTER TABLE "restocks" ADD CONSTRAINT "restocks_quantity_check" CHECK ("quantity" > 0);
