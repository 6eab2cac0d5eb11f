-- Holding limits: how much stock a customer may hold in unpaid orders at once, per plan (data, like
-- the quotas). The inventory service enforces them when it reserves (services/inventory); the API
-- reads the customer's plan here and hands the limits to the checkout.

-- CreateTable
CREATE TABLE "plan_holding_limits" (
    "plan_id" TEXT NOT NULL,
    "max_unpaid_orders" INTEGER NOT NULL,
    "max_held_units_per_product" INTEGER NOT NULL,
    "max_stock_share_percent" INTEGER NOT NULL,

    CONSTRAINT "plan_holding_limits_pkey" PRIMARY KEY ("plan_id")
);

-- AddForeignKey
ALTER TABLE "plan_holding_limits" ADD CONSTRAINT "plan_holding_limits_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint
ALTER TABLE "plan_holding_limits" ADD CONSTRAINT "plan_holding_limits_max_unpaid_orders_check" CHECK ("max_unpaid_orders" >= 1);

-- AddCheckConstraint
ALTER TABLE "plan_holding_limits" ADD CONSTRAINT "plan_holding_limits_max_held_units_per_product_check" CHECK ("max_held_units_per_product" >= 1);

-- AddCheckConstraint
ALTER TABLE "plan_holding_limits" ADD CONSTRAINT "plan_holding_limits_max_stock_share_percent_check" CHECK ("max_stock_share_percent" BETWEEN 1 AND 100);

-- Seed (docs/design.md "Holding limits")
INSERT INTO "plan_holding_limits" ("plan_id", "max_unpaid_orders", "max_held_units_per_product", "max_stock_share_percent") VALUES
    ('free', 5, 10, 50),
    ('pro', 25, 100, 50)
ON CONFLICT ("plan_id") DO NOTHING;
