-- Prices are bounded by what Stripe can charge in one PaymentIntent (lib/money.ts MAX_PRICE_CENTS).
ALTER TABLE "products" DROP CONSTRAINT "products_price_cents_check";
ALTER TABLE "products" ADD CONSTRAINT "products_price_cents_check" CHECK ("price_cents" >= 0 AND "price_cents" <= 99999999);

-- Stock changes by delta only, each one recorded: the units a product ever had are the sum of
-- its adjustments, which the reconciler compares with available + reserved + sold.
-- CreateTable
CREATE TABLE "stock_adjustments" (
    "id" BIGSERIAL NOT NULL,
    "product_id" UUID NOT NULL,
    "delta" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stock_adjustments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "stock_adjustments_product_id_id_idx" ON "stock_adjustments"("product_id", "id");

-- AddForeignKey
ALTER TABLE "stock_adjustments" ADD CONSTRAINT "stock_adjustments_product_id_fkey" FOREIGN KEY ("product_id") REFERENCES "products"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint
ALTER TABLE "stock_adjustments" ADD CONSTRAINT "stock_adjustments_delta_check" CHECK ("delta" <> 0);

-- The stock products already have is their opening balance.
INSERT INTO "stock_adjustments" ("product_id", "delta", "reason")
SELECT "id", "available" + "reserved" + "sold", 'opening balance' FROM "products" WHERE "available" + "reserved" + "sold" <> 0;
