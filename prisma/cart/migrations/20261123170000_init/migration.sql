-- CreateTable
CREATE TABLE "cart_items" (
    "user_id" TEXT NOT NULL,
    "product_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,
    "price_cents" INTEGER NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'usd',
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "cart_items_pkey" PRIMARY KEY ("user_id","product_id")
);

-- CreateTable
CREATE TABLE "cart_clearings" (
    "order_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "cleared_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cart_clearings_pkey" PRIMARY KEY ("order_id")
);

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_quantity_check" CHECK ("quantity" > 0);
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_price_cents_check" CHECK ("price_cents" >= 0);
ALTER TABLE "cart_items" ADD CONSTRAINT "cart_items_currency_check" CHECK ("currency" ~ '^[a-z]{3}$');
