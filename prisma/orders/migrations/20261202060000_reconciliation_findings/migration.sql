-- The scheduled reconciler's record (lib/reconciler/, docs/reconciler.md): each drift it found,
-- for an operator to resolve, and each run's counts per invariant (storefront_invariant_violations).

-- CreateEnum
CREATE TYPE "finding_status" AS ENUM ('OPEN', 'RESOLVED', 'GONE');

-- CreateTable
CREATE TABLE "reconciliation_findings" (
    "id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "open_key" TEXT,
    "invariant" TEXT NOT NULL,
    "order_id" UUID,
    "product_id" UUID,
    "detail" TEXT NOT NULL,
    "status" "finding_status" NOT NULL DEFAULT 'OPEN',
    "first_seen" TIMESTAMPTZ(3) NOT NULL,
    "last_seen" TIMESTAMPTZ(3) NOT NULL,
    "seen_count" INTEGER NOT NULL DEFAULT 1,
    "closed_at" TIMESTAMPTZ(3),
    "closed_by" TEXT,
    "note" TEXT,

    CONSTRAINT "reconciliation_findings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reconciliation_runs" (
    "id" UUID NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3) NOT NULL,
    "checked" JSONB NOT NULL,
    "violations" JSONB NOT NULL,
    "skipped" JSONB NOT NULL,

    CONSTRAINT "reconciliation_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "reconciliation_findings_open_key_key" ON "reconciliation_findings"("open_key");

-- CreateIndex
CREATE INDEX "reconciliation_findings_status_last_seen_idx" ON "reconciliation_findings"("status", "last_seen");

-- CreateIndex
CREATE INDEX "reconciliation_runs_finished_at_idx" ON "reconciliation_runs"("finished_at");

-- Rules the Prisma schema cannot express (hand-written; keep them when regenerating).

-- AddCheckConstraint: an open finding carries its key, a closed one none.
ALTER TABLE "reconciliation_findings" ADD CONSTRAINT "reconciliation_findings_open_key_check" CHECK (("status" = 'OPEN') = ("open_key" IS NOT NULL AND "open_key" = "key"));
