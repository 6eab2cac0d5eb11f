-- CreateEnum
CREATE TYPE "enforcement" AS ENUM ('SOFT', 'HARD');

-- CreateTable
CREATE TABLE "plans" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "plan_limits" (
    "plan_id" TEXT NOT NULL,
    "resource" TEXT NOT NULL,
    "limit_per_period" INTEGER NOT NULL,
    "enforcement" "enforcement" NOT NULL,

    CONSTRAINT "plan_limits_pkey" PRIMARY KEY ("plan_id","resource")
);

-- CreateTable
CREATE TABLE "subscriptions" (
    "user_id" TEXT NOT NULL,
    "plan_id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "usage" (
    "user_id" TEXT NOT NULL,
    "resource" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "used" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "usage_pkey" PRIMARY KEY ("user_id","resource","period")
);

-- CreateTable
CREATE TABLE "usage_events" (
    "user_id" TEXT NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "resource" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "released_at" TIMESTAMPTZ(3),

    CONSTRAINT "usage_events_pkey" PRIMARY KEY ("user_id","idempotency_key")
);

-- CreateTable
CREATE TABLE "threshold_crossings" (
    "user_id" TEXT NOT NULL,
    "resource" TEXT NOT NULL,
    "period" TEXT NOT NULL,
    "threshold" INTEGER NOT NULL,
    "crossed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "threshold_crossings_pkey" PRIMARY KEY ("user_id","resource","period","threshold")
);

-- AddForeignKey
ALTER TABLE "plan_limits" ADD CONSTRAINT "plan_limits_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint
ALTER TABLE "plan_limits" ADD CONSTRAINT "plan_limits_limit_per_period_check" CHECK ("limit_per_period" >= 0);

-- AddCheckConstraint
ALTER TABLE "usage" ADD CONSTRAINT "usage_used_check" CHECK ("used" >= 0);

-- AddCheckConstraint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_quantity_check" CHECK ("quantity" > 0);

-- AddCheckConstraint
ALTER TABLE "threshold_crossings" ADD CONSTRAINT "threshold_crossings_threshold_check" CHECK ("threshold" IN (80, 100));

-- Plans are data (DESIGN.md "Quotas"): builds are soft (recorded past the limit, the
-- user is told), orders are hard (refused with QUOTA_EXCEEDED).

-- SeedPlans
INSERT INTO "plans" ("id", "name") VALUES
    ('free', 'Free'),
    ('pro', 'Pro');

-- SeedPlanLimits
INSERT INTO "plan_limits" ("plan_id", "resource", "limit_per_period", "enforcement") VALUES
    ('free', 'builds', 100, 'SOFT'),
    ('free', 'orders', 20, 'HARD'),
    ('pro', 'builds', 1000, 'SOFT'),
    ('pro', 'orders', 500, 'HARD');
